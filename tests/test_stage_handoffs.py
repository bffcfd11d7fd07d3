"""Stage hand-offs: each stage takes the folder the previous one wrote, typed as a user would."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import fsspec
import pytest

from toolrm_beam.runners import cli
from toolrm_beam.transforms import fileio
from toolrm_beam.transforms.stage_inputs import match_shards, upstream_stages

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BFCL_SIMPLE = os.path.join(REPO, "data", "samples", "bfcl_live_sample", "BFCL_v3_live_simple.json")
# The README's chain, as typed in a shell (relative folders, no globs after ingest).
CHAIN = f"""set -e
toolrm ingest --source bfcl --input '{BFCL_SIMPLE}' --output out/ingest/bfcl
toolrm synthesize --input out/ingest/bfcl --output out/synthesize
toolrm score --examples out/ingest/bfcl --candidates out/synthesize --output out/scored
"""


@pytest.fixture(scope="module")
def chained(tmp_path_factory):
    work = tmp_path_factory.mktemp("chain")
    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", CHAIN], cwd=str(work), env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return work


def _manifest(folder):
    with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _shards(folder, kind):
    return sorted(f"{os.path.relpath(folder)}/{name}" for name in os.listdir(folder)
                  if name.startswith(f"{kind}-") and name.endswith(".parquet"))


def test_each_stage_reads_the_folder_the_previous_one_wrote(chained, monkeypatch):
    monkeypatch.chdir(chained)
    ingested, synthesized = _manifest("out/ingest/bfcl"), _manifest("out/synthesize")
    scored = _manifest("out/scored")
    # The folder stood for exactly its shards of the flag's kind.
    assert synthesized["config"]["inputs"] == _shards("out/ingest/bfcl", "examples")
    assert scored["config"]["examples"] == _shards("out/ingest/bfcl", "examples")
    assert scored["config"]["candidates"] == _shards("out/synthesize", "candidates")
    assert synthesized["counts"]["examples_in"] == ingested["counts"]["examples_out"] > 0
    assert scored["counts"]["candidates_in"] == sum(s["rows"] for s in synthesized["files"]["candidates"])
    assert scored["counts"]["pairs"] > 0
    # The report found the stages before it, with their timing.
    report = open("out/scored/report.html", encoding="utf-8").read()
    assert "ingest bfcl" in report and "synthesize" in report


def test_globs_and_files_keep_working(chained, monkeypatch):
    monkeypatch.chdir(chained)
    shards = _shards("out/ingest/bfcl", "examples")
    assert match_shards(["out/ingest/bfcl/examples-*.parquet"], "examples") == shards
    assert match_shards([shards[0]], "examples") == shards[:1]
    assert match_shards(["out/ingest/bfcl", "out/ingest/bfcl/examples-*.parquet"], "examples") == shards  # no repeats
    assert match_shards(["out/ingest/bfcl/"], "examples") == shards


@pytest.mark.parametrize("command, message", [
    (["synthesize", "--input", "out/synthesize", "--output", "x"],
     "folder 'out/synthesize' holds no examples shards (examples-*.parquet): it holds candidates "
     "(written by toolrm synthesize); examples come from the folder `toolrm ingest` wrote"),
    # ingest writes every candidate shard, empty ones too: a folder of empty shards is no input.
    (["score", "--examples", "out/ingest/bfcl", "--candidates", "out/ingest/bfcl", "--output", "x"],
     "folder 'out/ingest/bfcl' holds no candidates: its manifest.json counts 0 rows in its candidates shards, "
     "and it holds examples (written by toolrm ingest)"),
    (["score", "--examples", "empty", "--candidates", "out/synthesize", "--output", "x"],
     "folder 'empty' holds no examples shards (examples-*.parquet): it is empty or does not exist"),
    (["ingest", "--source", "bfcl", "--input", "out", "--output", "x"],
     "input 'out' is a folder: give a glob of its files, e.g. 'out/*.json'"),
])
def test_a_folder_without_the_right_shards_is_a_clear_error(chained, monkeypatch, capsys, command, message):
    monkeypatch.chdir(chained)
    os.makedirs("empty", exist_ok=True)
    assert cli.main(command) == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists("x")


def test_a_folder_without_a_manifest_still_resolves_by_shard_names(chained, tmp_path):
    copy = tmp_path / "copied"
    shutil.copytree(chained / "out" / "synthesize", copy)
    (copy / "manifest.json").unlink()
    assert [os.path.basename(p) for p in match_shards([str(copy)], "candidates")] == \
        [os.path.basename(p) for p in _shards(chained / "out" / "synthesize", "candidates")]
    with pytest.raises(fileio.InputError, match="it holds candidates, dead_letter shards"):
        match_shards([str(copy)], "examples")


def test_folders_on_other_filesystems(chained):
    memory = fsspec.filesystem("memory")
    for name in os.listdir(chained / "out" / "ingest" / "bfcl"):
        memory.pipe(f"/handoff/ingest/{name}", (chained / "out" / "ingest" / "bfcl" / name).read_bytes())
    found = match_shards(["memory:///handoff/ingest"], "examples")
    assert [p.rsplit("/", 1)[1] for p in found] == [os.path.basename(p) for p in
                                                    _shards(chained / "out" / "ingest" / "bfcl", "examples")]
    assert all(p.startswith("memory://") for p in found)


def test_upstream_stages_come_from_the_manifests_beside_the_inputs(chained, monkeypatch):
    monkeypatch.chdir(chained)
    files = match_shards(["out/ingest/bfcl"], "examples") + match_shards(["out/synthesize"], "candidates")
    stages = upstream_stages(files)
    assert [s["step"] for s in stages] == ["ingest bfcl", "synthesize"]
    assert stages[0]["counts"] == _manifest("out/ingest/bfcl")["counts"]
    assert all(s["timing"]["seconds"] >= 0 and s["timing"]["started_at"] <= s["timing"]["finished_at"] for s in stages)
