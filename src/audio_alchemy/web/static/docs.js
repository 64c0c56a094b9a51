// A local, dependency-free view of /openapi.json (FastAPI's Swagger UI would load from a CDN).
"use strict";
(async () => {
  const spec = await (await fetch("/openapi.json")).json();
  const root = document.getElementById("api");
  const add = (parent, tag, text, cls) => {
    const e = document.createElement(tag);
    if (text) e.textContent = text;
    if (cls) e.className = cls;
    parent.append(e);
    return e;
  };
  const p = add(root, "p", `${spec.info.title} ${spec.info.version}: ${spec.info.description || ""}`, "muted");
  p.style.padding = "0 1rem";
  const schemaName = (s) => (s && s.$ref ? s.$ref.split("/").pop() : s ? (s.type || JSON.stringify(s)) : "");
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const card = add(root, "div", null, "card");
      card.style.margin = ".6rem 1rem";
      const h = add(card, "h3");
      add(h, "span", method.toUpperCase() + " ", "mono");
      const a = add(h, "a", path, "mono");
      if (method === "get" && !path.includes("{")) a.href = path;
      add(card, "div", op.summary || "", "muted");
      const params = op.parameters || [];
      if (params.length) {
        const t = add(card, "table");
        for (const prm of params) {
          const tr = add(t, "tr");
          add(tr, "th", `${prm.name} (${prm.in}${prm.required ? ", required" : ""})`);
          const s = prm.schema || {};
          const bits = [s.type, s.enum ? `one of ${s.enum.join(", ")}` : null, s.default !== undefined ? `default ${s.default}` : null,
            s.minimum !== undefined ? `≥ ${s.minimum}` : null, s.maximum !== undefined ? `≤ ${s.maximum}` : null,
            s.maxLength !== undefined ? `≤ ${s.maxLength} chars` : null, prm.description].filter(Boolean);
          add(tr, "td", bits.join("; "));
        }
      }
      const body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      if (body) {
        const name = schemaName(body.schema);
        const schema = (spec.components.schemas || {})[name] || {};
        add(card, "div", `JSON body ${name}: ${JSON.stringify(schema.properties || {})}`, "mono small");
      }
    }
  }
})();
