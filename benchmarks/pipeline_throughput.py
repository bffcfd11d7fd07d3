"""Whole-run throughput: `toolrm run` on one and two processes beside a plain loop doing the same work.

    python benchmarks/pipeline_throughput.py [--corpora /work/shared/data/corpora] [--repeat 3]
        [--memory_examples 100000] [--scale_examples 20000] [--json]

On the shared corpora (Seal-Tools, ACEBench, BFCL live sample), each repeat times:
  - `loop_s`: one Python process doing what `toolrm run` does, with the same
    library functions and no Beam: read and adapt every corpus file (side
    files joined), validate, de-duplicate, write example shards; reference
    and rule candidates labelled by the checker, write candidate shards;
    score them with the bundled model, select pairs, write pairs, filtered
    and quarantine shards, the manifest and report.html;
  - `beam_1proc_s` / `beam_2proc_s`: `toolrm run` on the DirectRunner, one
    process and two worker processes (`--direct_num_workers 2
    --direct_running_mode multi_processing`);
  - `score_stage_ratio`: a plain loop that reads the example and candidate
    shards of that run, validates the examples, scores, selects and writes
    the same outputs (pairs, filtered, quarantine, manifest counts, report),
    over `toolrm score` on the same shards (one process).
Every one of them is a fresh process (this script started again for the
loops), timed from its start to its exit: each pays its interpreter start and
imports. `loop_inner_s` / `score_loop_inner_s` are the loops' times inside
their processes, without those (`score_stage_ratio_inner` compares that with
`toolrm score`'s whole wall time, the ratio this script reported before).
Ratios are loop time / Beam time (above 1: Beam is faster). Each number is the
median over the repeats; `*_runs` lists every repeat and `load_avg` the 1-minute
load average before each, because the machines these run on are shared; the
`*_cpu_s` numbers (user + system CPU, worker processes included) and
`cpu_ratio_1proc` move much less with load than wall time does.
`peak_rss_mib` is the peak resident memory of the one-process run (its whole
process tree, sampled from /proc). `--memory_examples N[,M...]` also runs
`toolrm run` on copies of the corpora scaled to about N examples (each copy's
questions altered so that de-duplication keeps it) and reports their peak
memory, wall and CPU time, counts and load averages (`memory_runs`; with two
sizes or more, `memory_mib_per_1000_examples`, the slope of peak memory over
examples). `--progress_log FILE` keeps each scaled run's progress lines, to
follow a long one. `--scale_examples N` times the repeats on such copies
(about N examples) instead of the corpora themselves: start-up and what each
worker process computes once (imports, per-schema caches) weigh less there.
The last line printed is one JSON object with every number.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import glob
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

import pyarrow.parquet as pq

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's helpers
from process_memory import children_cpu_s, run_sampled  # noqa: E402
from toolrm_beam.models import LITE_MODEL  # noqa: E402
from toolrm_beam.schemas import records  # noqa: E402
from toolrm_beam.schemas.pairs import PAIR_ARROW_SCHEMA, pair_rows  # noqa: E402
from toolrm_beam.schemas.validation import validate_example  # noqa: E402
from toolrm_beam.transforms import rules  # noqa: E402
from toolrm_beam.transforms.corpus_examples import file_examples  # noqa: E402
from toolrm_beam.transforms.fileio import parquet_bytes  # noqa: E402
from toolrm_beam.transforms.read_rows import iter_file_rows  # noqa: E402
from toolrm_beam.transforms.selection import SelectionPolicy, select_pairs  # noqa: E402

CORPORA = "/work/shared/data/corpora"
# (adapter, folder, glob): what `toolrm run --source ... --input ...` is given.
SOURCES = (("seal_tools", "seal_tools", "*"), ("acebench", "acebench_en", "*.json"),
           ("bfcl", "bfcl_live_sample", "*.json"))


# ----------------------------------------------------------------------------- the plain loop

def _write(path: str, rows: list[dict], schema) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(parquet_bytes(rows, schema))


def _dedup(examples: list[dict]) -> list[dict]:
    """Ingest's de-duplication: smallest example_id per content hash, then one example per id."""
    by_content: dict[str, dict] = {}
    for example in examples:
        kept = by_content.get(example["content_hash"])
        if kept is None or example["example_id"] < kept["example_id"]:
            by_content[example["content_hash"]] = example
    by_id: dict[str, dict] = {}
    for example in by_content.values():
        kept = by_id.get(example["example_id"])
        if kept is None or example["content_hash"] < kept["content_hash"]:
            by_id[example["example_id"]] = example
    return sorted(by_id.values(), key=lambda e: e["example_id"])


def _filtered_row(candidate: dict, reason: str) -> dict:
    return {"example_id": candidate["example_id"], "candidate_id": candidate["candidate_id"],
            "origin": candidate["origin"], "correct": candidate.get("correct"),
            "error_type": candidate.get("error_type"), "score": candidate.get("score"), "reason": reason}


def _quarantine_row(example: dict, candidates: list[dict], selection) -> dict:
    return {"example_id": example["example_id"], "source": example["source"], "split": example["split"],
            "upstream_id": example["upstream_id"], "reason": selection.quarantine_reason,
            "detail": selection.quarantine_detail, "candidates": len(candidates),
            "reference_score": next((c.get("score") for c in candidates if c["origin"] == "reference"), None)}


def score_and_select(groups, output: str, inputs: list[str] | None = None) -> int:
    """Score each (example, candidates) with the bundled model, select pairs, write the three outputs,
    then the manifest and report.html as `toolrm score` makes them (same counts, same report data)."""
    from toolrm_beam.beam_pipelines.common import versions
    from toolrm_beam.beam_pipelines.score import FILTERED_SCHEMA, QUARANTINE_SCHEMA, REPORT, score_counts
    from toolrm_beam.transforms.report import render_report
    from toolrm_beam.transforms.report_data import report_data_in_memory
    from toolrm_beam.transforms.reward.lite.model import LiteRewardModel
    from toolrm_beam.transforms.select_stage import ScoreSample
    from toolrm_beam.transforms.stage_inputs import upstream_stages

    started = time.time()
    model = LiteRewardModel.load(LITE_MODEL)
    policy = SelectionPolicy()
    pairs, details, filtered, quarantine, scored_groups, paired = [], [], [], [], [], 0
    for example, candidates in groups:
        scores = model.score_candidates(example, candidates)
        scored = [{**c, "score": float(s), "scorer": model.name} for c, s in zip(candidates, scores)]
        scored_groups.append((example, scored))
        selection = select_pairs(example, scored, policy)
        if selection.quarantine_reason:
            quarantine.append(_quarantine_row(example, scored, selection))
            continue
        rows = pair_rows(example, selection.pairs, scorer=model.name, hard_margin=policy.hard_margin)
        pairs.extend(rows)
        details.extend((row, rejected.get("detail")) for row, (_, rejected) in zip(rows, selection.pairs))
        paired += len({c["candidate_id"] for pair in selection.pairs for c in pair})
        filtered.extend(_filtered_row(c, reason) for c, reason in selection.filtered)
    _write(os.path.join(output, "pairs", "pairs.parquet"), sorted(pairs, key=lambda p: (p["example_id"], p["uuid"])),
           PAIR_ARROW_SCHEMA)
    _write(os.path.join(output, "filtered", "filtered.parquet"),
           sorted(filtered, key=lambda f: (f["example_id"], f["candidate_id"])), FILTERED_SCHEMA)
    _write(os.path.join(output, "quarantine", "quarantine.parquet"),
           sorted(quarantine, key=lambda q: q["example_id"]), QUARANTINE_SCHEMA)
    counts = score_counts({
        "inputs": {"examples": len(scored_groups), "candidates": sum(len(c) for _, c in scored_groups)},
        "paired": {"candidates": paired}, "merged": {},
        "stages": {"examples_scored": len(scored_groups), "candidates_scored": sum(len(c) for _, c in scored_groups),
                   "candidates_unscored": 0},
        "pair_types": dict(collections.Counter(str(p["error_type"]) for p in pairs)),
        "hard": dict(collections.Counter(str(p["hard"]) for p in pairs)),
        "filtered_reasons": dict(collections.Counter(f["reason"] for f in filtered)),
        "quarantined": dict(collections.Counter(q["reason"] for q in quarantine)),
        "quarantined_candidates": {"candidates": sum(q["candidates"] for q in quarantine)},
        "reasons": {}, "dead_stages": {}})
    manifest = {"counts": counts, "config": {"pipeline": "score", "scorer": model.name,
                                             "policy": dataclasses.asdict(policy)},
                "versions": versions(), "timing": {"seconds": round(time.time() - started, 1)}}
    with open(os.path.join(output, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
    sample = ScoreSample()
    accumulator = sample.create_accumulator()
    for group in scored_groups:
        accumulator = sample.add_input(accumulator, group)
    stages = [("examples in", counts["examples_in"]), ("candidates in", counts["candidates_in"]),
              ("candidates scored", counts["candidates_scored"]), ("candidates in pairs", counts["candidates_paired"]),
              ("candidates filtered", counts["candidates_filtered"]),
              ("candidates quarantined", counts["candidates_quarantined"]), ("pairs written", counts["pairs"])]
    page = render_report(manifest, sample.extract_output(accumulator), stages,
                         data=report_data_in_memory(scored_groups, pairs, details, quarantine),
                         upstream=upstream_stages(inputs or []))
    with open(os.path.join(output, REPORT), "w", encoding="utf-8") as handle:
        handle.write(page)
    return len(pairs)


def plain_run(corpora: list[tuple[str, str]], output: str) -> dict:
    """Everything `toolrm run` does, in one loop. Returns counts."""
    from toolrm_beam.beam_pipelines.common import candidate_row, example_row

    examples = []
    for source, pattern in corpora:
        read = [e for path in sorted(glob.glob(pattern)) for e in file_examples(source, path, validate=True)]
        kept = [example_row(e) for e in _dedup(read)]
        _write(os.path.join(output, "ingest", source, "examples.parquet"), kept, records.EXAMPLE_ARROW_SCHEMA)
        # The next stages read what was written: JSON fields in their canonical form.
        examples += [records.from_row(row) for row in kept]
    groups, candidate_rows = [], []
    for example in examples:
        made = [rules.reference_candidate(example)] + rules.generate_rule_candidates(example, seed=0, max_negatives=6)
        rows = []
        for candidate in made:
            candidate["schema_valid"] = rules.is_schema_valid(example["tools"], candidate["output"])
            rows.append(candidate_row(candidate))
        candidate_rows += rows
        parsed = [records.from_row(row, records.CANDIDATE_JSON_FIELDS) for row in rows]
        groups.append((example, sorted(parsed, key=lambda c: c["candidate_id"])))
    candidate_rows.sort(key=lambda r: (r["example_id"], r["candidate_id"]))
    _write(os.path.join(output, "synthesize", "candidates.parquet"), candidate_rows, records.CANDIDATE_ARROW_SCHEMA)
    pairs = score_and_select(groups, output)
    return {"examples": len(examples), "candidates": len(candidate_rows), "pairs": pairs}


def plain_score_stage(example_files: list[str], candidate_files: list[str], output: str) -> int:
    """What `toolrm score` does, in one loop: read and check examples, read candidates, group, score, select, write."""
    examples = {}
    for path in example_files:
        for _, row, _ in iter_file_rows(path):
            example = records.from_row(row)
            validate_example(example)
            if example["content_hash"] != records.example_content_hash(example):
                raise ValueError(f"{path}: content hash mismatch")
            examples[example["example_id"]] = example
    by_example = collections.defaultdict(list)
    for path in candidate_files:
        for _, row, _ in iter_file_rows(path):
            candidate = records.from_row(row, records.CANDIDATE_JSON_FIELDS)
            by_example[candidate["example_id"]].append(candidate)
    groups = [(examples[key], sorted(found, key=lambda c: c["candidate_id"]))
              for key, found in sorted(by_example.items()) if key in examples]
    return score_and_select(groups, output, example_files + candidate_files)


# ----------------------------------------------------------------------------- the Beam runs

def corpora_args(corpora: list[tuple[str, str]]) -> list[str]:
    return [arg for source, pattern in corpora for arg in ("--source", source, "--input", pattern)]


# The Python whose `toolrm` the Beam runs use (`--toolrm_python`: another checkout's, to time it against
# the same loop); the loops always run this checkout's code.
TOOLRM_PYTHON = [sys.executable]


def beam_run(corpora: list[tuple[str, str]], output: str, workers: int,
             log_path: str | None = None) -> tuple[float, float]:
    command = [TOOLRM_PYTHON[0], "-m", "toolrm_beam.runners.cli", "run", "--output", output, *corpora_args(corpora)]
    if workers > 1:
        command += ["--direct_num_workers", str(workers), "--direct_running_mode", "multi_processing"]
    return run_sampled(command, cwd=REPO, what="toolrm run", log_path=log_path)


def beam_score_stage(run_output: str, output: str) -> float:
    command = [TOOLRM_PYTHON[0], "-m", "toolrm_beam.runners.cli", "score", "--output", output,
               "--examples", os.path.join(run_output, "ingest", "*", "examples-*.parquet"),
               "--candidates", os.path.join(run_output, "synthesize", "candidates-*.parquet")]
    return run_sampled(command, cwd=REPO, what="toolrm score")[0]


def loop_process(which: str, corpora: list[tuple[str, str]], run_output: str | None, output: str,
                 timing: str | None) -> int:
    """The body of a loop subprocess: the whole run or the score stage; its inner time to `timing`."""
    started = time.perf_counter()
    if which == "run":
        counts = plain_run(corpora, output)
    else:
        example_files = sorted(glob.glob(os.path.join(run_output, "ingest", "*", "examples-*.parquet")))
        candidate_files = sorted(glob.glob(os.path.join(run_output, "synthesize", "candidates-*.parquet")))
        counts = {"pairs": plain_score_stage(example_files, candidate_files, output)}
    if timing:
        with open(timing, "w", encoding="utf-8") as handle:
            json.dump({"seconds": time.perf_counter() - started, "counts": counts}, handle)
    return 0


def loop_subprocess(which: str, run_output: str | None, output: str, corpora_root: str) -> tuple[float, float, dict]:
    """Run a loop in a fresh process, as `toolrm` runs: (wall seconds with start-up, peak MiB, its inner timing).

    The inner timing leaves out the interpreter's start and the imports, which `toolrm`'s wall time includes.
    """
    timing = output.rstrip("/") + ".timing.json"
    command = [sys.executable, os.path.abspath(__file__), "--corpora", corpora_root, "--loop", which,
               "--loop_output", output, "--loop_timing", timing]
    if run_output:
        command += ["--loop_input", run_output]
    seconds, peak = run_sampled(command, cwd=REPO, what=f"the {which} loop")
    with open(timing, encoding="utf-8") as handle:
        return seconds, peak, json.load(handle)


def same_work(loop_output: str, beam_output: str, counts_of=("manifest.json", "manifest.json")) -> None:
    """Refuse a comparison in which the loop did other work: the same score-stage counts, the same pairs."""
    counts = []
    for folder, manifest in zip((loop_output, beam_output), counts_of):
        with open(os.path.join(folder, manifest), encoding="utf-8") as handle:
            counts.append(json.load(handle)["counts"])
    pairs = [sorted(row["uuid"] for path in glob.glob(os.path.join(folder, "pairs", "*.parquet"))
                    for row in pq.read_table(path, columns=["uuid"]).to_pylist())
             for folder in (loop_output, beam_output)]
    if counts[0] != counts[1] or pairs[0] != pairs[1]:
        differ = sorted(k for k in counts[0].keys() | counts[1].keys() if counts[0].get(k) != counts[1].get(k))
        raise RuntimeError(f"the score loop and `toolrm score` made different outputs: counts differ in {differ}, "
                           f"pairs {len(pairs[0])} vs {len(pairs[1])}")


# ----------------------------------------------------------------------------- scaled corpora

def _vary(source: str, row: dict, copy: int) -> dict:
    """A copy of a corpus row under a new id, its question altered so that it is a distinct example."""
    row = json.loads(json.dumps(row))
    row["id"] = f"{row['id']}-copy{copy}"
    mark = f" (request {copy})"
    if source == "seal_tools":
        row["query"] = str(row.get("query", "")) + mark
    elif source == "acebench":
        row["question"] = str(row.get("question", "")).rstrip("\n") + mark + "\n"
    elif source == "bfcl":
        turn = row["question"][0]
        turn[-1] = {**turn[-1], "content": str(turn[-1].get("content", "")) + mark}
    return row


def _read_lines(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_lines(path: str, rows: list[dict]) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def scaled_corpora(root: str, target: str, examples: int, base_examples: int) -> list[tuple[str, str]]:
    """Copies of the corpora under `target` with about `examples` examples; answer files follow their rows."""
    copies = max(1, round(examples / base_examples))
    corpora = []
    for source, folder, pattern in SOURCES:
        src, dst = os.path.join(root, folder), os.path.join(target, folder)
        for path in sorted(glob.glob(os.path.join(src, "**", "*"), recursive=True)):
            if not os.path.isfile(path):
                continue
            relative = os.path.relpath(path, src)
            os.makedirs(os.path.dirname(os.path.join(dst, relative)), exist_ok=True)
            if source == "seal_tools" and relative == "tool.jsonl":  # the catalog: shared by every copy
                shutil.copy(path, os.path.join(dst, relative))
                continue
            rows = _read_lines(path)
            if relative.startswith("possible_answer"):
                out = [{**row, "id": f"{row['id']}-copy{c}"} for c in range(copies) for row in rows]
            else:
                out = [_vary(source, row, c) for c in range(copies) for row in rows]
            _write_lines(os.path.join(dst, relative), out)
        corpora.append((source, os.path.join(dst, pattern)))
    return corpora


# ----------------------------------------------------------------------------- main

def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=CORPORA)
    parser.add_argument("--repeat", type=int, default=1, help="timed repeats (0: only the --memory_examples runs)")
    parser.add_argument("--memory_examples", default="",
                        help="comma-separated example counts: also run on corpora scaled to each, report peak memory")
    parser.add_argument("--scale_examples", type=int, default=0,
                        help="time the repeats on copies of the corpora scaled to about this many examples "
                             "(as --memory_examples makes them), not on the corpora themselves")
    parser.add_argument("--keep", help="keep the outputs here (default: a temporary folder)")
    parser.add_argument("--progress_log", help="write each scaled run's progress lines (its stderr) to "
                                               "PROGRESS_LOG.<examples>, to follow a long run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--toolrm_python", default=sys.executable,
                        help="the Python (a virtual environment's) whose toolrm the Beam runs use: time another "
                             "checkout against the same loops")
    # How this script runs a loop in a process of its own (what the ratios compare with `toolrm`).
    parser.add_argument("--loop", choices=("run", "score"), help=argparse.SUPPRESS)
    parser.add_argument("--loop_input", help=argparse.SUPPRESS)
    parser.add_argument("--loop_output", help=argparse.SUPPRESS)
    parser.add_argument("--loop_timing", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    corpora = [(source, os.path.join(args.corpora, folder, pattern)) for source, folder, pattern in SOURCES]
    TOOLRM_PYTHON[0] = args.toolrm_python
    if args.loop:
        return loop_process(args.loop, corpora, args.loop_input, args.loop_output, args.loop_timing)
    runs: dict[str, list[float]] = collections.defaultdict(list)
    results: dict = {"corpora": args.corpora, "repeats": args.repeat, "cpus": os.cpu_count(),
                     "toolrm_python": args.toolrm_python}
    tmp = args.keep or tempfile.mkdtemp(prefix="pipeline-throughput-")
    try:
        base, original_root = None, args.corpora
        if args.scale_examples:
            # Fixed costs (start-up, each worker's imports and per-schema caches) weigh less on more input.
            base = count_examples(corpora)
            root = os.path.join(tmp, "scaled-corpora")
            corpora = scaled_corpora(args.corpora, root, args.scale_examples, base)
            args.corpora = results["corpora"] = root
            results["scale_examples"] = args.scale_examples
        for repeat in range(args.repeat):
            runs["load_avg"].append(_load())
            out = os.path.join(tmp, f"r{repeat}")
            cpu = children_cpu_s()
            seconds, _, inner = loop_subprocess("run", None, os.path.join(out, "loop"), args.corpora)
            runs["loop_s"].append(seconds)
            runs["loop_cpu_s"].append(children_cpu_s() - cpu)
            runs["loop_inner_s"].append(inner["seconds"])
            counts = inner["counts"]
            for workers in (1, 2):
                cpu = children_cpu_s()
                seconds, peak = beam_run(corpora, os.path.join(out, f"beam{workers}"), workers)
                runs[f"beam_{workers}proc_s"].append(seconds)
                runs[f"beam_{workers}proc_cpu_s"].append(children_cpu_s() - cpu)
                runs[f"peak_rss_{workers}proc_mib"].append(peak)
                same_work(os.path.join(out, "loop"), os.path.join(out, f"beam{workers}"))
            beam1 = os.path.join(out, "beam1")
            cpu = children_cpu_s()
            seconds, _, inner = loop_subprocess("score", beam1, os.path.join(out, "score-loop"), args.corpora)
            runs["score_loop_s"].append(seconds)
            runs["score_loop_cpu_s"].append(children_cpu_s() - cpu)
            runs["score_loop_inner_s"].append(inner["seconds"])
            cpu = children_cpu_s()
            runs["score_beam_s"].append(beam_score_stage(beam1, os.path.join(out, "score-beam")))
            runs["score_beam_cpu_s"].append(children_cpu_s() - cpu)
            same_work(os.path.join(out, "score-loop"), os.path.join(out, "score-beam"))
            results.update(counts)
            print(f"repeat {repeat + 1}/{args.repeat} (load {runs['load_avg'][-1]}): "
                  + ", ".join(f"{k} {v[-1]:.1f}" for k, v in runs.items() if k != "load_avg"), flush=True)
            if not args.keep:
                shutil.rmtree(out, ignore_errors=True)
        runs["load_avg"].append(_load())
        if args.repeat:
            results.update(summarize(runs))
        base = base or results.get("examples") or count_examples(corpora)
        for size in [int(s) for s in args.memory_examples.split(",") if s.strip()]:
            target = os.path.join(tmp, f"scaled-{size}")
            scaled = scaled_corpora(original_root, os.path.join(target, "corpora"), size, base)
            load, cpu = os.getloadavg(), children_cpu_s()
            log = args.progress_log and f"{args.progress_log}.{size}"
            print(f"scaled run of about {size} examples started (load {load[0]:.2f}"
                  + (f"; its progress in {log}" if log else "") + ")", flush=True)
            seconds, peak = beam_run(scaled, os.path.join(target, "out"), 1, log_path=log)
            with open(os.path.join(target, "out", "manifest.json")) as handle:
                counts = json.load(handle)["counts"]
            results.setdefault("memory_runs", []).append(
                {"examples": counts["examples_in"], "candidates": counts["candidates_in"], "pairs": counts["pairs"],
                 "beam_1proc_s": round(seconds, 1), "cpu_s": round(children_cpu_s() - cpu, 1),
                 "peak_rss_mib": round(peak, 1),
                 # 1-, 5- and 15-minute load averages before and after: the machine is shared
                 "load_avg": [round(v, 2) for v in load], "load_avg_after": [round(v, 2) for v in os.getloadavg()]})
            print(f"scaled run: {counts['examples_in']} examples, {counts['candidates_in']} candidates, "
                  f"{counts['pairs']} pairs in {seconds:.0f} s, peak {peak:.0f} MiB", flush=True)
            if not args.keep:
                shutil.rmtree(target, ignore_errors=True)
        if len(results.get("memory_runs", [])) > 1:
            results["memory_mib_per_1000_examples"] = memory_slope(results["memory_runs"])
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if not args.json:
        for key, value in results.items():
            print(f"{key:28s} {value}")
    print(json.dumps(results))
    return 0


def count_examples(corpora: list[tuple[str, str]]) -> int:
    """The examples ingest keeps from `corpora` (what the scaled copies multiply)."""
    return sum(len(_dedup([e for path in sorted(glob.glob(pattern))
                           for e in file_examples(source, path, validate=True)]))
               for source, pattern in corpora)


def memory_slope(memory_runs: list[dict]) -> float:
    """Least-squares slope of peak memory over examples, MiB per 1,000 examples."""
    xs = [run["examples"] / 1000 for run in memory_runs]
    ys = [run["peak_rss_mib"] for run in memory_runs]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return round(sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread, 2) if spread else 0.0


def summarize(runs: dict[str, list[float]]) -> dict:
    """Medians, ratios, and the spread (every repeat) of the timed runs."""
    med = {key: _median(values) for key, values in runs.items()}
    results = {
        "loop_s": med["loop_s"], "beam_1proc_s": med["beam_1proc_s"], "beam_2proc_s": med["beam_2proc_s"],
        "ratio_1proc": round(med["loop_s"] / med["beam_1proc_s"], 3),
        "ratio_2proc": round(med["loop_s"] / med["beam_2proc_s"], 3),
        "score_loop_s": med["score_loop_s"], "score_beam_s": med["score_beam_s"],
        "score_stage_ratio": round(med["score_loop_s"] / med["score_beam_s"], 3),
        "score_loop_cpu_s": med["score_loop_cpu_s"], "score_beam_cpu_s": med["score_beam_cpu_s"],
        "score_stage_cpu_ratio": round(med["score_loop_cpu_s"] / med["score_beam_cpu_s"], 3),
        # The loops' own time inside their processes (no interpreter start, no imports): the ratio
        # this script reported before the loops ran as processes of their own.
        "loop_inner_s": med["loop_inner_s"], "score_loop_inner_s": med["score_loop_inner_s"],
        "score_stage_ratio_inner": round(med["score_loop_inner_s"] / med["score_beam_s"], 3),
        "peak_rss_mib": round(med["peak_rss_1proc_mib"], 1),
        "peak_rss_2proc_mib": round(med["peak_rss_2proc_mib"], 1),
        # CPU seconds: what the work costs, whatever else the machine runs meanwhile.
        "loop_cpu_s": med["loop_cpu_s"], "beam_1proc_cpu_s": med["beam_1proc_cpu_s"],
        "beam_2proc_cpu_s": med["beam_2proc_cpu_s"],
        "cpu_ratio_1proc": round(med["loop_cpu_s"] / med["beam_1proc_cpu_s"], 3),
    }
    # The spread: each repeat's ratios, and every timing.
    results["ratio_1proc_runs"] = [round(a / b, 3) for a, b in zip(runs["loop_s"], runs["beam_1proc_s"])]
    results["ratio_2proc_runs"] = [round(a / b, 3) for a, b in zip(runs["loop_s"], runs["beam_2proc_s"])]
    results["score_stage_ratio_runs"] = [round(a / b, 3) for a, b in zip(runs["score_loop_s"], runs["score_beam_s"])]
    results.update({f"{key}_runs": [round(v, 2) for v in values] for key, values in runs.items() if key != "load_avg"})
    results["load_avg"] = runs["load_avg"]
    return results


if __name__ == "__main__":
    sys.exit(main())
