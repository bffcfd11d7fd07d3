"""`toolrm refresh`: process only new or changed corpus files and publish a new dataset version.

    toolrm refresh --dataset DIR_OR_URL --source FORMAT --input GLOB [--source ... --input ...]
                   [--generators rules] [--seed N] [scoring options] [--files_per_run N]
                   [--gc | --no-gc] [--gc_grace_s S] [Beam options]

Dataset layout:

    DATASET/manifest.json        the published version (replaced atomically; see transforms/publish.py)
    DATASET/runs/<run_id>/       one `toolrm run` output per batch of input files (one pipeline):
        ingest/<source>/         examples-*, candidates-*, dead_letter-*, manifest.json
        synthesize/              candidates-*, dead_letter-*, manifest.json
        pairs/ filtered/ quarantine/ dead_letter/ manifest.json report.html
        run.json                 written last: the run is complete (inputs, files, counts)

The published manifest holds the version number, every input file with its
fingerprint and the run that processed it, the live runs, and every live
shard (pairs, candidates, examples, filtered, quarantine, dead letters) with
its row count and sha256. Readers read the manifest once and then only the
files it lists (`read_table`), so they see one version whole.

What a refresh does:
1. match the inputs; fingerprint each data file together with the side files
   its adapter joins (BFCL/ACEBench answers, the Seal-Tools catalog): sha256 of
   the content for local files, the object generation/etag that fsspec reports
   for remote ones;
2. compare with the published manifest: new files, changed files (content,
   side files or source), removed files (the dataset mirrors its inputs: pass
   the same --source/--input every time). A run is retired whole when one of
   its files changed or went away, and its unchanged files are processed again
   together with the new and changed ones, so a run's shards never hold rows of
   a file version that is no longer current. A change of the options that
   shape the content (generators, seed, scoring) retires every run.
   `--files_per_run 1` makes runs per file (a change then re-processes only
   that file, at the cost of more, smaller pipelines and shards);
3. process each batch into `runs/<run_id>/` with the `toolrm run` pipeline
   (beam_pipelines/end_to_end.py: ingest, synthesize, score and select as one
   Beam job), where run_id is a hash of the batch's fingerprints and the
   content options: a killed run's rerun finds the same directory, removes
   what the killed attempt left unfinished and runs the batch again; a run
   that completed (its `run.json` written, every file present) is reused;
4. publish the new manifest, conditional on the version read in step 2 (a
   concurrent publisher makes this one fail, having published nothing);
5. delete run directories that neither the new nor the previous version
   lists (readers still holding the previous manifest keep working) once they
   are older than --gc_grace_s.

Nothing a published manifest lists is ever rewritten: a run is listed only
after it completed, and a completed run is reused, never recomputed. A killed
refresh therefore leaves the published version untouched; its partial files
sit in an unlisted run directory that the next refresh completes or removes.
Local datasets also take an exclusive lock (`DATASET/.refresh.lock`) so two
refreshes of one dataset cannot interleave; the kernel drops it when a
process dies.

De-duplication is within a run: identical examples in files processed by
different runs are both kept (their example ids differ by split and upstream id).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import glob as globlib
import hashlib
import io
import json
import os
import shutil
import signal
import sys
import time
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from toolrm_beam.beam_pipelines import driver_options
from toolrm_beam.beam_pipelines.common import versions
from toolrm_beam.runners import health
from toolrm_beam.schemas.adapters import get_adapter
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.input_files import check_corpora, check_corpus_inputs
from toolrm_beam.transforms.publish import TEMP_MARK, ConcurrentPublishError, ManifestError, publisher_for

FORMAT = "toolrm-dataset"
FORMAT_VERSION = "1.0"
MANIFEST = "manifest.json"
RUNS = "runs"
RUN_MARKER = "run.json"
LOCK_FILE = ".refresh.lock"
# Test hook: SIGKILL this process when it reaches the named checkpoint (see `_checkpoint`).
KILL_ENV = "TOOLRM_REFRESH_TEST_KILL_AT"
CHECKPOINTS = ("pipeline", "run", "publish-temp", "published")

# Stage manifest group -> dataset file kind.
_KINDS = {
    "ingest": {"examples": "examples", "candidates": "corpus_candidates", "dead_letter": "dead_letter"},
    "synthesize": {"candidates": "candidates", "examples": "examples", "dead_letter": "dead_letter"},
    "score": {"pairs": "pairs", "filtered": "filtered", "quarantine": "quarantine", "dead_letter": "dead_letter"},
}
_ROW_COUNTS = ("rows_in", "rows_written", "rows_duplicate", "rows_dead_letter")


class RefreshBusyError(RuntimeError):
    """Another refresh holds this dataset's lock."""


# ----------------------------------------------------------------------------- options

def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="toolrm refresh", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, help="dataset directory or URL (local, gs://, fsspec)")
    parser.add_argument("--source", action="append", required=True, help="corpus format, one per --input")
    parser.add_argument("--input", action="append", required=True, help="glob of the corpus files")
    parser.add_argument("--files_per_run", type=int, default=0,
                        help="most input files per run (default 0: one run per refresh)")
    parser.add_argument("--gc", action=argparse.BooleanOptionalAction, default=True,
                        help="delete run directories no published version lists, after publishing")
    parser.add_argument("--gc_grace_s", type=float, default=3600.0,
                        help="keep unlisted run directories younger than this (a concurrent refresh may "
                             "be writing one)")
    driver_options.add_driver_args(parser)
    args, beam_args = parser.parse_known_args(argv)
    if args.files_per_run < 0 or args.gc_grace_s < 0:
        parser.error("--files_per_run and --gc_grace_s must not be negative")
    driver_options.check_driver_args(parser, args, beam_args)
    return args, beam_args


def content_config(args: argparse.Namespace) -> dict[str, Any]:
    """The options that shape the dataset's rows (runner and Beam options do not).

    The LLM generators' model and sampling settings count when an LLM generator
    is on; where the model is served and how requests are retried do not.
    """
    generators = driver_options.generators_of(args)
    llm_part = {}
    if any(g.startswith("llm") for g in generators):  # absent otherwise: rule-only fingerprints stay as they were
        llm_part = {"llm": {name: getattr(args, f"generator_{name}") for name in
                       ("model", "backend", "samples", "temperature", "max_new_tokens", "error_types",
                        "decoding")}}
    return {"generators": generators, "seed": args.seed, **llm_part,
            "scorer": args.scorer, "model": args.model, "max_length": args.max_length,
            "min_positive_score": args.min_positive_score, "max_pairs_per_example": args.max_pairs_per_example,
            "balance": args.balance, "hard_margin": args.hard_margin, "quarantine_margin": args.quarantine_margin}


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _checkpoint(stage: str) -> None:
    """Tests set KILL_ENV to one of CHECKPOINTS to die here, as a crash or an OOM kill would."""
    if os.environ.get(KILL_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


# ----------------------------------------------------------------------------- fingerprints

def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def object_fingerprint(path: str) -> str:
    """sha256 of a local file; for remote objects the generation/etag/md5 that fsspec reports.

    "missing" for a file that does not exist (an absent side file is part of the state too).
    """
    if not _is_local(path):
        import fsspec

        try:
            fs, _, [stripped] = fsspec.get_fs_token_paths(path)
            info = fs.info(stripped)
        except FileNotFoundError:
            return "missing"
        for key, label in (("generation", "generation"), ("etag", "etag"), ("ETag", "etag"),
                           ("md5Hash", "md5"), ("md5", "md5")):
            if info.get(key):
                return f"{label}:{info[key]}"
    try:
        return "sha256:" + fileio.size_and_sha256(path)[1]
    except (FileNotFoundError, OSError):
        return "missing"


def side_files(path: str, source: str) -> list[str]:
    """The files the adapter's `load_context` opens for a data file (answers, catalogs)."""
    opened: list[str] = []

    def recording_open(side: str):
        opened.append(side)
        return fileio.open_read(side)

    try:
        get_adapter(source).load_context(path, recording_open)
    except Exception:  # noqa: BLE001 - an unusable side file: ingest dead-letters the rows with the reason
        pass
    return sorted(set(opened) - {path})


def scan_inputs(corpora: list[tuple[str, str]], warnings: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """`{path: {source, fingerprint, side_files}}` of every usable data file the globs match.

    Files are checked as `toolrm run` checks them (transforms/input_files.py):
    a bad one is an InputError before anything runs, or, beside usable ones,
    left out with a line in `warnings`.
    """
    found: dict[str, dict[str, Any]] = {}
    corpora, skipped = check_corpora(corpora)
    if warnings is not None:
        warnings.extend(skipped)
    for source, pattern in corpora:
        adapter = get_adapter(source)
        checked = check_corpus_inputs(source, [pattern])
        if warnings is not None:
            warnings.extend(f"{source}: {warning}" for warning in checked.warnings)
        for path in checked.files:
            if path in found and found[path]["source"] != adapter.name:
                raise fileio.InputError(f"{path} is matched as both {found[path]['source']} and {adapter.name}")
            found[path] = {"source": adapter.name, "fingerprint": object_fingerprint(path),
                           "side_files": {side: object_fingerprint(side) for side in side_files(path, source)}}
    return dict(sorted(found.items()))


# ----------------------------------------------------------------------------- plan

def plan_refresh(current: dict[str, dict], published: dict | None, config_fingerprint: str,
                 files_per_run: int = 0) -> dict[str, Any]:
    """What to process: new, changed and removed files, the runs they retire, and the new batches."""
    old_inputs = (published or {}).get("inputs", {})
    old_runs = set((published or {}).get("runs", {}))
    config_changed = published is not None and published.get("config_fingerprint") != config_fingerprint

    def state(record):
        return record["source"], record["fingerprint"], record.get("side_files", {})

    new = [p for p in current if p not in old_inputs]
    changed = [p for p in current if p in old_inputs and state(current[p]) != state(old_inputs[p])]
    removed = sorted(p for p in old_inputs if p not in current)
    retired = old_runs if config_changed else {old_inputs[p]["run"] for p in changed + removed}
    again = [p for p in current if p in old_inputs and p not in changed and old_inputs[p]["run"] in retired]
    batch = sorted(new + changed + again)
    size = files_per_run or max(1, len(batch))
    return {"new": new, "changed": changed, "removed": removed, "reprocessed": again,
            "unchanged": [p for p in current if p not in batch], "config_changed": config_changed,
            "retired_runs": sorted(retired), "kept_runs": sorted(old_runs - retired),
            "batches": [batch[i:i + size] for i in range(0, len(batch), size)]}


def run_id_of(inputs: dict[str, dict], config_fingerprint: str) -> str:
    return _digest({"config": config_fingerprint, "inputs": inputs})[:16]


# ----------------------------------------------------------------------------- one run

def _literal(path: str) -> str:
    """A path as a glob that matches only itself."""
    return globlib.escape(path) if any(c in path for c in "*?[") else path


def _read_json(path: str) -> dict | None:
    try:
        if not fileio.exists(path):
            return None
        with fileio.open_read(path) as handle:
            value = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_json(path: str, value: dict) -> None:
    fileio.write_bytes_atomic(path, (json.dumps(value, indent=1, sort_keys=True) + "\n").encode())


def _remove(path: str) -> None:
    if _is_local(path):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    elif fileio.exists(path):
        import fsspec
        fs, _, [stripped] = fsspec.get_fs_token_paths(path)
        fs.rm(stripped)


def _sweep_temporaries(directory: str) -> None:
    """Remove what killed writers leave in an unfinished local run: `*.tmp-*` files and `.tmp-*` folders."""
    if not _is_local(directory) or not os.path.isdir(directory):
        return
    for root, folders, names in os.walk(directory, topdown=True):
        for folder in [f for f in folders if f.startswith(".tmp-")]:
            shutil.rmtree(os.path.join(root, folder), ignore_errors=True)
            folders.remove(folder)
        for name in names:
            if ".tmp-" in name:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(root, name))


def _files_of(stage_manifest: dict, stage: str, prefix: str, run_id: str, label: str) -> list[dict]:
    kinds = _KINDS[stage]
    return [{"kind": kinds.get(group, group), "file": f"{prefix}/{shard['file']}", "rows": shard["rows"],
             "bytes": shard["bytes"], "sha256": shard["sha256"], "run": run_id, "stage": label}
            for group, shards in sorted(stage_manifest.get("files", {}).items()) for shard in shards]


def _file_counts(files: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in files:
        counts[entry["kind"]] = counts.get(entry["kind"], 0) + entry["rows"]
    return dict(sorted(counts.items()))


def _run_intact(dataset: str, record: dict) -> bool:
    """A completed run's files are all present with their recorded sizes (cheap: no re-hash)."""
    try:
        for entry in record["files"]:
            path = fileio.join(dataset, entry["file"])
            if _is_local(path):
                if os.path.getsize(path) != entry["bytes"]:
                    return False
            elif not fileio.exists(path):
                return False
    except (OSError, KeyError, TypeError):
        return False
    return True


def process_run(dataset: str, run_id: str, inputs: dict[str, dict], config: dict[str, Any],
                config_fingerprint: str, args: argparse.Namespace, beam_args: list[str]) -> tuple[dict, bool]:
    """Ingest -> synthesize -> score one batch into `runs/<run_id>/`, as one pipeline; returns (run record, reused)."""
    from toolrm_beam.beam_pipelines import end_to_end

    prefix = f"{RUNS}/{run_id}"
    run_dir = fileio.join(dataset, RUNS, run_id)
    marker_path = fileio.join(run_dir, RUN_MARKER)
    record = _read_json(marker_path)
    if (record is not None and record.get("inputs") == inputs and record.get("config_fingerprint") == config_fingerprint
            and _run_intact(dataset, record)):
        return record, True
    if record is not None:
        _remove(marker_path)
    _sweep_temporaries(run_dir)
    fileio.makedirs(run_dir)

    corpora = [(entry["source"], _literal(path)) for path, entry in inputs.items()]
    plan = end_to_end.plan_run(args, corpora, run_dir)
    result = end_to_end.run(plan, end_to_end.make_run_pipeline(plan, beam_args),
                            watch=driver_options.progress_watcher(args))
    _checkpoint("pipeline")

    files: list[dict] = []
    rows = dict.fromkeys(_ROW_COUNTS, 0)
    stages: list[health.StageHealth] = []
    for source, manifest in sorted(result.ingest.items()):
        for key in _ROW_COUNTS:
            rows[key] += manifest["counts"][key]
        stages.append(health.stage_health(f"ingest:{source}", manifest))
        files += _files_of(manifest, "ingest", f"{prefix}/ingest/{source}", run_id, f"ingest:{source}")
    files += _files_of(result.synthesize, "synthesize", f"{prefix}/synthesize", run_id, "synthesize")
    stages.append(health.stage_health("synthesize", result.synthesize))
    files += _files_of(result.score, "score", prefix, run_id, "score")
    stages.append(health.stage_health("score", result.score))

    record = {"run_id": run_id, "inputs": inputs, "config_fingerprint": config_fingerprint,
              "completed_at": _now(), "files": sorted(files, key=lambda f: f["file"]),
              "counts": {**rows, **_file_counts(files)},
              "stages": [dataclasses.asdict(stage) for stage in stages]}
    _write_json(marker_path, record)
    _checkpoint("run")
    return record, False


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ----------------------------------------------------------------------------- manifest, gc

def assemble_manifest(previous: dict | None, kept_runs: list[str], new_runs: list[dict], current: dict[str, dict],
                      config: dict, config_fingerprint: str) -> dict[str, Any]:
    runs: dict[str, dict] = {}
    files: list[dict] = []
    for run_id in kept_runs:
        runs[run_id] = previous["runs"][run_id]
        files += [f for f in previous["files"] if f["run"] == run_id]
    for record in new_runs:
        runs[record["run_id"]] = {"inputs": sorted(record["inputs"]), "counts": record["counts"],
                                  "completed_at": record["completed_at"]}
        files += record["files"]
    owner = {path: run_id for run_id, run in runs.items() for path in run["inputs"]}
    inputs = {path: {**entry, "run": owner[path]} for path, entry in current.items()}
    counts = dict.fromkeys(_ROW_COUNTS, 0)
    for run in runs.values():
        for key in _ROW_COUNTS:
            counts[key] += run["counts"].get(key, 0)
    counts.update(_file_counts(files))
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "version": (previous or {}).get("version", 0) + 1, "published_at": _now(),
        "config": config, "config_fingerprint": config_fingerprint, "versions": versions(),
        "inputs": inputs, "runs": dict(sorted(runs.items())),
        "previous_runs": sorted((previous or {}).get("runs", {})),
        "files": sorted(files, key=lambda f: f["file"]), "counts": counts,
    }


def _info_mtime(info: dict) -> float:
    for key in ("mtime", "updated", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime.datetime):
            return value.timestamp()
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float("inf")  # unknown age: treat as new, keep it


def _entries(directory: str) -> Iterator[tuple[str, str, float]]:
    """(name, path, newest mtime inside) of each entry of a directory."""
    if _is_local(directory):
        if not os.path.isdir(directory):
            return
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            newest = os.path.getmtime(path)
            for root, _, names in os.walk(path):
                for item in names:
                    with contextlib.suppress(FileNotFoundError):
                        newest = max(newest, os.path.getmtime(os.path.join(root, item)))
            yield name, path, newest
        return
    import fsspec

    fs, _, [stripped] = fsspec.get_fs_token_paths(directory)
    if not fs.exists(stripped):
        return
    for entry in fs.ls(stripped, detail=True):
        found = fs.find(entry["name"], detail=True).values() if entry.get("type") == "directory" else [entry]
        newest = max((_info_mtime(i) for i in found), default=float("inf"))
        yield entry["name"].rstrip("/").rsplit("/", 1)[-1], fs.unstrip_protocol(entry["name"]), newest


def collect_garbage(dataset: str, manifest: dict | None, grace_s: float) -> list[str]:
    """Delete run directories neither the published nor the previous version lists, and stale temporaries."""
    if manifest is None:
        return []
    keep = set(manifest.get("runs", {})) | set(manifest.get("previous_runs", []))
    listed = {entry["file"].split("/")[1] for entry in manifest.get("files", [])}
    cutoff = time.time() - grace_s
    removed = []
    for name, path, newest in _entries(fileio.join(dataset, RUNS)):
        if name in keep or name in listed or newest > cutoff:
            continue
        if _is_local(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            import fsspec
            fs, _, [stripped] = fsspec.get_fs_token_paths(path)
            fs.rm(stripped, recursive=True)
        removed.append(name)
    if _is_local(dataset):
        for name, path, newest in _entries(dataset):
            if name.startswith(f".{MANIFEST}{TEMP_MARK}") and newest <= cutoff:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(path)
    return removed


@contextlib.contextmanager
def _refresh_lock(dataset: str):
    if not _is_local(dataset):
        yield  # object stores: the publish precondition catches a concurrent refresh
        return
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = os.path.join(dataset, LOCK_FILE)
    with open(path, "a+b") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RefreshBusyError(f"another refresh of {dataset} is running (it holds {path})") from None
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


# ----------------------------------------------------------------------------- the command

def run(argv: list[str] | None = None, *, gcs_client: Any = None) -> dict[str, Any]:
    """Refresh the dataset; returns a summary (`status` is "published" or "unchanged")."""
    args, beam_args = parse_args(argv)
    dataset = args.dataset.rstrip("/")
    if dataset.startswith("file://"):
        dataset = dataset[len("file://"):]
    config = content_config(args)
    config_fingerprint = _digest(config)
    fileio.makedirs(dataset)
    with _refresh_lock(dataset):
        publisher = publisher_for(fileio.join(dataset, MANIFEST), gcs_client=gcs_client)
        stale_temporaries = publisher.remove_stale_temporaries()
        published = publisher.read()
        previous = published.manifest
        if previous is not None and previous.get("format") != FORMAT:
            raise ManifestError(f"{publisher.path} is not a {FORMAT} manifest")
        input_warnings: list[str] = []
        current = scan_inputs(list(zip(args.source, args.input)), input_warnings)
        plan = plan_refresh(current, previous, config_fingerprint, args.files_per_run)
        summary: dict[str, Any] = {
            "dataset": dataset, "manifest": publisher.path,
            "previous_version": previous["version"] if previous else None,
            "new_files": plan["new"], "changed_files": plan["changed"], "removed_files": plan["removed"],
            "reprocessed_files": plan["reprocessed"], "unchanged_files": plan["unchanged"],
            "config_changed": plan["config_changed"], "runs_kept": plan["kept_runs"],
            "runs_retired": plan["retired_runs"], "runs_processed": [], "runs_reused": [],
            "input_warnings": input_warnings, "stale_temporaries_removed": stale_temporaries,
        }
        if not plan["batches"] and not plan["retired_runs"]:
            summary.update(status="unchanged", version=summary["previous_version"],
                           counts=(previous or {}).get("counts", {}),
                           garbage_collected=collect_garbage(dataset, previous, args.gc_grace_s) if args.gc else [])
            return summary
        new_runs = []
        for batch in plan["batches"]:
            inputs = {path: current[path] for path in batch}
            run_id = run_id_of(inputs, config_fingerprint)
            record, reused = process_run(dataset, run_id, inputs, config, config_fingerprint, args, beam_args)
            summary["runs_reused" if reused else "runs_processed"].append(run_id)
            new_runs.append(record)
        stages = [health.StageHealth(**stage) for record in new_runs for stage in record.get("stages", [])]
        pairs = sum(record["counts"].get("pairs", 0) for record in new_runs)
        problems = health.problems(stages, args.max_dead_letter_fraction, pairs=pairs if new_runs else None)
        if problems:
            # The runs stay on disk (inspect them; a rerun reuses them); readers keep the published version.
            summary.update(status="refused", version=summary["previous_version"], problems=problems,
                           stages=stages, counts=(previous or {}).get("counts", {}), garbage_collected=[])
            return summary
        manifest = assemble_manifest(previous, plan["kept_runs"], new_runs, current, config, config_fingerprint)
        publisher.publish(manifest, published, before_replace=lambda: _checkpoint("publish-temp"))
        _checkpoint("published")
        summary.update(status="published", version=manifest["version"], counts=manifest["counts"],
                       garbage_collected=collect_garbage(dataset, manifest, args.gc_grace_s) if args.gc else [])
        return summary


# ----------------------------------------------------------------------------- readers

def load_published(dataset: str, *, gcs_client: Any = None) -> dict[str, Any] | None:
    """The published manifest of a dataset (None if nothing is published yet)."""
    return publisher_for(fileio.join(dataset.rstrip("/"), MANIFEST), gcs_client=gcs_client).read().manifest


def read_table(dataset: str, kind: str, manifest: dict | None = None, *, verify: bool = True) -> pa.Table:
    """All rows of one kind (`pairs`, `candidates`, `examples`, ...) of one published version.

    Reads only the files that manifest lists; with `verify`, each file's
    sha256 is checked against the manifest first.
    """
    manifest = manifest if manifest is not None else load_published(dataset)
    if manifest is None:
        raise fileio.InputError(f"{dataset}: no published version")
    tables = []
    for entry in manifest["files"]:
        if entry["kind"] != kind:
            continue
        with fileio.open_read(fileio.join(dataset.rstrip("/"), entry["file"])) as handle:
            data = handle.read()
        if verify and fileio.sha256_hex(data) != entry["sha256"]:
            raise ManifestError(f"{entry['file']}: content does not match the manifest's sha256")
        tables.append(pq.read_table(io.BytesIO(data)))
    if not tables:
        return pa.table({})
    return pa.concat_tables(tables, promote_options="default")


def print_summary(summary: dict[str, Any], seconds: float) -> None:
    def names(paths):
        return ", ".join(os.path.basename(p) for p in paths) or "-"

    if summary["status"] == "unchanged":
        print(f"refresh {summary['dataset']}: no input changed since version {summary['version']}; "
              f"nothing to do ({seconds:.1f} s)")
    else:
        if summary["status"] == "refused":
            print(f"refresh {summary['dataset']}: processed, not published (version "
                  f"{summary['previous_version'] or 'none'} stays the published one) in {seconds:.1f} s")
        else:
            print(f"refresh {summary['dataset']}: published version {summary['version']} "
                  f"(was {summary['previous_version'] or 'none'}) in {seconds:.1f} s")
        print(f"  new files        {len(summary['new_files']):>6}  {names(summary['new_files'])}")
        print(f"  changed files    {len(summary['changed_files']):>6}  {names(summary['changed_files'])}")
        print(f"  removed files    {len(summary['removed_files']):>6}  {names(summary['removed_files'])}")
        print(f"  re-processed     {len(summary['reprocessed_files']):>6}  (unchanged files of retired runs)")
        if summary["config_changed"]:
            print("  content options changed: every run was retired")
        print(f"  runs processed {summary['runs_processed'] or '-'}, reused {summary['runs_reused'] or '-'}, "
              f"kept {len(summary['runs_kept'])}, retired {len(summary['runs_retired'])}")
    print(f"  unchanged files  {len(summary['unchanged_files']):>6}")
    counts = summary.get("counts") or {}
    for key in ("pairs", "candidates", "examples", "filtered", "quarantine", "dead_letter"):
        if key in counts:
            print(f"  {key:16s} {counts[key]:>8}")
    if counts:
        balanced = counts["rows_in"] == counts["rows_written"] + counts["rows_duplicate"] + counts["rows_dead_letter"]
        print(f"  rows in {counts['rows_in']} = written {counts['rows_written']} + duplicate "
              f"{counts['rows_duplicate']} + dead letter {counts['rows_dead_letter']}: "
              f"{'ok' if balanced else 'MISMATCH'}")
    if summary.get("stale_temporaries_removed"):
        print(f"  removed staged manifests a killed refresh left: {len(summary['stale_temporaries_removed'])}")
    if summary.get("garbage_collected"):
        print(f"  removed unlisted runs: {', '.join(summary['garbage_collected'])}")


def main(argv: list[str] | None = None) -> int:
    from toolrm_beam.runners.cli import guarded

    return guarded("refresh", _main, list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    started = time.monotonic()
    try:
        summary = run(argv)
    except (ConcurrentPublishError, RefreshBusyError, ManifestError) as error:
        print(f"toolrm refresh: {error}", file=sys.stderr)
        return 3
    for warning in summary.get("input_warnings", []):
        print(f"toolrm refresh: warning: {warning}", file=sys.stderr)
    print_summary(summary, time.monotonic() - started)
    if summary["status"] == "refused":
        print(f"toolrm refresh: nothing published; version {summary['version'] or '(none)'} stays the "
              f"published one", file=sys.stderr)
        health.report("refresh", summary["problems"], summary["stages"])
        return health.EXIT_UNHEALTHY
    return 0


if __name__ == "__main__":
    sys.exit(main())
