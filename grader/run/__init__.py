"""Running student code: a worker process (zygote) forks one limited child per job.

job: what one submission's run asks of the worker; worker: the grader's client of the worker
process; protocol: the bytes between them; zygote: the worker's main loop, forking a child per
job; sandbox: what a child applies to itself (limits, Landlock, seccomp, namespaces); harness:
the child's side, importing the student's modules; execute: the calls of a case, run in the
child; outcome: what came back from one call, decoded in the grader.
"""
