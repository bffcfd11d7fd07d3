"""What the rule generator makes of the stored corpora, and how fast.

Adapts every stored corpus (Seal-Tools dev/test_in_domain/test_out_domain,
ACEBench, the BFCL live sample) the way the pipeline's adapters do, runs
`generate_rule_candidates` on each example and prints:

- negatives per error type (the checker's label), overall and per source;
- the share of negatives that are schema-valid (decode to catalog calls whose
  arguments validate): real errors mostly are;
- the total-variation distance of the error-type mix from FC-RewardBench's;
- milliseconds per example for generation (checker labelling included);
- every example whose own reference candidate fails the checker.

    .venv/bin/python benchmarks/rule_stats.py [--corpora ../shared/data/corpora] [--seed 0]
"""
from __future__ import annotations

import argparse
import collections
import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

import pyarrow.parquet as pq  # noqa: E402

from toolrm_beam.schemas.adapters import AdaptError, get_adapter  # noqa: E402
from toolrm_beam.schemas.checker import check  # noqa: E402
from toolrm_beam.schemas.errors import ErrorType  # noqa: E402
from toolrm_beam.transforms.rules import (DEFAULT_MIX, generate_rule_candidates, is_schema_valid,  # noqa: E402
                              reference_candidate)

CORPORA = (("seal_tools", "seal_tools"), ("acebench", "acebench_en"), ("bfcl", "bfcl_live_sample"))


def _rows(path: pathlib.Path) -> list:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load(corpora: pathlib.Path) -> tuple[list[dict], collections.Counter]:
    examples: list[dict] = []
    rejected: collections.Counter = collections.Counter()
    for source, folder in CORPORA:
        adapter = get_adapter(source)
        for path in sorted((corpora / folder).glob("*")):
            if not path.is_file() or not adapter.is_data_file(str(path)):
                continue
            context = adapter.load_context(str(path), lambda p: open(p, "rb"))
            split = adapter.split_of(str(path))
            for row in _rows(path):
                try:
                    examples.extend(adapter.adapt(row, context, split).examples)
                except AdaptError as error:
                    rejected[(source, error.reason)] += 1
    return examples, rejected


def total_variation(counts: collections.Counter, mix: dict[str, float]) -> float:
    total = sum(counts.values()) or 1
    keys = set(counts) | set(mix)
    return 0.5 * sum(abs(counts.get(k, 0) / total - mix.get(k, 0.0)) for k in keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=pathlib.Path, default=ROOT.parent / "shared" / "data" / "corpora")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-negatives", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="timing passes (the best one is reported)")
    args = parser.parse_args(argv)

    examples, rejected = load(args.corpora)
    by_kind = collections.Counter((e["source"], e["reference_kind"]) for e in examples)
    print(f"examples: {len(examples)}  " + ", ".join(f"{s}/{k}={n}" for (s, k), n in sorted(by_kind.items())))
    if rejected:
        print("rows the adapters rejected: " + ", ".join(f"{s}/{r}={n}" for (s, r), n in sorted(rejected.items())))

    failures = []
    for example in examples:
        output = reference_candidate(example)["output"]
        result = check(example["tools"], example["reference"], output, reference_kind=example["reference_kind"])
        if not result.correct:
            failures.append((example["source"], example["upstream_id"], result.code, result.detail))

    best = float("inf")
    generated: list[tuple[dict, list[dict]]] = []
    for _ in range(max(1, args.repeat)):
        start = time.perf_counter()
        generated = [(e, generate_rule_candidates(e, seed=args.seed, max_negatives=args.max_negatives))
                     for e in examples]
        best = min(best, time.perf_counter() - start)

    counts: collections.Counter = collections.Counter()
    call_counts: collections.Counter = collections.Counter()
    per_source: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    valid = collections.Counter()
    for example, candidates in generated:
        for candidate in candidates:
            counts[candidate["error_type"]] += 1
            per_source[example["source"]][candidate["error_type"]] += 1
            if example["reference_kind"] == "call":
                call_counts[candidate["error_type"]] += 1
            ok = is_schema_valid(example["tools"], candidate["output"])
            valid[ok] += 1
            valid[(candidate["error_type"], ok)] += 1

    total = sum(counts.values())
    print(f"\nnegatives: {total} ({total / len(examples):.2f} per example, at most {args.max_negatives})")
    print(f"{'error type':38} {'count':>7} {'share':>7} {'FC-RB':>7} {'schema-valid':>13}")
    for error_type in ErrorType:
        n = counts.get(error_type.value, 0)
        ok = valid.get((error_type.value, True), 0)
        print(f"{error_type.value:38} {n:7d} {n / total:7.3f} {DEFAULT_MIX[error_type.value]:7.3f} "
              f"{(ok / n if n else 0):13.3f}")
    print(f"\nschema-valid negatives: {valid[True] / total:.3f}")
    print(f"total-variation distance from FC-RewardBench: {total_variation(counts, DEFAULT_MIX):.3f} "
          f"(call examples only: {total_variation(call_counts, DEFAULT_MIX):.3f})")
    for source, source_counts in sorted(per_source.items()):
        print(f"  {source}: {sum(source_counts.values())} negatives, "
              f"TV {total_variation(source_counts, DEFAULT_MIX):.3f}")
    print(f"\ngeneration: {best / len(examples) * 1000:.3f} ms per example "
          f"({len(examples) / best:.0f} examples/s, best of {max(1, args.repeat)})")
    print(f"\nreference candidates that fail their own check: {len(failures)}")
    for source, upstream_id, code, detail in failures:
        print(f"  {source} {upstream_id}: {code}: {detail[:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
