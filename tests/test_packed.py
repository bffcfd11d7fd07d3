"""Records packed through grouping steps (transforms/packed.py): what comes out is what went in, and
the score stage's join gives the same groups however its candidates arrive."""
from __future__ import annotations

import glob
import os

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from toolrm_beam.schemas.records import CANDIDATE_JSON_FIELDS, from_row, to_row
from toolrm_beam.transforms import rules
from toolrm_beam.transforms.corpus_examples import file_examples
from toolrm_beam.transforms.packed import pack, unpack
from toolrm_beam.transforms.select_stage import NOT_JOINED, GroupCandidates, key_candidates, key_example

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(REPO, "data", "samples")


@pytest.fixture(scope="module")
def examples():
    paths = sorted(glob.glob(os.path.join(SAMPLES, "bfcl_live_sample", "*.json")))
    found = [e for path in paths for e in file_examples("bfcl", path, validate=True)]
    assert len(found) >= 20
    return found[:20]


def _candidates(example):
    made = [rules.reference_candidate(example)] + rules.generate_rule_candidates(example, seed=3, max_negatives=4)
    # As the score stage gets them from the candidate shards.
    return [from_row(to_row(c, CANDIDATE_JSON_FIELDS), CANDIDATE_JSON_FIELDS) for c in made]


def _ids(group):
    example, candidates = group
    return example["example_id"], [c["candidate_id"] for c in candidates]


def test_pack_gives_back_the_same_values_in_the_same_order(examples):
    for example in examples:
        back = unpack(pack(example))
        assert back == example and list(back) == list(example)
        assert len(pack(example)) < len(repr(example)) / 2
    odd = {"t": (1, [2, (3,)]), "b": [True, 1, 0.5, None], "s": "é\u2028", "z": b"\x00", "n": {"k": {}}}
    back = unpack(pack(odd))
    assert back == odd and isinstance(back["t"], tuple) and isinstance(back["t"][1][1], tuple)
    assert back["b"][0] is True and isinstance(back["b"][1], int) and not isinstance(back["b"][1], bool)


def test_join_groups_candidates_the_same_however_they_arrive(examples):
    by_example = {e["example_id"]: _candidates(e) for e in examples}
    every = [c for found in by_example.values() for c in found]
    # Interleaved: no two neighbours of one example (each candidate a run of its own), an orphan, and
    # the same output given twice (merged into one candidate).
    interleaved = [c for position in range(5) for found in by_example.values() if position < len(found)
                   for c in [found[position]]]
    orphan = {**every[0], "example_id": "no-such-example", "candidate_id": "orphan"}
    expected = sorted((e["example_id"], sorted(c["candidate_id"] for c in by_example[e["example_id"]]))
                      for e in examples)
    runs = key_candidates(every)
    assert len(runs) == len(examples) and sum(n for _, (_, n, _) in runs) == len(every)
    assert len(key_candidates(interleaved)) == len(interleaved)

    def groups(pipeline, keyed):
        return pipeline | beam.Create([key_example(e) for e in examples] + keyed) | GroupCandidates()

    with BeamTestPipeline() as pipeline:
        one = groups(pipeline, runs + key_candidates([orphan]))
        assert_that(one["groups"] | "Ids1" >> beam.Map(_ids), equal_to(expected), label="runs")
        assert_that(one["dead_letter"] | "Orphans1" >> beam.Map(lambda d: d["reason"]),
                    equal_to(["candidate_without_example"]), label="runs orphan")
        assert_that(one["merged"], equal_to([]), label="runs merged")

    with BeamTestPipeline() as pipeline:
        several = groups(pipeline, key_candidates(interleaved) + key_candidates([orphan, every[1]]))
        assert_that(several["groups"] | "Ids" >> beam.Map(_ids), equal_to(expected), label="singles")
        # The example as scoring and selection read it: all but what they never read.
        joined = [{k: v for k, v in e.items() if k not in NOT_JOINED} for e in examples]
        assert all("original_tools" not in e and e["tools"] for e in joined)
        assert_that(several["groups"] | "GroupExamples" >> beam.Map(lambda g: g[0]), equal_to(joined),
                    label="examples")
        assert_that(several["merged"], equal_to([1]), label="merged")
        assert_that(several["dead_letter"] | "Orphans" >> beam.Map(lambda d: d["reason"]),
                    equal_to(["candidate_without_example"]), label="orphan")
