"""Build evaluation files for `toolrm bench`: real model errors first, rule-made ones second.

    python benchmarks/make_eval_files.py [--generations ../shared/data/generations/bfcl_results_2024_08_11]
                                         [--corpora ../shared/data/corpora] [--output eval]

Real errors (from the BFCL leaderboard dumps: what 71 models answered, labelled
by the checker), split by prompt (`schemas/prompt_split.py`) into a train part
and a dev part that never share a prompt:
  - `rewardbench_real_{train,dev}.jsonl`: FC-RewardBench columns (`tools,
    conversation, chosen_output, rejected_output, error_type, model_name,
    test_category, test_id`; outputs as the JSON call list
    `[{"name", "arguments"}]`), one row per distinct wrong answer, chosen =
    the prompt's most common right answer (the reference rendered as a call
    where no model was right); extra columns `models`, `chosen_origin`,
    `chosen_models`, `rejected_upstream_error_type`;
  - `bestofn_real_{train,dev}.jsonl`: per prompt, its distinct decoded answers
    `candidates: [{output, correct, error_type, models}]` in a seeded order;
  - `real_errors_summary.json`: what went in and what was left out (prompts
    where no call is right, answers that are not a call list, answers the
    checker and BFCL judge differently), by part.
What is left out and why: `transforms/real_error_sets.py`.

Rule-made errors, from splits the bundled model is not trained on (Seal-Tools
`test_out_domain` and the BFCL live sample):
  - `rewardbench_heldout.jsonl`: the reference as the chosen output against
    each rule-made wrong call (labelled by the checker);
  - `bestofn_heldout.jsonl`: per prompt, the reference and its wrong calls.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import random
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from toolrm_beam.schemas.pairs import openai_tools  # noqa: E402
from toolrm_beam.schemas.prompt_split import DEV, TRAIN  # noqa: E402
from toolrm_beam.transforms import rules  # noqa: E402
from toolrm_beam.transforms.corpus_examples import file_examples  # noqa: E402
from toolrm_beam.transforms.real_error_sets import bestofn_row, prompt_answers, rewardbench_rows, summary  # noqa: E402

SHARED = os.path.join(os.path.dirname(REPO), "shared", "data")
HELD_OUT = (("seal_tools", "seal_tools/test_out_domain.jsonl"),
            ("bfcl", "bfcl_live_sample/BFCL_v3_live_*.json"))


def held_out_examples(corpora: str) -> list[dict]:
    return [example for source, pattern in HELD_OUT for path in sorted(glob.glob(os.path.join(corpora, pattern)))
            for example in file_examples(source, path, validate=True)]


def write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} rows")


def real_error_files(generations: str, output: str, seed: int) -> dict:
    paths = sorted(glob.glob(os.path.join(generations, "result", "*", "*_result.json")))
    if not paths:
        raise SystemExit(f"no result files under {generations}/result/")
    started = time.monotonic()

    def progress(number: int, path: str) -> None:
        if number % 50 == 0 or number == len(paths):
            print(f"  read {number}/{len(paths)} answer files ({time.monotonic() - started:.0f} s)", flush=True)

    prompts = prompt_answers("bfcl_results", paths, progress=progress)
    for part in (TRAIN, DEV):
        mine = [p for p in prompts if p.part == part]
        write_jsonl(os.path.join(output, f"rewardbench_real_{part}.jsonl"),
                    [row for prompt in mine for row in rewardbench_rows(prompt)])
        write_jsonl(os.path.join(output, f"bestofn_real_{part}.jsonl"),
                    [row for prompt in mine if (row := bestofn_row(prompt, seed)) is not None])
    counts = summary(prompts)
    with open(os.path.join(output, "real_errors_summary.json"), "w", encoding="utf-8") as handle:
        json.dump(counts, handle, indent=2, sort_keys=True)
    for part, numbers in counts.items():
        print(f"  {part}: " + ", ".join(f"{k} {v}" for k, v in numbers.items()))
    return counts


def rule_made_files(corpora: str, output: str, seed: int) -> None:
    pairs, prompts = [], []
    for example in held_out_examples(corpora):
        reference = rules.reference_candidate(example)
        negatives = rules.generate_rule_candidates(example, seed=seed)
        base = {"tools": json.dumps(openai_tools(example["tools"])), "conversation": example["messages"],
                "test_category": example["split"], "test_id": example["upstream_id"]}
        for negative in negatives:
            pairs.append({**base, "chosen_output": json.dumps(reference["output"]),
                          "rejected_output": json.dumps(negative["output"]), "error_type": negative["error_type"],
                          "model_name": "rules"})
        candidates = [{"output": reference["output"], "correct": True}] + \
            [{"output": n["output"], "correct": False} for n in negatives]
        random.Random(f"{seed}:{example['example_id']}").shuffle(candidates)
        prompts.append({**base, "candidates": candidates})
    write_jsonl(os.path.join(output, "rewardbench_heldout.jsonl"), pairs)
    write_jsonl(os.path.join(output, "bestofn_heldout.jsonl"), prompts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", default=os.path.join(SHARED, "generations", "bfcl_results_2024_08_11"),
                        help="a BFCL result dump (result/, score/, questions/); '' to skip the real-error files")
    parser.add_argument("--corpora", default=os.path.join(SHARED, "corpora"),
                        help="the shared corpora; '' to skip the rule-made files")
    parser.add_argument("--output", default="eval")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    if args.generations:
        print(f"real errors from {args.generations}")
        real_error_files(args.generations, args.output, args.seed)
    if args.corpora:
        print(f"rule-made errors from {args.corpora}")
        rule_made_files(args.corpora, args.output, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
