"""Real model answers grouped by prompt, and the evaluation sets made of them (pure Python, no Beam).

`prompt_answers` reads dumps of real answers (`bfcl_results`, `model_samples`)
the way ingest does and gives, per prompt, its example and its distinct
answers (one Candidate per decoded output, with every model that gave it).
`rewardbench_rows` and `bestofn_rows` turn them into FC-RewardBench pairs and
Best-of-N sets; `prompt_split` (by prompt id) decides train or dev, so the two
parts never share a prompt.

What goes in, and why:
- only prompts where some call is right (FC-RewardBench's and the held-out
  BFCL categories all are): a no-call prompt measures relevance detection, a
  different question, and has no call list to put as chosen;
- only answers that decode to a call list (the uniform JSON form both files
  use; `[]`, no call, is one): text that is not a call cannot be written in it,
  so parsing errors are counted, not paired (FC-RewardBench has 15 in 1,500);
- only answers the checker and BFCL judge alike, where BFCL judged: where
  they differ (BFCL ran the call and got the same result from `lcm(18, 24)`
  and `lcm(24, 18)`; BFCL's decoder refused a format the checker reads) the
  label is disputed, and a benchmark row should not rest on it.
Each wrong answer is one pair. Its chosen side is the prompt's most common
right answer (most models gave it; ties by candidate id): a real answer, so
the pair differs only in what the models got wrong, not in how the reference
is written. Where no model was right, the reference rendered as a call is
chosen (`chosen_origin` says which).
"""
from __future__ import annotations

import collections
import dataclasses
import json
import random
from typing import Any, Iterable

from toolrm_beam.schemas import records
from toolrm_beam.schemas.pairs import openai_tools
from toolrm_beam.schemas.prompt_split import prompt_split
from toolrm_beam.transforms.corpus_examples import file_adapted
from toolrm_beam.transforms.rules.reference import reference_output


@dataclasses.dataclass
class PromptAnswers:
    """One prompt's example and its distinct answers (collapsed by output), in candidate id order."""
    example: dict[str, Any]
    candidates: list[dict[str, Any]]

    @property
    def part(self) -> str:
        return prompt_split(self.example["upstream_id"])


def prompt_answers(source: str, paths: Iterable[str], *, progress=None) -> list[PromptAnswers]:
    """Every prompt of the answer files at `paths`, by upstream id order; rows ingest would
    dead-letter are left out, as ingest leaves them out."""
    examples: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, list[dict[str, Any]]]] = collections.defaultdict(lambda: collections.defaultdict(list))
    for number, path in enumerate(paths, 1):
        for adapted in file_adapted(source, path, validate=True):
            for example in adapted.examples:
                examples.setdefault(example["example_id"], example)
            for candidate in adapted.candidates:
                candidate = {k: v for k, v in candidate.items() if k != "example_content_hash"}
                answers[candidate["example_id"]][candidate["candidate_id"]].append(candidate)
        if progress is not None:
            progress(number, path)
    out = []
    for example_id, example in examples.items():
        by_id = answers.get(example_id, {})
        out.append(PromptAnswers(example, [records.collapse_candidates(by_id[key]) for key in sorted(by_id)]))
    return sorted(out, key=lambda p: (p.example["upstream_id"], p.example["example_id"]))


def is_call_list(output: Any) -> bool:
    return isinstance(output, list)


def disputed(candidate: dict[str, Any]) -> bool:
    """The checker and the upstream verdict (where every model's answer got the same one) differ."""
    upstream = candidate.get("upstream_correct")
    return upstream is not None and upstream != candidate["correct"]


@dataclasses.dataclass
class Usable:
    """A prompt's answers that a benchmark row may use, and what was left out."""
    right: list[dict[str, Any]]
    wrong: list[dict[str, Any]]
    not_calls: int
    disputed: int


def usable_answers(prompt: PromptAnswers) -> Usable:
    right, wrong, not_calls, disputes = [], [], 0, 0
    for candidate in prompt.candidates:
        if not is_call_list(candidate["output"]):
            not_calls += 1
        elif disputed(candidate):
            disputes += 1
        else:
            (right if candidate["correct"] else wrong).append(candidate)
    return Usable(right, wrong, not_calls, disputes)


def call_list(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The uniform JSON form FC-RewardBench uses: `[{"name": ..., "arguments": {...}}]`, name first."""
    return [{"name": call["name"], "arguments": call["arguments"]} for call in output]


def _models(candidate: dict[str, Any]) -> list[str]:
    return list(candidate.get("models") or [candidate["origin"].split(":", 1)[-1]])


def _base(example: dict[str, Any]) -> dict[str, Any]:
    return {"tools": json.dumps(openai_tools(example["tools"]), ensure_ascii=False),
            "conversation": example["messages"], "test_category": example["split"],
            "test_id": example["upstream_id"]}


def chosen_answer(prompt: PromptAnswers, usable: Usable) -> tuple[Any, str, list[str]]:
    """(output, origin, models): the most common right answer, else the reference as a call."""
    if usable.right:
        best = min(usable.right, key=lambda c: (-len(_models(c)), c["candidate_id"]))
        return call_list(best["output"]), "model", _models(best)
    return call_list(reference_output(prompt.example)), "reference", []


def rewardbench_rows(prompt: PromptAnswers) -> list[dict[str, Any]]:
    """FC-RewardBench rows for one call prompt: each usable wrong answer against the chosen right one."""
    if prompt.example["reference_kind"] != records.REFERENCE_CALL:
        return []
    usable = usable_answers(prompt)
    if not usable.wrong:
        return []
    chosen, origin, chosen_models = chosen_answer(prompt, usable)
    base = _base(prompt.example)
    rows = []
    for wrong in usable.wrong:
        models = _models(wrong)
        rows.append({**base, "chosen_output": json.dumps(chosen, ensure_ascii=False),
                     "rejected_output": json.dumps(call_list(wrong["output"]), ensure_ascii=False),
                     "error_type": wrong["error_type"], "model_name": models[0], "models": models,
                     "chosen_origin": origin, "chosen_models": chosen_models,
                     "rejected_upstream_error_type": wrong.get("upstream_error_type")})
    return rows


def bestofn_row(prompt: PromptAnswers, seed: int = 1) -> dict[str, Any] | None:
    """A Best-of-N set for one call prompt: its usable distinct answers, labelled, in a seeded order;
    None with fewer than two (nothing to pick between)."""
    if prompt.example["reference_kind"] != records.REFERENCE_CALL:
        return None
    usable = usable_answers(prompt)
    candidates = [{"output": call_list(c["output"]), "correct": c["correct"], "error_type": c["error_type"],
                   "models": _models(c)} for c in usable.right + usable.wrong]
    if len(candidates) < 2:
        return None
    candidates.sort(key=lambda c: records.canonical_json(c["output"]))
    random.Random(f"{seed}:{prompt.example['upstream_id']}").shuffle(candidates)
    return {**_base(prompt.example), "candidates": candidates}


def summary(prompts: list[PromptAnswers]) -> dict[str, Any]:
    """Counts of what went in and what was left out, by part (train/dev)."""
    out: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for prompt in prompts:
        counts = out[prompt.part]
        counts["prompts"] += 1
        if prompt.example["reference_kind"] != records.REFERENCE_CALL:
            counts["prompts_without_a_right_call"] += 1
            continue
        usable = usable_answers(prompt)
        counts["call_prompts"] += 1
        counts["answers_distinct"] += len(prompt.candidates)
        counts["answers_not_a_call_list"] += usable.not_calls
        counts["answers_disputed"] += usable.disputed
        counts["answers_right"] += len(usable.right)
        counts["answers_wrong"] += len(usable.wrong)
        counts["prompts_chosen_is_reference"] += bool(usable.wrong and not usable.right)
    return {part: dict(sorted(counts.items())) for part, counts in sorted(out.items())}
