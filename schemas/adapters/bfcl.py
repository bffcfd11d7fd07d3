"""BFCL v3 (ShishirPatil/gorilla, berkeley-function-call-leaderboard/bfcl_eval/data).

`BFCL_v3_<category>.json` (JSONL) rows are `{id, question, function}`; the
answers, already in the reference form `[{fn: {param: [values]}}]` with `""`
marking an omittable parameter, are in `possible_answer/<same name>`.
Irrelevance categories have no answer file: no call is right.
"""
from __future__ import annotations

import re
from typing import Any

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.base import ID, JSON_VALUE, LIST, TEXT, Adapted, AdaptError, OpenFn, SourceAdapter

ANSWER_DIR = "possible_answer"
_PREFIX = re.compile(r"^BFCL_v\d+_")


def _is_irrelevance(category: str) -> bool:
    return "irrelevance" in category


def _is_relevance(category: str) -> bool:
    return "relevance" in category and not _is_irrelevance(category)


def _is_multi_turn(category: str) -> bool:
    return category.startswith("multi_turn")


class BfclAdapter(SourceAdapter):
    name = "bfcl"
    license = "Apache-2.0"
    upstream = "https://github.com/ShishirPatil/gorilla (berkeley-function-call-leaderboard/bfcl_eval/data/)"
    required_columns = {"id": ID, "question": (LIST, TEXT), "function": JSON_VALUE}

    def is_data_file(self, path: str) -> bool:
        # Any name: a user's own file in BFCL's format is read like an upstream one.
        # Answers are side files because of where they sit, not what they are called.
        return common.parent_name(path) != ANSWER_DIR and common.is_data_name(path)

    def split_of(self, path: str) -> str:
        return _PREFIX.sub("", common.stem(path))

    def load_context(self, path: str, open_fn: OpenFn) -> dict[str, Any]:
        category = self.split_of(path)
        answers: dict[str, Any] = {}
        if not (_is_irrelevance(category) or _is_relevance(category) or _is_multi_turn(category)):
            answers_path = common.sibling(path, ANSWER_DIR, common.basename(path))
            answers = {k: v.get("ground_truth")
                       for k, v in common.index_by_id(common.read_json_records(answers_path, open_fn),
                                                      answers_path).items()}
        return {"category": category, "answers": answers}

    def context_warnings(self, path: str, context: Any, open_fn: OpenFn) -> list[tuple[str, str, int]]:
        return common.unmatched_answers(path, context["answers"], open_fn, ANSWER_DIR)

    def adapt(self, row: Any, context: dict[str, Any] | None, split: str) -> Adapted:
        row = common.require_mapping(row)
        context = context or {}
        category = context.get("category") or split
        upstream_id = common.text(row, "id")
        if _is_multi_turn(category):
            raise AdaptError("unsupported_row", "multi-turn BFCL needs execution state between turns")
        if _is_relevance(category):
            raise AdaptError("unsupported_row",
                             "relevance rows say that some call is right but give no answer to check against")
        question = common.field(row, "question", list, json_ok=True)
        original_tools = common.field(row, "function", (list, dict), json_ok=True)
        if isinstance(original_tools, dict):  # a few early rows hold one spec, unwrapped
            original_tools = [original_tools]
        messages = common.normalize_messages(single_turn(question), "question")
        tools = common.normalize_tools(original_tools)

        if _is_irrelevance(category):
            reference, kind = [], records.REFERENCE_NO_CALL
        else:
            answers = context.get("answers") or {}
            if upstream_id not in answers:
                raise AdaptError("missing_answer", f"no ground truth for {upstream_id!r} in {ANSWER_DIR}/")
            reference = checked_reference(records.reference_from_bfcl, answers[upstream_id], upstream_id, tools)
            kind = records.REFERENCE_CALL
        example = records.make_example(
            source=self.name, split=split, upstream_id=upstream_id, tools=tools,
            original_tools=original_tools, messages=messages, reference=reference,
            reference_kind=kind, license=self.license)
        return Adapted(examples=[example])


def checked_reference(convert, ground_truth: Any, upstream_id: str, tools: list[dict[str, Any]]
                      ) -> list[dict[str, Any]]:
    """`convert(ground_truth)` as a canonical reference: non-empty and naming only offered tools."""
    try:
        reference = convert(ground_truth)
    except AdaptError:
        raise
    except ValueError as error:
        raise AdaptError("bad_field_type", f"ground truth of {upstream_id!r}: {error}") from None
    if not reference:
        raise AdaptError("missing_answer", f"ground truth of {upstream_id!r} is empty")
    common.check_reference_tools(reference, tools)
    return reference


def single_turn(question: list[Any]) -> list[Any]:
    """`[[messages of turn 1], ...]` or a flat message list -> the one turn."""
    if not question:
        raise AdaptError("empty_conversation", "question holds no turn")
    if all(isinstance(item, dict) for item in question):
        return question
    if not all(isinstance(item, list) for item in question):
        raise AdaptError("bad_field_type", "question must be a list of turns or a list of messages")
    if len(question) > 1:
        raise AdaptError("unsupported_row", "multi-turn question: later turns need the earlier turns' results")
    return question[0]
