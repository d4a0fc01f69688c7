"""The JSON report: `SubmissionResult.to_dict()` as strict JSON, described by schema.json.

    write_json(result, "report.json")

Non-finite floats (a student's NaN at the worst element, an infinite relative error) are
written as the strings "nan", "inf" and "-inf": bare NaN/Infinity is not JSON and breaks
strict parsers (JavaScript, jq, Go).
"""
from __future__ import annotations

import json
import math
import os
from importlib import resources
from typing import Any

from grader.results import SubmissionResult
from grader.report.atomic import write_atomic


def render_json(result: SubmissionResult, compact: bool = False) -> str:
    """The report as a strict-JSON string (validates against schema.json).

    `compact` drops the indentation, which lets json use its C encoder (several times faster):
    batch grading writes one file per student.
    """
    data = result.to_dict()
    try:                     # most results hold no NaN or infinity: one pass, in json's C encoder
        return dumps(data, compact)
    except ValueError:       # "Out of range float values are not JSON compliant"
        return dumps(_finite(data), compact)


def dumps(data: Any, compact: bool = False) -> str:
    """Strict JSON (a NaN or infinity raises ValueError), indented, or compact for json's C encoder."""
    if compact:
        return json.dumps(data, separators=(",", ":"), allow_nan=False)
    return json.dumps(data, indent=2, allow_nan=False)


def write_json(result: SubmissionResult, path: str | os.PathLike[str], compact: bool = False) -> None:
    """Write the report to `path`; readers never see a half-written file."""
    write_atomic(path, (render_json(result, compact) + "\n").encode("utf-8"))


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report, shipped as package data."""
    return json.loads((resources.files(__package__) / "schema.json").read_text("utf-8"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
