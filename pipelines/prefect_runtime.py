"""Prefect's runtime, adjusted in one place: what the commands that run flows change around Prefect.

- no telemetry from the embedded server (`quiet`): the network may be closed, and nothing to report;
- the temporary API server started as a child that dies with us (`start_temporary_server`);
- no flow-run heartbeats unless asked for (`running_flows`), and Prefect's log and event workers
  drained while the API is still up (`settle`);
- a schedule needs a real server (`require_server`): a temporary one would schedule nothing.

Importing this module imports nothing of Prefect; each function imports what it uses.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from collections.abc import Iterator

from pipelines.errors import UserError


def quiet() -> None:
    """No telemetry from Prefect's embedded server (the network may be closed; nothing to report)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


@contextlib.contextmanager
def running_flows() -> Iterator[None]:
    """Around a command's flow runs: Prefect's temporary server (unless PREFECT_API_URL is set), no
    heartbeats, and Prefect's workers settled at the end."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    start_temporary_server()
    _no_tracebacks_for_failed_steps()
    # Prefect's flow-run heartbeat thread sleeps in 1 s steps and is joined at the run's end: up to a
    # second per command for heartbeats nothing reads unless a zombie-run automation is set up. Off
    # for the command's runs, unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY asks for them.
    quiet_beats = "PREFECT_FLOWS_HEARTBEAT_FREQUENCY" not in os.environ
    beats = (
        temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
        if quiet_beats
        else contextlib.nullcontext()
    )
    try:
        with beats:
            yield
    finally:
        settle()  # before the temporary server stops at exit


class _WithoutStepTraceback(logging.Formatter):
    """A console formatter that leaves out the traceback of a failed step (runs.StepFailed): the
    command already says, in one line, which step failed and why. Prefect's API log keeps it."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        from pipelines.runs import StepFailed

        if not (record.exc_info and isinstance(record.exc_info[1], StepFailed)):
            return self.inner.format(record)
        saved = record.exc_info, record.exc_text
        record.exc_info, record.exc_text = None, None
        try:
            return self.inner.format(record)
        finally:
            record.exc_info, record.exc_text = saved


def _no_tracebacks_for_failed_steps() -> None:
    """Prefect's console handlers print a failed step's line without its traceback."""
    loggers = [
        logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict) if name.startswith("prefect")
    ]
    for logger in [logging.getLogger(), *loggers]:  # Prefect's console handler is the root logger's
        for handler in logger.handlers:
            if "Console" in type(handler).__name__ and not isinstance(handler.formatter, _WithoutStepTraceback):
                handler.setFormatter(_WithoutStepTraceback(handler.formatter))


def require_server() -> str:
    """The Prefect API a schedule can live on: PREFECT_API_URL, answering; a UserError otherwise."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    how = "start one with `prefect server start` and set PREFECT_API_URL=http://127.0.0.1:4200/api"
    url = PREFECT_API_URL.value()
    if not url:
        raise UserError(f"a schedule needs a Prefect server, and PREFECT_API_URL is not set: {how}")
    try:
        httpx.get(url.rstrip("/") + "/health", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise UserError(f"no Prefect server answers at PREFECT_API_URL={url} ({type(exc).__name__}): {how}") from None
    return url


@contextlib.contextmanager
def stopping_quietly() -> Iterator[None]:
    """A long-running serve that SIGTERM or SIGINT ends cleanly: no traceback, and none of the
    errors Prefect's clients log while their connections close under them."""
    import logging
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except KeyboardInterrupt:
        logging.disable(logging.CRITICAL)  # Prefect's websocket clients complain as the loop goes
    finally:
        signal.signal(signal.SIGTERM, previous)


def _die_with_parent(parent: int) -> None:
    """In a child before exec: ask Linux for SIGTERM when the parent dies (however it dies)."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above: go now
        os._exit(0)


def start_temporary_server() -> None:
    """Start Prefect's temporary API server (when no PREFECT_API_URL is set) as a child that dies with us.

    Prefect starts it lazily as a plain child process, which outlives a command killed by SIGKILL or
    a timeout: a nightly cron job killed every night would pile servers up. Started here, from the
    main thread, it gets a parent-death signal; Prefect's clients then find it running and use it.
    """
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value() or sys.platform != "linux":
        return  # a server is running (or this is not Linux): its API, imported for nothing, costs 2 s
    from prefect.server.api import server

    class DiesWithUs(server.SubprocessASGIServer):
        def _run_uvicorn_command(self):
            # Prefect calls subprocess.Popen itself: for this one call (from the main thread, before
            # any flow runs), Popen gets the preexec that asks for the parent-death signal
            popen, parent = server.subprocess.Popen, os.getpid()
            server.subprocess.Popen = functools.partial(popen, preexec_fn=lambda: _die_with_parent(parent))
            try:
                return super()._run_uvicorn_command()
            finally:
                server.subprocess.Popen = popen

    DiesWithUs().start()  # the instance Prefect's own calls get (one per port; this is port None's)


def settle() -> None:
    """Deliver what Prefect's event and log workers still hold, while the API is still up.

    Left to Prefect's exit handlers, they race the temporary server's own shutdown and can print
    `CancelledError` tracebacks and "Still processing items" warnings after a run that succeeded
    (PrefectHQ/prefect#9148, "Service cancellation errors on shutdown", open): drained here first,
    they have nothing left to send when the server stops.
    """
    import time

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (EventsWorker, APILogWorker):
        # let the queues empty first: draining a worker that still holds items logs a warning
        # ("Still processing items") although it then sends them
        deadline = time.monotonic() + 5
        queues = [getattr(i, "_queue", None) for i in getattr(worker, "_instances", {}).values()]
        while any(q is not None and q.qsize() for q in queues) and time.monotonic() < deadline:
            time.sleep(0.01)
        worker.drain_all(timeout=10, at_exit=False)
