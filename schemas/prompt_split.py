"""The by-prompt split of real model generations into a train part and a dev part.

Every answer to one prompt lands in the same part, so a scorer trained or tuned
on the train part is never measured on a prompt it has seen (answers to one
prompt share tools, wording and reference). The split is a salted hash of the
upstream prompt id (BFCL's question id, e.g. `exec_simple_12`), so it is the
same on every machine and for every reader of the generations: the adapter,
the evaluation files and the training of the bundled model.
"""
from __future__ import annotations

import hashlib

DEV_FRACTION = 0.3
_SALT = "toolrm-real-errors-v1"  # changing it reshuffles the split: never do it silently

TRAIN, DEV = "train", "dev"


def prompt_split(prompt_id: str, dev_fraction: float = DEV_FRACTION) -> str:
    """`dev` for about `dev_fraction` of prompt ids, `train` for the rest."""
    if not isinstance(prompt_id, str) or not prompt_id:
        raise ValueError(f"a prompt id must be a non-empty string, got {prompt_id!r}")
    if not 0.0 <= dev_fraction <= 1.0:
        raise ValueError(f"dev_fraction must be within [0, 1], got {dev_fraction}")
    digest = hashlib.sha256(f"{_SALT}:{prompt_id}".encode("utf-8")).digest()
    return DEV if int.from_bytes(digest[:8], "big") < dev_fraction * 2**64 else TRAIN
