"""Judging, in the trusted process, on plain data: a case (case.py: outputs compared leaf by leaf in
compare.py, properties.py, where and how a wrong answer is wrong in localise.py, advice for usual
errors in hints.py) and the checks with points of their own (checks.py)."""
