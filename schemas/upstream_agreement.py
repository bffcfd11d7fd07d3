"""How the checker's labels agree with an upstream benchmark's verdicts (BFCL's), by category.

Each answer with an upstream verdict gives one `verdict` dict (see
`Adapted.verdicts`). They are counted by `verdict_key` (so any runner can
sum them in any order) and turned into the manifest's table by
`agreement_table`: per category the answers, the share where both say the
same, the two kinds of disagreement, and the disagreements by reason, a
reason being "<checker code> vs <upstream error type>" (`ok` and `correct`
where a side calls the answer right).
"""
from __future__ import annotations

from typing import Any, Iterable

ALL = "__all__"


def verdict_key(verdict: dict[str, Any]) -> tuple[str, bool, bool, str, str]:
    return (str(verdict["category"]), bool(verdict["checker_correct"]), bool(verdict["upstream_correct"]),
            str(verdict["checker_code"]), str(verdict.get("upstream_error_type") or "correct"))


def agreement_table(counts: dict[tuple, int] | Iterable[tuple[tuple, int]]) -> dict[str, Any]:
    """`{verdict_key: n}` -> `{category: {answers, agree, agreement, checker_right_upstream_wrong, ...}}`.

    `__all__` sums every category; categories are in name order.
    """
    items = counts.items() if isinstance(counts, dict) else counts
    table: dict[str, dict[str, Any]] = {}
    for (category, checker_correct, upstream_correct, code, upstream_error), n in sorted(items):
        for name in (category, ALL):
            row = table.setdefault(name, {"answers": 0, "agree": 0, "both_correct": 0, "both_wrong": 0,
                                          "checker_correct_upstream_wrong": 0, "checker_wrong_upstream_correct": 0,
                                          "disagreements": {}})
            row["answers"] += n
            if checker_correct == upstream_correct:
                row["agree"] += n
                row["both_correct" if checker_correct else "both_wrong"] += n
                continue
            row["checker_correct_upstream_wrong" if checker_correct else "checker_wrong_upstream_correct"] += n
            reason = f"{code} vs {upstream_error}"
            row["disagreements"][reason] = row["disagreements"].get(reason, 0) + n
    for row in table.values():
        row["agreement"] = round(row["agree"] / row["answers"], 4) if row["answers"] else None
        row["disagreements"] = dict(sorted(row["disagreements"].items(), key=lambda kv: (-kv[1], kv[0])))
    return dict(sorted(table.items(), key=lambda kv: (kv[0] == ALL, kv[0])))
