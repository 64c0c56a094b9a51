"""Static evaluation report: ``results.json`` (every number) and ``index.html`` with PNG plots beside it.

Plots: model comparison with 95% CIs and the majority baseline, confusion matrix and one-vs-rest ROC of
each model, learning curve and sweep plots when present. No JavaScript, no network: open the file.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    """Lay out, write (90 dpi) and close a figure; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    _plt().close(fig)
    return path


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


def plot_comparison(results: dict, path: Path, metric: str = "accuracy") -> Path:
    plt = _plt()
    names = list(results["models"])
    vals = [results["models"][n]["mean_over_repeats"][metric] for n in names]
    lo = [results["models"][n]["ci95"][metric][0] for n in names]
    hi = [results["models"][n]["ci95"][metric][1] for n in names]
    base = max(results["models"][n]["baseline_majority"][metric] for n in names)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.5))
    y = np.arange(len(names))
    ax.barh(y, vals, xerr=[np.subtract(vals, lo).clip(0), np.subtract(hi, vals).clip(0)], color="#4477aa", capsize=3)
    ax.axvline(base, color="#cc3311", ls="--", label=f"majority baseline {base:.2f}")
    ax.set_yticks(y, names)
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"{metric} (95% bootstrap CI)")
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_confusion(cm: list[list[int]], labels: list[str], title: str, path: Path) -> Path:
    plt = _plt()
    m = np.asarray(cm)
    fig, ax = plt.subplots(figsize=(0.5 * len(labels) + 2.5, 0.5 * len(labels) + 2))
    ax.imshow(m, cmap="Blues")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if m[i, j] > m.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)


def plot_roc(roc: dict, title: str, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 4.5))
    for c, cur in roc.get("curves", {}).items():
        ax.plot(cur["fpr"], cur["tpr"], lw=1, label=f"{c} {roc['per_class'][c]:.2f}")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"{title}: macro AUC {roc.get('macro_auc', float('nan')):.3f}", fontsize=9)
    ax.legend(fontsize=6, loc="lower right")
    return _save(fig, path)


def plot_learning_curve(lc: dict, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(lc["train_sizes"], lc["test_accuracy"], yerr=lc["test_accuracy_sd"], marker="o", label="held-out")
    ax.plot(lc["train_sizes"], lc["train_accuracy"], marker="s", ls="--", label="training")
    ax.set_xlabel("training examples")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"learning curve: {lc.get('model', '')}", fontsize=9)
    ax.legend()
    return _save(fig, path)


def plot_sweep(sweep: dict, title: str, path: Path) -> Path:
    """Inner-CV score of every parameter combination of a sweep, sorted."""
    plt = _plt()
    scores = np.asarray(sweep["mean_test_score"])
    order = np.argsort(scores)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(scores[order], marker=".", lw=0.8)
    ax.set_xlabel("parameter combination (sorted)")
    ax.set_ylabel("inner-CV score")
    best = sweep["params"][int(order[-1])]
    ax.set_title(f"{title}\nbest {scores[order[-1]]:.3f}: {best}", fontsize=7)
    return _save(fig, path)


def write_report(results: dict, out: str | Path, title: str = "Evaluation") -> Path:
    """Write results.json, the plots and index.html into ``out``; returns the HTML path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p>{results.get('n')} examples, classes: {html.escape(', '.join(map(str, results.get('classes', []))))}."
             f" Folds: {results.get('n_splits')}-fold x {results.get('repeats')} repeats, "
             f"{'grouped by ' + html.escape(str(results.get('group_by'))) if results.get('grouped') else 'stratified (no recurring groups)'}."
             " Scaling and selection are fitted inside the training folds. CIs: percentile bootstrap"
             " over clips (or groups), 95%.</p>"]
    if results.get("models"):
        plot_comparison(results, out / "comparison.png")
        parts.append('<img src="comparison.png" alt="model comparison">')
        rows = ["<tr><th>model</th><th>accuracy</th><th>95% CI</th><th>balanced acc.</th><th>macro F1</th>"
                "<th>95% CI</th><th>macro AUC</th><th>majority acc.</th><th>CV s</th></tr>"]
        for name, r in results["models"].items():
            s, ci = r["mean_over_repeats"], r["ci95"]
            rows.append(
                f"<tr><td>{html.escape(name)}</td><td>{s['accuracy']:.3f}</td>"
                f"<td>{ci['accuracy'][0]:.3f}–{ci['accuracy'][1]:.3f}</td><td>{s['balanced_accuracy']:.3f}</td>"
                f"<td>{s['macro_f1']:.3f}</td><td>{ci['macro_f1'][0]:.3f}–{ci['macro_f1'][1]:.3f}</td>"
                f"<td>{r.get('roc', {}).get('macro_auc', float('nan')):.3f}</td>"
                f"<td>{r['baseline_majority']['accuracy']:.3f}</td><td>{r.get('cv_seconds', '')}</td></tr>")
        parts.append("<table border=1 cellpadding=3>" + "".join(rows) + "</table>")
        for name, r in results["models"].items():
            f = _safe(name)
            plot_confusion(r["confusion"], r["labels"], f"{name} (first repeat)", out / f"confusion_{f}.png")
            imgs = f'<img src="confusion_{f}.png">'
            if "roc" in r:
                plot_roc(r["roc"], name, out / f"roc_{f}.png")
                imgs += f' <img src="roc_{f}.png">'
            parts.append(f"<h2>{html.escape(name)}</h2><p>{html.escape(r.get('about', ''))}</p>{imgs}")
    if results.get("learning_curve"):
        plot_learning_curve(results["learning_curve"], out / "learning_curve.png")
        parts.append('<h2>Learning curve</h2><img src="learning_curve.png">')
    for i, (name, sweep) in enumerate((results.get("sweeps") or {}).items()):
        plot_sweep(sweep, name, out / f"sweep_{i}.png")
        parts.append(f'<h2>Sweep: {html.escape(name)}</h2><img src="sweep_{i}.png">')
    page = ("<!doctype html><meta charset=utf-8><title>" + html.escape(title) + "</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td,th{font-size:13px}</style>"
            + "\n".join(parts) + '<p><a href="results.json">results.json</a> holds every number.</p>')
    (out / "index.html").write_text(page)
    return out / "index.html"
