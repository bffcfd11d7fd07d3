"""Process settings for every Beam SDK worker that runs this project's stages.

Beam imports the modules named by `--beam_plugins` when a worker process
starts, before it runs a bundle (`apache_beam/runners/worker/sdk_worker_main.py`);
`presets.pipeline_options` names this one for every runner (and
`live_direct.LiveDirectRunner` hands it to the local `multi_processing`
workers, which get no pipeline options from Beam's FnApiRunner). Worker
processes run Beam's harness, not the `toolrm` command, so they do not get
the settings `cli.console_main` makes for the command's own process. (The
local runner's prestarted workers, runners/prestarted_workers.py, import this
module while they wait and leave the same way once their harness returns.)
"""
from __future__ import annotations

import atexit
import gc
import os
import sys

# The cyclic collector's thresholds. With the defaults (700, 10, 10) a `toolrm score` of the shared
# corpora spent 2.3-4 s of its ~25 s CPU collecting (gc.callbacks): records are many small dicts, and
# every few hundred of them the collector walked the young generation, every 100 collections the
# whole heap (Beam's graph, protos and buffers included).
GC_THRESHOLDS = (10_000, 20, 20)

HARNESS_MODULE = "apache_beam.runners.worker.sdk_worker_main"

# The longest a Beam state sampler sleeps between samples, in ms (Beam's default: 200). A bundle's end
# waits for its sampler thread to wake (`StateSampler.stop` joins it), and the sleep grows by 1.2x per
# sample up to this cap: with 200, every bundle longer than about a second ended with a wait of up to
# 200 ms, and the local runner runs a stage's bundles side by side and the next stage only after the
# slowest. With 20 ms, a two-worker `toolrm run` on the shared corpora took 0.33 s less (mean of four
# alternating pairs, 14.9 -> 14.6 s); a sample every 20 ms of a long bundle is negligible work.
STATE_SAMPLING_PERIOD_MS = 20


def apply() -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    if "apache_beam" in sys.modules:  # a worker: Beam imports its plugins after itself
        prompt_state_sampler()
    if _in_a_harness_process():
        atexit.register(_exit_without_teardown)


def prompt_state_sampler() -> None:
    """Cap the state sampler's sleep at STATE_SAMPLING_PERIOD_MS for bundles run in this process.

    Beam has no option for it: the period is the default argument of
    `StateSampler.__init__`, which the bundle processor leaves out. Changed only
    while it is still Beam's own default (`DEFAULT_SAMPLING_PERIOD_MS`), so a
    Beam whose sampler differs is left as it is.
    The command's process calls this once it has imported Beam (bundles run
    in it on the in-process and loopback runners).
    """
    from apache_beam.runners.worker import statesampler

    init = statesampler.StateSampler.__init__
    if init.__defaults__ == (getattr(statesampler, "DEFAULT_SAMPLING_PERIOD_MS", None),):
        init.__defaults__ = (STATE_SAMPLING_PERIOD_MS,)


def _in_a_harness_process() -> bool:
    """True in a process Beam started to run `sdk_worker_main` (not where a harness runs in-process)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == HARNESS_MODULE


def _exit_without_teardown() -> None:
    """The last exit step of a harness process: leave without tearing the interpreter down.

    The harness has returned (its bundles done, its DoFns torn down, its log
    channel closed; streams are flushed here) and the exit functions
    registered after this one (at worker start) have run: what is skipped is
    the earlier ones' and freeing the heap object by object, which took a worker of a whole run on
    the shared corpora about 1.2 s, and the local runner waits for each of its
    workers in turn before a run returns. An exception that ended the harness
    keeps exit status 1.
    """
    leave(1 if hasattr(sys, "last_value") else 0)


def leave(code: int) -> None:
    """Flush stdout and stderr, then end the process with `code` at once (no interpreter teardown)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


apply()
