"""The score-and-select pipeline end to end, and its pairs as TRL training data."""
from __future__ import annotations

import glob
import json
import os

import pyarrow.parquet as pq
import pytest

from toolrm_beam.beam_pipelines import ingest, score, synthesize
from toolrm_beam.schemas.records import CANDIDATE_JSON_FIELDS, from_row

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "data", "samples")


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory):
    root = tmp_path_factory.mktemp("score")
    ingest.run(["--source", "bfcl", "--input", os.path.join(SAMPLES, "bfcl_live_sample", "*.json"),
                "--output", str(root / "examples")])
    synthesize.run(["--input", str(root / "examples" / "examples-*.parquet"), "--output", str(root / "candidates")])
    return root


def _rows(directory, folder):
    return [r for p in sorted(glob.glob(os.path.join(directory, folder, "*.parquet")))
            for r in pq.read_table(p).to_pylist()]


def _score(synthesized, out, *extra):
    return score.run(["--examples", str(synthesized / "examples" / "examples-*.parquet"),
                      "--candidates", str(synthesized / "candidates" / "candidates-*.parquet"),
                      "--output", str(out), *extra])


def _candidates(synthesized):
    return [from_row(r, CANDIDATE_JSON_FIELDS) for r in _rows(synthesized, "candidates")]


@pytest.fixture(scope="module")
def scored(synthesized, tmp_path_factory):
    """The bundled model's scoring and selection (at most 4 pairs per example): (output folder, manifest)."""
    out = tmp_path_factory.mktemp("scored") / "out"
    return out, _score(synthesized, out, "--max_pairs_per_example", "4")


def test_bundled_model_scores_selects_and_accounts_for_every_candidate(synthesized, scored):
    out, manifest = scored
    counts = manifest["counts"]
    candidates = _candidates(synthesized)
    assert counts["candidates_in"] == len(candidates) == counts["candidates_scored"]
    pairs, filtered, quarantine = _rows(out, "pairs"), _rows(out, "filtered"), _rows(out, "quarantine")
    assert counts["pairs"] == len(pairs) and counts["candidates_filtered"] == len(filtered)
    # Every candidate ends in exactly one place.
    paired = {p["chosen_candidate_id"] for p in pairs} | {p["rejected_candidate_id"] for p in pairs}
    assert paired.isdisjoint({f["candidate_id"] for f in filtered})
    assert counts["candidates_paired"] == len(paired)
    assert counts["candidates_in"] == (counts["candidates_paired"] + counts["candidates_filtered"]
                                       + counts["candidates_quarantined"] + sum(counts["dead_letter_by_reason"].values())
                                       + counts["candidates_merged"])
    assert counts["examples_quarantined"] == len(quarantine)
    by_id = {c["candidate_id"]: c for c in candidates}
    per_example = {}
    for pair in pairs:
        chosen, rejected = by_id[pair["chosen_candidate_id"]], by_id[pair["rejected_candidate_id"]]
        assert chosen["correct"] is True and rejected["correct"] is False
        assert pair["error_type"] == rejected["error_type"]
        assert abs(pair["score_margin"] - (pair["chosen_score"] - pair["rejected_score"])) < 1e-4
        assert pair["hard"] == (pair["score_margin"] <= 0.5 + 1e-6)
        per_example[pair["example_id"]] = per_example.get(pair["example_id"], 0) + 1
    assert max(per_example.values()) <= 4
    assert {f["reason"] for f in filtered} <= {"over_pair_cap", "no_negative", "no_positive", "positive_below_floor",
                                               "unscored"}
    report = (out / "report.html").read_text()
    assert "Scores by label" in report and "data:image/png;base64," in report
    again = _score(synthesized, out, "--max_pairs_per_example", "4")
    assert again["files"] == manifest["files"]  # a rerun writes the same bytes


def test_floor_and_hard_negatives_first(synthesized, tmp_path):
    manifest = _score(synthesized, tmp_path / "all", "--max_pairs_per_example", "100", "--no-balance")
    pairs = _rows(tmp_path / "all", "pairs")
    floor = sorted(p["chosen_score"] for p in pairs)[len(pairs) // 2]
    capped = _score(synthesized, tmp_path / "capped", "--max_pairs_per_example", "1", "--no-balance",
                    "--min_positive_score", str(floor))
    kept = _rows(tmp_path / "capped", "pairs")
    assert kept and all(p["chosen_score"] >= floor for p in kept)
    assert capped["counts"]["filtered_by_reason"].get("positive_below_floor", 0) > 0
    hardest = {}
    for pair in pairs:
        if pair["chosen_score"] >= floor:
            hardest[pair["example_id"]] = min(hardest.get(pair["example_id"], 1e9), pair["score_margin"])
    for pair in kept:  # with a cap of one, the pair kept is the example's hardest
        assert abs(pair["score_margin"] - hardest[pair["example_id"]]) < 1e-5
    assert manifest["counts"]["pairs"] > capped["counts"]["pairs"]


def test_pairs_load_in_datasets_and_train_with_trl(scored, tmp_path):
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from reward_fixtures import build_tiny_reward_model

    out, _ = scored  # the pairs shard as the score command writes it
    [shard] = glob.glob(str(out / "pairs" / "*.parquet"))
    dataset = datasets.Dataset.from_parquet(shard)
    for column in ("tools", "conversation", "chosen_output", "rejected_output", "error_type", "prompt", "chosen",
                   "rejected"):
        assert column in dataset.column_names
    assert "margin" not in dataset.column_names  # TRL would read it as a loss margin
    texts = [json.dumps(row, default=str) for row in dataset.select(range(min(40, len(dataset)))).to_list()]
    model_dir = build_tiny_reward_model(tmp_path / "rm", texts + ["<tool_call> </tool_call> # Tools"])
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1)
    train = dataset.select(range(min(16, len(dataset))))
    config = trl.RewardConfig(output_dir=str(tmp_path / "trl"), max_steps=3, per_device_train_batch_size=4,
                              report_to=[], save_strategy="no", logging_steps=1, use_cpu=True, max_length=1024)
    trainer = trl.RewardTrainer(model=model, args=config, train_dataset=train, processing_class=tokenizer)
    result = trainer.train()
    assert result.global_step == 3
    assert all(abs(x) < 1e6 for x in [result.training_loss])


def test_run_inference_byte_counter_measures_the_text_without_pickling_the_batch(monkeypatch):
    """RunInference asks the handler for each batch's size; the scorer answers from its rows' strings."""
    import pickle

    from toolrm_beam.transforms.score import make_scorer

    handler = make_scorer("lite")

    def no_pickling(*args, **kwargs):
        raise AssertionError("the batch was pickled to be measured")

    monkeypatch.setattr(pickle, "dumps", no_pickling)
    example = {"example_id": "ex-1", "tools": '[{"name": "f"}]', "messages": "[]", "split": None}
    candidates = [{"candidate_id": "c-1", "output": '[{"f": {}}]', "correct": True, "score": None},
                  {"candidate_id": "c-2", "output": "[]", "correct": False, "score": 0.5}]
    expected = sum(map(len, ("ex-1", '[{"name": "f"}]', "[]", "c-1", '[{"f": {}}]', "c-2", "[]")))
    assert handler.get_num_bytes([(example, candidates), (example, [])]) == expected + sum(
        map(len, ("ex-1", '[{"name": "f"}]', "[]")))
