"""Linux's Landlock (kernel 5.13 and later), through its three system calls: a process gives up,
for itself and every thread and child it has from then on, the right to write any file outside the
folders it names, to connect or listen on TCP, and to signal processes outside its own sandbox.

No privilege is needed, and nothing the process does afterwards (a SQL statement that writes, an
extension, a bug) can take the rights back: the kernel refuses every write with EACCES. This is the
query sandbox's second wall (pipelines/metrics/sandbox.py); DuckDB's own locks are the first.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

# the generic system call numbers (the same on x86_64 and arm64)
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# what writes, by the ABI version that first knows it (include/uapi/linux/landlock.h)
_WRITES = {
    1: (1 << 1)  # WRITE_FILE
    | (1 << 4)  # REMOVE_DIR
    | (1 << 5)  # REMOVE_FILE
    | (1 << 6)  # MAKE_CHAR
    | (1 << 7)  # MAKE_DIR
    | (1 << 8)  # MAKE_REG
    | (1 << 9)  # MAKE_SOCK
    | (1 << 10)  # MAKE_FIFO
    | (1 << 11)  # MAKE_BLOCK
    | (1 << 12),  # MAKE_SYM
    2: 1 << 13,  # REFER (a link or rename into another folder)
    3: 1 << 14,  # TRUNCATE
}
_TCP = 0b11  # BIND_TCP | CONNECT_TCP (ABI 4)
_SCOPES = 0b11  # ABSTRACT_UNIX_SOCKET | SIGNAL (ABI 6)


class _Ruleset(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def abi() -> int:
    """The kernel's Landlock ABI version; 0 where there is none (an older kernel, Landlock not
    enabled at boot, a seccomp filter that hides it, or not Linux)."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return 0
    version = _libc().syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(version, 0)


def _fail(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"Landlock: {what}: {os.strerror(code)}")


def forbid_writes(writable: list[Path]) -> int:
    """Give up, for good, writing anything but what is beneath the folders `writable`, TCP (ABI 4),
    and signals or abstract sockets to processes outside this sandbox (ABI 6). Returns the ABI
    version used; raises OSError where the kernel has no Landlock (abi() == 0), leaving the
    process as it was."""
    version = abi()
    if version == 0:
        raise OSError("this kernel has no Landlock")
    writes = 0
    for since, bits in _WRITES.items():
        if version >= since:
            writes |= bits
    rules = _Ruleset(writes, _TCP if version >= 4 else 0, _SCOPES if version >= 6 else 0)
    libc = _libc()
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(rules), ctypes.c_size_t(ctypes.sizeof(rules)), 0)
    if ruleset < 0:
        raise _fail("creating the ruleset")
    try:
        for folder in writable:
            fd = os.open(folder, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                beneath = _PathBeneath(writes, fd)
                if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(beneath), 0) != 0:
                    raise _fail(f"allowing writes beneath {folder}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise _fail("setting no_new_privs")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) != 0:
            raise _fail("restricting this process")
    finally:
        os.close(ruleset)
    return version
