"""Limits a forked child applies to itself before it imports any student code.

One place for the worker's confinement: a new session and process group (so the zygote can kill
everything the student started), resource limits, an empty scratch folder as the working
directory, a scrubbed environment, stdin from /dev/null, and stdout/stderr into a capture file.
"""
from __future__ import annotations

import os
import resource

OUTPUT_FILE_LIMIT = 1 << 20          # bytes a child may write to any file, its printed output included
OPEN_FILES = 256
SANDBOX_MODE = "process"             # what `SubmissionResult.sandbox` reports for this confinement


def apply_in_child(lim: dict, scratch: str, capture_path: str, keep_fds: tuple) -> None:
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    out = os.open(capture_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(out, 1)
    os.dup2(out, 2)
    _close_except(keep_fds)
    os.chdir(scratch)
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch, "PATH": "/usr/bin:/bin",
                       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8"})
    _limit(resource.RLIMIT_AS, int(lim["memory"]))
    cpu = int(lim["import_timeout"] + lim["case_timeout"] * max(1, lim.get("n_calls", 1))) + 1
    _limit(resource.RLIMIT_CPU, cpu)
    _limit(resource.RLIMIT_FSIZE, OUTPUT_FILE_LIMIT)
    _limit(resource.RLIMIT_NOFILE, OPEN_FILES)
    _limit(resource.RLIMIT_CORE, 0)


def _close_except(keep: tuple) -> None:
    top = min(os.sysconf("SC_OPEN_MAX"), 4096)
    low = 3
    for fd in sorted(keep):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, top)


def _limit(which: int, value: int) -> None:
    """Lower a limit, soft and hard; never above the hard limit we inherited (that would fail).

    For CPU time the hard limit is one second later: SIGXCPU at the soft limit, SIGKILL at the hard.
    """
    _, hard = resource.getrlimit(which)
    new_hard = value + 1 if which == resource.RLIMIT_CPU else value
    if hard != resource.RLIM_INFINITY:
        value, new_hard = min(value, hard), min(new_hard, hard)
    resource.setrlimit(which, (value, new_hard))
