"""Rows per second of the rule-based synthesis path: Beam beside a plain Python loop.

    python benchmarks/synthesis_throughput.py [--examples 20000] [--memory_examples 100000] [--json]

Builds N canonical examples from the bundled sample corpora (each real example
repeated under new upstream ids), writes them as Example shards, then times:
  - a plain loop doing the same work: read shards, validate, reference +
    rule negatives + schema validity per example, collapse repeats, write a
    sorted Parquet shard;
  - `toolrm synthesize` on the DirectRunner in one process;
  - the same with two worker processes (multi_processing).
Each Beam run is a separate process; its wall time includes pipeline start-up.
Peak resident memory is the sum over that process tree, sampled from /proc.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's helpers
from process_memory import run_sampled  # noqa: E402
from toolrm_beam.schemas import records  # noqa: E402
from toolrm_beam.transforms import rules  # noqa: E402
from toolrm_beam.transforms.corpus_examples import file_examples  # noqa: E402
from toolrm_beam.schemas.validation import validate_example  # noqa: E402
from toolrm_beam.transforms.fileio import parquet_bytes  # noqa: E402
from toolrm_beam.transforms.read_rows import iter_file_rows  # noqa: E402

from toolrm_beam.data import SAMPLES  # noqa: E402
BUNDLED = (("seal_tools", "seal_tools", "*.parquet"), ("acebench", "acebench_en", "*.json"),
           ("bfcl", "bfcl_live_sample", "*.json"))
FILES = 8


def sample_examples() -> list[dict]:
    """The bundled samples' examples, as ingest writes them (its dead letters are not part of the workload)."""
    return [example for source, folder, pattern in BUNDLED
            for path in sorted(glob.glob(os.path.join(SAMPLES, folder, pattern)))
            for example in file_examples(source, path, validate=True)]


def write_examples(directory: str, count: int) -> None:
    base = sample_examples()
    rows = []
    for index in range(count):
        example = dict(base[index % len(base)])
        example["upstream_id"] = f"{example['upstream_id']}#copy{index // len(base)}"
        example["example_id"] = records.make_example_id(example["source"], example["split"], example["upstream_id"])
        rows.append(records.to_row(example))
    os.makedirs(directory, exist_ok=True)
    per_file = -(-count // FILES)
    for part in range(FILES):
        chunk = rows[part * per_file:(part + 1) * per_file]
        with open(os.path.join(directory, f"examples-{part:05d}-of-{FILES:05d}.parquet"), "wb") as handle:
            handle.write(parquet_bytes(chunk, records.EXAMPLE_ARROW_SCHEMA))


def plain_loop(directory: str, output: str) -> float:
    """The same work as the rule path of the pipeline, in one loop."""
    from toolrm_beam.beam_pipelines.common import candidate_row

    started = time.perf_counter()
    candidates = []
    for path in sorted(glob.glob(os.path.join(directory, "*.parquet"))):
        for _, row, _ in iter_file_rows(path):
            example = records.from_row(row)
            validate_example(example)
            for candidate in [rules.reference_candidate(example)] + rules.generate_rule_candidates(
                    example, seed=0, max_negatives=6):
                candidate["schema_valid"] = rules.is_schema_valid(example["tools"], candidate["output"])
                candidates.append(candidate_row(candidate))
    candidates.sort(key=lambda r: (r["example_id"], r["candidate_id"], r["origin"] != "reference", r["origin"]))
    unique, seen = [], set()
    for row in candidates:
        if row["candidate_id"] not in seen:
            seen.add(row["candidate_id"])
            unique.append(row)
    with open(os.path.join(output, "candidates.parquet"), "wb") as handle:
        handle.write(parquet_bytes(unique, records.CANDIDATE_ARROW_SCHEMA))
    return time.perf_counter() - started


def beam_run(directory: str, output: str, workers: int) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MiB, summed over its process tree) of `toolrm synthesize`."""
    command = [sys.executable, "-m", "toolrm_beam.runners.cli", "synthesize", "--input", os.path.join(directory, "*.parquet"),
               "--output", output, "--num_shards", "1"]
    if workers > 1:
        command += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    return run_sampled(command, cwd=REPO, what="synthesize")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--memory_examples", type=int, default=0,
                        help="also run single-process Beam on this many examples and report peak RSS")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict = {"examples": args.examples}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "examples")
        write_examples(data, args.examples)
        plain_dir = os.path.join(tmp, "plain")
        os.makedirs(plain_dir)
        plain_seconds = plain_loop(data, plain_dir)
        results["plain_loop_rows_per_s"] = round(args.examples / plain_seconds, 1)
        for workers in (1, 2):
            seconds, rss = beam_run(data, os.path.join(tmp, f"beam{workers}"), workers)
            results[f"beam_{workers}_worker_rows_per_s"] = round(args.examples / seconds, 1)
            results[f"beam_{workers}_worker_ratio"] = round(plain_seconds / seconds, 3)
            results[f"beam_{workers}_worker_peak_rss_mib"] = round(rss, 1)
        if args.memory_examples:
            big = os.path.join(tmp, "big")
            write_examples(big, args.memory_examples)
            seconds, rss = beam_run(big, os.path.join(tmp, "beam_big"), 1)
            results["memory_examples"] = args.memory_examples
            results["memory_run_rows_per_s"] = round(args.memory_examples / seconds, 1)
            results["memory_run_peak_rss_mib"] = round(rss, 1)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for key, value in results.items():
            print(f"{key:36s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
