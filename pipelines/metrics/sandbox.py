"""`engagement query` and the notebook's `lake.sql`: the query, and the writing of its result, in a
child process behind a second wall, with limits that hold for the whole command.

The first wall is lakesql.run_query's: DuckDB's parser must read one SELECT, and DuckDB is locked
to the lake's files. The child runs it again behind two more:
- Landlock (pipelines/landlock.py): the child cannot open any file for writing, make or remove one,
  except in its private temporary folder; nor use TCP. Whatever SQL text gets past DuckDB's own
  checks, the kernel refuses the write.
- A hard memory limit (RLIMIT_DATA): what the child may allocate beyond what it holds at its
  start is ENGAGEMENT_QUERY_MEMORY plus room for DuckDB's threads. DuckDB's own memory limit does
  not cover everything a query allocates (a list of 60 million numbers, say); the kernel's does:
  an allocation past it fails, and the query stops with one line.

The parent (this process) gives the child the statement, reads the result as it is written into a
file beside `--out` (or a private temporary file for the terminal), and kills the child when the
timeout comes or the result passes ENGAGEMENT_QUERY_MAX_BYTES. Only a result that arrived whole is
renamed into place: a stopped query leaves no output file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from pipelines.errors import ONE_LINE, MachineError, UserError, shown

ARROW = "arrow"  # what lake.sql asks for: an Arrow IPC stream
CHUNK = 1 << 16
ERROR_BYTES = 8192  # what is kept of the child's stderr
NO_WALL = "note: this kernel has no Landlock (Linux 5.13 or later): the query runs behind DuckDB's own locks only"
# room beyond ENGAGEMENT_QUERY_MEMORY, once the views are made, for what DuckDB allocates outside its
# memory limit and for each thread's arena (docs/commands/history.md: "A second wall, and limits")
ROOM, ROOM_PER_THREAD = 64 * 2**20, 16 * 2**20


def write(root: Path, text: str, limits, explain: str | None, fmt: str, out: Path | None) -> None:
    """The result of a read-only query in `fmt` to `out` (whole or not at all) or to stdout."""
    from pipelines.files import atomic_writer

    if out is not None:
        with atomic_writer(out) as sink:
            _run(root, text, limits, explain, fmt, sink)
        return
    with tempfile.TemporaryFile(prefix="engagement-query-") as sink:
        _run(root, text, limits, explain, fmt, sink)
        sink.seek(0)
        with contextlib.suppress(BrokenPipeError):
            shutil.copyfileobj(io.TextIOWrapper(sink, encoding="utf-8"), sys.stdout, CHUNK)
            sys.stdout.flush()


def table(root: Path, text: str, limits, explain: str | None = None):
    """The rows of a read-only query as an Arrow table (for lake.sql)."""
    import pyarrow as pa

    with tempfile.TemporaryFile(prefix="engagement-query-") as sink:
        _run(root, text, limits, explain, ARROW, sink)
        sink.seek(0)
        return pa.ipc.open_stream(sink).read_all()


def _run(root: Path, text: str, limits, explain: str | None, fmt: str, sink: BinaryIO) -> None:
    """Run the query in a child and copy what it writes into `sink`; a UserError (or MachineError)
    once it is stopped, failed, or wrote more than the cap."""
    from dataclasses import asdict

    from pipelines import landlock
    from pipelines.metrics.lakesql import timed_out

    if landlock.abi() == 0:
        print(NO_WALL, file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="engagement-query-") as private:
        request = {
            "root": str(Path(root).absolute()),
            "text": text,
            "explain": explain,
            "format": fmt,
            "limits": asdict(limits),
            "private": private,
        }
        started = time.monotonic()
        child = subprocess.Popen(
            [sys.executable, "-m", "pipelines.metrics.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # killed with everything it started
        )
        try:
            with contextlib.suppress(BrokenPipeError):
                child.stdin.write(json.dumps(request).encode("utf-8"))
            child.stdin.close()
            errors = _pump(child, sink, started + limits.timeout, limits.size)
            if errors is None:
                raise timed_out(limits.timeout)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
            child.stderr.close()
    if child.returncode == 0:
        return
    line = _last_line(errors)
    if child.returncode == 2 and line:
        raise UserError(line)
    ended = f"code {child.returncode}"
    if child.returncode < 0:
        ended = f"signal {-child.returncode}"
        with contextlib.suppress(ValueError):
            ended = f"signal {signal.Signals(-child.returncode).name}"
    raise MachineError(f"the query's process ended with {ended}: {shown(line) or 'no message'}")


def _pump(child: subprocess.Popen, sink: BinaryIO, deadline: float, size: str) -> bytes | None:
    """Copy the child's stdout into `sink` and keep the start of its stderr until both end and the
    child exits; that stderr, or None when the deadline came first. A UserError past `size` (2GB...)."""
    import selectors

    from pipelines.settings import size_bytes

    cap = size_bytes(size)
    errors = bytearray()
    written = 0
    with selectors.DefaultSelector() as streams:
        streams.register(child.stdout, selectors.EVENT_READ)
        streams.register(child.stderr, selectors.EVENT_READ)
        while streams.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            for key, _ in streams.select(left):
                chunk = os.read(key.fd, CHUNK)
                if not chunk:
                    streams.unregister(key.fileobj)
                elif key.fileobj is child.stdout:
                    written += len(chunk)
                    if written > cap:
                        raise UserError(
                            f"the query's result is larger than {size}: narrow it, or raise ENGAGEMENT_QUERY_MAX_BYTES"
                        )
                    sink.write(chunk)
                else:
                    errors += chunk[: max(0, ERROR_BYTES - len(errors))]
    try:
        child.wait(max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        return None
    return bytes(errors)


def _last_line(errors: bytes) -> str:
    lines = [line for line in errors.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""


# --- the child ------------------------------------------------------------------------------------


def _data_bytes() -> int:
    """What this process has allocated (VmData: private writable memory, what RLIMIT_DATA counts)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmData:"):
            return int(line.split()[1]) * 1024
    return 0


def _limit_memory(limits) -> None:
    """RLIMIT_DATA at what the child holds now (the interpreter, DuckDB, the lake's views), plus the
    query's memory and room for DuckDB's threads; never above a ceiling already set (a second
    attempt on a newer snapshot, lake/state.py's on_snapshot, keeps the first; `ulimit -d` holds)."""
    import resource

    from pipelines.settings import size_bytes

    threads = limits.threads or os.cpu_count() or 1
    ceiling = _data_bytes() + size_bytes(limits.memory) + ROOM + ROOM_PER_THREAD * threads
    already = resource.getrlimit(resource.RLIMIT_DATA)[1]
    if already != resource.RLIM_INFINITY:
        ceiling = min(ceiling, already)
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, ceiling))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file of the lake's rows


def _encode(result, fmt: str) -> bytes:
    if fmt == ARROW:
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, result.schema) as stream:
            stream.write_table(result)
        return sink.getvalue().to_pybytes()
    from pipelines.formats import encode

    return encode(result, fmt)


def main() -> int:
    """The child: read the request on stdin, raise the walls, run the query, write the result on
    stdout. A refused or stopped query: its one line on stderr, exit code 2."""
    import pyarrow as pa

    from pipelines import landlock
    from pipelines.metrics import lakesql

    request = json.loads(sys.stdin.buffer.read())
    limits = lakesql.Limits(**request["limits"])
    private = Path(request["private"])
    try:
        if landlock.abi():
            landlock.forbid_writes([private])
        result = lakesql.run_query(
            Path(request["root"]),
            request["text"],
            limits,
            request["explain"],
            spill=private,
            before=lambda: _limit_memory(limits),
        )
        data = _encode(result, request["format"])
        del result
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except UserError as exc:
        print(shown(str(exc), ONE_LINE), file=sys.stderr)
        return 2
    except (MemoryError, pa.ArrowMemoryError):
        print(lakesql.out_of_memory(limits.memory), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
