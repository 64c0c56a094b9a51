"""Convert musicnn's TensorFlow checkpoints (inside the musicnn==0.1.0 wheel) to the PyTorch port's .npz.

Run once, in an environment with TensorFlow (tensorflow-cpu, tf-keras) and the unpacked musicnn package:

    python scripts/convert_musicnn.py --musicnn-dir /path/to/site-packages/musicnn

It writes src/audio_alchemy/models/embeddings/weights/<MODEL>.npz (inference variables only, no Adam
slots) and tests/data/models_musicnn_reference.npz: a fixed log-mel batch with the TF graph's outputs
(penultimate, taggram, mean/max pool), which tests/test_models_musicnn.py compares the port against.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src/audio_alchemy/models/embeddings/weights"
REFERENCE = ROOT / "tests/data/models_musicnn_reference.npz"


def read_vars(ckpt_dir: Path) -> dict[str, np.ndarray]:
    """All non-optimizer variables of a TF1 checkpoint folder."""
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(ckpt_dir) + "/")
    names = reader.get_variable_to_shape_map()
    return {n: reader.get_tensor(n) for n in names if "Adam" not in n and not n.endswith("_power")}


def state_dict_from_tf(tf_vars: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Map the TF variable names of a musicnn checkpoint  onto ``audio_alchemy.models.embeddings.musicnn.Musicnn`` keys.

    TF creates layers in graph order, so conv2d/conv2d_1/... and batch_normalization/_1/... follow the
    order of ``models.build_musicnn``; this mapping is that order written out.
    """
    def v(name):
        return np.asarray(tf_vars[name], dtype=np.float32)

    sd: dict[str, np.ndarray] = {}
    bns = ["bn_in", "bn74", "bn77", "bn_temporal.0", "bn_temporal.1", "bn_temporal.2",
           "bn_mid.0", "bn_mid.1", "bn_mid.2", "bn_pool", "bn_dense"]
    for i, key in enumerate(bns):
        tf_name = "batch_normalization" + (f"_{i}" if i else "")
        sd[f"{key}.weight"] = v(f"{tf_name}/gamma")
        sd[f"{key}.bias"] = v(f"{tf_name}/beta")
        sd[f"{key}.running_mean"] = v(f"{tf_name}/moving_mean")
        sd[f"{key}.running_var"] = v(f"{tf_name}/moving_variance")
    convs = ["t74", "t77", "temporal.0", "temporal.1", "temporal.2"]
    for i, key in enumerate(convs):
        tf_name = "conv2d" + (f"_{i}" if i else "")
        sd[f"{key}.weight"] = v(f"{tf_name}/kernel").transpose(3, 2, 0, 1)  # (kh,kw,in,out)->(out,in,kh,kw)
        sd[f"{key}.bias"] = v(f"{tf_name}/bias")
    for j in range(3):
        tf_name = f"conv2d_{5 + j}"
        k = v(f"{tf_name}/kernel")  # (7, C, 1, out)
        sd[f"mid.{j}.weight"] = k[:, :, 0, :].transpose(2, 1, 0)  # -> (out, C, 7)
        sd[f"mid.{j}.bias"] = v(f"{tf_name}/bias")
    sd["dense.weight"] = v("dense/kernel").T
    sd["dense.bias"] = v("dense/bias")
    sd["out.weight"] = v("dense_1/kernel").T
    sd["out.bias"] = v("dense_1/bias")
    return {k: np.ascontiguousarray(a) for k, a in sd.items()}


def reference_batch(seed: int = 0) -> np.ndarray:
    """A deterministic (2, 187, 96) log-mel batch: one from tones + noise, one from a real-ish sweep."""
    import librosa

    SR = 16000
    rng = np.random.default_rng(seed)
    t = np.arange(int(6.2 * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 660 * t * (1 + 0.1 * t))
    y += 0.05 * rng.standard_normal(len(t))
    y *= (1 + np.sign(np.sin(2 * np.pi * 2 * t))) / 2  # on/off rhythm at 2 Hz
    mel = librosa.feature.melspectrogram(y=y.astype(np.float32), sr=SR, hop_length=256, n_fft=512, n_mels=96).T
    mel = np.log10(10000.0 * mel.astype(np.float32) + 1.0).astype(np.float32)
    return np.stack([mel[:187], mel[187:374]])


def tf_outputs(musicnn_dir: Path, model: str, batch: np.ndarray) -> dict[str, np.ndarray]:
    """Run the original musicnn TF graph on a batch (its models.py, restored checkpoint)."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    import tensorflow as tf

    sys.path.insert(0, str(musicnn_dir.parent))
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, batch.shape[1], batch.shape[2]])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, _, _, _, _, _, mean_pool, max_pool, pen = models.define_model(x, is_training, model, 50)
        prob = tf.nn.sigmoid(y)
    sess = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(sess, str(musicnn_dir / model) + "/")  # raises if it fails
    out = sess.run([pen, prob, mean_pool, max_pool], feed_dict={x: batch, is_training: False})
    return dict(zip(["penultimate", "taggram", "mean_pool", "max_pool"], out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--musicnn-dir", type=Path, required=True, help="folder of the musicnn package")
    ap.add_argument("--models", nargs="+", default=["MSD_musicnn", "MTT_musicnn"])
    args = ap.parse_args()
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    batch = reference_batch()
    ref = {"input": batch}
    for model in args.models:
        sd = state_dict_from_tf(read_vars(args.musicnn_dir / model))
        np.savez_compressed(WEIGHTS / f"{model}.npz", **sd)
        print(f"wrote {WEIGHTS / model}.npz ({(WEIGHTS / f'{model}.npz').stat().st_size / 1e6:.1f} MB)")
        for k, v in tf_outputs(args.musicnn_dir, model, batch).items():
            ref[f"{model}/{k}"] = v
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(REFERENCE, **ref)
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
