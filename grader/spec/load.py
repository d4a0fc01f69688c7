"""Loading a spec: YAML in, validated dataclasses (model.py) out.

An assignment is a folder holding `assignment.yaml` (the public part, which ships with the
handout) and, in the instructor's checkout only, `hidden.yaml` (where the reference lives and
the hidden cases). Any problem is a `SpecError` naming the file, the field and what is wrong:

    >>> spec = load_spec("assignments/linear_classifier")
    >>> [f.name for f in spec.functions]
    ['svm_loss_naive', 'svm_loss_vectorized', 'softmax_loss_naive', 'softmax_loss_vectorized']

The format is documented in docs/spec-format.md.
"""
from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from grader.spec import expressions
from grader.spec.model import (ANY_FLOAT, ARG_KINDS, CHECKS, CONTAINER_KINDS, DISTRIBUTIONS, FLOAT_DTYPES, FRAMEWORKS, HIDDEN_FILE,
                               IDENTIFIER, INT_DTYPES, LEAF_KINDS, OUTPUT_KINDS, PATH, QUALNAME, SCORED_CHECKS, SPEC_FILE,
                               ArgSpec, AssignmentSpec, CaseSpec, CheckSpec, FunctionSpec, Limits, OutputSpec, PropertySpec,
                               SpecError)
from grader.spec.steps import StepError, default_steps, mark_graded
from grader.spec.steps import parse as parse_step

# A requirement as `packages` takes it: a name, extras, one version bound; no options, URLs or spaces (setup.sh runs it)
REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?((==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!_-]+)?$")


# ---------------------------------------------------------------------------------------------
# Finding a spec


def find_spec(assignment: str, submission: Path | None = None, cwd: Path | None = None) -> Path:
    """Resolve `--assignment` to a spec file (`locate_spec`, without saying where it was found)."""
    return locate_spec(assignment, submission, cwd)[0]


def locate_spec(assignment: str, submission: Path | None = None, cwd: Path | None = None) -> tuple[Path, bool]:
    """Resolve `--assignment` to a spec file, and whether it was found beside the submission.

    In order: a path to a spec file or to a folder holding one; `assignments/NAME/` under the
    current directory (the instructor's checkout); the submission's folder and its parents
    (a student's handout, where `assignment.yaml` sits beside their modules). One found there is
    the submission's own copy: a handout, to be loaded as one (`load_spec(handout=True)`), as a
    hostile submission may hold an assignment.yaml and hidden.yaml of its own making.
    """
    cwd = Path.cwd() if cwd is None else cwd
    looked = []
    as_path = Path(assignment)
    # A path only as written as one: a bare NAME is never the folder NAME under the current one (a
    # student's handout folder, named as the assignment, was taken for the instructor's spec: its
    # hidden.yaml said `reference: .`, and the class was graded against the student's code).
    if as_path.suffix in (".yaml", ".yml") or "/" in assignment or os.sep in assignment or assignment in (".", ".."):
        candidate = as_path / SPEC_FILE if as_path.is_dir() else as_path
        if candidate.is_file():
            return candidate, False
        looked.append(str(candidate))
    candidate = cwd / "assignments" / assignment / SPEC_FILE
    if candidate.is_file():
        return candidate, False
    looked.append(str(candidate))
    if submission is not None:
        start = submission.resolve()
        folder = start if start.is_dir() else start.parent
        for d in [folder, *folder.parents]:
            candidate = d / SPEC_FILE
            looked.append(str(candidate))
            if candidate.is_file() and _spec_name(candidate) == assignment:
                return candidate, True
            if d == cwd.resolve() or d == Path.home():
                break
    raise SpecError(assignment, "", "assignment not found; looked for " + ", ".join(looked))


def nearest_spec(start: Path) -> Path | None:
    """The `assignment.yaml` in `start` or in the nearest folder above it, up to the home folder:
    a handout has it beside the student's files, and their notebook may sit in a subfolder."""
    start = start.resolve()
    try:
        home = Path.home()
    except RuntimeError:             # no HOME: look up to the root
        home = None
    for folder in [start, *start.parents]:
        if (folder / SPEC_FILE).is_file():
            return folder / SPEC_FILE
        if folder == home:
            break
    return None


def _spec_name(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data.get("name") if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------------
# Loading


def load_spec(path: Path | str, handout: bool = False) -> AssignmentSpec:
    """Load and validate an assignment (folder or assignment.yaml) and its hidden part if present.

    A `handout` (a spec found beside the submission: `locate_spec`) is loaded without a hidden
    part, whatever lies beside it: a hidden.yaml there is the submission's to write (its
    `reference: .` made the student's own code the reference, and every hidden case passed)."""
    path = Path(path)
    if path.is_dir():
        path = path / SPEC_FILE
    data = _read_yaml(path)
    v = _Validator(path)
    v.keys(data, "", required=("name", "framework", "modules", "functions"),
           optional=("title", "limits", "support", "scenarios", "packages"))
    name = v.identifier(data["name"], "name")
    framework = v.choice(data["framework"], "framework", FRAMEWORKS)
    modules = tuple(v.identifier(m, f"modules[{i}]") for i, m in enumerate(v.list(data["modules"], "modules")))
    if not modules:
        raise SpecError(path, "modules", "must name at least one student module")
    limits = _limits(v, data.get("limits", {}))
    support = tuple(_relative(v, p, f"support[{i}]") for i, p in enumerate(v.list(data.get("support") or [], "support")))
    scenarios = tuple(_relative(v, p, f"scenarios[{i}]", suffix=".py")
                      for i, p in enumerate(v.list(data.get("scenarios") or [], "scenarios")))
    for i, rel in enumerate(scenarios):
        stem = Path(rel).stem
        if not IDENTIFIER.match(stem) or stem in modules:
            raise SpecError(path, f"scenarios[{i}]", f"{rel}: its name must be an identifier other than a student module's")
    for i, rel in enumerate(support):
        if Path(rel).stem in modules:
            raise SpecError(path, f"support[{i}]", f"{rel}: a support module may not have a student module's name")
    packages = tuple(v.string(p, f"packages[{i}]") for i, p in enumerate(v.list(data.get("packages") or [], "packages")))
    for i, requirement in enumerate(packages):
        if not REQUIREMENT.match(requirement):
            raise SpecError(path, f"packages[{i}]", f"{requirement!r}: expected a package and an optional version, "
                                                     "as pip takes it: matplotlib, or matplotlib==3.9.2")
    fns = v.mapping(data["functions"], "functions")
    if not fns:
        raise SpecError(path, "functions", "must define at least one function")
    functions = [_function(v, fname, fdata, modules) for fname, fdata in fns.items()]
    _check_references(v, functions)

    if handout:                          # the submission's own files: none may lead out of its folder
        _inside(path, support, "support")
        _inside(path, scenarios, "scenarios")
    hidden_path = path.parent / HIDDEN_FILE
    reference_dir = None
    has_hidden = hidden_path.is_file() and not handout
    if has_hidden:
        functions, reference_dir = _load_hidden(hidden_path, functions)
    functions = _mark_steps(v, functions, {Path(rel).stem for rel in scenarios})
    return AssignmentSpec(name=name, title=str(data.get("title", name)), framework=framework,
                          modules=modules, limits=limits, functions=tuple(functions), path=path,
                          reference_dir=reference_dir, has_hidden=has_hidden, support=support, scenarios=scenarios,
                          packages=packages, beside=handout)


def _inside(path: Path, rels: tuple, key: str) -> None:
    """A handout's support or scenario files, each inside its folder once links are followed: the
    files are read by the grader's process and given to the child (a red team's planted spec
    listed links to /proc/self/environ and /etc/shadow, and the child printed both)."""
    root = path.parent.resolve()
    for i, rel in enumerate(rels):
        target = path.parent / rel
        files = [target, *target.rglob("*")] if target.is_dir() else [target]
        for f in files:
            if f.is_symlink() or not f.resolve().is_relative_to(root):
                raise SpecError(path, f"{key}[{i}]", f"{f.relative_to(path.parent)} is a link, or leads out of the "
                                                    "handout's folder: a handout found beside the submission may only "
                                                    "hold its own files")


def _relative(v: "_Validator", data: Any, where: str, suffix: str = "") -> str:
    """A path relative to the spec's folder, inside it, that exists."""
    rel = v.string(data, where)
    target = (v.file.parent / rel).resolve()
    if Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise SpecError(v.file, where, f"{rel}: must be a path inside the assignment's folder")
    if not target.exists():
        raise SpecError(v.file, where, f"{rel} does not exist beside {v.file.name}")
    if suffix and (target.suffix != suffix or not target.is_file()):
        raise SpecError(v.file, where, f"{rel}: must be a {suffix} file")
    return rel


def _mark_steps(v: "_Validator", functions: list, scenarios: set) -> list:
    """Each function's steps (and its cases' own) with the graded ones marked, and each output
    bound by another graded function's step marked with that function (see steps.mark_graded)."""
    graded = {f.name for f in functions}
    out = []
    for f in functions:
        kinds = {o.root: o.kind for o in f.outputs}

        def mark(steps, where, kinds=kinds, required=True):
            try:
                marked = mark_graded(f.name, steps, graded, scenarios, required)
            except StepError as e:
                raise SpecError(v.file, where, str(e)) from None
            # A graded call bound to one name whose output is no tuple returns one value: `return (dx,)`
            # counts as dx and `return dx, db` as a mistake, as a call with one output always has.
            return tuple(replace(s, single=s.graded and len(s.binds) == 1 and s.targets[0][0] == "name"
                                 and kinds.get(s.binds[0], "tuple") not in ("tuple", "list")) for s in marked)
        steps = mark(f.steps, f"functions.{f.name}.steps")
        cases = tuple(replace(c, steps=mark(c.steps, f"functions.{f.name}: case {c.case_id}.steps"))
                      if c.steps is not None else c for c in f.cases)
        binder = {name: s.calls for s in steps for name in s.binds}
        outputs = tuple(replace(o, setup=binder.get(o.root, "")) for o in f.outputs)
        checks = tuple(replace(c, steps=mark(c.steps, f"functions.{f.name}.checks[check: {c.kind}].steps", required=False))
                       if c.steps is not None else c for c in f.scored_checks)
        out.append(replace(f, steps=steps, cases=cases, outputs=outputs, scored_checks=checks))
    return out


def _read_yaml(path: Path, _seen: frozenset = frozenset()) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(path, "", f"cannot read: {e.strerror or e}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise SpecError(path, where, f"invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise SpecError(path, "", "must be a YAML mapping (key: value) at the top level")
    data = {k: v for k, v in data.items() if not str(k).startswith("_")}   # _keys hold anchors
    if "extends" in data:
        base_path = path.parent / str(data.pop("extends"))
        if base_path.resolve() in _seen:
            raise SpecError(path, "extends", f"{base_path} extends this file again (a cycle)")
        if not base_path.is_file():
            raise SpecError(path, "extends", f"{base_path} does not exist")
        data = _merge(_read_yaml(base_path, _seen | {path.resolve()}), data)
    return data


def _merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`: mappings merge key by key, anything else (lists too) is replaced.

    A key set to null (`name: ~`) is removed: an assignment can drop what it inherits."""
    out = dict(base)
    for key, value in over.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def resolved_yaml(path: Path) -> dict:
    """A spec file's content with `extends` applied: what a handout gets when the spec extends another."""
    return _read_yaml(path)


def dump_yaml(data: dict) -> str:
    """YAML for a resolved spec file: every value written out (no &anchors), short lists inline."""
    class Plain(yaml.SafeDumper):
        def ignore_aliases(self, data):
            return True
    return yaml.dump(data, Dumper=Plain, sort_keys=False, width=110, default_flow_style=None)


def _load_hidden(path: Path, functions: list) -> tuple[list, Path]:
    data = _read_yaml(path)
    v = _Validator(path)
    v.keys(data, "", required=("reference",), optional=("functions",))
    ref = path.parent / v.string(data["reference"], "reference")
    hidden = v.mapping(data.get("functions") or {}, "functions")
    known = {f.name for f in functions}
    for fname in hidden:
        if fname not in known:
            raise SpecError(path, f"functions.{fname}", f"no such function in {SPEC_FILE} (has: {', '.join(sorted(known))})")
    out = []
    for f in functions:
        cases = _cases(v, hidden.get(f.name) or [], f"functions.{f.name}", "hidden", f)
        if f.points_hidden > 0 and not cases:
            raise SpecError(path, f"functions.{f.name}", f"{SPEC_FILE} gives it hidden points but this file has no hidden cases for it")
        out.append(replace(f, cases=f.cases + tuple(cases)))
    return out, ref.resolve()


def _limits(v: "_Validator", data: Any) -> Limits:
    data = v.mapping(data, "limits")
    v.keys(data, "limits", optional=("case_timeout", "import_timeout", "memory", "disk", "skip_after_timeouts",
                                     "submission_timeout"))
    d = Limits()
    return Limits(
        case_timeout=v.number(data.get("case_timeout", d.case_timeout), "limits.case_timeout", positive=True),
        import_timeout=v.number(data.get("import_timeout", d.import_timeout), "limits.import_timeout", positive=True),
        memory=v.size(data.get("memory", d.memory), "limits.memory"),
        disk=v.size(data.get("disk", d.disk), "limits.disk"),
        skip_after_timeouts=int(v.number(data.get("skip_after_timeouts", d.skip_after_timeouts), "limits.skip_after_timeouts")),
        submission_timeout=v.number(data.get("submission_timeout", d.submission_timeout), "limits.submission_timeout",
                                    positive=True),
    )


def _function(v: "_Validator", name: Any, data: Any, modules: tuple) -> FunctionSpec:
    where = f"functions.{name}"
    if not isinstance(name, str) or not QUALNAME.match(name):
        raise SpecError(v.file, where, f"must be a function's name or Class.method, got {name!r}")
    data = v.mapping(data, where)
    v.keys(data, where, required=("args", "outputs", "points"),
           optional=("module", "dims", "tolerance", "all_or_nothing", "checks", "cases", "steps", "returns",
                     "properties", "regularization", "given"))
    if "module" in data:
        module = v.choice(data["module"], f"{where}.module", modules)
    elif len(modules) == 1:
        module = modules[0]
    else:
        raise SpecError(v.file, f"{where}.module", f"required when the assignment has several modules ({', '.join(modules)})")

    dims = {}
    for dname, rng in v.mapping(data.get("dims") or {}, f"{where}.dims").items():
        dwhere = f"{where}.dims.{dname}"
        v.identifier(dname, dwhere)
        if isinstance(rng, str):             # derived from the dims before it: "1 + (H + 2 * P - HH) // S"
            dims[dname] = _derived_dim(v, rng, dwhere, dims)
            continue
        if isinstance(rng, int) and not isinstance(rng, bool):
            rng = [rng, rng]
        rng = v.list(rng, dwhere)
        if len(rng) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in rng) or not 0 <= rng[0] <= rng[1]:
            raise SpecError(v.file, dwhere, f"must be an integer, a range [low, high] with 0 <= low <= high, or an "
                                            f"expression of the dims before it, got {rng!r}")
        dims[dname] = (rng[0], rng[1])

    args_data = v.mapping(data["args"], f"{where}.args")
    args = tuple(_arg(v, aname, adata, f"{where}.args.{aname}", dims) for aname, adata in args_data.items())
    clash = set(dims) & set(args_data)
    if clash:
        raise SpecError(v.file, f"{where}.args.{sorted(clash)[0]}", "is a dimension's name too: give one of them another")

    tol = v.mapping(data.get("tolerance") or {}, f"{where}.tolerance")
    rtol, atol = _tolerance(v, tol, f"{where}.tolerance", 1e-6, 1e-9)
    outputs = _outputs(v, data["outputs"], f"{where}.outputs", dims)

    points = data["points"]
    if isinstance(points, dict):
        v.keys(points, f"{where}.points", optional=("public", "hidden"))
        p_pub = v.number(points.get("public", 0), f"{where}.points.public")
        p_hid = v.number(points.get("hidden", 0), f"{where}.points.hidden")
    else:
        p_pub, p_hid = v.number(points, f"{where}.points"), 0.0
    if p_pub < 0 or p_hid < 0:
        raise SpecError(v.file, f"{where}.points", "must not be negative")

    if "steps" in data:
        if "returns" in data:
            raise SpecError(v.file, f"{where}.returns", "not with steps: the steps say what each call returns")
        steps = _steps(v, data["steps"], f"{where}.steps")
    else:
        returns = [v.identifier(r, f"{where}.returns[{i}]") for i, r in enumerate(v.list(data.get("returns")
                   or list(dict.fromkeys(o.root for o in outputs if o.root not in args_data)), f"{where}.returns"))]
        steps = default_steps(name, [a.name for a in args], returns)
    bound = set(args_data) | {b for s in steps for b in s.binds}
    for i, o in enumerate(outputs):
        if o.root not in bound:
            raise SpecError(v.file, f"{where}.outputs[{i}].name", f"{o.root} is neither an argument nor bound by a step"
                                                                   f" (bound: {', '.join(sorted(bound))})")
    properties = _properties(v, data.get("properties") or [], f"{where}.properties")

    check_items = v.flat_list(data.get("checks") or [], f"{where}.checks")
    checks = tuple(v.choice(c, f"{where}.checks[{i}]", CHECKS) for i, c in enumerate(check_items) if not isinstance(c, dict))
    fn = FunctionSpec(name=name, module=module, dims=dims, args=args, outputs=outputs, rtol=rtol, atol=atol,
                      points_public=p_pub, points_hidden=p_hid,
                      all_or_nothing=v.boolean(data.get("all_or_nothing", False), f"{where}.all_or_nothing"),
                      given=v.boolean(data.get("given", False), f"{where}.given"),
                      checks=checks, cases=(), steps=steps, properties=properties,
                      regularization=_regularization(v, data.get("regularization"), f"{where}.regularization", args))
    if not fn.compared and not properties:
        raise SpecError(v.file, f"{where}.outputs", "compares no output and has no properties: nothing would be judged")
    cases = _cases(v, data.get("cases") or [], f"{where}.cases", "public", fn)
    if p_pub > 0 and not cases:
        raise SpecError(v.file, f"{where}.cases", "public points but no public cases")
    fn = replace(fn, cases=tuple(cases))
    scored = tuple(_scored_check(v, c, f"{where}.checks[{i}]", fn) for i, c in enumerate(check_items) if isinstance(c, dict))
    names = [c.name for c in scored]
    if len(set(names)) != len(names):
        raise SpecError(v.file, f"{where}.checks", f"the same check twice: {', '.join(sorted(n for n in set(names) if names.count(n) > 1))}")
    return replace(fn, scored_checks=scored)


def _derived_dim(v: "_Validator", text: str, where: str, dims: dict) -> str:
    """A dim computed from earlier ones (integer arithmetic: + - * // %, min, max)."""
    try:
        code = expressions.compiled(text, where)
    except expressions.UnsafeExpression as e:
        raise SpecError(v.file, where, f"not an expression of dims: {e}") from None
    unknown = [n for n in code.co_names if n not in dims and n not in ("min", "max")]
    if unknown:
        raise SpecError(v.file, where, f"{unknown[0]} is not a dim declared before it (declared: {', '.join(dims) or 'none'})")
    return text


def _tolerance(v: "_Validator", tol: dict, where: str, rtol, atol) -> tuple:
    v.keys(tol, where, optional=("rtol", "atol"))
    return (v.number(tol.get("rtol", rtol), f"{where}.rtol", positive=True) if "rtol" in tol or rtol is not None else None,
            v.number(tol.get("atol", atol), f"{where}.atol", positive=True) if "atol" in tol or atol is not None else None)


def _outputs(v: "_Validator", data: Any, where: str, dims: dict) -> tuple:
    outputs = []
    for i, odata in enumerate(v.list(data, where)):
        owhere = f"{where}[{i}]"
        odata = v.mapping(odata, owhere)
        v.keys(odata, owhere, required=("name",), optional=("kind", "shape", "dtype", "tolerance", "compare"))
        name = odata["name"]
        if not isinstance(name, str) or not PATH.match(name):
            raise SpecError(v.file, f"{owhere}.name", f"must be a name or a path such as grads.W1, got {name!r}")
        kind = v.choice(odata.get("kind", "any"), f"{owhere}.kind", OUTPUT_KINDS)
        shape = _shape(v, odata["shape"], f"{owhere}.shape", dims) if "shape" in odata else None
        dtype = v.choice(odata["dtype"], f"{owhere}.dtype", FLOAT_DTYPES + INT_DTYPES + (ANY_FLOAT,)) if "dtype" in odata else None
        rtol, atol = _tolerance(v, v.mapping(odata.get("tolerance") or {}, f"{owhere}.tolerance"),
                                f"{owhere}.tolerance", None, None)
        outputs.append(OutputSpec(name=name, kind=kind, shape=shape, dtype=dtype, rtol=rtol, atol=atol,
                                  compare=v.boolean(odata.get("compare", True), f"{owhere}.compare")))
    if not outputs:
        raise SpecError(v.file, where, "must list at least one output")
    names = [o.name for o in outputs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SpecError(v.file, where, f"{twice[0]} is listed twice")
    return tuple(outputs)


def _steps(v: "_Validator", data: Any, where: str) -> tuple:
    items = v.list(data, where)
    if not items:
        raise SpecError(v.file, where, "must list at least one step")
    out = []
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise SpecError(v.file, f"{where}[{i}]", f"must be a Python statement as a string, got {_kind(text)}")
        try:
            out.append(parse_step(text))
        except StepError as e:
            raise SpecError(v.file, f"{where}[{i}]", str(e)) from None
    return tuple(out)


def _regularization(v: "_Validator", data: Any, where: str, args: tuple) -> str:
    """The name of the scalar argument weighing the function's regularization term, or ""."""
    if data is None:
        return ""
    scalars = tuple(a.name for a in args if a.kind == "scalar" and a.dtype not in INT_DTYPES + ("int",))
    if not scalars:
        raise SpecError(v.file, where, "names the argument that weighs the regularization term, and this function "
                                       "has no float scalar argument")
    return v.choice(data, where, scalars)


def _properties(v: "_Validator", data: Any, where: str) -> tuple:
    out = []
    for i, pdata in enumerate(v.flat_list(data, where)):
        pwhere = f"{where}[{i}]"
        pdata = v.mapping(pdata, pwhere)
        v.keys(pdata, pwhere, required=("name", "expect", "message"), optional=("when", "blocks", "show"))
        show = [v.string(s, f"{pwhere}.show[{k}]") for k, s in enumerate(v.flat_list(pdata.get("show", []), f"{pwhere}.show"))]
        for key, text in [(key, pdata[key]) for key in ("expect", "when") if key in pdata] \
                + [(f"show[{k}]", s) for k, s in enumerate(show)]:
            try:
                expressions.compiled(v.string(text, f"{pwhere}.{key}"), f"{pwhere}.{key}")
            except expressions.UnsafeExpression as e:
                raise SpecError(v.file, f"{pwhere}.{key}", str(e)) from None
        blocks = v.string(pdata["blocks"], f"{pwhere}.blocks") if "blocks" in pdata else ""
        out.append(PropertySpec(name=v.identifier(pdata["name"], f"{pwhere}.name"), expect=pdata["expect"],
                                message=" ".join(v.string(pdata["message"], f"{pwhere}.message").split()),
                                when=pdata.get("when", ""), blocks=blocks, show=tuple(show)))
    return tuple(out)


_CHECK_FIELDS = {                    # kind -> (its required fields, its optional fields)
    "gradient": ((), ("wrt", "loss", "grad", "samples", "h", "tolerance", "case", "steps")),
    "agrees_with": (("function",), ()),
    "no_loops": ((), ()),
    "no_autograd": ((), ()),
    "faster_than": (("function", "factor"), ("case", "repeat")),
    "analytic": (("factor",), ("case", "repeat")),
}


def _scored_check(v: "_Validator", data: dict, where: str, fn: FunctionSpec) -> CheckSpec:
    """One `{check: KIND, points: P, ...}` entry of a function's `checks`."""
    kind = v.choice(data.get("check"), f"{where}.check", SCORED_CHECKS)
    required, optional = _CHECK_FIELDS[kind]
    v.keys(data, where, required=("check", "points") + required, optional=optional + ("visibility",))
    points = v.number(data["points"], f"{where}.points")
    if points < 0:
        raise SpecError(v.file, f"{where}.points", "must not be negative")
    timed = kind in ("faster_than", "analytic")
    visibility = v.choice(data.get("visibility", "hidden" if timed else "public"),
                          f"{where}.visibility", ("public", "hidden"))
    if timed and visibility != "hidden":
        raise SpecError(v.file, f"{where}.visibility", f"{kind} times the reference, which only the "
                                                       "instructor has: it must be hidden")
    fields: dict[str, Any] = {"kind": kind, "points": points, "visibility": visibility}
    if kind == "analytic":
        fields["function"] = fn.name     # timed against the reference's own version of the function
    if "function" in data:
        fields["function"] = v.identifier(data["function"], f"{where}.function")
    if "case" in data:
        fields["case"] = _cases(v, [data["case"]], f"{where}.case", "check", fn)[0]
    elif kind in ("gradient", "faster_than", "analytic") and not fn.cases_of("public"):
        raise SpecError(v.file, f"{where}.case", "required: the function has no public case to run the check on")
    for key in ("samples", "repeat"):
        if key in data:
            n = v.number(data[key], f"{where}.{key}", positive=True)
            if n != int(n):
                raise SpecError(v.file, f"{where}.{key}", f"must be a positive integer, got {data[key]!r}")
            fields[key] = int(n)
    for key in ("h", "tolerance", "factor"):
        if key in data:
            fields[key] = v.number(data[key], f"{where}.{key}", positive=True)
    if kind == "gradient":
        fields.update(_gradient_fields(v, data, where, fn))
    return CheckSpec(**fields)


def _gradient_fields(v: "_Validator", data: dict, where: str, fn: FunctionSpec) -> dict:
    """A gradient check's loss and (input, gradient output) pairs.

    The short form names one float array argument (`wrt`), the array output holding the loss's
    gradient with respect to it (`grad`) and a scalar output (`loss`), each found when left out.
    The general form maps inputs to outputs, `wrt: {x: dx, w: dw, b: db}`, with a `loss` that is an
    output or an expression of outputs and arguments (`sum(out * dout)`: the centred differences
    of a backward function's own forward, as CS231n's eval_numerical_gradient_array)."""
    outputs = {o.name: o for o in fn.outputs}
    args = {a.name: a for a in fn.args}
    if isinstance(data.get("wrt"), dict):
        if "grad" in data:
            raise SpecError(v.file, f"{where}.grad", "not with a mapping wrt: the mapping names each gradient")
        pairs = []
        for i, (inp, out) in enumerate(v.mapping(data["wrt"], f"{where}.wrt").items()):
            if not isinstance(out, str) or not PATH.match(out) or out.split(".")[0] not in \
                    {o.root for o in fn.outputs}:
                raise SpecError(v.file, f"{where}.wrt.{inp}", f"must name an output holding its gradient, got {out!r}")
            _float_array(v, args, str(inp), f"{where}.wrt.{inp}")
            pairs.append((str(inp), out))
        if not pairs:
            raise SpecError(v.file, f"{where}.wrt", "must map at least one input to its gradient")
        loss = data.get("loss")
        if not isinstance(loss, str) or not loss:
            raise SpecError(v.file, f"{where}.loss", "required with a mapping wrt: an output, or an expression such as sum(out * dout)")
    else:
        loss = data.get("loss") or next((o.name for o in fn.outputs if o.kind == "scalar"), None)
        grad = data.get("grad") or next((o.name for o in fn.outputs if o.kind == "array"), None)
        if loss not in outputs or outputs[loss].kind != "scalar":
            raise SpecError(v.file, f"{where}.loss", f"must name a scalar output (outputs: {', '.join(outputs)})")
        if grad not in outputs or outputs[grad].kind != "array":
            raise SpecError(v.file, f"{where}.grad", f"must name an array output (outputs: {', '.join(outputs)})")
        wrt = data.get("wrt") or next((a.name for a in fn.args if a.kind == "array"
                                       and outputs[grad].shape == a.shape), None)
        if wrt not in args or args[wrt].kind != "array" or not args[wrt].dtype.startswith("float"):
            raise SpecError(v.file, f"{where}.wrt", f"must name a float array argument (arguments: {', '.join(args)})")
        pairs = [(wrt, grad)]
    if loss not in outputs:
        try:
            expressions.compiled(loss, f"{where}.loss")
        except expressions.UnsafeExpression as e:
            raise SpecError(v.file, f"{where}.loss", f"neither an output nor an expression the grader evaluates: {e}") from None
    fields = {"loss": loss, "pairs": tuple(pairs), "wrt": pairs[0][0], "grad": pairs[0][1]}
    if "steps" in data:
        fields["steps"] = _steps(v, data["steps"], f"{where}.steps")
    return fields


def _float_array(v: "_Validator", args: dict, path: str, where: str) -> None:
    """The argument (or part of one) at `path` must be a generated float array."""
    parts = path.split(".")
    arg = args.get(parts[0])
    for key in parts[1:]:
        arg = dict(arg.items).get(int(key) if key.isdigit() and arg.kind != "dict" else key) if arg is not None else None
    if arg is None or arg.kind != "array" or not arg.dtype.startswith("float"):
        raise SpecError(v.file, where, f"must name a float array argument, or one inside a dict argument "
                                       f"(arguments: {', '.join(args)})")


def _check_references(v: "_Validator", functions: list) -> None:
    """A check naming another function must name one that takes the same arguments; a property that
    blocks names another graded function."""
    by_name = {f.name: f for f in functions}
    for f in functions:
        for i, prop in enumerate(f.properties):
            if prop.blocks and (prop.blocks not in by_name or prop.blocks == f.name):
                raise SpecError(v.file, f"functions.{f.name}.properties[{i}].blocks",
                                f"must name another graded function, got {prop.blocks!r}")
        for c in f.scored_checks:
            if not c.function or c.kind == "analytic":      # analytic: the function's own reference
                continue
            where = f"functions.{f.name}.checks[check: {c.kind}].function"
            other = by_name.get(c.function)
            if other is None or other is f:
                raise SpecError(v.file, where, f"must name another function of this assignment, got {c.function!r}")
            if [a.name for a in other.args] != [a.name for a in f.args] or \
                    [o.name for o in other.compared] != [o.name for o in f.compared]:
                raise SpecError(v.file, where, f"{c.function} must take the same arguments and compare the same outputs as {f.name}")


def _arg(v: "_Validator", name: str, data: Any, where: str, dims: dict, item: bool = False) -> ArgSpec:
    """One argument (or, with `item`, one part of a container argument: any key or index name).

    A mapping with `kind` declares a generated value or a container; a mapping without `kind` is
    a dict of parts and a list a list of parts (`{mode: train, running_mean: {kind: array, ...}}`);
    any other YAML value (a string, number, bool or null) is that literal."""
    if not item:
        v.identifier(name, where)
    if isinstance(data, list):
        data = {"kind": "list", "items": data}
    elif isinstance(data, dict) and "kind" not in data:
        data = {"kind": "dict", "items": data}
    elif not isinstance(data, dict):
        data = {"kind": "literal", "value": data}
    kind = v.choice(data.get("kind"), f"{where}.kind", ARG_KINDS)
    if kind == "literal":
        v.keys(data, where, required=("kind",), optional=("value",))
        value = data.get("value")
        if not isinstance(value, (str, int, float, bool, type(None))):
            raise SpecError(v.file, f"{where}.value", f"a literal is a string, number, bool or null, got {_kind(value)}")
        return ArgSpec(name=name, kind=kind, value=value)
    if kind in CONTAINER_KINDS:
        v.keys(data, where, required=("kind", "items"), optional=())
        if kind == "dict":
            parts = v.mapping(data["items"], f"{where}.items")
            items = tuple((str(k), _arg(v, str(k), d, f"{where}.{k}", dims, item=True)) for k, d in parts.items())
        else:
            parts = v.list(data["items"], f"{where}.items")
            items = tuple((i, _arg(v, str(i), d, f"{where}[{i}]", dims, item=True)) for i, d in enumerate(parts))
        return ArgSpec(name=name, kind=kind, items=items)
    allowed = {"array": ("kind", "shape", "dtype", "dist", "loc", "scale", "low", "high"),
               "labels": ("kind", "shape", "dtype", "low", "high"),
               "scalar": ("kind", "dtype", "dist", "loc", "scale", "low", "high", "value")}[kind]
    v.keys(data, where, required=("kind", "shape") if kind != "scalar" else ("kind",), optional=allowed)
    fields: dict[str, Any] = {"name": name, "kind": kind}
    if kind != "scalar":
        fields["shape"] = _shape(v, data["shape"], f"{where}.shape", dims)
    if kind == "labels":
        fields["dtype"] = v.choice(data.get("dtype", "int64"), f"{where}.dtype", INT_DTYPES)
        fields["low"] = _int_or_dim(v, data.get("low", 0), f"{where}.low", dims)
        if "high" not in data:
            raise SpecError(v.file, f"{where}.high", "required for labels: one past the largest label, e.g. C")
        fields["high"] = _int_or_dim(v, data["high"], f"{where}.high", dims)
        return ArgSpec(**fields)
    default_dtype = "float64"
    fields["dtype"] = v.choice(data.get("dtype", default_dtype), f"{where}.dtype",
                               FLOAT_DTYPES if kind == "array" else FLOAT_DTYPES + INT_DTYPES + ("float", "int"))
    if kind == "scalar" and "value" in data:
        if isinstance(data["value"], str) and data["value"] in dims:
            fields["value"], fields["dtype"] = data["value"], "int"      # a dimension's size
        else:
            fields["value"] = v.number(data["value"], f"{where}.value")
        return ArgSpec(**fields)
    fields["dist"] = v.choice(data.get("dist", "normal"), f"{where}.dist", DISTRIBUTIONS)
    for key in ("loc", "scale", "low", "high"):
        if key == "loc" and kind == "array" and isinstance(data.get(key), dict):
            fields[key] = _loc_along(v, data[key], fields["shape"], f"{where}.loc")
        elif key in data:
            fields[key] = v.number(data[key], f"{where}.{key}")
    if fields["dist"] == "uniform" and not fields.get("low", 0.0) < fields.get("high", 1.0):
        raise SpecError(v.file, where, "uniform needs low < high")
    if fields.get("scale", 1.0) < 0:
        raise SpecError(v.file, f"{where}.scale", "must not be negative")
    return ArgSpec(**fields)


def _cases(v: "_Validator", data: Any, where: str, visibility: str, fn: FunctionSpec) -> list:
    items = v.flat_list(data, where)
    cases, seeds = [], set()
    for i, cdata in enumerate(items):
        cwhere = f"{where}[{i}]"
        cdata = v.mapping(cdata, cwhere)
        v.keys(cdata, cwhere, required=("seed",), optional=("note", "dims", "args", "steps"))
        seed = cdata["seed"]
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise SpecError(v.file, f"{cwhere}.seed", f"must be a non-negative integer, got {seed!r}")
        if seed in seeds:
            raise SpecError(v.file, f"{cwhere}.seed", f"seed {seed} is used twice")
        seeds.add(seed)
        dims = {}
        for dname, value in v.mapping(cdata.get("dims") or {}, f"{cwhere}.dims").items():
            if dname not in fn.dims:
                raise SpecError(v.file, f"{cwhere}.dims.{dname}", f"unknown dimension (declared: {', '.join(fn.dims) or 'none'})")
            if isinstance(fn.dims[dname], str):
                raise SpecError(v.file, f"{cwhere}.dims.{dname}", f"is computed ({fn.dims[dname]}): fix the dims it is computed from")
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise SpecError(v.file, f"{cwhere}.dims.{dname}", f"must be a non-negative integer, got {value!r}")
            dims[dname] = value
        overrides = {}
        by_name = {a.name: a for a in fn.args}
        for aname, adata in v.mapping(cdata.get("args") or {}, f"{cwhere}.args").items():
            awhere = f"{cwhere}.args.{aname}"
            if aname in by_name:
                overrides[aname] = _arg(v, aname, _override(by_name[aname], adata), awhere, fn.dims)
            elif "steps" in cdata:          # a case with steps of its own may use more arguments
                overrides[aname] = _arg(v, aname, adata, awhere, fn.dims)
            else:
                raise SpecError(v.file, awhere, f"unknown argument (arguments: {', '.join(by_name)}; a case with "
                                                "steps of its own may declare more)")
        for aname, arg in {**{a.name: a for a in fn.args}, **overrides}.items():
            _loc_fits(v, arg, f"{cwhere}.args.{aname}" if aname in overrides
                      else f"{cwhere} (the function's args.{aname})", dims, fn.dims)
        steps = None
        if "steps" in cdata:
            steps = _steps(v, cdata["steps"], f"{cwhere}.steps")
            bound = {a.name for a in fn.args} | set(overrides) | {b for s in steps for b in s.binds}
            missing = [o.root for o in fn.outputs if o.root not in bound]
            if missing:
                raise SpecError(v.file, f"{cwhere}.steps", f"bind no {missing[0]}, an output of {fn.name}")
        cases.append(CaseSpec(visibility=visibility, index=len(cases) + 1, seed=seed,
                              note=str(cdata.get("note", "")), dims=dims, args=overrides, steps=steps))
    return cases


def _loc_along(v: "_Validator", data: dict, shape: tuple, where: str) -> tuple:
    """An array's loc given along one of its axes, `{C: [65.0, 64.9, -40.0, -40.0]}`: a mean for
    each entry of the axis of that dim (each class's scores apart from the others', wherever the
    layout puts C). As (dim, means)."""
    if len(data) != 1:
        raise SpecError(v.file, where, "one dim of the shape, with a list of means along it: {C: [65.0, 64.9, -40.0, -40.0]}")
    (dim, means), = data.items()
    if list(shape).count(dim) != 1:
        raise SpecError(v.file, where, f"{dim} is not a dim of the shape {list(shape)} (once)")
    if not isinstance(means, list) or not means:
        raise SpecError(v.file, f"{where}.{dim}", "must be a list of numbers, one per entry of that axis")
    return str(dim), tuple(float(v.number(x, f"{where}.{dim}[{i}]")) for i, x in enumerate(means))


def _loc_fits(v: "_Validator", arg: ArgSpec, where: str, case_dims: dict, fn_dims: dict) -> None:
    """An array whose loc is given along an axis has as many means as that axis has entries in this
    case: a dim the case fixes (or that the function fixes for every case)."""
    if arg.kind in CONTAINER_KINDS:
        for key, item in arg.items:
            _loc_fits(v, item, f"{where}.{key}", case_dims, fn_dims)
        return
    if arg.kind != "array" or not isinstance(arg.loc, tuple):
        return
    dim, means = arg.loc
    rng = fn_dims.get(dim)
    size = case_dims.get(dim, rng[0] if isinstance(rng, tuple) and rng[0] == rng[1] else None)
    if size is None:
        raise SpecError(v.file, f"{where}.loc", f"has a mean per entry of {dim}, whose size each case draws: fix it in "
                                                f"the case's dims ({dim}: {len(means)})")
    if size != len(means):
        raise SpecError(v.file, f"{where}.loc", f"has {len(means)} means along {dim}, which has {size} entries")


def _override(base: ArgSpec, data: Any) -> Any:
    """A case's `args` entry laid over the function's declaration, in spec form.

    `{value: 0.0}` fixes a drawn scalar; other fields replace the declaration's (`{scale: 40}`); a
    dict argument's parts merge key by key (`{mode: test}`, `{running_mean: ~}` drops that key);
    anything else (a literal, a list) replaces the whole argument."""
    if isinstance(data, dict) and base.kind == "dict" and "kind" not in data and "items" not in data:
        return {"kind": "dict", "items": _merge(_as_yaml(base)["items"], data)}
    if isinstance(data, dict) and "kind" not in data and base.kind in LEAF_KINDS:
        if "value" in data:          # a fixed value replaces the distribution
            return {"kind": base.kind, "dtype": base.dtype, **data} if base.kind == "scalar" else {"kind": "literal", **data}
        return {**_as_yaml(base), **data}
    return data


def _as_yaml(arg: ArgSpec) -> Any:
    """An ArgSpec back in spec form, so that a case's override is validated like a declaration."""
    if arg.kind == "literal":
        return {"kind": "literal", "value": arg.value}
    if arg.kind == "dict":
        return {"kind": "dict", "items": {k: _as_yaml(a) for k, a in arg.items}}
    if arg.kind in ("list", "tuple"):
        return {"kind": arg.kind, "items": [_as_yaml(a) for _, a in arg.items]}
    keys = {"array": ("kind", "shape", "dtype", "dist", "loc", "scale", "low", "high"),
            "labels": ("kind", "shape", "dtype", "low", "high"),
            "scalar": ("kind", "dtype", "dist", "loc", "scale", "low", "high", "value")}[arg.kind]
    out = {k: getattr(arg, k) for k in keys if getattr(arg, k) is not None}
    if "shape" in out:
        out["shape"] = list(out["shape"])
    if isinstance(out.get("loc"), tuple):
        out["loc"] = {out["loc"][0]: list(out["loc"][1])}
    return out


def _shape(v: "_Validator", data: Any, where: str, dims: dict) -> tuple:
    shape = []
    for i, d in enumerate(v.list(data, where)):
        shape.append(_int_or_dim(v, d, f"{where}[{i}]", dims))
    return tuple(shape)


def _int_or_dim(v: "_Validator", d: Any, where: str, dims: dict):
    if isinstance(d, int) and not isinstance(d, bool) and d >= 0:
        return d
    if isinstance(d, str) and d in dims:
        return d
    raise SpecError(v.file, where, f"must be a non-negative integer or a declared dimension ({', '.join(dims) or 'none declared'}), got {d!r}")


def parse_size(text: Any) -> int | None:
    """'4GiB', '512MiB', '2G', 1073741824 -> bytes; None when not a size."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if text > 0 else None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B?)\s*", str(text), re.IGNORECASE)
    if not m:
        return None
    factor = 1 << (10 * " KMGT".index(m.group(2).upper() or " "))
    return int(float(m.group(1)) * factor)


class _Validator:
    """Small typed accessors that raise SpecError with the field's path."""

    def __init__(self, file: Path):
        self.file = file

    def keys(self, data: dict, where: str, required=(), optional=()):
        for key in required:
            if key not in data:
                raise SpecError(self.file, _join(where, key), "required field is missing")
        allowed = set(required) | set(optional)
        for key in data:
            if key not in allowed and not str(key).startswith("_"):
                raise SpecError(self.file, _join(where, str(key)),
                                f"unknown field (allowed here: {', '.join(sorted(allowed))})")

    def mapping(self, data: Any, where: str) -> dict:
        if not isinstance(data, dict):
            raise SpecError(self.file, where, f"must be a mapping (key: value), got {_kind(data)}")
        return {k: val for k, val in data.items() if not str(k).startswith("_")}

    def list(self, data: Any, where: str) -> list:
        if not isinstance(data, list):
            raise SpecError(self.file, where, f"must be a list, got {_kind(data)}")
        return data

    def flat_list(self, data: Any, where: str) -> list:
        """A list whose nested lists (YAML anchors merged into it) are flattened."""
        items = []
        for item in self.list(data, where):
            items.extend(item if isinstance(item, list) else [item])
        return items

    def string(self, data: Any, where: str) -> str:
        if not isinstance(data, str) or not data:
            raise SpecError(self.file, where, f"must be a non-empty string, got {_kind(data)}")
        return data

    def identifier(self, data: Any, where: str) -> str:
        if not isinstance(data, str) or not IDENTIFIER.match(data):
            raise SpecError(self.file, where, f"must be a Python identifier, got {data!r}")
        return data

    def choice(self, data: Any, where: str, choices) -> str:
        if data not in choices:
            raise SpecError(self.file, where, f"must be one of {', '.join(choices)}; got {data!r}")
        return data

    def number(self, data: Any, where: str, positive: bool = False) -> float:
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            raise SpecError(self.file, where, f"must be a number, got {data!r}")
        if positive and not data > 0:
            raise SpecError(self.file, where, f"must be positive, got {data!r}")
        return data

    def boolean(self, data: Any, where: str) -> bool:
        if not isinstance(data, bool):
            raise SpecError(self.file, where, f"must be true or false, got {data!r}")
        return data

    def size(self, data: Any, where: str) -> int:
        size = parse_size(data)
        if size is None:
            raise SpecError(self.file, where, f"must be a size such as 4GiB or 512MiB, got {data!r}")
        return size


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _kind(data: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(type(data), type(data).__name__)


class HiddenUnavailable(Exception):
    """--hidden was asked for, but this checkout has no reference or hidden cases."""


def spec_for(assignment: str, submission: Path, hidden: bool = False) -> AssignmentSpec:
    """The spec that `grader check` and the pytest plugin grade `submission` with.

    `assignment` is a name or a path, looked up as spec.find_spec says. A user's mistake is a
    FileNotFoundError, SpecError or HiddenUnavailable with a one-line message.
    """
    if not Path(submission).exists():
        raise FileNotFoundError(f"{submission}: no such file or folder")
    path, beside = locate_spec(assignment, Path(submission))
    spec = load_spec(path, handout=beside)
    if beside and hidden and (path.parent / HIDDEN_FILE).exists():     # else a handout's own words, below
        raise HiddenUnavailable(
            f"{path} lies beside the submission, so it is taken as the handout's (public cases only): a "
            "submission may hold an assignment.yaml and hidden.yaml of its own. For the hidden cases, run "
            "from the instructor's checkout (its assignments/NAME/) or pass --assignment PATH to its spec")
    check_hidden(spec, hidden)
    return spec


def check_hidden(spec: AssignmentSpec, hidden: bool) -> None:
    """HiddenUnavailable where `hidden` is asked of a handout (no reference, no hidden cases)."""
    if hidden and spec.reference_dir is None:
        raise HiddenUnavailable(
            f"hidden cases need the instructor's files ({spec.folder / 'hidden.yaml'} and the reference); "
            "this is a handout, which has only the public cases")
