"""No-model baselines for `toolrm bench` (and `toolrm score`): the two rules of issue 9.

- `schema_score`: 1 if the output is a call list whose calls name offered
  tools and whose arguments validate against their JSON Schemas, else 0
  (`transforms.rules.is_schema_valid`).
- `grounded_score`: the share of the calls' argument values that appear in
  what the user wrote: a string when its normalized words are in the user's
  normalized text, a number when the user wrote that number; booleans and
  nulls are not counted. 1 for a call list with nothing to ground, 0 for
  output that is not a call list.
- `two_rule_score`: their sum, so schema validity and grounding count alike.

Pure functions of (example, output); `HeuristicHandler` serves them to
RunInference like any reward model.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Optional, Sequence

from toolrm_beam.transforms.run_inference import ModelHandler

from toolrm_beam.schemas.decoding import DecodeError, decode_calls
from toolrm_beam.transforms.rules.schema_valid import is_schema_valid
from toolrm_beam.transforms.reward.transformers_rm import ScoreRequest, ScoreResult, as_score_request

_NON_WORD = re.compile(r"[^0-9a-z]+")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")


def user_text(example: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in example.get("messages") or []
                     if m.get("role") == "user" and isinstance(m.get("content"), str))


def _normalized(text: str) -> str:
    return " " + _NON_WORD.sub(" ", text.lower()).strip() + " "


def _numbers(text: str) -> set[float]:
    out = set()
    for match in _NUMBER.findall(text):
        try:
            out.add(float(match.replace(",", "")))
        except ValueError:
            continue
    return out


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def schema_score(example: dict[str, Any], output: Any) -> float:
    return 1.0 if is_schema_valid(example.get("tools") or [], output) else 0.0


def grounded_score(example: dict[str, Any], output: Any) -> float:
    try:
        calls = decode_calls(output)
    except DecodeError:
        return 0.0
    text = user_text(example)
    words, numbers = _normalized(text), _numbers(text)
    counted = grounded = 0
    for call in calls:
        for value in _leaves(call["arguments"]):
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, (int, float)):
                counted += 1
                grounded += math.isfinite(value) and float(value) in numbers
            elif isinstance(value, str):
                needle = _normalized(value)
                if needle.strip():
                    counted += 1
                    grounded += needle in words
    return grounded / counted if counted else 1.0


def two_rule_score(example: dict[str, Any], output: Any) -> float:
    return schema_score(example, output) + grounded_score(example, output)


HEURISTICS: dict[str, Callable[[dict[str, Any], Any], float]] = {
    "heuristic-schema": schema_score,
    "heuristic-grounded": grounded_score,
    "heuristic": two_rule_score,
}


class HeuristicHandler(ModelHandler[ScoreRequest, ScoreResult, Callable]):
    """Scores `ScoreRequest`s with one of `HEURISTICS` (no model to load)."""

    def __init__(self, name: str):
        super().__init__()
        if name not in HEURISTICS:
            raise ValueError(f"unknown heuristic {name!r}; choose from {sorted(HEURISTICS)}")
        self._name = name

    @property
    def model_name(self) -> str:
        return self._name

    def load_model(self) -> Callable[[dict[str, Any], Any], float]:
        return HEURISTICS[self._name]

    def run_inference(self, batch: Sequence[Any], model: Callable[[dict[str, Any], Any], float],
                      inference_args: Optional[dict[str, Any]] = None) -> list[ScoreResult]:
        requests = [as_score_request(element) for element in batch]
        return [ScoreResult(candidate_id=r.candidate["candidate_id"], example_id=r.example["example_id"],
                            score=float(model(r.example, r.candidate["output"])), truncation="", tokens=0,
                            scorer=self._name)
                for r in requests]

    def get_metrics_namespace(self) -> str:
        return "toolrm_heuristic"
