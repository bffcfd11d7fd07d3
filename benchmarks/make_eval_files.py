"""Build held-out evaluation files for `toolrm bench` from the shared corpora.

    python benchmarks/make_eval_files.py [--corpora ../shared/data/corpora] [--output eval]

Writes, from splits the bundled model is not trained on (Seal-Tools
`test_out_domain` and the BFCL live sample):
  - `rewardbench_heldout.jsonl`: FC-RewardBench columns, the reference as the
    chosen output against each rule-made wrong call (labelled by the checker);
  - `bestofn_heldout.jsonl`: per prompt, the reference and its wrong calls
    as `candidates: [{output, correct}]`, in a seeded random order.
The wrong calls come from the project's rule generator, so these files
measure the errors it makes, not the errors of a particular LLM.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from toolrm_beam.schemas.pairs import openai_tools  # noqa: E402
from toolrm_beam.transforms import rules  # noqa: E402
from toolrm_beam.transforms.corpus_examples import file_examples  # noqa: E402

HELD_OUT = (("seal_tools", "seal_tools/test_out_domain.jsonl"),
            ("bfcl", "bfcl_live_sample/BFCL_v3_live_*.json"))


def held_out_examples(corpora: str) -> list[dict]:
    return [example for source, pattern in HELD_OUT for path in sorted(glob.glob(os.path.join(corpora, pattern)))
            for example in file_examples(source, path, validate=True)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=os.path.join(os.path.dirname(REPO), "shared", "data", "corpora"))
    parser.add_argument("--output", default="eval")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    pairs, prompts = [], []
    for example in held_out_examples(args.corpora):
        reference = rules.reference_candidate(example)
        negatives = rules.generate_rule_candidates(example, seed=args.seed)
        base = {"tools": json.dumps(openai_tools(example["tools"])), "conversation": example["messages"],
                "test_category": example["split"], "test_id": example["upstream_id"]}
        for negative in negatives:
            pairs.append({**base, "chosen_output": json.dumps(reference["output"]),
                          "rejected_output": json.dumps(negative["output"]), "error_type": negative["error_type"],
                          "model_name": "rules"})
        candidates = [{"output": reference["output"], "correct": True}] + \
            [{"output": n["output"], "correct": False} for n in negatives]
        random.Random(f"{args.seed}:{example['example_id']}").shuffle(candidates)
        prompts.append({**base, "candidates": candidates})
    for name, rows in (("rewardbench_heldout.jsonl", pairs), ("bestofn_heldout.jsonl", prompts)):
        with open(os.path.join(args.output, name), "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{os.path.join(args.output, name)}: {len(rows)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
