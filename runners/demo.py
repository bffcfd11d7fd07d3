"""`make demo`: run the ingest pipeline on every bundled sample corpus.

    python -m runners.demo --output out
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from runners.cli import _print_ingest_summary

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "samples")
# (adapter, sample folder, glob inside it)
BUNDLED = (
    ("seal_tools", "seal_tools", "*"),
    ("acebench", "acebench_en", "*.json"),
    ("bfcl", "bfcl_live_sample", "*.json"),
)


def main(argv: list[str] | None = None) -> int:
    from beam_pipelines import ingest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="out")
    args, beam_args = parser.parse_known_args(argv)
    totals = {"rows_in": 0, "rows_written": 0, "rows_duplicate": 0, "rows_dead_letter": 0, "examples_out": 0}
    started = time.monotonic()
    for source, folder, pattern in BUNDLED:
        output = os.path.join(args.output, "ingest", source)
        step = time.monotonic()
        manifest = ingest.run(["--source", source, "--input", os.path.join(SAMPLES, folder, pattern),
                               "--output", output, *beam_args])
        _print_ingest_summary(manifest, output, time.monotonic() - step)
        for key in totals:
            totals[key] += manifest["counts"][key]
        print()
    print(f"demo: {totals['rows_in']} rows in, {totals['examples_out']} examples written, "
          f"{totals['rows_duplicate']} duplicate rows, {totals['rows_dead_letter']} dead-lettered "
          f"({time.monotonic() - started:.1f} s); shards under {os.path.join(args.output, 'ingest')}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
