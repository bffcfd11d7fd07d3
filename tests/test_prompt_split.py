"""The by-prompt split of the shared generations: stable, about the stated share, every category in both parts."""
import collections
import json
import pathlib

import pytest

from toolrm_beam.schemas.prompt_split import DEV, DEV_FRACTION, TRAIN, prompt_split

QUESTIONS = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "generations" / \
    "bfcl_results_2024_08_11" / "questions"


def _prompt_ids():
    if not QUESTIONS.is_dir():
        pytest.skip(f"{QUESTIONS} is missing (../shared beside the checkout)")
    for path in sorted(QUESTIONS.glob("BFCL_v3_*.json")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield path.stem.removeprefix("BFCL_v3_"), json.loads(line)["id"]


def test_every_category_is_split_near_the_dev_fraction():
    parts = collections.defaultdict(collections.Counter)
    for category, prompt_id in _prompt_ids():
        parts[category][prompt_split(prompt_id)] += 1
    assert len(parts) == 7
    total = sum(sum(c.values()) for c in parts.values())
    assert total == 630
    dev = sum(c[DEV] for c in parts.values())
    assert abs(dev / total - DEV_FRACTION) < 0.05, dev / total
    for category, counts in parts.items():
        assert counts[DEV] > 0 and counts[TRAIN] > 0, (category, counts)


def test_the_split_is_a_pure_function_of_the_id():
    ids = [prompt_id for _, prompt_id in _prompt_ids()]
    assert [prompt_split(i) for i in ids] == [prompt_split(i) for i in reversed(ids)][::-1]
    assert all(prompt_split(i, 0.0) == TRAIN and prompt_split(i, 1.0) == DEV for i in ids)
    with pytest.raises(ValueError):
        prompt_split("")
