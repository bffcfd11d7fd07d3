"""Beam's local runner (FnApiRunner), started in the background with counters readable while it runs.

`FnApiRunner.run_pipeline` returns only when the pipeline is done, and its
result holds the metrics of finished bundles only; a stage is one bundle per
worker, so a driver asking "how far along is this run?" would hear nothing
until the end. `LiveDirectRunner` is that runner with three changes:

- `run_pipeline` starts the run in a thread and returns a `LiveResult` at
  once (state RUNNING, then DONE or FAILED; `wait_until_finish` blocks and
  re-raises a failure), as Dataflow's and the portable runner's results do;
- `LiveResult.metrics()` answers while the run goes: the monitoring infos of
  finished bundles, plus those of the bundles in flight, which it asks the
  workers for with the Fn API's own progress request
  (`ProcessBundleProgressRequest`: what a runner sends its SDK workers to
  learn a bundle's progress), in-process and multi-process workers alike;
- when a bundle ends, the memory it freed goes back to the OS
  (`release_freed_memory`), so the next stage does not start from its peak;
- in `multi_processing` mode its workers are processes started before the
  graph was built, which have imported Beam and the stages by the time the
  first stage runs (runners/prestarted_workers.py).

Everything else (fusion, execution, the final result) is FnApiRunner's own.
The hooks (`_execute_bundle`, bundle ids `bundle_<n>`) are FnApiRunner
internals of the pinned apache-beam; tests/test_progress.py checks them.
"""
from __future__ import annotations

import ctypes
import itertools
import threading
from typing import Any

from apache_beam.metrics.monitoring_infos import consolidate, is_user_monitoring_info
from apache_beam.options.pipeline_options import SetupOptions
from apache_beam.options.pipeline_options_context import scoped_pipeline_options
from apache_beam.portability import python_urns
from apache_beam.portability.api import beam_fn_api_pb2
from apache_beam.runners.portability.fn_api_runner import fn_runner
from apache_beam.runners.runner import PipelineResult, PipelineState

from toolrm_beam.runners import prestarted_workers


PROGRESS_TIMEOUT_S = 2.0


class _InFlight:
    """Finished bundles' monitoring infos, and where the bundles now running can be asked for theirs."""

    def __init__(self):
        self._lock = threading.Lock()
        self._finished: list = []
        self._running: dict[int, tuple[list, int]] = {}  # token -> (worker handlers, first bundle number)
        self._tokens = itertools.count()

    def begin(self, handlers: list, first_bundle: int) -> int:
        with self._lock:
            token = next(self._tokens)
            self._running[token] = (list(handlers), first_bundle)
        return token

    def end(self, token: int, monitoring_infos) -> None:
        # User metrics only (what `metrics()` answers with): the system ones are many per bundle.
        user = [info for info in monitoring_infos if is_user_monitoring_info(info)]
        with self._lock:
            self._running.pop(token, None)
            if user:
                self._finished = list(consolidate(itertools.chain(self._finished, user)))

    def metrics(self) -> fn_runner.FnApiMetrics:
        # Running bundles first, then finished ones: a bundle that ends in
        # between is missed once (the count dips), never counted twice.
        with self._lock:
            running = list(self._running.items())
        live = []
        last_bundle = fn_runner.BundleManager._uid_counter
        for token, (handlers, first) in running:
            for handler in handlers:
                for number in range(first, last_bundle + 1):
                    with self._lock:
                        if token not in self._running:  # the stage ended: its workers may be gone
                            break
                    live += [info for info in _bundle_progress(handler, f"bundle_{number}")
                             if is_user_monitoring_info(info)]
        with self._lock:
            finished = list(self._finished)
        return fn_runner.FnApiMetrics({"": list(consolidate(itertools.chain(finished, live)))})


def _bundle_progress(handler: Any, instruction_id: str) -> list:
    """Monitoring infos of one running bundle; none when that worker does not run it (any more)."""
    request = beam_fn_api_pb2.InstructionRequest(
        process_bundle_progress=beam_fn_api_pb2.ProcessBundleProgressRequest(instruction_id=instruction_id))
    try:
        # A worker that stops between the question and the answer never answers: do not wait for it.
        response = handler.control_conn.push(request).get(timeout=PROGRESS_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a worker shutting down, or no answer in time: no progress from it now
        return []
    if response.error:
        return []
    return list(response.process_bundle_progress.monitoring_infos)


class LiveResult(PipelineResult):
    """The result of a run still going: its state, live metrics, and `wait_until_finish`."""

    def __init__(self, in_flight: _InFlight):
        super().__init__(PipelineState.RUNNING)
        self._in_flight = in_flight
        self._done = threading.Event()
        self._final: PipelineResult | None = None
        self._error: BaseException | None = None

    def _finish(self, final: PipelineResult) -> None:
        self._final = final
        self._state = final.state
        self._done.set()

    def _fail(self, error: BaseException) -> None:
        self._error = error
        self._state = PipelineState.FAILED
        self._done.set()

    def wait_until_finish(self, duration: int | None = None):
        """Block until the run ends (or `duration` milliseconds, Beam's unit); re-raise its failure."""
        self._done.wait(None if duration is None else duration / 1000.0)
        if self._error is not None:
            raise self._error
        return self._state

    def metrics(self):
        return self._final.metrics() if self._final is not None else self._in_flight.metrics()

    def monitoring_metrics(self):
        if self._final is None:
            raise RuntimeError("monitoring metrics are available once the run is done")
        return self._final.monitoring_metrics()

    def cancel(self):
        raise NotImplementedError("the local runner cannot cancel a run")


def _give_workers_their_plugins(provision_info, options) -> None:
    """Hand `--beam_plugins` to the worker processes of `multi_processing` mode.

    The FnApiRunner starts them with empty pipeline options (its provision info
    carries none), so they would not import the modules every other runner's
    workers import at start (runners/worker_setup.py). Only this option is
    passed: the others keep their meaning in this process alone, as before.
    """
    plugins = options.view_as(SetupOptions).beam_plugins
    if plugins:
        provision_info.pipeline_options.update({"beam:option:beam_plugins:v1": list(plugins)})


def _use_prestarted_workers(pipeline_proto, count: int):
    """Point the job's `multi_processing` worker environment at prestarted workers; the pool, or None.

    Only the environment FnApiRunner made for `direct_running_mode=multi_processing`
    (its own harness command) is changed; any other is left as the pipeline has it.
    """
    default = prestarted_workers.default_harness_command().encode()
    environments = [environment for environment in pipeline_proto.components.environments.values()
                    if environment.urn == python_urns.SUBPROCESS_SDK and environment.payload == default]
    pool = prestarted_workers.take(count) if environments else None
    if pool is None:
        return None
    for environment in environments:
        environment.payload = pool.attach_command.encode()
    return pool


class LiveDirectRunner(fn_runner.FnApiRunner):
    """FnApiRunner that runs in the background and reports counters of bundles still running."""

    _in_flight: _InFlight | None = None

    def run_pipeline(self, pipeline, options) -> LiveResult:
        _give_workers_their_plugins(self._provision_info.provision_info, options)
        in_flight = _InFlight()
        result = LiveResult(in_flight)
        self._in_flight = in_flight

        def target():
            try:
                with scoped_pipeline_options(options):  # what Pipeline.run sets, for this thread
                    result._finish(fn_runner.FnApiRunner.run_pipeline(self, pipeline, options))
            except BaseException as error:  # noqa: BLE001 - handed to whoever waits on the result
                result._fail(error)

        threading.Thread(target=target, name="toolrm-local-runner", daemon=True).start()
        return result

    def run_via_runner_api(self, pipeline_proto, options):
        pool = _use_prestarted_workers(pipeline_proto, self._num_workers)
        try:
            return super().run_via_runner_api(pipeline_proto, options)
        finally:
            if pool is not None:
                pool.close()

    def _execute_bundle(self, runner_execution_context, bundle_context_manager, bundle_input):
        try:
            return self._execute_counted(runner_execution_context, bundle_context_manager, bundle_input)
        finally:
            release_freed_memory()

    def _execute_counted(self, runner_execution_context, bundle_context_manager, bundle_input):
        in_flight = self._in_flight
        if in_flight is None:  # run_via_runner_api called directly
            return super()._execute_bundle(runner_execution_context, bundle_context_manager, bundle_input)
        token = in_flight.begin(bundle_context_manager.worker_handlers, fn_runner.BundleManager._uid_counter + 1)
        infos = []
        try:
            response = super()._execute_bundle(runner_execution_context, bundle_context_manager, bundle_input)
            infos = response.process_bundle.monitoring_infos
            return response
        finally:
            in_flight.end(token, infos)


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; absent from musl and macOS
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Hand the heap pages freed so far back to the OS (glibc's `malloc_trim`; elsewhere nothing).

    Each stage of the local runner frees its input and outputs when it ends,
    but glibc keeps the freed pages mapped: without this, every stage starts
    from the resident size of the largest before it (at 14,560 examples, the
    last stage started 200 MiB higher; the peak was 84 MiB lower with it).
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
