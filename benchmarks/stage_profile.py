"""Where a `toolrm` command's CPU goes: per runner stage, in the collector, and outside the stages.

    python benchmarks/stage_profile.py [--top 15] -- score --examples OUT/ingest --candidates OUT/synthesize \
        --output /tmp/scored

Runs the command in this process on the local runner (one process) and
prints, when it ends: the process's CPU time; the CPU time of each fused
runner stage (FnApiRunner's bundles, summed per stage; the longest first,
named by the steps fused into it); how many stages ran; and the CPU the
cyclic garbage collector took (gc.callbacks), under the thresholds the
`toolrm` command sets. What is left (process CPU minus stages) is
start-up: imports, building the graph, the runner's planning, and the
driver. This is how the score stage's time was located (README,
"Performance"); a sampling profiler (`py-spy record -f raw`) then shows what
inside the largest stage takes it.
"""
from __future__ import annotations

import argparse
import collections
import gc
import re
import sys
import time

from apache_beam.runners.portability.fn_api_runner import fn_runner

from toolrm_beam.runners import cli, worker_setup


def _steps(stage_name: str) -> str:
    """The readable step names of a fused stage's name."""
    names = re.findall(r"ref_AppliedPTransform_([A-Za-z0-9_\-]+?)_\d+|\(([A-Za-z][^()+]*?/(?:Read|Write)[^()]*)\)",
                       stage_name)
    return " + ".join(a or b for a, b in names) or stage_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="stages to list")
    parser.add_argument("--width", type=int, default=160, help="characters of each stage's steps to print")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then a toolrm command and its options")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a toolrm command after --")

    stage_cpu: dict[str, float] = collections.defaultdict(float)
    execute_bundle = fn_runner.FnApiRunner._execute_bundle

    def timed_bundle(self, runner_execution_context, bundle_context_manager, bundle_input):
        started = time.thread_time()
        try:
            return execute_bundle(self, runner_execution_context, bundle_context_manager, bundle_input)
        finally:
            stage_cpu[bundle_context_manager.stage.name] += time.thread_time() - started

    collecting = {"cpu": 0.0, "started": 0.0, "full": 0}

    def on_collect(phase, info):
        if phase == "start":
            collecting["started"] = time.thread_time()
        else:
            collecting["cpu"] += time.thread_time() - collecting["started"]
            collecting["full"] += info["generation"] == 2

    fn_runner.FnApiRunner._execute_bundle = timed_bundle
    gc.set_threshold(*worker_setup.GC_THRESHOLDS)
    gc.callbacks.append(on_collect)
    started = time.process_time()
    try:
        code = cli.main(command)
    finally:
        fn_runner.FnApiRunner._execute_bundle = execute_bundle
        gc.callbacks.remove(on_collect)
    total = time.process_time() - started
    in_stages = sum(stage_cpu.values())
    print(f"\n{' '.join(command[:1])}: {total:.2f} s CPU (after this script's imports), {in_stages:.2f} s in "
          f"{len(stage_cpu)} runner stages, {total - in_stages:.2f} s outside them; garbage collector "
          f"{collecting['cpu']:.2f} s ({collecting['full']} full collections)")
    for name, seconds in sorted(stage_cpu.items(), key=lambda item: -item[1])[:args.top]:
        print(f"  {seconds:7.2f} s  {_steps(name)[:args.width]}")
    return code


if __name__ == "__main__":
    sys.exit(main())
