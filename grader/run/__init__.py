"""Running student code: a worker process (zygote) forks one limited child per job.

protocol: bytes between grader and worker; harness: the child's side; zygote: the worker's
main loop; limits: what a child applies to itself; worker: the grader's client.
"""
