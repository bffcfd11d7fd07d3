"""Local worker processes started before the job graph (runners/prestarted_workers.py)."""
from __future__ import annotations

import os
import signal
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


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_run_on_two_workers_runs_in_the_prestarted_processes():
    """Both workers are children of the one process that imported the stages and forked them."""
    prestarted_workers.prestart(2)
    pool = prestarted_workers._started
    forker = pool.pid

    def where(_):
        import os
        import sys

        return os.getpid(), os.getppid(), "toolrm_beam.beam_pipelines.end_to_end" in sys.modules

    def in_the_pool(found):
        assert {parent for _, parent, _ in found} == {forker}, (found, forker)
        assert 1 <= len({pid for pid, _, _ in found}) <= 2 and forker not in {pid for pid, _, _ in found}, found
        assert all(preloaded for _, _, preloaded in found), found

    options = pipeline_options("direct", ["--direct_num_workers", "2"])
    with beam.Pipeline(runner=make_runner("direct"), options=options) as pipeline:
        assert_that(pipeline | beam.Create(range(16)) | beam.Map(where), in_the_pool)
    assert prestarted_workers._started is None  # taken by the run
    assert not _group_alive(forker)  # the forking process and both workers are gone
    assert not os.path.exists(pool.folder)


def test_a_run_whose_prestarted_workers_died_starts_its_own():
    """`attach` finds no worker to hand the job to and becomes the ordinary harness."""
    prestarted_workers.prestart(2)
    pool = prestarted_workers._started
    os.killpg(pool.pid, signal.SIGKILL)
    pool._process.wait()
    options = pipeline_options("direct", ["--direct_num_workers", "2"])
    with beam.Pipeline(runner=make_runner("direct"), options=options) as pipeline:
        total = pipeline | beam.Create(range(10)) | beam.CombineGlobally(sum)
        assert_that(total, lambda found: found == [45] or pytest.fail(str(found)))


def test_a_pool_of_another_size_is_replaced():
    prestarted_workers.prestart(1)
    first = prestarted_workers._started
    first_process = first._process
    taken = prestarted_workers.take(2)
    try:
        assert taken is not first and taken.count == 2
        assert first_process.wait(timeout=60) is not None and not _group_alive(first_process.pid)
    finally:
        taken.close()


def test_waiting_workers_leave_when_the_pool_closes():
    pool = prestarted_workers.Pool(2, modules=())
    forker = pool.pid
    deadline = time.monotonic() + 60
    while len(os.listdir(pool.folder)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_alive(forker)
    pool.close()
    assert not _group_alive(forker)
    assert not os.path.exists(pool.folder)


def test_the_forking_process_leaves_without_interpreter_teardown(tmp_path, monkeypatch):
    """Once its workers are gone it exits at once: a run's command waits for it, and teardown frees nothing."""
    imported, torn_down = tmp_path / "imported", tmp_path / "torn-down"
    (tmp_path / "teardown_probe.py").write_text(
        f"import atexit\nopen({str(imported)!r}, 'w').close()\n"
        f"atexit.register(lambda: open({str(torn_down)!r}, 'w').close())\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    pool = prestarted_workers.Pool(1, modules=("teardown_probe",))
    process = pool._process
    deadline = time.monotonic() + 60
    while not imported.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert imported.exists()
    pool.close()
    assert process.returncode is not None and not _group_alive(process.pid)
    assert not torn_down.exists()


def test_attach_relays_the_status_of_a_harness_that_failed():
    """A harness that cannot start (no control endpoint) fails in the prestarted worker; attach says 1."""
    pool = prestarted_workers.Pool(1, modules=())
    try:
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("CONTROL_API_SERVICE_DESCRIPTOR", "LOGGING_API_SERVICE_DESCRIPTOR")}
        done = subprocess.run(pool.attach_command, shell=True, env=environment, cwd=REPO, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 1, done.stderr[-2000:]
        # The worker that took the job ran it and left; the forking process says a worker failed.
        assert pool._process.wait(timeout=60) == 1
    finally:
        pool.close()


def test_the_attach_process_imports_nothing_heavy():
    """It is what Beam starts per worker: its start must cost milliseconds, not Beam's import."""
    code = ("import sys, toolrm_beam.runners.prestarted_workers\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('apache_beam', 'pyarrow', 'numpy')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
