"""Model files for the transformers and vLLM handlers: where a model is, and loading it.

A model is a local directory or a URL Beam's FileSystems can read (`gs://...`),
copied to a local cache once per worker; a Hub id is refused unless
`allow_hub=True`, so no run fetches weights without being told.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from typing import Any

from toolrm_beam.schemas.records import short_hash

DTYPES = ("auto", "float32", "bfloat16", "float16")
_COMPLETE_MARKER = ".toolrm-copy-complete"


def check_device_and_dtype(device: str, dtype: str) -> None:
    """Refuse a device or dtype the loaders do not take, when the handler is built (not on a worker)."""
    if not (device == "cpu" or device == "cuda" or device.startswith("cuda:")):
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")


def copy_model_dir(url: str, destination: str) -> str:
    """Copy every file under `url` (any Beam FileSystems path) to `destination`.

    Copies into a fresh sibling directory and renames it into place, so a
    worker never sees a half-copied model, and concurrent loaders on one
    machine simply race to the same result.
    """
    from apache_beam.io.filesystems import FileSystems

    if os.path.exists(os.path.join(destination, _COMPLETE_MARKER)):
        return destination
    prefix = url.rstrip("/") + "/"
    (match,) = FileSystems.match([prefix + "**"])
    files = [m.path for m in match.metadata_list]
    if not files:
        raise FileNotFoundError(f"no model files under {url!r}")
    staging = f"{destination}.{uuid.uuid4().hex}.partial"
    os.makedirs(staging)
    try:
        for path in files:
            relative = path[len(prefix):] if path.startswith(prefix) else os.path.basename(path)
            target = os.path.join(staging, *relative.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with FileSystems.open(path) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        open(os.path.join(staging, _COMPLETE_MARKER), "w").close()
        try:
            os.replace(staging, destination)
        except OSError:
            # Another loader finished first (destination now exists and is complete).
            if not os.path.exists(os.path.join(destination, _COMPLETE_MARKER)):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def resolve_model_path(model_path: str, *, allow_hub: bool = False, cache_dir: str | None = None) -> str:
    """A local directory for `model_path`: itself, a cached copy of a URL, or (if allowed) a Hub id."""
    if not isinstance(model_path, str) or not model_path:
        raise ValueError(f"model_path must be a non-empty string, got {model_path!r}")
    if model_path.startswith("file://"):
        model_path = model_path[len("file://"):]
    if os.path.isdir(model_path):
        return model_path
    if "://" in model_path:
        cache = cache_dir or os.path.join(tempfile.gettempdir(), "toolrm-models")
        os.makedirs(cache, exist_ok=True)
        return copy_model_dir(model_path, os.path.join(cache, short_hash(model_path)))
    if allow_hub:
        return model_path
    raise FileNotFoundError(
        f"model {model_path!r} is not a local directory or a URL (gs://...); models are never fetched "
        "from a hub unless allow_hub=True is passed")


def load_pretrained(auto_class: Any, model_path: str, *, device: str, dtype: str, allow_hub: bool,
                    cache_dir: str | None, trust_remote_code: bool, **model_kwargs) -> tuple[Any, Any, str]:
    """(model on `device` in eval mode, its tokenizer, the dtype's name) for a transformers Auto class.

    dtype "auto" is bfloat16 on GPU and float32 on CPU.
    """
    import torch
    from transformers import AutoTokenizer

    path = resolve_model_path(model_path, allow_hub=allow_hub, cache_dir=cache_dir)
    local_only = not allow_hub
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local_only, trust_remote_code=trust_remote_code)
    model = auto_class.from_pretrained(path, local_files_only=local_only, dtype=getattr(torch, dtype),
                                       trust_remote_code=trust_remote_code, **model_kwargs)
    model.to(device)
    model.eval()
    return model, tokenizer, dtype
