"""BFCL leaderboard result dumps: what real models answered, with BFCL's verdict on each answer.

Layout (HuanzhiMao/BFCL-Result, one folder per run, e.g. `2024-08-11/`):

    result/<model>/gorilla_openfunctions_v1_test_<category>_result.json   one answer per row
    score/<model>/<category>_score.json          line 1 totals; then every answer BFCL judged wrong
    questions/BFCL_v3_<name>.json                the prompts
    questions/possible_answer/BFCL_v3_<name>.json  the references

A result row `{id: "<category>_<n>", result: <raw answer>}` becomes the
example of question `<name>_<n>` (every model's row of one prompt gives the
same example, which ingest de-duplicates) and one Candidate with origin
`model:<model>`: the raw answer decoded by `schemas.decoding` (Java and
JavaScript answers read as source text and typed by the spec,
`schemas.source_types`), labelled by the checker, with BFCL's verdict kept as
`upstream_correct` / `upstream_error_type` (a row the score file does not
list is one BFCL judged correct; score ids are 1-based rows). An answer that
does not decode is kept as its text, which the checker calls a parsing error.

References: the executable categories give exact Python calls
(`calc_binomial_probability(n=20, k=5, p=1/6)`), read from the syntax tree,
never evaluated; positional arguments are mapped onto the spec's parameters
in order, and an optional parameter with a declared `default` may be omitted
or given its default (BFCL ran these calls, so either gives the same result).
Irrelevance prompts have no reference: no call is right.
"""
from __future__ import annotations

import dataclasses
import json
import posixpath
import re
from typing import Any

from toolrm_beam.schemas import records
from toolrm_beam.schemas.adapters import common
from toolrm_beam.schemas.adapters.answers import labelled_answer
from toolrm_beam.schemas.adapters.base import ID, JSON_VALUE, Adapted, AdaptError, OpenFn, SourceAdapter
from toolrm_beam.schemas.adapters.bfcl import checked_reference, single_turn
from toolrm_beam.schemas.decoding import DecodeError, decode_call_parts
from toolrm_beam.schemas.source_types import JAVA, JAVASCRIPT, SourceTypeError, json_schema_spec

RESULT_DIR, SCORE_DIR, QUESTION_DIR, ANSWER_DIR = "result", "score", "questions", "possible_answer"
_RESULT_FILE = re.compile(r"^gorilla_openfunctions_v1_test_(?P<category>\w+?)_result\.json$")

# Result category -> question category (the number after the last `_` joins them).
QUESTION_CATEGORIES = {
    "executable_simple": "exec_simple",
    "executable_multiple_function": "exec_multiple",
    "executable_parallel_function": "exec_parallel",
    "executable_parallel_multiple_function": "exec_parallel_multiple",
    "relevance": "irrelevance",
    "java": "java",
    "javascript": "javascript",
}
_LANGUAGES = {"java": JAVA, "javascript": JAVASCRIPT}
NO_CALL_CATEGORIES = ("irrelevance",)
EXECUTABLE_PREFIX = "exec_"


@dataclasses.dataclass(frozen=True)
class ResultFile:
    """Side data of one result file: its model and category, the prompts, references and verdicts."""
    model: str
    result_category: str
    category: str
    questions: dict[str, Any]
    answers: dict[str, Any]
    wrong: dict[int, dict[str, Any]] | None   # 1-based row -> BFCL's failure; None: no score file


def result_category(path: str) -> str | None:
    match = _RESULT_FILE.match(common.basename(path))
    return match.group("category") if match else None


def language_of(category: str) -> str | None:
    """`java` / `javascript` for the categories whose answers are Java/JavaScript source text."""
    return _LANGUAGES.get(category)


class BfclResultsAdapter(SourceAdapter):
    name = "bfcl_results"
    license = "Apache-2.0"
    upstream = ("https://github.com/HuanzhiMao/BFCL-Result (answers and BFCL's verdicts); questions and "
                "answers from https://github.com/ShishirPatil/gorilla (berkeley-function-call-leaderboard)")
    required_columns = {"id": ID, "result": JSON_VALUE}

    def is_data_file(self, path: str) -> bool:
        return result_category(path) is not None and \
            common.parent_name(posixpath.dirname(path.rstrip("/"))) == RESULT_DIR

    def split_of(self, path: str) -> str:
        category = result_category(path)
        return QUESTION_CATEGORIES.get(category, category or common.stem(path))

    def load_context(self, path: str, open_fn: OpenFn) -> ResultFile:
        category = result_category(path)
        if category not in QUESTION_CATEGORIES:
            raise ValueError(f"{path}: unknown result category {category!r}; known: {sorted(QUESTION_CATEGORIES)}")
        question_category = QUESTION_CATEGORIES[category]
        model = common.parent_name(path)
        root = posixpath.dirname(posixpath.dirname(posixpath.dirname(path.rstrip("/"))))
        question_file = posixpath.join(root, QUESTION_DIR, f"BFCL_v3_{question_category}.json")
        questions = common.index_by_id(common.read_json_records(question_file, open_fn), question_file)
        answers: dict[str, Any] = {}
        if question_category not in NO_CALL_CATEGORIES:
            answer_file = posixpath.join(root, QUESTION_DIR, ANSWER_DIR, f"BFCL_v3_{question_category}.json")
            answers = common.index_by_id(common.read_json_records(answer_file, open_fn), answer_file)
        return ResultFile(model=model, result_category=category, category=question_category,
                          questions=questions, answers=answers,
                          wrong=_read_verdicts(posixpath.join(root, SCORE_DIR, model, f"{category}_score.json"),
                                               open_fn))

    def adapt(self, row: Any, context: ResultFile | None, split: str) -> Adapted:
        if context is None:
            raise AdaptError("missing_answer", "no questions and answers were loaded for this file")
        row = common.require_mapping(row)
        row_id = common.text(row, "id")
        prefix, _, number = row_id.rpartition("_")
        if prefix != context.result_category or not number.isdigit():
            raise AdaptError("bad_field_type",
                             f"row id {row_id!r} is not {context.result_category}_<n> like its file's name")
        if "result" not in row:
            raise AdaptError("missing_field", "field 'result' is missing")
        example = self.example(context, f"{context.category}_{int(number)}")
        upstream_correct = upstream_error = None
        if context.wrong is not None:
            failure = context.wrong.get(int(number) + 1)
            upstream_correct = failure is None
            upstream_error = None if failure is None else str(failure.get("error_type") or "unknown")
        candidate, verdicts = labelled_answer(
            example, row["result"], context.model, language=language_of(context.category),
            upstream_correct=upstream_correct, upstream_error_type=upstream_error, category=context.category)
        return Adapted(examples=[example], candidates=[candidate], verdicts=verdicts)

    def example(self, context: ResultFile, question_id: str) -> dict[str, Any]:
        """The canonical example of one prompt (the same for every model's answer to it)."""
        question = context.questions.get(question_id)
        if question is None:
            raise AdaptError("missing_question", f"no question {question_id!r} in {QUESTION_DIR}/")
        original_tools = common.field(question, "function", (list, dict), json_ok=True)
        if isinstance(original_tools, dict):
            original_tools = [original_tools]
        messages = common.normalize_messages(single_turn(common.field(question, "question", list)), "question")
        tools = _tools(original_tools, language_of(context.category))
        detail: dict[str, Any] = {}
        if context.category in NO_CALL_CATEGORIES:
            reference, kind = [], records.REFERENCE_NO_CALL
        else:
            answer = context.answers.get(question_id)
            if answer is None or "ground_truth" not in answer:
                raise AdaptError("missing_answer", f"no ground truth for {question_id!r} in {ANSWER_DIR}/")
            executable = context.category.startswith(EXECUTABLE_PREFIX)
            convert = (lambda truth: executable_reference(truth, original_tools)) if executable \
                else records.reference_from_bfcl
            reference = checked_reference(convert, answer["ground_truth"], question_id, tools)
            if executable and isinstance(answer.get("execution_result_type"), list):
                detail["execution_result_type"] = answer["execution_result_type"]
            kind = records.REFERENCE_CALL
        return records.make_example(
            source=self.name, split=context.category, upstream_id=question_id, tools=tools,
            original_tools=original_tools, messages=messages, reference=reference, reference_kind=kind,
            reference_detail=detail, license=self.license)


def _read_verdicts(path: str, open_fn: OpenFn) -> dict[int, dict[str, Any]] | None:
    """1-based row -> BFCL's failure record; None when the run has no score file for this result file."""
    try:
        lines = common.read_json_records(path, open_fn)
    except FileNotFoundError:
        return None
    wrong = {}
    for item in lines:
        if isinstance(item, dict) and isinstance(item.get("id"), int) and item.get("valid") is False:
            wrong[item["id"]] = item
    return wrong


def _tools(original_tools: list[Any], language: str | None) -> list[dict[str, Any]]:
    if language is None:
        return common.normalize_tools(original_tools)
    try:
        specs = [json_schema_spec(language, spec) if isinstance(spec, dict) else spec for spec in original_tools]
    except SourceTypeError as error:
        raise AdaptError(error.reason, error.detail) from None
    return common.normalize_tools(specs)


_STATED_DEFAULT = re.compile(r"\bdefault(?:s)?(?:\s+(?:is|to|as))?\s*[:=]?\s*['\"]?([\w.+-]+)", re.IGNORECASE)


def _stated_default(schema: dict[str, Any]) -> str | None:
    """The default a description states in words ("Default to false", "Default is False"), lower-cased."""
    match = _STATED_DEFAULT.search(str(schema.get("description") or ""))
    return match.group(1).rstrip(".").lower() if match else None


def _default_text(acceptable: list[Any]) -> str | None:
    """The reference's one value as the words a description would use for it."""
    if len(acceptable) != 1 or isinstance(acceptable[0], (dict, list)):
        return None
    return str(acceptable[0]).lower()


def executable_reference(ground_truth: Any, original_tools: list[Any]) -> list[dict[str, Any]]:
    """BFCL's executable answers (`["f(a=1, b=[2])", ...]`) -> the canonical reference."""
    if not isinstance(ground_truth, list) or not all(isinstance(text, str) for text in ground_truth):
        raise AdaptError("bad_field_type", "an executable ground truth must be a list of call strings")
    specs = {spec.get("name"): spec for spec in original_tools if isinstance(spec, dict)}
    reference = []
    for text in ground_truth:
        try:
            name, positional, arguments = decode_call_parts(text)
        except DecodeError as error:
            raise AdaptError("bad_field_type", f"ground truth call {text[:80]!r}: {error.message}") from None
        parameters = (specs.get(name) or {}).get("parameters") or {}
        properties = parameters.get("properties") or {}
        order = list(properties)
        if len(positional) > len(order):
            raise AdaptError("bad_field_type", f"ground truth call {text[:80]!r} has more positional "
                                               f"arguments than {name!r} has parameters")
        for param, value in zip(order, positional):
            if param in arguments:
                raise AdaptError("bad_field_type", f"ground truth call {text[:80]!r} gives {param!r} twice")
            arguments[param] = value
        call = records.reference_call(name, arguments)
        required = set(parameters.get("required") or ())
        for param, schema in properties.items():
            if param in required or not isinstance(schema, dict):
                continue
            # The call runs the same with an optional parameter left at its default or given it.
            if "default" in schema:
                acceptable = call["arguments"].get(param, [schema["default"]])
                if acceptable == [schema["default"]]:
                    call["arguments"][param] = [schema["default"], ""]
            elif param in call["arguments"] and _stated_default(schema) == _default_text(call["arguments"][param]):
                call["arguments"][param] = [*call["arguments"][param], ""]
        reference.append(call)
    # JSON's form: tuples (`pointA=(3, 5)`) become lists, as in every stored reference.
    return json.loads(records.canonical_json(reference))
