"""Did a finished job produce something worth using? Dead-letter shares per stage, and empty results.

A job that ran to the end can still have failed its user: every row
dead-lettered (a Seal-Tools file without its catalog's rows, a schema every
row breaks), or most of them. Such a job writes all its outputs (the dead
letters say why), then `toolrm` exits with status 1 and prints the top
reasons, and `refresh` does not publish it.

Per stage, the dead-letter share is the part of the stage's input records
that ended in its dead letter:
- ingest (per source): input rows dead-lettered / input rows;
- synthesize: examples that could not be read or whose candidates could not
  be made / examples read (an LLM request that failed after its retries is
  reported, not counted: its example still has its other candidates);
- score: dead letters (candidates that could not be read, joined, scored or
  selected, and unreadable example rows) / (candidates read + rows that failed to read).
A stage is unhealthy when its share exceeds `--max_dead_letter_fraction`
(default 0.5: more than half lost means the input, not some rows, is wrong),
when it had no input records, or (ingest) when it wrote nothing; a run (and
a refresh) also when it wrote no pairs.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, TextIO

DEFAULT_MAX_DEAD_LETTER_FRACTION = 0.5
EXIT_UNHEALTHY = 1


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_health_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max_dead_letter_fraction", type=fraction, default=DEFAULT_MAX_DEAD_LETTER_FRACTION,
                        help="exit with status 1 (after writing every output) when a stage dead-letters more than "
                             f"this share of its input records (default {DEFAULT_MAX_DEAD_LETTER_FRACTION})")


@dataclasses.dataclass
class StageHealth:
    stage: str
    records_in: int
    dead: int
    written: int | None = None              # ingest: rows written or de-duplicated
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    unit: str = "records"

    @property
    def share(self) -> float:
        return self.dead / self.records_in if self.records_in else 0.0


def stage_health(stage: str, manifest: dict[str, Any]) -> StageHealth:
    """Read a stage's health off its manifest (`stage` is ingest[:source], synthesize or score)."""
    counts = manifest["counts"]
    reasons = dict(counts.get("dead_letter_by_reason", {}))
    if stage.split(":")[0] == "ingest":
        return StageHealth(stage, counts["rows_in"], counts["rows_dead_letter"],
                           counts["rows_written"] + counts["rows_duplicate"], reasons, "rows")
    if stage == "synthesize":
        dead = counts.get("rows_dead_letter", 0) + counts.get("dead_letter_by_stage", {}).get("synthesize", 0)
        return StageHealth(stage, counts.get("rows_in", 0), dead, None, reasons, "examples")
    by_stage = counts.get("dead_letter_by_stage", {})
    dead = sum(reasons.values())
    return StageHealth(stage, counts.get("candidates_in", 0) + by_stage.get("read", 0), dead, None, reasons,
                       "candidates")


def problems(stages: list[StageHealth], max_fraction: float, *, pairs: int | None = None) -> list[str]:
    """What makes these stages' result unusable (empty when healthy). `pairs`: the run's pairs, if it makes any."""
    found = []
    starved = False  # once a stage wrote nothing, the empty stages after it say nothing new
    for health in stages:
        if health.records_in == 0:
            if not starved:
                found.append(f"{health.stage}: no input {health.unit}")
            starved = True
            continue
        if health.written == 0:
            starved = True
            found.append(f"{health.stage}: every one of {health.records_in} {health.unit} was dead-lettered; "
                         "nothing was written")
        elif health.share > max_fraction:
            found.append(f"{health.stage}: {health.dead} of {health.records_in} {health.unit} dead-lettered "
                         f"({health.share:.0%}), over --max_dead_letter_fraction {max_fraction:g}")
    if pairs == 0 and not found:
        found.append("no pairs were written")
    return found


def top_reasons(stages: list[StageHealth], limit: int = 5) -> list[tuple[str, str, int]]:
    """`(stage, reason, count)` of the most frequent dead-letter reasons."""
    every = [(health.stage, reason, count) for health in stages for reason, count in health.reasons.items()]
    return sorted(every, key=lambda item: (-item[2], item[0], item[1]))[:limit]


def report(command: str, found: list[str], stages: list[StageHealth], stream: TextIO | None = None) -> None:
    """The lines that say why a job exits unhealthy: its problems, then the top dead-letter reasons."""
    stream = stream or sys.stderr
    for problem in found:
        print(f"toolrm {command}: {problem}", file=stream)
    reasons = top_reasons(stages)
    if reasons:
        print(f"toolrm {command}: top dead-letter reasons:", file=stream)
        for stage, reason, count in reasons:
            print(f"    {count:>7}  {stage:22s} {reason}", file=stream)


def assess(command: str, stages: list[StageHealth], max_fraction: float, *, pairs: int | None = None,
           stream: TextIO | None = None) -> int:
    """Report and return the exit status: 0 when healthy, EXIT_UNHEALTHY otherwise."""
    found = problems(stages, max_fraction, pairs=pairs)
    if not found:
        return 0
    report(command, found, stages, stream)
    return EXIT_UNHEALTHY
