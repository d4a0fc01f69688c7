"""grader: seeded, reference-based autograding of ML coursework (losses and their gradients).

The command line is the main surface (`grader check`, `grader release`); see README.md.
This package imports nothing heavy at import time: the worker process that runs student code
imports `grader.run` and must not pull in the spec, the reference or the reporters.
"""
__version__ = "0.1.0"
