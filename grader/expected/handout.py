"""The handout's expected outputs: `expected_public.json`, written by `grader release`.

A student's handout has no reference: it carries the reference's outputs on the public cases only,
with a digest of each case's inputs so that a stale or mismatched file is caught instead of
misgrading, and what each catalogued mistake returns (or raises) there, what the handout's own
starter code returns, and the reference's outputs without the regularization term, so that a
self-check can name the mistake, the unwritten part or the regularization factor without any of
that code. Format: docs/spec-format.md.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grader import values
from grader.cases import Case
from grader.run.outcome import Outcome, Raised
from grader.spec import EXPECTED_FILE, AssignmentSpec, FunctionSpec, SpecError

FORMAT = "grader-expected/2"
OLD_FORMAT = "grader-expected/1"          # flat outputs, in return order: still read


def inputs_digest(case: Case) -> str:
    return values.digest(case.args)


def write_public(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]], expected: dict, folder: Path,
                 mistakes=None) -> Path:
    """Write the public cases' expected outputs for a handout, and what each catalogued mistake
    returns on them (so that a self-check can name the mistake). Hidden cases are refused."""
    functions: dict = {}
    for fn, case in cases:
        if case.spec.visibility != "public":
            raise ValueError(f"{fn.name} {case.case_id} is hidden: it never goes into a handout")
        outcome = expected[(fn.name, case.case_id)]
        entry = functions.setdefault(fn.name, {})[case.case_id] = {
            "seed": case.spec.seed,
            "inputs_sha256": inputs_digest(case),
            "outputs": {o.name: values.tree_to_json(outcome.outputs[o.name]) for o in fn.outputs},
            "via": {o.name: list(outcome.via.get(o.name, ())) for o in fn.outputs if outcome.via.get(o.name)},
        }
        if not entry["via"]:
            del entry["via"]
        if mistakes is not None:
            entry["mistakes"] = [{"name": name, "sentence": sentence, **_variant_json(fn, outs)}
                                 for name, sentence, outs in mistakes.candidates(fn, case) if outs is not None]
            starter = mistakes.starter(fn, case)
            if starter is not None:
                entry["starter"] = {"status": starter.status, **({"returned": starter.returned} if starter.returned else {}),
                                    **(_variant_json(fn, starter.outputs) if starter.ok else {})}
            unregularized = mistakes.unregularized(fn, case)
            if unregularized is not None:
                entry["unregularized"] = _variant_json(fn, unregularized)["outputs"]
    path = folder / EXPECTED_FILE
    doc = {"format": FORMAT, "assignment": spec.name, "functions": functions}
    text = json.dumps(doc, indent=1, allow_nan=False)
    # One line per array of numbers keeps the file readable and diffable, and a third the size.
    text = re.sub(r"\[\s*(-?[0-9][0-9.eE+-]*(?:,\s*-?[0-9][0-9.eE+-]*)*)\s*\]",
                  lambda m: "[" + re.sub(r",\s*", ", ", m.group(1)) + "]", text)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _variant_json(fn: FunctionSpec, outs) -> dict:
    if isinstance(outs, Raised):
        return {"raised": {"type": outs.type, "message": outs.message}}
    return {"outputs": {o.name: values.tree_to_json(outs[o.name]) for o in fn.outputs if o.name in outs}}


def from_file(spec: AssignmentSpec, cases: list[tuple[FunctionSpec, Case]]) -> dict:
    """Expected outputs of public cases, read from the handout's expected_public.json."""
    path = spec.expected_path
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(path, "", "missing: a handout needs the expected outputs of its public cases "
                                  "(the instructor makes it with `grader release`)") from None
    except (OSError, json.JSONDecodeError) as e:
        raise SpecError(path, "", f"unreadable: {e}") from None
    if not isinstance(doc, dict) or doc.get("format") not in (FORMAT, OLD_FORMAT) or doc.get("assignment") != spec.name:
        raise SpecError(path, "format", f"not the expected outputs of {spec.name} ({FORMAT})")
    out = {}
    for fn, case in cases:
        entry = doc.get("functions", {}).get(fn.name, {}).get(case.case_id)
        where = f"functions.{fn.name}.{case.case_id}"
        if entry is None:
            raise SpecError(path, where, "no expected outputs for this case; the handout is out of date")
        if entry.get("seed") != case.spec.seed or entry.get("inputs_sha256") != inputs_digest(case):
            raise SpecError(path, where, "made for different inputs than this machine generates "
                                         "(the spec changed, or a different grader version); ask for an updated handout")
        try:
            outputs = _outputs_from_json(fn, entry["outputs"])
        except (KeyError, TypeError, ValueError):
            raise SpecError(path, where, "unreadable outputs; ask for an updated handout") from None
        via = {name: tuple(v) for name, v in (entry.get("via") or {}).items()}
        out[(fn.name, case.case_id)] = Outcome(status="returned", outputs=outputs, via=via)
    return out


def _outputs_from_json(fn: FunctionSpec, data) -> dict:
    """{output name: tree} from a /2 entry (a mapping by name) or a /1 one (a list in output order)."""
    if isinstance(data, list):
        return {o.name: values.Leaf(kind="ndarray", type="ndarray", array=np.array(d["data"], dtype=np.float64).reshape(d["shape"]))
                for o, d in zip(fn.outputs, data)}
    return {o.name: values.tree_from_json(data[o.name]) for o in fn.outputs if o.name in data}


@dataclass
class PublicVariants:
    """What the handout records of one public case for the diagnosis, beyond its expected outputs."""

    mistakes: list = field(default_factory=list)     # [(name, sentence, outputs or Raised)] per catalogued mistake
    starter: Outcome | None = None                   # what the handout's own code comes to
    unregularized: dict | None = None                # the reference's outputs with the regularization argument 0


def public_mistakes(spec: AssignmentSpec) -> dict:
    """The handout's record of what each mistake, the starter code and the unregularized reference
    come to on the public cases: {function: {case id: PublicVariants}} ({} if none)."""
    try:
        doc = json.loads(spec.expected_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    out: dict = {}
    for fname, cases in (doc.get("functions") or {}).items():
        try:
            fn = spec.function(fname)
        except KeyError:
            continue
        for case_id, entry in cases.items():
            found = PublicVariants()
            for m in entry.get("mistakes", []):
                try:
                    outs = Raised(str(m["raised"]["type"]), str(m["raised"]["message"])) if "raised" in m \
                        else _outputs_from_json(fn, m["outputs"])
                    found.mistakes.append((m["name"], m["sentence"], outs))
                except (KeyError, TypeError, ValueError):
                    continue
            try:
                if "starter" in entry:
                    starter = entry["starter"]
                    found.starter = Outcome(status=str(starter["status"]), returned=str(starter.get("returned", "")),
                                            outputs=_outputs_from_json(fn, starter.get("outputs", {})))
                if "unregularized" in entry:
                    found.unregularized = _outputs_from_json(fn, entry["unregularized"])
            except (KeyError, TypeError, ValueError, AttributeError):
                pass                     # an unreadable record names nothing, as no record does
            out.setdefault(fname, {})[case_id] = found
    return out
