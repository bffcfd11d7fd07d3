"""The realism figure of the rule-made negatives (transforms/realism.py), on the real-error fixture
(tests/fixtures/real_errors: real models' answers to BFCL exec_* prompts, train and dev parts)."""
from __future__ import annotations

import json
import os
import pathlib

import pytest

from toolrm_beam.beam_pipelines import ingest, synthesize
from toolrm_beam.schemas.prompt_split import DEV, TRAIN
from toolrm_beam.transforms import realism
from toolrm_beam.transforms.fileio import InputError
from toolrm_beam.transforms.reward.lite.train import load_generations

REAL_ERRORS = pathlib.Path(__file__).resolve().parent / "fixtures" / "real_errors"
SAMPLES = pathlib.Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture(scope="module")
def prompts():
    return load_generations(str(REAL_ERRORS))


def test_both_arms_get_the_same_prompts_positives_and_budget(prompts):
    train = [p for p in prompts if p.part == TRAIN]
    arms = realism.build_arms(train, seed=0, max_negatives=8)
    assert arms.prompts == len(arms.rules) == len(arms.real) > 5
    assert sum(arms.rule_types.values()) == sum(arms.real_types.values()) == arms.negatives > 0
    for rules_group, real_group in zip(arms.rules, arms.real):
        assert rules_group.example is real_group.example
        positives = [o for o, c in zip(rules_group.outputs, rules_group.correct) if c]
        assert positives == [o for o, c in zip(real_group.outputs, real_group.correct) if c]
        assert rules_group.correct.count(False) == real_group.correct.count(False)
        assert set(real_group.origins) <= {"positive", "model"} and "model" in real_group.origins
        assert set(rules_group.origins) <= {"positive", "rule"} and "rule" in rules_group.origins


def test_realism_is_measured_on_prompts_neither_arm_trained_on(prompts):
    train, dev = realism.split_prompts(prompts)
    assert {p.part for p in train} == {TRAIN} and {p.part for p in dev} == {DEV}
    assert not {p.example["upstream_id"] for p in train} & {p.example["upstream_id"] for p in dev}
    result = realism.measure_realism(prompts, seed=0, fit=realism.QUICK_FIT)
    rules, real = result["rules_only"], result["real_only"]
    assert rules["pairs"] == real["pairs"] > 20
    assert result["ratio"] == round(rules["pairwise_accuracy"] / real["pairwise_accuracy"], 4)
    for numbers in result["ratio_by_error_type"].values():
        assert numbers["pairs"] > 0 and 0.0 <= numbers["rules_only"] <= 1.0
    assert "| pairwise accuracy |" in realism.table(result)
    again = realism.measure_realism(prompts, seed=0, fit=realism.QUICK_FIT)
    assert {k: again[k] for k in ("ratio", "ratio_best_of_n")} == {k: result[k] for k in ("ratio", "ratio_best_of_n")}


def test_realism_refuses_generations_without_a_dev_part(prompts):
    with pytest.raises(ValueError, match="dev part"):
        realism.measure_realism([p for p in prompts if p.part == TRAIN], fit=realism.QUICK_FIT)


def test_synthesize_records_the_realism_figure_in_its_manifest(tmp_path, capsys):
    ingest.run(["--source", "bfcl", "--input", str(SAMPLES / "bfcl_live_sample" / "BFCL_v3_live_simple.json"),
                "--output", str(tmp_path / "examples")])
    out = tmp_path / "syn"
    manifest = synthesize.run(["--input", str(tmp_path / "examples" / "examples-*.parquet"), "--output", str(out),
                               "--realism_generations", str(REAL_ERRORS)])
    figure = manifest["realism"]
    assert figure["generations"] == str(REAL_ERRORS) and figure["fit"].startswith("quick")
    assert 0.0 < figure["ratio"] and figure["pairs"] > 20
    assert json.loads((out / "manifest.json").read_text())["realism"] == figure
    assert "realism of rule-made negatives" in capsys.readouterr().out
    assert manifest["counts"]["negatives"] > 0  # the run itself is unchanged


def test_synthesize_refuses_a_wrong_generations_path_before_running(tmp_path):
    ingest.run(["--source", "bfcl", "--input", str(SAMPLES / "bfcl_live_sample" / "BFCL_v3_live_simple.json"),
                "--output", str(tmp_path / "examples")])
    with pytest.raises(InputError, match="nowhere"):
        synthesize.run(["--input", str(tmp_path / "examples" / "examples-*.parquet"), "--output",
                        str(tmp_path / "syn"), "--realism_generations", str(tmp_path / "nowhere")])
    assert not os.path.exists(tmp_path / "syn" / "manifest.json")
