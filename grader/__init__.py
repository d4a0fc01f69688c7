"""grader: seeded, reference-based autograding of ML coursework (losses and their gradients).

The command line is the main surface (`grader check`, `grader release`); see README.md. In a
notebook or a script, `from grader import check; check("svm_loss_naive")` is `grader check` on the
public cases of one function, as the student has it now (grader/interactive.py).

This package imports nothing heavy at import time: the worker process that runs student code
imports `grader.run` and must not pull in the spec, the reference or the reporters.
"""
import sys

__version__ = "0.1.0"
FRAMEWORKS = ("numpy", "torch")      # what a spec's `framework` may be (here, not in grader.spec: the CLI reads it without numpy)


def check(function=None, assignment=None):
    """Grade a function on the assignment's public cases and show what is wrong, case by case.

        check("svm_loss_naive")      # by name, as defined in this notebook or script now
        check(svm_loss_naive)        # the function itself (also one imported from your file)
        check()                      # every function of the assignment

    `assignment` is found as `assignment.yaml` in the current folder or above; or give its name
    or path. Returns a Feedback: Jupyter shows it as a table, a terminal as text; `.passed`
    says whether everything passed. Only public cases run: hidden ones when your work is graded.
    """
    if "grader.run.zygote" in sys.modules or "grader.run.portable" in sys.modules:
        return None                          # student code that the grader itself is running: do nothing
    from grader.interactive import check as run
    return run(function, assignment, namespace=sys._getframe(1).f_globals)
