"""Local SDK worker processes started before the job graph is built.

In `multi_processing` mode Beam's FnApiRunner starts each worker process
(`python -m apache_beam.runners.worker.sdk_worker_main`) when the first stage
runs, and every stage waits while the worker imports Beam (about 2.5 s here)
and then the project's modules as it unpickles the first DoFns (about 1 s).
By then the command's own process has spent 5-7 s alone importing Beam,
checking the inputs, building a graph of about a thousand transforms and
translating it, while the second core idled.

A `Pool` starts its worker processes as soon as the command knows it will
run local multi-process workers (`cli.main`, from the flags alone): one
process imports the harness and the project's stages once, then forks the
workers, each of which waits on a Unix socket of its own. One import instead
of one per worker: while the command builds the job on one core, the imports
take the other, not both (on two cores, three importing processes slowed the
build by about a third). The local runner (`live_direct.LiveDirectRunner`) points the
pipeline's subprocess environment at `attach`: the command Beam starts for a
worker becomes a small process (standard library only) that hands its
environment (control and logging endpoints, pipeline options, worker id) to a
waiting worker, which runs the harness exactly as `sdk_worker_main` would,
then relays the exit status. Where no prestarted worker answers, `attach`
becomes the ordinary harness process (exec), so a pool that failed to start
costs nothing but the time it took.

Lifetimes: a waiting worker (and the forking process, which waits for its
workers) exits when its stdin (a pipe from the command's process) closes, so
none outlives the command; an attached worker exits when its `attach`
process goes (Beam kills that one when it gives up on a worker). The pool's
processes are a process group of their own, which `close` kills if they
have not left in time.
`TOOLRM_PRESTARTED_WORKERS=0` turns all of this off (Beam starts its workers
itself, as before).
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading

HARNESS_MODULE = "apache_beam.runners.worker.sdk_worker_main"
MODULE = "toolrm_beam.runners.prestarted_workers"
# What a prestarted worker imports while it waits: the harness, the module `--beam_plugins` names for every
# worker (runners/worker_setup.py), the stages, whose DoFns every bundle unpickles, and what the report's
# plots import (transforms/report_figures.py): the report is drawn last, by one worker, while the other
# waits, and that import was 0.7 s of it.
PRELOAD = (HARNESS_MODULE, "toolrm_beam.runners.worker_setup", "toolrm_beam.beam_pipelines.end_to_end",
           "matplotlib.figure", "matplotlib.backends.backend_agg")
# How long `attach` waits for a prestarted worker to finish its imports and take the job; past it, it
# starts the harness itself.
ATTACH_TIMEOUT_S = 120.0


def default_harness_command(python: str = sys.executable) -> str:
    """The command Beam's FnApiRunner gives its `multi_processing` workers' environment."""
    return f"{python} -m {HARNESS_MODULE}"


class Pool:
    """Worker processes started now, each waiting on its own socket in a private folder.

    One process (`pid`) imports `modules`, forks the `count` workers and waits for them.
    """

    def __init__(self, count: int, python: str = sys.executable, modules: tuple[str, ...] = PRELOAD):
        self.count = count
        self.python = python
        # Private (0700): only this user's processes can hand a worker a job.
        self.folder = tempfile.mkdtemp(prefix="toolrm-workers-")
        self._process: subprocess.Popen | None = None
        try:
            self._start(python, modules)
        except BaseException:
            self.close()
            raise

    def _start(self, python: str, modules: tuple[str, ...]) -> None:
        # The sockets listen from here on, so an `attach` that comes before its worker has started waits
        # in the queue; once the worker holds the only copy, a dead worker refuses at once.
        listeners, arguments = [], []
        try:
            for index in range(self.count):
                path = os.path.join(self.folder, f"worker-{index}.sock")
                listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                listeners.append(listener)
                listener.bind(path)
                listener.listen(8)
                arguments += [path, str(listener.fileno())]
            self._process = subprocess.Popen(
                [python, "-m", MODULE, "fork", ",".join(modules), *arguments], stdin=subprocess.PIPE,
                pass_fds=tuple(listener.fileno() for listener in listeners), start_new_session=True)
        finally:
            for listener in listeners:
                listener.close()

    @property
    def pid(self) -> int | None:
        """The forking process's id: every worker's parent."""
        return self._process.pid if self._process is not None else None

    @property
    def attach_command(self) -> str:
        """The worker command for Beam's subprocess environment: attach to one of this pool's workers."""
        return f"{shlex.quote(self.python)} -m {MODULE} attach {shlex.quote(self.folder)}"

    def close(self) -> None:
        """Let every waiting worker go (they exit when their stdin closes) and remove the folder."""
        process, self._process = self._process, None
        if process is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # the forking process and its workers
                except OSError:
                    pass
                process.wait()
        for name in os.listdir(self.folder) if os.path.isdir(self.folder) else []:
            try:
                os.unlink(os.path.join(self.folder, name))
            except OSError:
                pass
        try:
            os.rmdir(self.folder)
        except OSError:
            pass


ENABLED_ENV = "TOOLRM_PRESTARTED_WORKERS"


def enabled() -> bool:
    # Unix sockets and inherited descriptors: POSIX only (elsewhere Beam starts its workers as before).
    return os.name == "posix" and hasattr(socket, "AF_UNIX") and os.environ.get(ENABLED_ENV, "1") != "0"


def _start(count: int) -> Pool | None:
    try:
        return Pool(count)
    except OSError as error:  # e.g. a temporary folder whose path is too long for a socket
        logging.getLogger(__name__).warning("local workers not prestarted (%s); Beam starts them", error)
        return None


_started: Pool | None = None
_lock = threading.Lock()


def prestart(count: int) -> None:
    """Start `count` workers for this process's next local multi-process run (see `take`)."""
    global _started
    with _lock:
        if _started is None and count > 0 and enabled():
            _started = _start(count)


def take(count: int) -> Pool | None:
    """The prestarted pool when it has `count` workers, else one started now (None: disabled, or none could be).

    The caller closes it.
    """
    global _started
    with _lock:
        pool, _started = _started, None
    if not enabled():
        return None
    if pool is not None and pool.count == count:
        return pool
    if pool is not None:
        pool.close()
    return _start(count)


def local_worker_processes(argv: list[str]) -> int:
    """How many local worker processes a command line's Beam flags ask for (0: none, or not local).

    Mirrors what `presets.pipeline_options` and Beam's FnApiRunner make of
    `--runner`, `--direct_num_workers` and `--direct_running_mode`, without
    importing Beam: it runs before the command has imported anything heavy.
    """
    import argparse

    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--runner", default="direct")
    parser.add_argument("--direct_num_workers", type=int, default=1)
    parser.add_argument("--direct_running_mode", default="in_memory")
    try:
        known, _ = parser.parse_known_args(argv)
    except SystemExit:  # a malformed value: the command itself will say so
        return 0
    if known.runner != "direct":
        return 0
    workers = (os.cpu_count() or 1) if known.direct_num_workers == 0 else known.direct_num_workers
    mode = known.direct_running_mode
    if mode == "in_memory" and workers > 1:
        mode = "multi_processing"  # what presets.pipeline_options does
    return workers if mode == "multi_processing" and workers > 0 else 0


# ----------------------------------------------------------------------------- the worker side

def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def _exit_when_closed(stream_read, unless: threading.Event | None = None) -> None:
    """Block until the other end goes, then leave at once unless `unless` is set (a daemon thread: the lifeline)."""
    try:
        while stream_read():
            pass
    except OSError:
        pass
    if unless is None or not unless.is_set():
        os._exit(1)


def _stdin_lifeline(unless: threading.Event | None = None) -> None:
    # The file descriptor itself, not sys.stdin: a buffered reader's lock held by a thread at fork time
    # would stay held in the child.
    threading.Thread(target=_exit_when_closed, args=(lambda: os.read(0, 1), unless), daemon=True).start()


def fork_workers(modules: list[str], sockets: list[tuple[str, int]]) -> int:
    """Import `modules` once, then fork one worker per `(socket path, listening fd)`; wait for them all.

    Exit status 1 when a worker failed. The import starts no thread, and the
    fork happens in this (the only Python) thread, so each worker starts
    whole; each reseeds `random`, as multiprocessing's forked children do.
    """
    import importlib

    # Once the workers exist, each has a lifeline of its own: this process then stays to wait for them,
    # so that when it is gone, they are.
    forked = threading.Event()
    _stdin_lifeline(unless=forked)
    for module in modules:
        importlib.import_module(module)
    forked.set()
    workers = set()
    for path, listener_fd in sockets:
        pid = os.fork()
        if pid == 0:
            try:
                for _, other in sockets:
                    if other != listener_fd:
                        os.close(other)
                import random

                random.seed()
                _stdin_lifeline()
                serve(path, listener_fd)
            finally:
                os._exit(1)  # serve leaves by os._exit; anything else is a failure
        workers.add(pid)
    for _, listener_fd in sockets:
        os.close(listener_fd)
    failed = False
    while workers:
        pid, status = os.wait()
        if pid in workers:
            workers.discard(pid)
            failed = failed or os.waitstatus_to_exitcode(status) != 0
    return 1 if failed else 0


def serve(path: str, listener_fd: int) -> None:
    """A prestarted worker: take one job from the socket at `path`, run the harness for it, leave."""
    listener = socket.socket(fileno=listener_fd)
    connection, _ = listener.accept()
    listener.close()  # connections queued behind this one are refused: their `attach` tries another worker
    os.unlink(path)
    environment = json.loads(_read_line(connection))
    connection.sendall(b"ok\n")
    threading.Thread(target=_exit_when_closed, args=(lambda: connection.recv(1),), daemon=True).start()
    os.environ.clear()
    os.environ.update(environment)
    from apache_beam.runners.worker import sdk_worker_main

    code = 0
    try:
        sdk_worker_main.main(sys.argv)
    except BaseException:  # noqa: BLE001 - said as an uncaught exception would say it; the status is 1
        import traceback

        traceback.print_exc()
        code = 1
    from toolrm_beam.runners import worker_setup

    try:
        sys.stdout.flush()
        sys.stderr.flush()
        connection.sendall(f"exit {code}\n".encode())
    except (OSError, ValueError):
        pass
    # As for Beam's own worker processes: the harness has returned, so skip the interpreter's teardown.
    worker_setup.leave(code)


def attach(folder: str) -> int:
    """Beam's worker command: hand this process's environment to a prestarted worker, relay its status."""
    sockets = sorted(name for name in os.listdir(folder) if name.endswith(".sock")) \
        if os.path.isdir(folder) else []
    digits = "".join(c for c in os.environ.get("WORKER_ID", "") if c.isdigit())
    start = int(digits) % len(sockets) if digits and sockets else 0
    payload = json.dumps(dict(os.environ)).encode() + b"\n"
    for name in sockets[start:] + sockets[:start]:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(ATTACH_TIMEOUT_S)
        try:
            connection.connect(os.path.join(folder, name))
            connection.sendall(payload)
            if _read_line(connection) != b"ok\n":
                raise ConnectionError("no ok")
        except (OSError, ConnectionError):
            connection.close()
            continue  # taken by another `attach`, gone, or still importing past the timeout
        connection.settimeout(None)
        try:
            status = _read_line(connection).decode().split()
        except (OSError, ConnectionError):
            return 1  # the worker died without a word
        return int(status[1]) if len(status) == 2 and status[0] == "exit" else 1
    # No prestarted worker: be the ordinary harness process.
    os.execv(sys.executable, [sys.executable, "-m", HARNESS_MODULE])
    return 1  # not reached


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "fork" and len(argv) % 2 == 0:
        modules = [module for module in argv[1].split(",") if module]
        code = fork_workers(modules, [(argv[i], int(argv[i + 1])) for i in range(2, len(argv), 2)])
        # Its workers are gone, and the command waits for this process: tearing down the interpreter that
        # imported Beam and the stages took 0.5-1 s of a run's wall time, and would free nothing of use.
        from toolrm_beam.runners import worker_setup

        worker_setup.leave(code)
    if len(argv) == 2 and argv[0] == "attach":
        return attach(argv[1])
    print("usage: python -m toolrm_beam.runners.prestarted_workers fork MODULE,... SOCKET FD [SOCKET FD ...] "
          "| attach FOLDER", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
