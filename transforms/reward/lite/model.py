"""The bundled CPU reward model: engineered features -> a small MLP, numpy only.

A saved model is a directory with two files, neither of them executable:

- `config.json`: format name and version, the feature signature it was
  trained against, the architecture, training metadata and held-out metrics;
- `model.safetensors`: the weights as raw little-endian float32 arrays in the
  safetensors layout (8-byte header length, JSON header, bytes), written and
  read here without the `safetensors` package (any safetensors reader opens
  it too).

Loading never unpickles anything: it accepts exactly that layout, checks
every tensor's dtype, shape and byte range, and refuses anything else
(pickles, torch zips, unknown formats, a feature signature that the code no
longer computes).

Score = w2 · act(W1 · z + b1) + b2 + skip · z, where z are the standardized
features. Higher means more likely correct; `probability` maps scores
through a sigmoid (trained with a small pointwise term, so it is roughly
calibrated).
"""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import save_file

from toolrm_beam.transforms.reward.lite import features as F

FORMAT = "toolrm-lite"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
MAX_WEIGHTS_BYTES = 64 << 20
_TENSORS = ("mean", "scale", "w1", "b1", "w2", "b2", "skip")
_ACTIVATIONS = ("relu", "tanh")


class ModelFormatError(ValueError):
    """A model directory or file that is not a toolrm-lite model."""


# --------------------------------------------------------------------------- safetensors I/O

def write_safetensors(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> None:
    """Write float32 tensors with the `safetensors` library (atomically: temp file, then rename)."""
    arrays = {name: np.ascontiguousarray(tensors[name], dtype=np.float32) for name in sorted(tensors)}
    tmp = path + ".tmp"
    # One metadata key holding sorted JSON: the library writes a metadata map
    # in hash order, which would make two saves of one model differ in bytes.
    text = json.dumps({str(k): str(v) for k, v in (metadata or {}).items()}, sort_keys=True)
    save_file(arrays, tmp, metadata={_METADATA_KEY: text})
    os.replace(tmp, path)


def read_safetensors(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read a float32 safetensors file with the `safetensors` library; refuses anything else."""
    size = os.path.getsize(path)
    if size < 8 or size > MAX_WEIGHTS_BYTES:
        raise ModelFormatError(f"{path}: not a toolrm-lite weights file ({size} bytes)")
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic[:1] == b"\x80" or magic == b"PK":
        raise ModelFormatError(f"{path}: looks like a pickle or zip archive; only safetensors weights load")
    try:
        with safe_open(path, framework="np") as weights:
            metadata = weights.metadata() or {}
            tensors = {name: weights.get_tensor(name) for name in weights.keys()}
    except (SafetensorError, ValueError, OSError) as error:
        raise ModelFormatError(f"{path}: not a valid safetensors file: {error}") from None
    for name, array in tensors.items():
        if array.dtype != np.float32:
            raise ModelFormatError(f"{path}: tensor {name!r} is not float32")
    if _METADATA_KEY in metadata:
        try:
            metadata = json.loads(metadata[_METADATA_KEY])
        except ValueError:
            raise ModelFormatError(f"{path}: bad metadata") from None
    return tensors, {str(k): str(v) for k, v in metadata.items()}


_METADATA_KEY = "toolrm"


# --------------------------------------------------------------------------- the model

class LiteRewardModel:
    """Feature MLP reward model. Thread-compatible: scoring does not mutate weights."""

    def __init__(self, weights: dict[str, np.ndarray], *, activation: str = "relu",
                 config: dict[str, Any] | None = None):
        missing = [t for t in _TENSORS if t not in weights]
        if missing:
            raise ModelFormatError(f"missing tensors {missing}")
        if activation not in _ACTIVATIONS:
            raise ModelFormatError(f"unknown activation {activation!r}")
        d = F.N_FEATURES
        w1 = np.asarray(weights["w1"], dtype=np.float32)
        hidden = w1.shape[1] if w1.ndim == 2 else -1
        expected = {"mean": (d,), "scale": (d,), "w1": (d, hidden), "b1": (hidden,), "w2": (hidden,),
                    "b2": (1,), "skip": (d,)}
        for name, shape in expected.items():
            if tuple(np.shape(weights[name])) != shape:
                raise ModelFormatError(f"tensor {name!r} has shape {np.shape(weights[name])}, expected {shape}")
        self.weights = {k: np.asarray(weights[k], dtype=np.float32) for k in _TENSORS}
        if not all(np.all(np.isfinite(v)) for v in self.weights.values()):
            raise ModelFormatError("weights contain NaN or infinity")
        self.activation = activation
        self.config = dict(config or {})
        self.cache = F.ContextCache()
        self._inv_scale = (1.0 / self.weights["scale"]).astype(np.float32)
        self._w1s = (self.weights["w1"] * self._inv_scale[:, None]).astype(np.float32)
        self._b1s = (self.weights["b1"] - (self.weights["mean"] * self._inv_scale) @ self.weights["w1"]).astype(np.float32)
        self._skips = (self.weights["skip"] * self._inv_scale).astype(np.float32)
        self._b2s = float(self.weights["b2"][0] - (self.weights["mean"] * self._inv_scale) @ self.weights["skip"])

    # -- scoring -----------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{FORMAT}@{self.config.get('fingerprint', 'unsaved')}"

    def score_features(self, x: np.ndarray) -> np.ndarray:
        """Scores of a (n, N_FEATURES) feature matrix."""
        # float64 arithmetic, float32 result: BLAS picks kernels by matrix
        # shape, so float32 sums would differ in the last bit with how rows
        # happen to be batched; rounding a float64 sum makes scores (and the
        # shards written from them) the same on every run and runner.
        x = np.asarray(x, dtype=np.float64)
        h = x @ self._w1s.astype(np.float64) + self._b1s.astype(np.float64)
        h = np.maximum(h, 0.0, out=h) if self.activation == "relu" else np.tanh(h, out=h)
        w2 = self.weights["w2"].astype(np.float64)
        return (h @ w2 + x @ self._skips.astype(np.float64) + self._b2s).astype(np.float32)

    def score(self, examples: Sequence[dict] | dict, outputs: Sequence[Any]) -> np.ndarray:
        """Scores of candidate outputs: `examples` is one example for all outputs or one per output."""
        return self.score_features(F.featurize(examples, outputs, self.cache))

    def score_pairs(self, pairs: Sequence[tuple[dict, Any]]) -> np.ndarray:
        """Scores of (example, output) pairs."""
        return self.score([p[0] for p in pairs], [p[1] for p in pairs])

    def score_candidates(self, example: dict, candidates: Sequence[dict]) -> np.ndarray:
        """Scores of Candidate records of one example (reads each record's `output`)."""
        return self.score(example, [c["output"] for c in candidates])

    def probability(self, examples: Sequence[dict] | dict, outputs: Sequence[Any]) -> np.ndarray:
        s = self.score(examples, outputs).astype(np.float64)
        return (1.0 / (1.0 + np.exp(-np.clip(s, -50, 50)))).astype(np.float32)

    # -- persistence ---------------------------------------------------------

    def save(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        write_safetensors(os.path.join(path, WEIGHTS_FILE), self.weights,
                          {"format": FORMAT, "feature_signature": F.feature_signature()})
        config = dict(self.config)
        config.update({
            "format": FORMAT, "format_version": FORMAT_VERSION, "activation": self.activation,
            "hidden": int(self.weights["w1"].shape[1]), "feature_version": F.FEATURE_VERSION,
            "feature_signature": F.feature_signature(), "feature_names": list(F.FEATURE_NAMES),
            "weights_file": WEIGHTS_FILE,
        })
        config["fingerprint"] = _fingerprint(self.weights)
        self.config = config
        tmp = os.path.join(path, CONFIG_FILE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=1, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, os.path.join(path, CONFIG_FILE))

    @classmethod
    def load(cls, path: str) -> "LiteRewardModel":
        """Load a model directory (or its config.json). Refuses any other format."""
        if os.path.isfile(path):
            if os.path.basename(path) != CONFIG_FILE:
                raise ModelFormatError(f"{path}: expected a toolrm-lite model directory (with {CONFIG_FILE})")
            path = os.path.dirname(path) or "."
        config_path = os.path.join(path, CONFIG_FILE)
        if not os.path.isfile(config_path):
            raise ModelFormatError(f"{path}: no {CONFIG_FILE}; not a toolrm-lite model")
        try:
            with open(config_path, "rb") as handle:
                raw = handle.read(1 << 20)
            config = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise ModelFormatError(f"{config_path}: not JSON ({error})") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise ModelFormatError(f"{config_path}: format is {config.get('format') if isinstance(config, dict) else None!r}, "
                                   f"expected {FORMAT!r}")
        if config.get("format_version") != FORMAT_VERSION:
            raise ModelFormatError(f"{config_path}: format_version {config.get('format_version')!r} is not supported")
        if config.get("feature_signature") != F.feature_signature():
            raise ModelFormatError(
                f"{config_path}: trained on features {config.get('feature_version')!r} "
                f"({config.get('feature_signature')}), this code computes {F.FEATURE_VERSION!r} "
                f"({F.feature_signature()}); retrain with `toolrm train-lite`")
        weights_file = config.get("weights_file", WEIGHTS_FILE)
        if weights_file != WEIGHTS_FILE:
            raise ModelFormatError(f"{config_path}: weights_file must be {WEIGHTS_FILE!r}")
        tensors, metadata = read_safetensors(os.path.join(path, WEIGHTS_FILE))
        if metadata.get("format") != FORMAT or metadata.get("feature_signature") != F.feature_signature():
            raise ModelFormatError(f"{path}: weights metadata does not match the config")
        model = cls(tensors, activation=config.get("activation", "relu"), config=config)
        if config.get("fingerprint") and config["fingerprint"] != _fingerprint(model.weights):
            raise ModelFormatError(f"{path}: weights do not match the config's fingerprint")
        return model


def _fingerprint(weights: dict[str, np.ndarray]) -> str:
    import hashlib
    digest = hashlib.sha256()
    for name in _TENSORS:
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(weights[name], dtype="<f4").tobytes())
    return digest.hexdigest()[:16]
