"""Local worker processes started before the job graph (runners/prestarted_workers.py)."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import DirectOptions
from apache_beam.testing.util import assert_that

from toolrm_beam.runners import prestarted_workers
from toolrm_beam.runners.presets import make_runner, pipeline_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def no_pool_left_behind():
    yield
    leftover = prestarted_workers._started
    prestarted_workers._started = None
    if leftover is not None:
        leftover.close()


@pytest.mark.parametrize("args", [
    [], ["--direct_num_workers", "2"], ["--direct_num_workers=2", "--direct_running_mode", "multi_processing"],
    ["--direct_running_mode", "multi_processing"], ["--direct_num_workers", "0", "--direct_running_mode=multi_processing"],
    ["--direct_num_workers", "3", "--direct_running_mode", "multi_threading"], ["--direct_num_workers", "1"],
    ["--runner", "portable", "--direct_num_workers", "2"], ["--runner", "dataflow", "--direct_num_workers", "2"],
    ["--output", "out", "--direct_num_workers", "2", "--source", "xlam"]])
def test_the_worker_count_read_before_beam_is_imported_matches_what_the_runner_does(args):
    """The command reads the count from its flags alone; it must be what the local runner will start."""
    runner = "direct"
    if "--runner" in args:
        runner = args[args.index("--runner") + 1]
    beam_args = [a for a in args if a not in ("--runner", runner, "--output", "out", "--source", "xlam")]
    expected = 0
    if runner == "direct":
        direct = pipeline_options("direct", beam_args).view_as(DirectOptions)
        workers = direct.direct_num_workers
        workers = os.cpu_count() if workers == 0 else workers
        expected = workers if direct.direct_running_mode == "multi_processing" else 0
    assert prestarted_workers.local_worker_processes(args) == expected


def test_a_run_on_two_workers_runs_in_the_prestarted_processes():
    prestarted_workers.prestart(2)
    pool = prestarted_workers._started
    started = {process.pid for process in pool._processes}

    def where(_):
        import os
        import sys

        return os.getpid(), "toolrm_beam.beam_pipelines.end_to_end" in sys.modules

    def in_the_pool(found):
        assert {pid for pid, _ in found} <= started and len({pid for pid, _ in found}) >= 1, (found, started)
        assert all(preloaded for _, preloaded in found), found

    options = pipeline_options("direct", ["--direct_num_workers", "2"])
    with beam.Pipeline(runner=make_runner("direct"), options=options) as pipeline:
        assert_that(pipeline | beam.Create(range(16)) | beam.Map(where), in_the_pool)
    assert prestarted_workers._started is None  # taken by the run
    assert all(process.poll() is not None for process in pool._processes) or not pool._processes
    assert not os.path.exists(pool.folder)


def test_a_run_whose_prestarted_workers_died_starts_its_own():
    """`attach` finds no worker to hand the job to and becomes the ordinary harness."""
    prestarted_workers.prestart(2)
    pool = prestarted_workers._started
    for process in pool._processes:
        process.kill()
        process.wait()
    options = pipeline_options("direct", ["--direct_num_workers", "2"])
    with beam.Pipeline(runner=make_runner("direct"), options=options) as pipeline:
        total = pipeline | beam.Create(range(10)) | beam.CombineGlobally(sum)
        assert_that(total, lambda found: found == [45] or pytest.fail(str(found)))


def test_a_pool_of_another_size_is_replaced():
    prestarted_workers.prestart(1)
    first = prestarted_workers._started
    taken = prestarted_workers.take(2)
    try:
        assert taken is not first and taken.count == 2
        assert all(process.wait(timeout=60) is not None for process in first._processes)
    finally:
        taken.close()


def test_a_waiting_worker_leaves_when_the_pool_closes():
    pool = prestarted_workers.Pool(1, modules=())
    process = pool._processes[0]
    deadline = time.monotonic() + 60
    while not os.listdir(pool.folder) and time.monotonic() < deadline:
        time.sleep(0.05)
    pool.close()
    assert process.poll() is not None
    assert not os.path.exists(pool.folder)


def test_attach_relays_the_status_of_a_harness_that_failed():
    """A harness that cannot start (no control endpoint) fails in the prestarted worker; attach says 1."""
    pool = prestarted_workers.Pool(1, modules=())
    try:
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("CONTROL_API_SERVICE_DESCRIPTOR", "LOGGING_API_SERVICE_DESCRIPTOR")}
        done = subprocess.run(pool.attach_command, shell=True, env=environment, cwd=REPO, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 1, done.stderr[-2000:]
        assert pool._processes[0].wait(timeout=60) == 1  # the worker that took the job ran it and left
    finally:
        pool.close()


def test_the_attach_process_imports_nothing_heavy():
    """It is what Beam starts per worker: its start must cost milliseconds, not Beam's import."""
    code = ("import sys, toolrm_beam.runners.prestarted_workers\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('apache_beam', 'pyarrow', 'numpy')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
