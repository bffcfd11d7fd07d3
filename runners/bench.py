"""`toolrm bench`: evaluate a reward model the way the field does.

    toolrm bench rewardbench --pairs FILE [--scorer lite|transformers|vllm] [--model PATH] [--json]
    toolrm bench bestofn --input FILE [--scorer ...] [--model PATH] [--json]

rewardbench: FC-RewardBench's protocol on any JSONL/Parquet file with its
columns (`tools`, `conversation`, `chosen_output`, `rejected_output`,
`error_type`): pairwise accuracy, the share of rows where the chosen output
scores strictly higher, overall and per error type.

bestofn: rows `{tools, conversation, candidates: [{output, correct}]}`: the
accuracy of the top-scored pick beside a random pick (its expectation) and the
oracle (any candidate correct).

Scoring goes through the same handlers as the pipeline's score stage.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
from typing import Any

from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.records import candidate_id
from toolrm_beam.transforms.read_rows import iter_file_rows
from toolrm_beam.transforms.score import make_scorer


def _example(row: dict[str, Any], number: int) -> dict[str, Any]:
    tools = common.normalize_tools(_json(row["tools"]))
    messages = common.normalize_messages(_json(row["conversation"]), "conversation")
    return {"example_id": f"bench:{number:016x}", "tools": tools, "messages": messages, "reference": [],
            "reference_kind": "call", "reference_detail": {}}


def _json(value: Any) -> Any:
    if isinstance(value, str) and value.strip()[:1] in "[{":
        return json.loads(value)
    return value


def _candidate(example_id: str, raw: Any) -> dict[str, Any]:
    output = common.decode_or_text(raw)
    return {"candidate_id": candidate_id(example_id, output), "example_id": example_id, "output": output,
            "origin": "bench", "correct": None}


def read_rows(path: str) -> list[dict[str, Any]]:
    rows = []
    for number, row, error in iter_file_rows(path):
        if error is not None:
            raise ValueError(f"{path} row {number}: {error}")
        rows.append(row)
    return rows


class Scorer:
    """Scores groups of candidates with a pipeline scoring handler, in batches."""

    def __init__(self, args: argparse.Namespace):
        self.handler = make_scorer(args.scorer, model=args.model, device=args.device, max_length=args.max_length)
        self.model = self.handler.load_model()
        self.name = self.handler.scorer_name

    def score(self, groups: list[tuple[dict, list[dict]]], batch: int = 256) -> list[list[float]]:
        scores = []
        for start in range(0, len(groups), batch):
            for _, candidates in self.handler.run_inference(groups[start:start + batch], self.model):
                scores.append([c["score"] for c in candidates])
        return scores


def rewardbench(args: argparse.Namespace) -> dict[str, Any]:
    rows = read_rows(args.pairs)
    groups = []
    for number, row in enumerate(rows):
        example = _example(row, number)
        groups.append((example, [_candidate(example["example_id"], row["chosen_output"]),
                                 _candidate(example["example_id"], row["rejected_output"])]))
    scores = Scorer(args)
    results = scores.score(groups)
    wins: dict[str, list[int]] = collections.defaultdict(list)
    for row, (chosen, rejected) in zip(rows, results):
        won = int(chosen is not None and rejected is not None and chosen > rejected)
        wins[str(row.get("error_type") or "unknown")].append(won)
        wins["__all__"].append(won)
    overall = wins.pop("__all__", [])
    return {"benchmark": "rewardbench", "scorer": scores.name, "pairs": len(overall),
            "accuracy": round(sum(overall) / len(overall), 4) if overall else None,
            "by_error_type": {k: {"accuracy": round(sum(v) / len(v), 4), "pairs": len(v)}
                              for k, v in sorted(wins.items())}}


def bestofn(args: argparse.Namespace) -> dict[str, Any]:
    rows = read_rows(args.input)
    groups, labels = [], []
    for number, row in enumerate(rows):
        example = _example(row, number)
        candidates = _json(row["candidates"])
        groups.append((example, [_candidate(example["example_id"], c["output"]) for c in candidates]))
        labels.append([bool(c["correct"]) for c in candidates])
    scores = Scorer(args)
    results = scores.score(groups)
    top1 = random_pick = oracle = 0.0
    counted = 0
    for group_labels, group_scores in zip(labels, results):
        if not group_labels:
            continue
        counted += 1
        best = max(range(len(group_scores)), key=lambda i: (group_scores[i] is not None, group_scores[i] or 0.0, -i))
        top1 += group_labels[best]
        random_pick += sum(group_labels) / len(group_labels)
        oracle += any(group_labels)
    return {"benchmark": "bestofn", "scorer": scores.name, "prompts": counted,
            "candidates_per_prompt": round(sum(map(len, labels)) / counted, 2) if counted else None,
            "top1": round(top1 / counted, 4) if counted else None,
            "random": round(random_pick / counted, 4) if counted else None,
            "oracle": round(oracle / counted, 4) if counted else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="toolrm bench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="benchmark", required=True)
    for name, file_flag in (("rewardbench", "--pairs"), ("bestofn", "--input")):
        command = sub.add_parser(name)
        command.add_argument(file_flag, required=True, help="JSONL or Parquet file")
        command.add_argument("--scorer", default="lite", choices=("lite", "transformers", "vllm"))
        command.add_argument("--model", help="model path (default for lite: the bundled model)")
        command.add_argument("--device", default="cpu")
        command.add_argument("--max_length", type=int, default=4096)
        command.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = rewardbench(args) if args.benchmark == "rewardbench" else bestofn(args)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['benchmark']} with {result['scorer']}")
    for key, value in result.items():
        if key == "by_error_type":
            for error_type, numbers in value.items():
                print(f"  {error_type:40s} {numbers['accuracy']:.4f}  ({numbers['pairs']} pairs)")
        elif key not in ("benchmark", "scorer"):
            print(f"  {key:40s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
