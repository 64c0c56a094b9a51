"""A tiny randomly initialised Whisper model in CTranslate2 format, for tests and demos without real weights.

Built directly from ``ctranslate2.specs.WhisperSpec`` (no ``transformers`` needed): same model class, same
files (config.json, model.bin, tokenizer.json, vocabulary.txt) and the same multilingual vocabulary layout
as the released models (51,865 tokens, language tokens from id 50259), so ``faster_whisper.WhisperModel``
loads it and ``detect_language`` runs; its answers are meaningless.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOCAB_SIZE = 51865  # CTranslate2 treats Whisper models with this vocabulary as multilingual
FIRST_SPECIAL = 50257


# Whisper's 99 language tokens in vocabulary order (ids 50259...50357 of the multilingual models).
WHISPER_LANGUAGES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la "
    "mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be "
    "tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jw su"
).split()


def whisper_language_codes() -> list[str]:
    """Whisper's language codes in token order."""
    return list(WHISPER_LANGUAGES)


def _sinusoids(length: int, channels: int) -> np.ndarray:
    """Whisper's fixed sinusoidal position embedding (length, channels)."""
    inc = np.log(10000) / (channels // 2 - 1)
    inv = np.exp(-inc * np.arange(channels // 2))
    t = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(t), np.cos(t)], axis=1).astype(np.float32)


def make_tiny_whisper(out_dir: str | Path, d_model: int = 32, heads: int = 2, layers: int = 1, ffn: int = 64,
                      n_mels: int = 80, seed: int = 0) -> Path:
    """Write a random ``d_model``-wide Whisper (``layers`` encoder and decoder layers) to ``out_dir``."""
    import json

    from ctranslate2.specs import whisper_spec

    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    codes = whisper_language_codes()
    specials = ["<|endoftext|>", "<|startoftranscript|>"] + [f"<|{c}|>" for c in codes] + [
        "<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    # CTranslate2 calls a Whisper vocabulary multilingual when it holds the empty token (id 50256 in the
    # released multilingual vocabularies; whisper.cc: `to_id("") != unk_id`).
    tokens = [f"t{i}" for i in range(FIRST_SPECIAL - 1)] + [""] + specials
    tokens += ["<|%.2f|>" % (i * 0.02) for i in range(VOCAB_SIZE - len(tokens))]

    spec = whisper_spec.WhisperSpec(layers, heads, layers, heads)
    d, V = d_model, len(tokens)

    def w(*shape):
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    def ln(s):
        s.gamma = np.ones(d, np.float32)
        s.beta = np.zeros(d, np.float32)

    enc, dec = spec.encoder, spec.decoder
    enc.conv1.weight, enc.conv1.bias = w(d, n_mels, 3), np.zeros(d, np.float32)
    enc.conv2.weight, enc.conv2.bias = w(d, d, 3), np.zeros(d, np.float32)
    ln(enc.layer_norm)
    enc.position_encodings.encodings = _sinusoids(1500, d)
    dec.position_encodings.encodings = w(448, d)
    for layer in enc.layer:
        layer.self_attention.linear[0].weight = w(3 * d, d)
        layer.self_attention.linear[1].weight = w(d, d)
        ln(layer.self_attention.layer_norm)
        layer.ffn.linear_0.weight, layer.ffn.linear_1.weight = w(ffn, d), w(d, ffn)
        ln(layer.ffn.layer_norm)
    dec.embeddings.weight = w(V, d)
    dec.projection.weight = w(V, d)
    ln(dec.layer_norm)
    for layer in dec.layer:
        layer.self_attention.linear[0].weight = w(3 * d, d)
        layer.self_attention.linear[1].weight = w(d, d)
        ln(layer.self_attention.layer_norm)
        layer.attention.linear[0].weight = w(d, d)
        layer.attention.linear[1].weight = w(2 * d, d)
        layer.attention.linear[2].weight = w(d, d)
        ln(layer.attention.layer_norm)
        layer.ffn.linear_0.weight, layer.ffn.linear_1.weight = w(ffn, d), w(d, ffn)
        ln(layer.ffn.layer_norm)
    spec.register_vocabulary(tokens)
    spec.config.suppress_ids = []
    spec.config.suppress_ids_begin = []
    spec.config.lang_ids = list(range(FIRST_SPECIAL + 2, FIRST_SPECIAL + 2 + len(codes)))
    spec.config.alignment_heads = [[0, 0]]
    spec.validate()
    spec.optimize(quantization=None)
    spec.save(str(out))

    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    tok = Tokenizer(WordLevel({t: i for i, t in enumerate(tokens)}, unk_token="<|endoftext|>"))
    tok.add_special_tokens(specials)
    tok.save(str(out / "tokenizer.json"))
    (out / "preprocessor_config.json").write_text(json.dumps({"feature_size": n_mels}))
    return out
