"""README "Your own data": the files it shows are written as shown and the commands it shows run on them.

Every `--source` has a three-row example. Each `toolrm ingest` command is
checked without a pipeline (the same adapters, strictly: every row must give a
valid example), then the section's `toolrm run` runs for real on all of them.
"""
from __future__ import annotations

import json
import os
import re
import shlex

import pytest

from toolrm_beam.beam_pipelines import ingest
from toolrm_beam.runners import cli
from toolrm_beam.schemas.adapters import ADAPTERS, get_adapter
from toolrm_beam.schemas.validation import validate_example
from toolrm_beam.transforms.fileio import match_inputs, open_read
from toolrm_beam.transforms.read_rows import iter_file_rows

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^```(\w+)(?: file=(\S+))?\n(.*?)^```$", re.M | re.S)


def _section() -> str:
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    start = readme.index("\n## Your own data\n")
    return readme[start:readme.index("\n## ", start + 1)]


def _blocks():
    files, commands = {}, []
    for language, path, body in FENCE.findall(_section()):
        if path:
            files[path] = body
        elif language == "sh":
            commands += [shlex.split(line) for line in body.replace("\\\n", " ").splitlines() if line.strip()]
    return files, commands


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("own-data")
    files, commands = _blocks()
    for path, body in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    return root, files, commands


def test_every_source_has_a_three_row_example_and_its_command(corpora):
    _, files, commands = corpora
    ingests = {args[args.index("--source") + 1]: args for args in commands if args[:2] == ["toolrm", "ingest"]}
    assert set(ingests) == set(ADAPTERS)
    side_files = ("tool.jsonl", "/possible_answer/", "/score/", "/questions/")  # catalogs, answers, BFCL dumps
    data_files = [p for p in files if not p.endswith(side_files[0]) and not any(s in p for s in side_files[1:])]
    assert len(data_files) == len(ADAPTERS)
    for path in data_files:
        assert len([line for line in files[path].splitlines() if line.strip()]) == 3, path
    assert [args[:2] for args in commands].count(["toolrm", "run"]) == 1


def test_each_ingest_command_adapts_every_row_of_its_example(corpora, monkeypatch):
    root, _, commands = corpora
    monkeypatch.chdir(root)
    for args in (a for a in commands if a[:2] == ["toolrm", "ingest"]):
        parsed, rest = ingest.parse_args(args[2:])
        assert rest == [], args
        adapter = get_adapter(parsed.source)
        data = [path for path in match_inputs(parsed.input) if adapter.is_data_file(path)]
        assert len(data) == 1, (parsed.source, data)
        context = adapter.load_context(data[0], open_read)
        rows = 0
        for _, row, error in iter_file_rows(data[0]):
            assert error is None, (parsed.source, error)
            examples = adapter.adapt(row, context, adapter.split_of(data[0])).examples
            assert examples, (parsed.source, row)
            for example in examples:
                validate_example(example)
            rows += 1
        assert rows == 3, parsed.source


def test_the_run_command_runs_every_source_end_to_end(corpora, monkeypatch, capsys):
    root, _, commands = corpora
    monkeypatch.chdir(root)
    (run,) = [args for args in commands if args[:2] == ["toolrm", "run"]]
    assert cli.main(run[1:]) == 0
    out = root / run[run.index("--output") + 1]
    for source in ADAPTERS:
        counts = json.loads((out / "ingest" / source / "manifest.json").read_text())["counts"]
        assert counts["rows_in"] == 3 and counts["rows_dead_letter"] == 0, (source, counts)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["pairs"] > 0 and (out / "report.html").is_file()
