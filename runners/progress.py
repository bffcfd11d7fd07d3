"""Progress of a running pipeline: its Beam counters, polled from the pipeline result every few seconds.

    [   12 s] ingest 2,914 rows (240/s) | synthesize 19,949 candidates (1,650/s) | score 8,120 candidates (676/s) | select 6,900 pairs (575/s)

The stages count into `transforms.progress.NAMESPACE`; `ProgressPrinter`
reads those counters from `result.metrics()` (Dataflow's job metrics, the
local runner's live ones from runners/live_direct.py) and prints a line per
update: redrawn in place on a terminal, one line each otherwise (a log, a
pipe). A rate is over the last interval; after the run, one line with the
totals and the averages.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineState

from toolrm_beam.transforms.progress import COUNTERS, NAMESPACE


def read_counters(result) -> dict[str, int]:
    """{counter name: value} of the progress counters, summed over the steps that count into them."""
    found = result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))
    totals: dict[str, int] = {}
    for item in found["counters"]:
        value = item.attempted if item.attempted is not None else item.committed
        totals[item.key.metric.name] = totals.get(item.key.metric.name, 0) + int(value or 0)
    return totals


def _stage_name(counter: str) -> str:
    return counter.split(".", 1)[0]


def format_line(elapsed: float, counts: dict[str, int], rates: dict[str, float] | None) -> str:
    parts = []
    for counter, what in COUNTERS:
        value = counts.get(counter, 0)
        rate = rates.get(counter) if rates is not None else None
        text = f"{_stage_name(counter)} {value:,} {what}"
        if rate:
            text += f" ({rate:,.0f}/s)"
        parts.append(text)
    return f"[{elapsed:7.0f} s] " + " | ".join(parts)


class ProgressPrinter:
    """Call with a running pipeline's result; prints progress until it ends (then returns)."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self._stream = stream if stream is not None else sys.stderr
        self._every = every_s
        self._clock = clock
        self._sleep = sleep
        isatty = getattr(self._stream, "isatty", None)
        self._redraw = bool(isatty and isatty())

    def _write(self, line: str, final: bool = False) -> None:
        if self._redraw:
            self._stream.write("\r\x1b[K" + line + ("\n" if final else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def _poll(self, result, seen: dict[str, int]) -> dict[str, int]:
        try:
            current = read_counters(result)
        except Exception:  # noqa: BLE001 - a metrics service that does not answer this time
            return dict(seen)
        # Monotone: a bundle that just finished may be missed once by a live query.
        return {name: max(value, seen.get(name, 0)) for name, value in {**seen, **current}.items()}

    def __call__(self, result) -> None:
        started = last_time = self._clock()
        seen: dict[str, int] = {}
        next_line = started + self._every
        while not PipelineState.is_terminal(result.state):
            now = self._clock()
            if now < next_line:
                self._sleep(min(0.25, next_line - now))
                continue
            counts = self._poll(result, seen)
            interval = max(now - last_time, 1e-9)
            rates = {name: (value - seen.get(name, 0)) / interval for name, value in counts.items()}
            self._write(format_line(now - started, counts, rates))
            seen, last_time, next_line = counts, now, now + self._every
        elapsed = self._clock() - started
        counts = self._poll(result, seen) if result.state == PipelineState.DONE else seen
        averages = {name: value / elapsed for name, value in counts.items()} if elapsed > 0 else None
        self._write(format_line(elapsed, counts, averages) + f"  ({str(result.state).rsplit('.', 1)[-1].lower()})",
                    final=True)
