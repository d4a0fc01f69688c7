"""A stand-in for the `past` package of `future` (Python 2 names for Python 3 code), given to the
student's code as a support module: CS231n's own files from 2017 on begin with
`from past.builtins import xrange`, and a grading machine without `future` installed would fail
every such submission at its import."""
