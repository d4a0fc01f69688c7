"""Running student code: a worker process (zygote) forks one limited child per job; where it
cannot run (macOS, Windows), the portable worker starts a fresh interpreter per child instead.

job: what one submission's run asks of the worker; worker: the grader's client of either worker,
and the choice between them; protocol: the bytes between them; zygote: the Linux worker's main
loop, forking a child whenever the grader asks; portable: the portable worker's child; supervise:
the case loop both share, run in the grader's process (time limits, crashes, frames); sandbox: what a child applies to itself (limits, Landlock,
seccomp, namespaces); harness: the child's side, importing the student's modules; execute: the
calls of a case, run in the child; outcome: what came back from one call, decoded in the grader.
"""
