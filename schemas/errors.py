"""The error taxonomy of tool calls (FC-RewardBench / ToolRM, BFCL's checker).

Values are stable snake_case strings written on candidate records; `label` is
the human wording that FC-RewardBench stores in its `error_type` column.
"""
from __future__ import annotations

import enum
import re


class ErrorType(str, enum.Enum):
    PARAMETER_VALUE_ERROR = "parameter_value_error"
    INCORRECT_FUNCTION_NAME = "incorrect_function_name"
    INCORRECT_NUMBER_OF_FUNCTION_CALLS = "incorrect_number_of_function_calls"
    MISSING_OPTIONAL_PARAMETER = "missing_optional_parameter"
    MISSING_REQUIRED_PARAMETER = "missing_required_parameter"
    PARAMETER_VALUE_TYPE_ERROR = "parameter_value_type_error"
    UNEXPECTED_PARAMETER = "unexpected_parameter"
    PARSING_ERROR = "parsing_error"

    @property
    def label(self) -> str:
        """The human label, e.g. "Parameter value error"."""
        return self.value.replace("_", " ").capitalize()

    @classmethod
    def from_label(cls, text: str) -> "ErrorType":
        """Accept the label, the value, or a loose variant ("Parsing Error", "parsing-error").

        Raises ValueError for text that names no error type.
        """
        if isinstance(text, cls):
            return text
        if not isinstance(text, str):
            raise ValueError(f"error type must be text, got {type(text).__name__}")
        key = _loose_key(text)
        for member in cls:
            if key == _loose_key(member.value):
                return member
        raise ValueError(f"unknown error type {text!r}; expected one of {[m.label for m in cls]}")


def _loose_key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text).lower()


# Real errors of 25 open models in FC-RewardBench (1,500 rows), by type.
FC_REWARDBENCH_COUNTS: dict[ErrorType, int] = {
    ErrorType.PARAMETER_VALUE_ERROR: 650,
    ErrorType.INCORRECT_FUNCTION_NAME: 403,
    ErrorType.INCORRECT_NUMBER_OF_FUNCTION_CALLS: 245,
    ErrorType.MISSING_OPTIONAL_PARAMETER: 78,
    ErrorType.MISSING_REQUIRED_PARAMETER: 45,
    ErrorType.PARAMETER_VALUE_TYPE_ERROR: 43,
    ErrorType.UNEXPECTED_PARAMETER: 21,
    ErrorType.PARSING_ERROR: 15,
}
