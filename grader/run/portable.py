"""The portable worker's child: a fresh interpreter that runs one job's calls, where the zygote can't.

Started by `worker.PortableWorker` as `python -I -X utf8 -c "...portable.main(...)" [--preload torch]`,
with the environment of `sandbox.zygote_environment`, in a session (POSIX) or process group (Windows)
of its own, so that the grader can kill it and whatever it starts at once. It imports numpy (and
torch), says it is ready, and waits: the grader starts the next child while this one runs. Then it
reads its job and where to start in it from stdin, sets the resource limits this platform has
(`sandbox.portable_limits`), and runs the calls (`harness.run`), its frames going to stdout and what
the student prints to a capture file, as in a forked child. It uses nothing Linux-only (no fork, no
prctl, no select on pipes): the grader's process times it and kills it (supervise.py).
"""
from __future__ import annotations

import argparse
import os

from grader.run import harness, protocol, sandbox, supervise

def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preload", action="append", default=[])
    opts = parser.parse_args(argv)
    # The frame channel is a private copy of stdout; fd 1 itself goes to stderr until the capture
    # file takes it, so that a stray print from a library can never corrupt a frame.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    import numpy  # noqa: F401 - imported before the job comes, while the child before this one runs
    import numpy.random  # noqa: F401 - numpy imports it lazily; each call seeds it
    import random  # noqa: F401
    if "torch" in opts.preload:
        import torch
        torch.set_num_threads(1)     # as in the zygote's children: every child's timings alike
    protocol.write_all(out_fd, protocol.encode({"type": "ready"}))
    given = _read_stdin()
    if given is None:                # the grader closed the worker without a job for this one
        os._exit(0)
    (job, inputs), start = given
    later_fd = os.dup(0) if job.get("later") else None    # the rest of the job comes on stdin (PortableWorker.give)
    policy = supervise.child_policy(job, start["scratch"], cpu_used=sum(os.times()[:2]))
    capture_fd = _confine(policy, start["capture"])
    try:
        limits = sandbox.portable_limits()
        if limits:                   # none at all on Windows, which has no `resource`
            sandbox.set_limits(policy, limits)
    except (OSError, ValueError) as e:   # no student code runs without the limits the mode says hold
        harness.refuse(job, inputs, start["start"], set(start["skip"]), out_fd, e, later_fd=later_fd)
        os._exit(70)
    harness.run(job, inputs, start["start"], set(start["skip"]), out_fd, capture_fd, later_fd=later_fd)
    os._exit(0)                      # nothing to tear down: the grader removes the job's folder


def _read_stdin():
    """((job, inputs), the start frame's header) as the grader sends them, or None at an empty stdin."""
    reader = protocol.FrameReader()
    frames = []
    while len(frames) < 2:
        data = os.read(0, 1 << 20)
        if not data:
            return None
        frames += reader.feed(data)
    return protocol.decode(frames[0]), protocol.peek(frames[1])


def _confine(policy: sandbox.Policy, capture_path: str) -> int:
    """Everything of a forked child's process layer that this platform has, but the limits
    (`sandbox.redirect_and_scrub`, and the scratch folder as working directory). Returns a
    descriptor to read the capture file back."""
    sandbox.redirect_and_scrub(policy, capture_path)
    os.chdir(policy.scratch)
    return os.open(capture_path, os.O_RDONLY | sandbox.O_BINARY)


if __name__ == "__main__":
    main()
