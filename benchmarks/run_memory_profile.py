"""Where a `toolrm run`'s memory goes on the DirectRunner: per fused stage, what the runner holds.

    python benchmarks/run_memory_profile.py [--examples 5000] [--top 25] [--json FILE] [--trace STAGE] [-- toolrm run options]

Runs `toolrm run` in this process (one worker, the FnApiRunner the
DirectRunner uses for batch) on the shared corpora scaled to about
`--examples` examples (benchmarks/pipeline_throughput.py's copies), and
records for every bundle the runner executes: the stage, its input (encoded
bytes and elements, per input PCollection; a grouping step's input counted
once grouped), what the runner still holds after it (every buffer waiting for
a later stage, and the side inputs kept in its state), and the process's
resident memory before, after and at its peak during the bundle (sampled
from /proc every 20 ms), and the peak of what Arrow's memory pool held. It prints the bundles that held or read the most
and, as its last line, one JSON object. Run it at two sizes and compare: what
grows with the input shows up as a buffer that grows with it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import tracemalloc
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's helpers
from pipeline_throughput import CORPORA, SOURCES, corpora_args, scaled_corpora  # noqa: E402

BASE_EXAMPLES = 2912  # unique examples of the shared corpora (what one copy gives)


def rss_mib() -> float:
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:")) / 1024


class PeakSampler:
    """The process's peak resident memory since the last `reset`, sampled on a thread; while
    tracemalloc traces, also a snapshot of the Python allocations near their peak."""

    def __init__(self, every_s: float = 0.02):
        self._every = every_s
        self.peak = 0.0
        self.arrow_peak = 0.0  # bytes Arrow's memory pool had allocated (MiB): not in tracemalloc
        self.series: list[tuple[float, int, int]] = []  # (seconds into the bundle, RSS, Arrow) MiB
        self._since = time.perf_counter()
        self.snapshot = None
        self._snapshot_at = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import pyarrow
        ticks = 0
        while not self._stop.wait(self._every):
            ticks += 1
            with self._lock:  # not across a reset: a bundle's peak is not the one before's
                rss, arrow = rss_mib(), pyarrow.total_allocated_bytes() / 2**20
                self.peak = max(self.peak, rss)
                self.arrow_peak = max(self.arrow_peak, arrow)
                if ticks % 50 == 0:  # about every second: how memory moves through a long bundle
                    self.series.append((round(time.perf_counter() - self._since, 1), round(rss), round(arrow)))
            if tracemalloc.is_tracing():
                current = tracemalloc.get_traced_memory()[0]
                if current > self._snapshot_at * 1.05 + (1 << 20):
                    self.snapshot = tracemalloc.take_snapshot()
                    self._snapshot_at = current

    def trace(self, on: bool):
        if on:
            self.snapshot, self._snapshot_at = None, 0
            tracemalloc.start(4)
        else:
            tracemalloc.stop()

    def reset(self) -> float:
        with self._lock:
            self.peak = rss_mib()
            self.arrow_peak = 0.0
            self.series = []
            self._since = time.perf_counter()
            return self.peak

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()


def buffer_size(buffer) -> tuple[int, int]:
    """(encoded bytes, chunks or values) a runner buffer holds; a grouping buffer counted as grouped
    once it is, and by its values (Python objects, not yet encoded) before."""
    from apache_beam.runners.portability.fn_api_runner.execution import GroupingBuffer, ListBuffer
    if isinstance(buffer, ListBuffer):
        return sum(len(b) for b in buffer._inputs), len(buffer._inputs)
    if isinstance(buffer, GroupingBuffer):
        if buffer._grouped_output:
            return sum(len(b) for part in buffer._grouped_output for b in part), len(buffer._grouped_output)
        return -1, sum(len(v) for v in buffer._table.values())
    return 0, 0


def held_buffers(context) -> dict[str, tuple[int, int]]:
    """Every buffer a stage waits for: (stage <- input) -> (bytes, chunks/values)."""
    held: dict[str, tuple[int, int]] = {}
    queues = context.queues
    for queue in (queues.ready_inputs, queues.watermark_pending_inputs, queues.time_pending_inputs):
        for key, data_input in list(queue._q):
            stage = key[0] if isinstance(key, tuple) else key
            for transform, buffer in data_input.data.items():
                held[f"{stage} <- {transform}"] = buffer_size(buffer)
    return held


def state_bytes(context) -> int:
    """Bytes in the runner's state (side inputs committed for later stages, user state)."""
    servicer = context.worker_handler_manager.state_servicer
    state = servicer._state
    state = getattr(state, "_underlying", state)
    return sum(len(chunk) for chunks in list(state.values()) for chunk in chunks)


def top_allocations(snapshot, count: int = 20) -> list[str]:
    """The lines of code holding the most of a tracemalloc snapshot (4 frames each)."""
    stats = snapshot.statistics("traceback")
    total = sum(stat.size for stat in stats)
    lines = [f"traced {total / 2**20:.1f} MiB at the sampled peak"]
    for stat in stats[:count]:
        frames = " > ".join(f"{os.path.basename(f.filename)}:{f.lineno}" for f in stat.traceback)
        lines.append(f"{stat.size / 2**20:8.1f} MiB {stat.count:>9} blocks  {frames}")
    lines.append("by file (allocating line's file):")
    for stat in snapshot.statistics("filename")[:count]:
        lines.append(f"{stat.size / 2**20:8.1f} MiB {stat.count:>9} blocks  {stat.traceback[0].filename}")
    return lines


def install(records: list[dict], sampler: PeakSampler, trace: str | None = None):
    """Wrap FnApiRunner._execute_bundle to record each bundle (and trace the stages named `trace`)."""
    from apache_beam.runners.portability.fn_api_runner import fn_runner

    original = fn_runner.FnApiRunner._execute_bundle

    def execute(self, context, bundle_context_manager, bundle_input):
        stage = bundle_context_manager.stage.name
        traced = bool(trace) and trace in stage
        if traced:
            sampler.trace(True)
        before = sampler.reset()
        started = time.perf_counter()
        result = original(self, context, bundle_context_manager, bundle_input)
        if traced:
            snapshot = sampler.snapshot
            sampler.trace(False)
            if snapshot is not None:
                print(f"-- tracemalloc of {stage[:200]}", *top_allocations(snapshot), sep="\n", file=sys.stderr)
        inputs = {transform: buffer_size(buffer) for transform, buffer in bundle_input.data.items()}
        held = held_buffers(context)
        records.append({
            "stage": stage, "seconds": round(time.perf_counter() - started, 2),
            "rss_before_mib": round(before, 1), "rss_peak_mib": round(sampler.peak, 1),
            "rss_after_mib": round(rss_mib(), 1), "arrow_peak_mib": round(sampler.arrow_peak, 1),
            "input_bytes": sum(max(b, 0) for b, _ in inputs.values()),
            "inputs": {t: {"bytes": b, "items": n} for t, (b, n) in inputs.items()},
            "held_bytes": sum(max(b, 0) for b, _ in held.values()),
            "held": {k: {"bytes": b, "items": n} for k, (b, n) in held.items() if b or n},
            "state_bytes": state_bytes(context), "series": sampler.series})
        return result

    fn_runner.FnApiRunner._execute_bundle = execute


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=BASE_EXAMPLES, help="about this many examples")
    parser.add_argument("--corpora", default=CORPORA)
    parser.add_argument("--work", help="folder for the scaled corpora and the output (default: temporary)")
    parser.add_argument("--top", type=int, default=25, help="bundles to print")
    parser.add_argument("--json", help="write every bundle's record here")
    parser.add_argument("--trace", help="tracemalloc the stages whose name holds this (slower); prints what "
                                        "held the most near each one's peak, on stderr")
    args, run_args = parser.parse_known_args(argv)
    work = args.work or tempfile.mkdtemp(prefix="run-memory-")
    corpora_dir = os.path.join(work, f"corpora-{args.examples}")
    if args.examples == BASE_EXAMPLES:
        corpora = [(source, os.path.join(args.corpora, folder, pattern)) for source, folder, pattern in SOURCES]
    elif os.path.isdir(corpora_dir):
        corpora = [(source, os.path.join(corpora_dir, folder, pattern)) for source, folder, pattern in SOURCES]
    else:
        corpora = scaled_corpora(args.corpora, corpora_dir, args.examples, BASE_EXAMPLES)
    records: list[dict] = []
    from toolrm_beam.runners import cli
    with PeakSampler() as sampler:
        install(records, sampler, args.trace)
        started = rss_mib()
        began = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            code = cli.main(["run", "--quiet", "--output", os.path.join(work, f"out-{args.examples}"),
                             *corpora_args(corpora), *[a for a in run_args if a != "--"]])
        seconds = time.perf_counter() - began
    if code:
        print(f"toolrm run exited {code}", file=sys.stderr)
        return code
    with open(os.path.join(work, f"out-{args.examples}", "manifest.json")) as handle:
        counts = json.load(handle)["counts"]
    peak = max(r["rss_peak_mib"] for r in records)
    print(f"{'stage':60s} {'s':>6} {'in MiB':>8} {'held MiB':>9} {'state':>6} {'arrow':>6} {'rss peak':>9} {'after':>7}")
    by_peak = sorted(records, key=lambda r: -max(r["input_bytes"], r["held_bytes"]))[:args.top]
    for r in sorted(by_peak, key=records.index):
        print(f"{r['stage'][:60]:60s} {r['seconds']:6.1f} {r['input_bytes'] / 2**20:8.1f} "
              f"{r['held_bytes'] / 2**20:9.1f} {r['state_bytes'] / 2**20:6.1f} {r['arrow_peak_mib']:6.0f} "
              f"{r['rss_peak_mib']:9.0f} "
              f"{r['rss_after_mib']:7.0f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"examples": counts["examples_in"], "bundles": records}, handle, indent=1)
    most_held = max(records, key=lambda r: r["held_bytes"])
    print(json.dumps({"examples": counts["examples_in"], "candidates": counts["candidates_in"],
                      "pairs": counts["pairs"], "seconds": round(seconds, 1), "rss_start_mib": round(started, 1),
                      "peak_rss_mib": peak, "bundles": len(records),
                      "max_held_mib": round(most_held["held_bytes"] / 2**20, 1), "max_held_after": most_held["stage"],
                      "max_input_mib": round(max(r["input_bytes"] for r in records) / 2**20, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
