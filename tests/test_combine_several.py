"""CombineSeveral: per-bundle partial accumulators merged by name give what one combine per input gives."""
from __future__ import annotations

import json
import os

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from pipeline_graph import leaf_kinds
from toolrm_beam.transforms.accounting import CountBy, CountValues
from toolrm_beam.transforms.combine_several import CombineSeveral
from toolrm_beam.transforms.report_data import _HardestPerType, _MarginSample

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BFCL = os.path.join(REPO, "data", "samples", "bfcl_live_sample", "BFCL_v3_live_simple.json")


def _rows():
    with open(BFCL, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _expected(rows):
    names = {}
    for row in rows:
        name = row["function"][0]["name"]
        names[name] = names.get(name, 0) + 1
    return names


def _run(options, build):
    with beam.Pipeline(options=PipelineOptions(options)) as pipeline:
        build(pipeline)


def test_partials_from_many_bundles_and_two_inputs_merge_like_one_combine():
    rows = _rows()
    first, second = rows[: len(rows) // 3], rows[len(rows) // 3:]
    expected = {
        "names": dict(sorted(_expected(rows).items())),
        "nothing": {},  # an input without records still has its (empty) output
        "margins": {"pairs": 0, "sample": []},
    }

    def build(pipeline):
        def named(records, label):
            return records | label >> beam.Map(lambda r: {"name": r["function"][0]["name"]})
        # Reshuffled: the rows arrive in several bundles on the multi-process runner, so partials really merge.
        one = named(pipeline | "First" >> beam.Create(first) | "Spread1" >> beam.Reshuffle(), "Name1")
        two = named(pipeline | "Second" >> beam.Create(second) | "Spread2" >> beam.Reshuffle(), "Name2")
        empty = pipeline | "Empty" >> beam.Create([])
        out = pipeline | CombineSeveral({
            "names": [(one, CountBy("name", None)), (two, CountBy("name", None))],
            "nothing": (empty, CountBy("name", None)),
            "margins": (empty, _MarginSample(10)),
        })
        assert_that(out, equal_to([expected]))

    for options in ([], ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]):
        _run(options, build)


def test_count_values_and_hardest_pairs_match_a_plain_count():
    rows = _rows()
    pairs = [({"uuid": f"p{i}", "error_type": ["a", "b", "c"][i % 3], "score_margin": ((i * 37) % 11) / 10},
              f"detail {i}") for i in range(60)]
    hardest = {}
    for pair, detail in pairs:
        hardest.setdefault(pair["error_type"], []).append((pair, detail))
    expected_hardest = {key: sorted(found, key=lambda pd: (-pd[0]["score_margin"], pd[0]["uuid"]), reverse=True)[:3]
                        for key, found in sorted(hardest.items())}
    expected_counts = {"rows": {"rows": len(rows)}, "names": dict(sorted(_expected(rows).items()))}

    def build(pipeline):
        records = pipeline | "Rows" >> beam.Create(rows) | beam.Map(lambda r: {"name": r["function"][0]["name"]})
        counted = pipeline | CountValues({"rows": (records, None), "names": (records, "name")}, keys={"rows": "rows"})
        assert_that(counted, equal_to([expected_counts]), label="Counts")
        top = pipeline | "Hardest" >> CombineSeveral({
            "hardest": (pipeline | "Pairs" >> beam.Create(pairs) | "Spread" >> beam.Reshuffle(), _HardestPerType(3))})
        assert_that(top, equal_to([{"hardest": expected_hardest}]), label="Top")

    _run([], build)


def test_the_merge_is_one_step_without_a_grouping_and_an_absent_input_counts_nothing():
    """The accumulators reach one merge step as a side input: no GroupByKey (a CombineGlobally's three runner
    stages), and an input given as None adds no step yet keeps its name, with the empty output."""
    rows = _rows()
    expected = {"absent": {}, "names": dict(sorted(_expected(rows).items()))}
    with beam.Pipeline(options=PipelineOptions([])) as pipeline:
        records = pipeline | "Rows" >> beam.Create(rows) | beam.Map(lambda r: {"name": r["function"][0]["name"]})
        out = pipeline | "Several" >> CombineSeveral({"names": (records, CountBy("name", None)),
                                                      "absent": (None, CountBy("name", None))})
        assert_that(out, equal_to([expected]))
        kinds = leaf_kinds(pipeline, "Several/")
    assert "GroupByKey" not in kinds and kinds.count("ParDo") == 2, kinds  # the one partial and the merge
