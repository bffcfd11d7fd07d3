"""Stage hand-offs: the folder one stage wrote is the next stage's input.

    toolrm ingest --source bfcl --input 'corpus/*.json' --output out/ingest/bfcl
    toolrm synthesize --input out/ingest/bfcl --output out/synthesize
    toolrm score --examples out/ingest/bfcl --candidates out/synthesize --output out/scored

A folder stands for its `<kind>-NNNNN-of-MMMMM.parquet` shards, the kind
taken from the flag (`examples`, `candidates`); globs and files pass as they
are. A folder without shards of that kind, or whose manifest counts no rows of
it (stages write every shard, empty ones included), is an input error that
says what the folder holds instead.
"""
from __future__ import annotations

import json
import re

from toolrm_beam.transforms import fileio

MANIFEST = "manifest.json"
# Where each kind comes from, for the error that names a wrong folder.
WRITTEN_BY = {"examples": "the folder `toolrm ingest` wrote", "candidates": "the folder `toolrm synthesize` wrote"}
_GLOB = re.compile(r"[*?\[]")
_SHARD = re.compile(r"^([a-z_]+)-\d{5}-of-\d{5}\.parquet$")


def shard_glob(folder: str, kind: str) -> str:
    return fileio.join(folder.rstrip("/"), f"{kind}-*-of-*.parquet")


def match_shards(patterns: list[str], kind: str) -> list[str]:
    """Files of `patterns`, each a glob, a file, or a folder a stage wrote (its `kind` shards)."""
    resolved = []
    for pattern in patterns:
        if _GLOB.search(pattern) or not fileio.is_folder(pattern):
            resolved.append(pattern)
            continue
        hint = f"; {kind} come from {WRITTEN_BY[kind]}" if kind in WRITTEN_BY else ""
        try:
            resolved += fileio.match_inputs([shard_glob(pattern, kind)])
        except fileio.InputError:
            raise fileio.InputError(f"folder {pattern!r} holds no {kind} shards ({kind}-*.parquet): "
                                    f"{_holdings(pattern)}{hint}") from None
        if _manifest_rows(pattern, kind) == 0:
            raise fileio.InputError(f"folder {pattern!r} holds no {kind}: its manifest.json counts 0 rows in its "
                                    f"{kind} shards, and {_holdings(pattern)}{hint}")
    return fileio.match_inputs(resolved)


def upstream_stages(files: list[str]) -> list[dict]:
    """The stages that wrote `files`, from the manifest.json beside them, in pipeline order.

    Each: `step` ("ingest bfcl", "synthesize"), `folder`, `counts`, `timing`
    (None for a manifest written before stages recorded it) and the folder's
    non-empty `dead_letter_files`. Files without a manifest beside them are
    left out: they came from somewhere else.
    """
    stages = []
    for folder in sorted({path.rsplit("/", 1)[0] if "/" in path else "." for path in files}):
        manifest = _manifest(folder)
        if not manifest or not isinstance(manifest.get("config"), dict):
            continue
        stages.append(stage_entry(folder, manifest))
    order = {"ingest": 0, "synthesize": 1}
    return sorted(stages, key=lambda s: (order.get(s["pipeline"], 2), s["step"], s["folder"]))


def stage_entry(folder: str, manifest: dict) -> dict:
    """One stage as `upstream_stages` lists it, from the manifest it wrote to `folder`."""
    config = manifest["config"]
    pipeline = config.get("pipeline", "?")
    step = f"ingest {config.get('source')}" if pipeline == "ingest" else pipeline
    dead = [fileio.join(folder, shard["file"]) for shard in (manifest.get("files") or {}).get("dead_letter", [])
            if shard.get("rows")]
    return {"step": step, "pipeline": pipeline, "folder": folder, "counts": manifest.get("counts", {}),
            "timing": manifest.get("timing"), "dead_letter_files": dead}


def _manifest(folder: str) -> dict | None:
    path = fileio.join(folder.rstrip("/"), MANIFEST)
    try:
        if not fileio.exists(path):
            return None
        with fileio.open_read(path) as handle:
            return json.loads(handle.read())
    except (OSError, ValueError):
        return None


def _manifest_rows(folder: str, kind: str) -> int | None:
    """Rows the folder's manifest lists for `kind` (None without a readable manifest)."""
    manifest = _manifest(folder)
    if not manifest or not isinstance(manifest.get("files"), dict):
        return None
    return sum(int(shard.get("rows", 0)) for shard in manifest["files"].get(kind, []))


def _holdings(folder: str) -> str:
    """What a folder holds, in words: its non-empty shard kinds and the stage that wrote it."""
    manifest = _manifest(folder)
    if manifest and isinstance(manifest.get("files"), dict):
        kinds = sorted(kind for kind, shards in manifest["files"].items()
                       if sum(int(s.get("rows", 0)) for s in shards))
        stage = (manifest.get("config") or {}).get("pipeline", "?")
        held = ", ".join(kinds) or "no rows at all"
        return f"it holds {held} (written by toolrm {stage})"
    try:
        names = fileio.list_folder(folder)
    except OSError:
        names = []
    kinds = sorted({m.group(1) for m in map(_SHARD.match, names) if m})
    if kinds:
        return f"it holds {', '.join(kinds)} shards"
    return "it holds no shards of any kind" if names else "it is empty or does not exist"
