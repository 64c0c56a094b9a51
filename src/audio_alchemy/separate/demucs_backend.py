"""Demucs 4.1 as a library: load released weights from disk only (never downloads), separate into two stems.

Weights are looked up, in order (:func:`_folders`, :func:`_cache_folders`): ``model_dir`` (``--model-dir``: the
folder or its ``<name>/``; nothing else then); ``$AUDIO_ALCHEMY_DEMUCS_DIR`` and ``$AUDIO_ALCHEMY_MODEL_DIR``;
the model store's cache ``<home>/models/<name>`` (``alchemy models fetch``) and ``<home>/models/demucs``; the
Hugging Face cache (``adefossez/HTDemucs`` etc., read from disk with no network call, so ``HF_HUB_OFFLINE`` is
always honoured); torch hub's checkpoints of older demucs versions. A folder may hold either layout:
``<sig>.safetensors`` (Hugging Face) or ``<sig>-<sha8>.th`` (demucs' own, sha256 prefix checked), with the
bag's ``<name>.yaml`` or else the one the demucs package ships. When none has them,
:class:`DemucsWeightsNotFound` says exactly which files to fetch and where to put them.

Inference (:func:`apply_demucs`) reproduces ``demucs.apply.apply_model`` (shifts, split, overlap, triangular
cross-fade) given the same ``random`` state (max abs diff ~1e-7, float rounding only), but runs under
``torch.inference_mode``, with attention through torch's SDPA flash kernel (:func:`sdpa_attention`) and two
chunks in flight on one thread each. ``bench/separation_speed.py --quick --repeat 2`` (30 s, htdemucs, random
weights): 1.06x over the stock defaults on a quiet machine (load ~2), 1.62x with the 2 cores heavily shared
(load ~9: OpenMP's two-thread barriers suffer most there). Kernel-level options measured and
dropped: ``torch.jit`` trace/freeze/optimize_for_inference (no gain or slower), batching chunks (slower,
more memory), matmul re-implementations of the DConv convolutions (slower than oneDNN).
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np

from audio_alchemy import config

from .base import SeparationError, Separator, WeightsNotFound

DEMUCS_MODELS = ("htdemucs", "htdemucs_ft", "htdemucs_6s", "hdemucs_mmi", "mdx", "mdx_extra", "mdx_q", "mdx_extra_q")
STORE_MODELS = ("htdemucs", "htdemucs_ft", "mdx_extra")  # the ones `alchemy models` knows (models/store.py)
MODEL_DIR_ENV = "AUDIO_ALCHEMY_DEMUCS_DIR"
STORE_DIR_ENV = "AUDIO_ALCHEMY_MODEL_DIR"  # the model store's folder for every model (audio_alchemy.models.store)


class DemucsWeightsNotFound(WeightsNotFound):
    """Released Demucs weights are not on this machine."""


def default_model_dir() -> Path:
    """``$AUDIO_ALCHEMY_DEMUCS_DIR`` or ``<library home>/models/demucs``."""
    env = os.environ.get(MODEL_DIR_ENV)
    return Path(env).expanduser() if env else config.home() / "models" / "demucs"


def _remote_yaml(name: str) -> Path:
    import demucs

    return Path(demucs.__file__).parent / "remote" / f"{name}.yaml"


def _bag_spec(yaml_path: Path) -> dict:
    import yaml

    with open(yaml_path) as f:
        spec = yaml.safe_load(f) or {}
    if "models" not in spec:
        raise SeparationError(f"{yaml_path}: not a demucs model list (no 'models' key)")
    return spec


def _remote_files() -> dict[str, str]:
    """Signature -> download URL, from demucs' own ``remote/files.txt``."""
    from demucs.pretrained import REMOTE_ROOT, _parse_remote_files

    return _parse_remote_files(REMOTE_ROOT / "files.txt")


def how_to_get_weights(name: str, model_dir: Path | None = None) -> str:
    """Exact instructions for fetching the weights of ``name`` on a machine with internet."""
    target = model_dir or default_model_dir()
    lines = [f"Demucs weights for '{name}' are not on this machine (nothing is downloaded at run time).",
             "Get them on a machine with internet access, then copy them here, in either way:"]
    try:
        spec = _bag_spec(_remote_yaml(name))
        urls = _remote_files()
        files = [urls[s] for s in spec["models"] if s in urls]
    except Exception:  # unknown name: give the generic recipe
        spec, files = {"models": []}, []
    from demucs.hf import hf_repo_name

    repo = f"adefossez/{hf_repo_name(name)}"
    hf_files = " ".join([f"{name}.yaml"] + [f"{s}.safetensors" for s in spec["models"]])
    lines.append(f"  1) a model folder: put {name}.yaml (a copy of {_remote_yaml(name)}) and "
                 + (", ".join(u.rsplit("/", 1)[1] for u in files) or "the <signature>-<sha8>.th files")
                 + f" into {target}")
    for u in files:
        lines.append(f"       curl -L -o {target / u.rsplit('/', 1)[1]} {u}")
    lines.append(f"     and pass --model-dir {target} (or set {MODEL_DIR_ENV}={target});")
    lines.append(f"  2) the Hugging Face cache: `hf download {repo} {hf_files}` (huggingface_hub), then copy "
                 f"{_hf_cache_dir()} to this machine;")
    if name in STORE_MODELS:
        lines.append(f"  3) or copy either set of files into one folder here and run `alchemy models fetch {name} "
                     "--offline-dir FOLDER`: it checks them and installs them where every command looks.")
    lines.append("Without Demucs weights `--model auto` uses Spleeter when it is installed, else the offline "
                 "mask network (masknet).")
    return "\n".join(lines)


def _hf_cache_dir() -> Path:
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except Exception:
        return Path.home() / ".cache" / "huggingface" / "hub"


def _folders(name: str, model_dir: Path | None) -> list[Path]:
    """Where a model folder may be, in order: ``model_dir`` (itself or its ``<name>/``; nothing else then), else
    ``$AUDIO_ALCHEMY_DEMUCS_DIR`` and ``$AUDIO_ALCHEMY_MODEL_DIR`` (each itself or ``<name>/``), the model store's
    cache ``<home>/models/<name>`` (where ``alchemy models fetch`` installs) and ``<home>/models/demucs``."""
    if model_dir is not None:
        return [model_dir, model_dir / name]
    out = []
    for var in (MODEL_DIR_ENV, STORE_DIR_ENV):
        if os.environ.get(var):
            d = Path(os.environ[var]).expanduser()
            out += [d, d / name]
    return out + [config.home() / "models" / name, config.home() / "models" / "demucs"]


def _weights_in(name: str, folder: Path) -> tuple[dict | None, list[Path]] | None:
    """``(bag spec or None for a single model, weight files)`` when ``folder`` holds every weight of ``name``, in
    the Hugging Face layout (``<sig>.safetensors``) or demucs' own (``<sig>-<sha8>.th``); the bag's yaml is the
    folder's own ``<name>.yaml``, else the one the demucs package ships. Cheap: file names only."""
    if not folder.is_dir():
        return None
    yaml_path = folder / f"{name}.yaml"
    if not yaml_path.is_file():
        yaml_path = _remote_yaml(name)
    spec = _bag_spec(yaml_path) if yaml_path.is_file() else None
    sigs = spec["models"] if spec else [name]  # no yaml anywhere: ``name`` is a single model's signature
    for files in _weight_files(folder):
        if all(s in files for s in sigs):
            return spec, [files[s] for s in sigs]
    return None


def _weight_files(folder: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """Signature -> file of the weights in ``folder``: the Hugging Face layout, then demucs' own."""
    return ({p.stem: p for p in folder.glob("*.safetensors")},
            {p.name.split("-", 1)[0]: p for p in folder.glob("*-*.th")})


def _load_weights(spec: dict | None, paths: list[Path]):
    """The model (or bag) from :func:`_weights_in`'s files; ``.th`` files' sha256 prefix is checked, as demucs does."""
    from demucs.apply import BagOfModels
    from demucs.hf import load_safetensors_model
    from demucs.repo import check_checksum
    from demucs.states import load_model

    models = []
    for p in paths:
        if p.suffix == ".safetensors":
            models.append(load_safetensors_model(p))
        else:
            check_checksum(p, p.stem.split("-", 1)[1])
            models.append(load_model(p))
    if spec is None:
        return models[0]
    return BagOfModels(models, spec.get("weights"), spec.get("segment"))


def _cache_folders(name: str) -> list[Path]:
    """The Hugging Face cache's snapshot of the model's repo (read from disk, no network call, so
    ``HF_HUB_OFFLINE`` is always honoured) and torch hub's checkpoints folder, where older demucs downloaded."""
    out = []
    try:
        from demucs.hf import hf_repo_name
        from huggingface_hub import try_to_load_from_cache

        y = try_to_load_from_cache(f"adefossez/{hf_repo_name(name)}", f"{name}.yaml")
        if isinstance(y, str):
            out.append(Path(y).parent)
    except ImportError:
        pass
    import torch

    return out + [Path(torch.hub.get_dir()) / "checkpoints"]


def _find(name: str, model_dir: str | Path | None) -> tuple[dict | None, list[Path]] | None:
    """The first folder holding every weight of ``name`` (:func:`_folders`, then the caches unless ``model_dir``)."""
    explicit = Path(model_dir).expanduser() if model_dir else None

    def candidates():
        yield from _folders(name, explicit)
        if explicit is None:
            yield from _cache_folders(name)  # only when reached: looking there imports torch (~1 s)

    return next((found for d in candidates() if (found := _weights_in(name, d)) is not None), None)


def _incomplete(name: str, model_dir: Path | None) -> list[str]:
    """Why the folders that hold a ``<name>.yaml`` of their own are not usable (the signatures it lists that have
    no weight file there): a user who copied files by hand learns what is missing."""
    notes = []
    for d in _folders(name, model_dir):
        y = d / f"{name}.yaml"
        if not y.is_file():
            continue
        try:
            sigs = _bag_spec(y)["models"]
        except Exception as exc:  # noqa: BLE001 - reported, not raised: the lookup goes on
            notes.append(f"{y}: unreadable ({exc})")
            continue
        hf, th = _weight_files(d)
        missing = [s for s in sigs if s not in hf and s not in th]
        if missing:
            notes.append(f"{y} lists {', '.join(missing)}, but {d} has no "
                         + " / ".join(f"{s}.safetensors or {s}-<sha8>.th" for s in missing))
    return notes


def load_demucs(name: str = "htdemucs", model_dir: str | Path | None = None):
    """Load a released (or locally trained) Demucs model/bag from disk; raise :class:`DemucsWeightsNotFound`."""
    explicit = Path(model_dir).expanduser() if model_dir else None
    if explicit is not None and not explicit.is_dir():
        raise DemucsWeightsNotFound(f"--model-dir {explicit} is not a folder.\n" + how_to_get_weights(name, explicit))
    try:
        found = _find(name, explicit)
        if found is not None:
            return _eval(_load_weights(*found))
    except Exception as exc:  # corrupt file, checksum mismatch, wrong class...
        raise SeparationError(f"cannot load Demucs model '{name}': {exc}") from exc
    found_but = "".join(f"\nFound but incomplete: {n}" for n in _incomplete(name, explicit))
    raise DemucsWeightsNotFound(how_to_get_weights(name, explicit) + found_but)


def demucs_available(name: str = "htdemucs", model_dir: str | Path | None = None) -> bool:
    """True when :func:`load_demucs` would find weights (cheap file checks, nothing loaded)."""
    try:
        return _find(name, model_dir) is not None
    except Exception:
        return False


def _eval(model):
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def pick_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextlib.contextmanager
def sdpa_attention():
    """Route ``nn.MultiheadAttention`` through ``scaled_dot_product_attention`` (no fused "fast path").

    In eval mode torch sends HTDemucs' self-attention layers to its native MHA kernel, which materialises the
    full (8, 2688, 2688) score matrix with ``bmm`` + softmax; without the fast path the same layers call SDPA,
    whose CPU flash kernel computes the same softmax(QK^T/sqrt(d))V blockwise (float rounding only: max abs
    diff ~5e-8 on htdemucs outputs, ~1e-6 with the layer scales at 1). Measured about 10-15% less CPU per
    htdemucs segment. The switch is process-global in torch, so it is restored on exit.
    """
    import torch.backends.mha as mha

    before = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        mha.set_fastpath_enabled(before)


def apply_demucs(model, mix, shifts: int = 1, overlap: float = 0.25, segment: float | None = None,
                 device: str = "cpu", transition_power: float = 1.0, workers: int = 1, sdpa: bool = True):
    """``demucs.apply.apply_model`` for ``(batch, channels, n)`` -> ``(batch, sources, channels, n)``, same result.

    Same random shift draw (``random.randint``), same chunk offsets, weights and accumulation order as
    demucs 4.1, but under ``torch.inference_mode`` and (``sdpa``) with attention through SDPA's flash kernel
    (see :func:`sdpa_attention`). ``workers`` > 1 runs that many chunks at once, each on
    ``cores // workers`` intra-op threads (the chunks are independent, results are summed in the same order,
    so the output does not change); an odd last chunk runs alone on all threads. On 2 shared cores two
    single-threaded chunks beat one two-threaded chunk: no OpenMP barriers to stall when another process
    takes a core, and norms/GLU/GELU/copies scale poorly across threads.
    Bags of models are averaged with their per-source weights as demucs does.
    """
    import torch
    from demucs.apply import BagOfModels

    with torch.inference_mode(), (sdpa_attention() if sdpa else contextlib.nullcontext()):
        if isinstance(model, BagOfModels):
            est, totals = 0.0, [0.0] * len(model.sources)
            for sub, w in zip(model.models, model.weights):
                sub.to(device)
                out = apply_demucs(sub, mix, shifts, overlap, segment, device, transition_power, workers, sdpa)
                for k, iw in enumerate(w):
                    out[:, k] *= iw
                    totals[k] += iw
                est = est + out
            for k in range(est.shape[1]):
                est[:, k] /= totals[k]
            return est
        model.to(device)
        batch, channels, length = mix.shape
        if shifts:
            max_shift = int(0.5 * model.samplerate)
            padded = torch.nn.functional.pad(mix, (max_shift, max_shift))
            out = 0.0
            for _ in range(shifts):
                offset = random.randint(0, max_shift)
                shifted = padded[..., offset:offset + length + max_shift - offset]
                res = _split(model, shifted, overlap, segment, device, transition_power, workers)
                out = out + res[..., max_shift - offset:]
            return out / shifts
        return _split(model, mix, overlap, segment, device, transition_power, workers)


def _split(model, mix, overlap, segment, device, transition_power, workers=1):
    import torch
    from demucs.htdemucs import HTDemucs
    from demucs.utils import center_trim

    batch, channels, length = mix.shape
    seg = float(segment if segment is not None else model.segment)
    segment_length = int(model.samplerate * seg)
    stride = int((1 - overlap) * segment_length)
    weight = torch.cat([torch.arange(1, segment_length // 2 + 1, device=device),
                        torch.arange(segment_length - segment_length // 2, 0, -1, device=device)])
    weight = (weight / weight.max()) ** transition_power
    out = torch.zeros(batch, len(model.sources), channels, length, device=mix.device)
    sum_weight = torch.zeros(length, device=mix.device)

    def run_chunk(offset: int, threads: int | None = None):
        if threads:  # OpenMP thread counts are per calling thread: set it in the worker thread
            torch.set_num_threads(threads)
        chunk_len = min(segment_length, length - offset)
        # the chunk as demucs' TensorChunk.padded(valid) builds it: real neighbours first, zeros past the ends
        if isinstance(model, HTDemucs) and segment is not None:
            valid = int(segment * model.samplerate)
        elif hasattr(model, "valid_length"):
            valid = model.valid_length(chunk_len)
        else:
            valid = chunk_len
        delta = valid - chunk_len
        start = offset - delta // 2
        end = start + valid
        a, b = max(start, 0), min(end, length)
        piece = mix[..., a:b]
        if a - start or end - b:
            piece = torch.nn.functional.pad(piece, (a - start, end - b))
        with torch.inference_mode():  # worker threads do not inherit the caller's mode
            return center_trim(model(piece.to(device)), chunk_len)

    def add(offset: int, res) -> None:  # overlap-add in offset order, as demucs does (~ms per chunk)
        chunk_len = res.shape[-1]
        out[..., offset:offset + segment_length] += (weight[:chunk_len] * res).to(mix.device)
        sum_weight[offset:offset + segment_length] += weight[:chunk_len].to(mix.device)

    offsets = list(range(0, length, stride))
    if workers > 1 and len(offsets) > 1 and torch.device(device).type == "cpu":
        from concurrent.futures import ThreadPoolExecutor

        threads = torch.get_num_threads()
        per_chunk = max(threads // workers, 1)
        # a last round with fewer chunks than workers would leave cores idle: run it on all threads instead
        tail = len(offsets) % workers if per_chunk * workers == threads else 0
        pooled, alone = offsets[:len(offsets) - tail], offsets[len(offsets) - tail:]
        try:
            with ThreadPoolExecutor(workers) as pool:
                for offset, res in zip(pooled, pool.map(lambda o: run_chunk(o, per_chunk), pooled)):
                    add(offset, res)
        finally:
            torch.set_num_threads(threads)
        for offset in alone:
            add(offset, run_chunk(offset))
    else:
        for offset in offsets:
            add(offset, run_chunk(offset))
    return out / sum_weight


class DemucsSeparator(Separator):
    """Two stems from a Demucs model: vocals, and the sum of every other source (drums + bass + other...)."""

    residual_accompaniment = False
    chunk_seconds = 600.0  # whole songs in one go (as the demucs CLI); longer files in 10-min windows
    context_seconds = 5.0

    def __init__(self, model: str = "htdemucs", model_dir: str | Path | None = None, device: str = "auto",
                 shifts: int = 1, overlap: float = 0.25, threads: int | None = None, workers: int | None = None,
                 _model=None) -> None:
        self.model_name = model
        self.name = f"demucs-{model}"
        self.model_dir = model_dir
        self.device = pick_device(device)
        self.shifts = shifts
        self.overlap = overlap
        self.threads = threads
        import torch

        # parallel chunks on CPU (see apply_demucs); the output is the same whatever the value
        self.workers = workers if workers is not None else (min(torch.get_num_threads(), 2) if self.device == "cpu" else 1)
        self._model = _model if _model is not None else load_demucs(model, model_dir)
        self.sample_rate = int(self._model.samplerate)
        if "vocals" not in self._model.sources:
            raise SeparationError(f"Demucs model '{model}' has no vocals source ({self._model.sources})")
        self.version = f"demucs4.1-{model}-s{shifts}-o{overlap:g}"

    def rebuild_args(self, model_dir: str | None) -> tuple[str, str | None]:
        return self.model_name, model_dir

    def _separate_stereo(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)
        audio_channels = getattr(self._model, "audio_channels", 2)
        t = torch.from_numpy(np.ascontiguousarray(x))
        if audio_channels == 1:
            t = t.mean(dim=0, keepdim=True)
        # demucs' CLI normalises by the mixture's mean/std and undoes it afterwards; so do we
        ref = t.mean(0)
        mean, std = ref.mean(), ref.std()
        std = std if float(std) > 1e-8 else torch.tensor(1.0)
        est = apply_demucs(self._model, ((t - mean) / std)[None], shifts=self.shifts, overlap=self.overlap,
                           device=self.device, workers=self.workers)[0]
        est = (est * std + mean).cpu()
        v = self._model.sources.index("vocals")
        voc = est[v]
        acc = est.sum(dim=0) - voc
        if audio_channels == 1:
            voc, acc = voc.expand(2, -1), acc.expand(2, -1)
        return voc.numpy().astype(np.float32), acc.numpy().astype(np.float32)
