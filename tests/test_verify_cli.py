"""`toolrm verify` on rows built from the BFCL live sample."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq

from toolrm_beam.runners import verify

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BFCL = os.path.join(REPO, "data", "samples", "bfcl_live_sample")


def _rows(category):
    with open(os.path.join(BFCL, f"BFCL_v3_{category}.json")) as handle:
        questions = [json.loads(line) for line in handle if line.strip()]
    answer_path = os.path.join(BFCL, "possible_answer", f"BFCL_v3_{category}.json")
    if not os.path.exists(answer_path):
        return [(q, []) for q in questions]
    with open(answer_path) as handle:
        answers = {a["id"]: a["ground_truth"] for a in map(json.loads, handle)}
    return [(q, answers[q["id"]]) for q in questions]


def _first_values(ground_truth):
    """A correct call list: the first non-omittable acceptable value of each parameter."""
    calls = []
    for call in ground_truth:
        (name, params), = call.items()
        arguments = {}
        for param, values in params.items():
            chosen = next((v for v in values if v != ""), None)
            if chosen is not None:
                arguments[param] = chosen if not isinstance(chosen, dict) else \
                    {k: vs[0] for k, vs in chosen.items() if vs and vs[0] != ""}
        calls.append({"name": name, "arguments": arguments})
    return calls


def _python_syntax(calls):
    return "[" + ", ".join(f"{c['name']}(" + ", ".join(f"{k}={v!r}" for k, v in c["arguments"].items()) + ")"
                           for c in calls) + "]"


def test_verify_labels_real_rows_in_every_form(tmp_path):
    rows = []
    for question, truth in _rows("live_simple")[:10] + _rows("live_parallel")[:5]:
        calls = _first_values(truth)
        base = {"id": question["id"], "tools": question["function"], "reference": truth}
        rows.append({**base, "form": "json", "candidate": json.dumps(calls)})
        rows.append({**base, "form": "python", "candidate": _python_syntax(calls)})
        rows.append({**base, "form": "openai", "candidate": [
            {"id": f"c{i}", "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])}}
            for i, c in enumerate(calls)]})
        rows.append({**base, "form": "dropped_call", "candidate": json.dumps(calls[:-1])})
        rows.append({**base, "form": "prose", "candidate": "Sure! " + _python_syntax(calls) + " Hope this helps."})
    for question, truth in _rows("live_irrelevance")[:3]:
        rows.append({"id": question["id"], "tools": question["function"], "reference": truth, "form": "abstain",
                     "candidate": "None of the tools can answer this."})
    rows.append({"id": "bad", "tools": "not a tool list", "reference": [], "form": "bad_row", "candidate": "[]"})
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    target = tmp_path / "out.jsonl"
    assert verify.main(["--input", str(source), "--output", str(target)]) == 0
    out = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(out) == len(rows)
    by_form = {}
    for row in out:
        by_form.setdefault(row["form"], []).append(row)
    for form in ("json", "python", "openai", "abstain"):
        assert all(r["correct"] for r in by_form[form]), [r["detail"] for r in by_form[form] if not r["correct"]]
    assert all(not r["correct"] and r["error_type"] == "incorrect_number_of_function_calls"
               for r in by_form["dropped_call"])
    assert all(not r["correct"] and r["error_type"] == "parsing_error" for r in by_form["prose"])
    [bad] = by_form["bad_row"]
    assert bad["correct"] is None and bad["error_type"] == "invalid_row"


def test_verify_command_reads_and_writes_parquet(tmp_path):
    question, truth = _rows("live_simple")[0]
    rows = [{"tools": json.dumps(question["function"]), "reference": json.dumps(truth),
             "candidate": json.dumps(_first_values(truth))}]
    import pyarrow as pa
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    result = subprocess.run([sys.executable, "-m", "toolrm_beam.runners.cli", "verify", "--input", str(tmp_path / "in.parquet"),
                             "--output", str(tmp_path / "out.parquet")], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    [row] = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert row["correct"] is True and row["error_type"] is None
    assert "verified 1 rows" in result.stdout
