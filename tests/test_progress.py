"""Progress: counters read from the running pipeline's result, and the lines printed from them."""
from __future__ import annotations

import io
import time

import apache_beam as beam
import pytest
from apache_beam.runners.runner import PipelineState

from toolrm_beam.beam_pipelines import driver_options
from toolrm_beam.runners.presets import make_runner, pipeline_options
from toolrm_beam.runners.progress import ProgressPrinter, format_line, read_counters
from toolrm_beam.transforms.progress import COUNTERS, CountProgress

ELEMENTS = 40


@pytest.mark.parametrize("runner_args", [[], ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]],
                         ids=["in_process", "multi_process"])
def test_counters_of_running_bundles_are_read_while_the_pipeline_runs(runner_args):
    pipeline = beam.Pipeline(runner=make_runner("direct"), options=pipeline_options("direct", runner_args))
    # Seconds of work in one stage: long enough to be seen running. (A lambda: workers in other processes
    # unpickle it by value, without this test module.)
    slow = (pipeline | beam.Create(list(range(ELEMENTS))) | beam.Reshuffle()
            | "Slow" >> beam.Map(lambda x: time.sleep(0.05) or x))
    _ = slow | "Progress" >> CountProgress("score.candidates")
    result = pipeline.run()
    assert result.state == PipelineState.RUNNING  # run() returned at once
    seen = []
    deadline = time.monotonic() + 300
    while not PipelineState.is_terminal(result.state) and time.monotonic() < deadline:
        seen.append(read_counters(result).get("score.candidates", 0))
        time.sleep(0.05)
    assert result.wait_until_finish() == PipelineState.DONE
    # Counts from inside the one bundle that does all the work, before it finished.
    assert any(0 < value < ELEMENTS for value in seen), seen
    assert read_counters(result) == {"score.candidates": ELEMENTS}


def _fail(x):
    raise ValueError(f"bad element {x}")


def test_a_failed_run_raises_from_wait_until_finish():
    pipeline = beam.Pipeline(runner=make_runner("direct"), options=pipeline_options("direct", []))
    _ = pipeline | beam.Create([1]) | beam.Map(_fail)
    result = pipeline.run()
    with pytest.raises(Exception, match="bad element 1"):
        result.wait_until_finish()
    assert result.state == PipelineState.FAILED


class _FakeResult:
    """A pipeline result whose counters grow with a fake clock, done after `polls` states."""

    def __init__(self, clock, done_at):
        self._clock = clock
        self._done_at = done_at

    @property
    def state(self):
        return PipelineState.DONE if self._clock() >= self._done_at else PipelineState.RUNNING

    def metrics(self):
        now = self._clock()

        class Key:
            def __init__(self, name):
                self.metric = type("Metric", (), {"name": name})()

        class Item:
            def __init__(self, name, value):
                self.key, self.attempted, self.committed = Key(name), value, None

        items = [Item("ingest.rows", int(100 * min(now, 6))), Item("synthesize.candidates", int(700 * max(0, now - 3)))]
        return type("Metrics", (), {"query": lambda self, _: {"counters": items}})()


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self._tty = tty

    def isatty(self):
        return self._tty


def _watch(tty):
    now = [0.0]
    stream = _Stream(tty)
    printer = ProgressPrinter(stream=stream, every_s=2.0, clock=lambda: now[0],
                              sleep=lambda s: now.__setitem__(0, now[0] + s))
    printer(_FakeResult(lambda: now[0], done_at=9.0))
    return stream.getvalue()


def test_one_line_per_update_when_not_a_terminal():
    text = _watch(tty=False)
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == 5  # at 2, 4, 6 and 8 s, then the summary line
    assert lines[0].startswith("[      2 s] ingest 200 rows (100/s) | synthesize 0 candidates | score 0 candidates")
    assert "synthesize 700 candidates (350/s)" in lines[1]
    assert lines[-1].endswith("(done)") and "ingest 600 rows" in lines[-1] and "synthesize 4,200 candidates" in lines[-1]


def test_a_terminal_gets_the_line_redrawn_in_place():
    text = _watch(tty=True)
    assert text.count("\r") == 5 and text.count("\n") == 1 and text.endswith("(done)\n")


def test_quiet_turns_progress_off_and_every_stage_is_named():
    parser = driver_options.argparse.ArgumentParser()
    driver_options.add_driver_args(parser)
    assert driver_options.progress_watcher(parser.parse_args(["--quiet"])) is None
    assert isinstance(driver_options.progress_watcher(parser.parse_args([])), ProgressPrinter)
    line = format_line(3.0, {name: 1 for name, _ in COUNTERS}, None)
    assert [part.split()[0] for part in line.split("] ", 1)[1].split(" | ")] == ["ingest", "synthesize", "score",
                                                                                "select"]
