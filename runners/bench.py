"""`toolrm bench`: evaluate a reward model the way the field does.

    toolrm bench rewardbench --pairs FILE [--scorer lite|transformers|vllm|heuristic-schema|heuristic-grounded|heuristic]
                             [--model PATH] [--json]
    toolrm bench bestofn --input FILE [--scorer ...] [--model PATH] [--json]

rewardbench: FC-RewardBench's protocol on any JSONL/Parquet file with its
columns (`tools`, `conversation`, `chosen_output`, `rejected_output`,
`error_type`): pairwise accuracy, the share of rows where the chosen output
scores strictly higher, overall and per error type.

bestofn: rows `{tools, conversation, candidates: [{output, correct}]}`: the
accuracy of the top-scored pick beside a random pick (its expectation) and the
oracle (any candidate correct).

Scoring goes through the same handlers as the pipeline's score stage. Rows
are read as ingest reads corpus rows: one that is not usable (malformed or
non-standard JSON, a missing column value, tools that are not a list, a
null or identical chosen/rejected output) is skipped and counted by reason
(`rows_skipped`, `skipped_by_reason`); a missing, empty or non-Parquet
file, or one lacking a column, is one line and exit status 2.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from typing import Any, Callable

from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import JSON_VALUE, AdaptError
from toolrm_beam.schemas.records import candidate_id
from toolrm_beam.transforms.fileio import InputError
from toolrm_beam.transforms.input_files import check_inputs
from toolrm_beam.transforms.read_rows import iter_file_rows
from toolrm_beam.transforms.score import SCORERS, make_scorer

REWARDBENCH_COLUMNS = {"tools": JSON_VALUE, "conversation": JSON_VALUE, "chosen_output": JSON_VALUE,
                       "rejected_output": JSON_VALUE}
BESTOFN_COLUMNS = {"tools": JSON_VALUE, "conversation": JSON_VALUE, "candidates": JSON_VALUE}
_OUTPUT = (list, dict, str)


def _example(row: Any, number: int) -> dict[str, Any]:
    """The prompt of a benchmark row, read as ingest reads a corpus row (AdaptError with its reason)."""
    row = common.require_mapping(row)
    tools = common.normalize_tools(common.field(row, "tools", list, json_ok=True))
    messages = common.normalize_messages(common.field(row, "conversation", list, json_ok=True), "conversation")
    return {"example_id": f"bench:{number:016x}", "tools": tools, "messages": messages, "reference": [],
            "reference_kind": "call", "reference_detail": {}}


def _candidate(example_id: str, raw: Any) -> dict[str, Any]:
    output = common.decode_or_text(raw)
    return {"candidate_id": candidate_id(example_id, output), "example_id": example_id, "output": output,
            "origin": "bench", "correct": None}


def _pair_group(row: Any, number: int) -> tuple[dict, list[dict]]:
    example = _example(row, number)
    chosen = common.field(row, "chosen_output", _OUTPUT)
    rejected = common.field(row, "rejected_output", _OUTPUT)
    candidates = [_candidate(example["example_id"], chosen), _candidate(example["example_id"], rejected)]
    if candidates[0]["candidate_id"] == candidates[1]["candidate_id"]:
        raise AdaptError("no_preference", "the rejected output equals the chosen one: the pair states no preference")
    return example, candidates


def _bestofn_group(row: Any, number: int) -> tuple[tuple[dict, list[dict]], list[bool]]:
    example = _example(row, number)
    items = common.field(row, "candidates", list, json_ok=True)
    if not items:
        raise AdaptError("missing_field", "candidates is empty")
    candidates, labels = [], []
    for position, item in enumerate(items):
        if not isinstance(item, dict) or item.get("output") is None or not isinstance(item.get("correct"), bool):
            raise AdaptError("bad_field_type", f"candidates[{position}] must be {{output, correct: true|false}}")
        candidates.append(_candidate(example["example_id"], item["output"]))
        labels.append(item["correct"])
    return (example, candidates), labels


def read_groups(path: str, columns: dict, parse: Callable[[Any, int], Any]) -> tuple[list[tuple[Any, Any]], dict]:
    """`[(row, parsed)]` of the rows that parse, and `{reason: count}` of those skipped, as ingest would
    dead-letter them. Every row of the file is in one or the other."""
    source = check_inputs([path], columns=columns, what="benchmark").files[0]
    parsed, skipped = [], collections.Counter()
    for number, row, error in iter_file_rows(source):
        if error is not None:
            skipped[error.split(": ", 1)[0]] += 1
            continue
        try:
            parsed.append((row, parse(row, number)))
        except AdaptError as failure:
            skipped[failure.reason] += 1
    if not parsed:
        reasons = ", ".join(f"{reason} {count}" for reason, count in skipped.most_common(5))
        raise InputError(f"{path}: no usable rows ({sum(skipped.values())} skipped: {reasons or 'the file has none'})")
    return parsed, dict(sorted(skipped.items()))


class Scorer:
    """Scores groups of candidates with a pipeline scoring handler, in batches."""

    def __init__(self, args: argparse.Namespace):
        self.handler = make_scorer(args.scorer, model=args.model, device=args.device, max_length=args.max_length)
        self.model = self.handler.load_model()
        self.name = self.handler.scorer_name

    def score(self, groups: list[tuple[dict, list[dict]]], batch: int = 256) -> list[list[float | None]]:
        """Scores per group; a group the model failed on gets None scores (counted as not won)."""
        scores = []
        for start in range(0, len(groups), batch):
            for scored in self.handler.run_inference(groups[start:start + batch], self.model):
                candidates = scored[1]
                scores.append([None] * len(candidates) if len(scored) == 3 else [c["score"] for c in candidates])
        return scores


def rewardbench(args: argparse.Namespace) -> dict[str, Any]:
    parsed, skipped = read_groups(args.pairs, REWARDBENCH_COLUMNS, _pair_group)
    scores = Scorer(args)
    results = scores.score([group for _, group in parsed])
    wins: dict[str, list[int]] = collections.defaultdict(list)
    by_category: dict[str, dict[str, list[int]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for (row, _), (chosen, rejected) in zip(parsed, results):
        won = int(chosen is not None and rejected is not None and chosen > rejected)
        wins[str(row.get("error_type") or "unknown")].append(won)
        wins["__all__"].append(won)
        if row.get("test_category"):
            by_category[str(row["test_category"])]["__all__"].append(won)
            by_category[str(row["test_category"])][str(row.get("error_type") or "unknown")].append(won)
    overall = wins.pop("__all__", [])
    result = {"benchmark": "rewardbench", "scorer": scores.name, "pairs": len(overall),
              "accuracy": _share(overall), "by_error_type": _shares(wins),
              "rows_skipped": sum(skipped.values()), "skipped_by_reason": skipped}
    if by_category:  # FC-RewardBench-shaped files name each row's test category
        result["by_category"] = {category: {"pairs": len(counts["__all__"]), "accuracy": _share(counts.pop("__all__")),
                                            "by_error_type": _shares(counts)}
                                 for category, counts in sorted(by_category.items())}
    return result


def _share(won: list[int]) -> float | None:
    return round(sum(won) / len(won), 4) if won else None


def _shares(wins: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    return {k: {"accuracy": _share(v), "pairs": len(v)} for k, v in sorted(wins.items())}


def bestofn(args: argparse.Namespace) -> dict[str, Any]:
    parsed, skipped = read_groups(args.input, BESTOFN_COLUMNS, _bestofn_group)
    groups = [group for _, (group, _) in parsed]
    labels = [group_labels for _, (_, group_labels) in parsed]
    scores = Scorer(args)
    results = scores.score(groups)
    top1 = random_pick = oracle = 0.0
    counted = 0
    top1_by_category: dict[str, list[int]] = collections.defaultdict(list)
    for (row, _), group_labels, group_scores in zip(parsed, labels, results):
        if not group_labels:
            continue
        counted += 1
        best = max(range(len(group_scores)), key=lambda i: (group_scores[i] is not None, group_scores[i] or 0.0, -i))
        top1 += group_labels[best]
        if row.get("test_category"):
            top1_by_category[str(row["test_category"])].append(int(group_labels[best]))
        random_pick += sum(group_labels) / len(group_labels)
        oracle += any(group_labels)
    return {"benchmark": "bestofn", "scorer": scores.name, "prompts": counted,
            "candidates_per_prompt": round(sum(map(len, labels)) / counted, 2) if counted else None,
            "top1": round(top1 / counted, 4) if counted else None,
            "random": round(random_pick / counted, 4) if counted else None,
            "oracle": round(oracle / counted, 4) if counted else None,
            **({"top1_by_category": {k: {"prompts": len(v), "top1": _share(v)}
                                     for k, v in sorted(top1_by_category.items())}} if top1_by_category else {}),
            "rows_skipped": sum(skipped.values()), "skipped_by_reason": skipped}


def main(argv: list[str] | None = None) -> int:
    from toolrm_beam.runners.cli import guarded

    return guarded("bench", _main, list(sys.argv[1:] if argv is None else argv))


def _main(argv: list[str]) -> int:
    from toolrm_beam.runners.presets import positive_int

    parser = argparse.ArgumentParser(prog="toolrm bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="benchmark", required=True)
    for name, file_flag in (("rewardbench", "--pairs"), ("bestofn", "--input")):
        command = sub.add_parser(name)
        command.add_argument(file_flag, required=True, help="JSONL or Parquet file")
        command.add_argument("--scorer", default="lite", choices=SCORERS,
                             help="lite (default), transformers, vllm, or a no-model baseline: heuristic-schema "
                                  "(schema validity), heuristic-grounded (argument values in the user's text), "
                                  "heuristic (both)")
        command.add_argument("--model", help="model path (default for lite: the bundled model)")
        command.add_argument("--device", default="cpu")
        command.add_argument("--max_length", type=positive_int, default=4096)
        command.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = rewardbench(args) if args.benchmark == "rewardbench" else bestofn(args)
    if result["rows_skipped"]:
        reasons = ", ".join(f"{reason} {count}" for reason, count in result["skipped_by_reason"].items())
        print(f"toolrm bench: warning: {result['rows_skipped']} row(s) skipped ({reasons})", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['benchmark']} with {result['scorer']}")
    for key, value in result.items():
        if key == "by_error_type":
            for error_type, numbers in value.items():
                print(f"  {error_type:40s} {numbers['accuracy']:.4f}  ({numbers['pairs']} pairs)")
        elif key in ("by_category", "top1_by_category"):
            for category, numbers in value.items():
                size = f"{numbers['pairs']} pairs" if "pairs" in numbers else f"{numbers['prompts']} prompts"
                print(f"  {category:40s} {numbers.get('accuracy', numbers.get('top1')):.4f}  ({size})")
        elif key not in ("benchmark", "scorer", "skipped_by_reason"):
            print(f"  {key:40s} {value}")
    return 0
