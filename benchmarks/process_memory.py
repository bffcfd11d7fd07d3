"""Wall time and peak resident memory of a command's whole process tree, sampled from /proc.

The kernel's rusage of a child counts the pages it shared with this (large)
process before exec, and misses the worker processes a multi-process Beam run
starts: summing VmRSS over the tree every 0.1 s gives what the machine holds.
"""
from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import time


def tree_rss_mib(root: int) -> float:
    """Resident memory of a process and all its descendants, from /proc (MiB)."""
    total, stack, seen = 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/status") as handle:
                total += next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def children_cpu_s() -> float:
    """User + system CPU seconds of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_sampled(command: list[str], *, cwd: str | None = None, env: dict | None = None,
                what: str = "command", log_path: str | None = None) -> tuple[float, float]:
    """Run `command`; (wall seconds, peak MiB of its process tree). Raises with its stderr tail if it fails.

    `children_cpu_s()` before and after gives the CPU time it used, worker processes included.
    With `log_path`, its stderr (progress lines, say) goes to that file as it runs.
    """
    with (open(log_path, "w+b") if log_path else tempfile.TemporaryFile()) as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, tree_rss_mib(process.pid))
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            log.seek(0)
            raise RuntimeError(f"{what} failed ({process.returncode}): {log.read().decode()[-3000:]}")
    return seconds, peak
