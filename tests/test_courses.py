"""The two course assignments with structured values end to end: `cs231n_layers` (numpy, modules
layers.py and optim.py) and `fully_connected_networks` (torch, classes with static methods, networks
as classes, support modules a3_helper.py and eecs598/, a scenarios.py), run the way users run the
grader: the installed `grader` command in a subprocess on real files, pytest in a subprocess for
the plugin, real .ipynb files, the Gradescope zip's own run_autograder, and grader.check in a
script and in a Jupyter kernel.

Wrong submissions are the reference with a catalogued mistake applied by the catalogue's own
`variant_source` (what `grader validate` grades), or the reference with a hand-made edit that the
catalogue does not name. The correct solutions are the reference and the independent ones in
tests/independent/ (written without seeing the reference: other RNG calls for dropout, another
cache layout, ...).

Every grader run is made at most once per module (the `runs` fixture), all of them started
together, two at a time, when most of this module's tests are selected.
"""
from __future__ import annotations

import csv
import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from conftest import GRADER, LINUX, REPO, terminal_block
from test_check_cli import Runs
from grader.cases import make_case
from grader.expected.mistakes import function_span, load_catalogue, variant_source
from grader.spec import load_spec
from notebooks import as_notebook, write_notebook

pytestmark = pytest.mark.slow          # every test here grades the deep-learning assignments with `grader`, pytest or a worker

FCN, LAYERS = "fully_connected_networks", "cs231n_layers"
COURSES = (FCN, LAYERS)
ASSIGNMENT = {a: REPO / "assignments" / a for a in COURSES}
REFERENCE = {a: REPO / "reference" / a for a in COURSES}
HANDOUT = {a: REPO / "student_template" / a for a in COURSES}
INDEPENDENT = {a: REPO / "tests" / "independent" / a for a in COURSES}
MODULES = {FCN: ("fully_connected_networks",), LAYERS: ("layers", "optim")}
TOTAL = {FCN: 50, LAYERS: 74}                 # every point: public, hidden and checks
SCHEMA = REPO / "grader" / "report" / "schema.json"
RUN_TIMEOUT = 300                             # s; a hang fails, never blocks CI

# The catalogued mistakes the submissions below are built from (each in mistakes.yaml).
MISTAKE_A = {FCN: "two_layer_reg_half", LAYERS: "bn_unbiased_variance"}
MISTAKE_B = {FCN: "dropout_p_is_keep_probability", LAYERS: "dropout_p_as_drop_probability"}     # property-judged
SELF_CHECK_MISTAKES = {FCN: ("two_layer_reg_half", "dropout_p_is_keep_probability"),
                       LAYERS: ("bn_momentum_swapped", "dropout_not_inverted")}
DROPOUT = {FCN: ("Dropout.forward", "Dropout.backward"), LAYERS: ("dropout_forward", "dropout_backward")}


@functools.lru_cache(maxsize=None)
def spec_of(assignment: str):
    return load_spec(ASSIGNMENT[assignment])


def functions(assignment: str) -> list[str]:
    return [fn.name for fn in spec_of(assignment).functions]


@functools.lru_cache(maxsize=None)
def mistake(assignment: str, name: str):
    catalogue = load_catalogue(spec_of(assignment))
    (found,) = [m for m in catalogue.mistakes + catalogue.variants if m.name == name]
    return found


# ---------------------------------------------------------------------------------------------
# Submissions


def edited(source: str, *edits: tuple[str, str]) -> str:
    for old, new in edits:
        assert source.count(old) == 1, f"{old!r} occurs {source.count(old)} times: the reference changed, update this test"
        source = source.replace(old, new)
    return source


def replaced(source: str, name: str, new: str) -> str:
    """`source` with the whole definition of function `name` replaced by `new`."""
    span = function_span(source, name)
    assert span is not None, f"no function {name}"
    return source[:span.start()] + new.rstrip("\n") + "\n\n\n" + source[span.end():]


def reference_sources(assignment: str) -> dict[str, str]:
    return {m: (REFERENCE[assignment] / f"{m}.py").read_text() for m in MODULES[assignment]}


def with_mistakes(assignment: str, *names: str) -> dict[str, str]:
    """The reference's modules with catalogued mistakes applied, as `grader validate` applies them."""
    sources = reference_sources(assignment)
    for name in names:
        sources = {m: variant_source(text, mistake(assignment, name)) for m, text in sources.items()}
    assert sources != reference_sources(assignment)
    return sources


def write(folder: Path, sources: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for module, text in sources.items():
        (folder / f"{module}.py").write_text(text)
    return folder


def fcn_wrong() -> dict[str, str]:
    """Two hand-made bugs no catalogued mistake names: TwoLayerNet's grads['W2'] with reg * W2 (its
    loss and grads['W1'] right), and adam storing the bias-corrected m_hat as config['m'] (next_w right)."""
    source = edited(reference_sources(FCN)["fully_connected_networks"],
                    ("grads['W2'] = dW2 + 2 * self.reg * W2", "grads['W2'] = dW2 + self.reg * W2"),
                    ("    next_w = w - config['learning_rate'] * m_hat / (torch.sqrt(v_hat) + config['epsilon'])\n",
                     "    next_w = w - config['learning_rate'] * m_hat / (torch.sqrt(v_hat) + config['epsilon'])\n"
                     "    config['m'] = m_hat\n"))
    return {"fully_connected_networks": source}


def layers_wrong() -> dict[str, str]:
    """adam forgets to store m back into config (next_w right); batchnorm's running_mean averages the
    batch variance (a copy-paste slip: out right, running_var right)."""
    sources = reference_sources(LAYERS)
    sources["optim"] = edited(sources["optim"], ("    config['m'] = m\n", ""))
    sources["layers"] = edited(sources["layers"], ("running_mean = momentum * running_mean + (1 - momentum) * batch_mean",
                                                   "running_mean = momentum * running_mean + (1 - momentum) * batch_var"))
    return sources


BN_DICT_FORWARD = '''
def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    cache = None
    if mode == "train":
        mu = x.mean(axis=0)
        var = ((x - mu) ** 2).mean(axis=0)
        istd = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * istd
        out = gamma * xhat + beta
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
        cache = {"normalized": xhat, "scale": gamma, "inverse_std": istd, "count": N}
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache
'''

BN_DICT_BACKWARD = '''
def {name}(dout, cache):
    xhat, gamma, istd, n = cache["normalized"], cache["scale"], cache["inverse_std"], cache["count"]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = istd / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta
'''


def layers_bn_dict_cache() -> dict[str, str]:
    """Batch norm whose cache is a dict (the reference's is a 5-tuple), read by its own backwards."""
    sources = reference_sources(LAYERS)
    text = replaced(sources["layers"], "batchnorm_forward", BN_DICT_FORWARD.strip())
    for name in ("batchnorm_backward", "batchnorm_backward_alt"):
        text = replaced(text, name, BN_DICT_BACKWARD.format(name=name).strip())
    return {**sources, "layers": text}


# batchnorm_forward that raises: on every train case, or only without bn_param['eps'] (its own cases
# always give eps; batchnorm_backward's never do: the forward raises only on the backward's cases).
BN_RAISES = {"axis": ("batch_mean = x.mean(axis=0)", "batch_mean = x.mean(axis=2)"),
             "eps": ("std = np.sqrt(batch_var + eps)", "std = np.sqrt(batch_var + bn_param['eps'])")}


def syntax_error(assignment: str) -> dict[str, str]:
    module, line = {FCN: ("fully_connected_networks", "class Linear(object):"),
                    LAYERS: ("layers", "def affine_forward(x, w, b):")}[assignment]
    sources = reference_sources(assignment)
    sources[module] = edited(sources[module], (line, line.rstrip(":")))
    return sources


def notebook_source(sources: dict[str, str]) -> str:
    """One notebook for every module: the modules' code one after the other."""
    return "\n\n\n".join(sources.values())


def folder_sources(folder: Path, assignment: str) -> dict[str, str]:
    return {m: (folder / f"{m}.py").read_text() for m in MODULES[assignment]}


# ---------------------------------------------------------------------------------------------
# Running the grader


@dataclass
class Check:
    """One `grader check` run, with its JSON, JUnit and Gradescope reports."""
    args: list
    returncode: int
    stdout: str
    stderr: str
    out: Path

    @property
    def report(self) -> dict:
        path = self.out / "report.json"
        assert path.is_file(), f"no JSON report\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        return json.loads(path.read_text())

    @property
    def junit(self) -> Path:
        return self.out / "report.xml"

    @property
    def gradescope(self) -> dict:
        return json.loads((self.out / "results.json").read_text())

    def function(self, name: str) -> dict:
        (found,) = [f for f in self.report["functions"] if f["name"] == name]
        return found

    def case(self, function: str, case_id: str) -> dict:
        (found,) = [c for c in self.function(function)["cases"] if c["case_id"] == case_id]
        return found

    def output(self, function: str, case_id: str, name: str) -> dict:
        (found,) = [o for o in self.case(function, case_id)["outputs"] if o["name"] == name]
        return found

    def block(self, function: str) -> str:
        return terminal_block(self.stdout, function)

    def earned(self) -> dict[str, float]:
        return {f["name"]: f["earned"] for f in self.report["functions"]}


def grader_check(submission, assignment, out: Path, *extra, cwd: Path | None = None) -> Check:
    out.mkdir(parents=True, exist_ok=True)
    args = [GRADER, "check", str(submission), "--assignment", str(assignment), *extra,
            "--json", str(out / "report.json"), "--junit-xml", str(out / "report.xml"),
            "--gradescope", str(out / "results.json")]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=cwd or out)
    return Check(args, proc.returncode, proc.stdout, proc.stderr, out)


def run_pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env)


def junit_items(path: Path) -> dict[str, dict]:
    """pytest's JUnit file: item name -> {outcome, text, message, attributes}."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        problem = next((case.find(t) for t in ("failure", "error", "skipped") if case.find(t) is not None), None)
        out[case.get("name")] = {"outcome": "passed" if problem is None else problem.tag,
                                 "text": problem.text or "" if problem is not None else "",
                                 "message": problem.get("message") if problem is not None else "",
                                 "attrib": dict(case.attrib)}
    return out


def grade(subs: Path, assignment: str, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([GRADER, "grade", str(subs), "--assignment", str(ASSIGNMENT[assignment]), "--out", str(out),
                           "--workers", "2"], capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=out.parent)


def gradebook(out: Path) -> list[dict]:
    with open(out / "gradebook.csv", newline="") as f:
        return list(csv.DictReader(f))


STUDENTS = ["ada", "grace", "hal", "ivy", "jo", "kim", "lee"]   # see class_folder


def class_folder(root: Path, assignment: str) -> Path:
    """A small class: ada the reference, grace the independent solution, hal the untouched handout,
    ivy and jo a catalogued mistake each, kim a syntax error, lee a notebook (the independent
    solution). fully_connected_networks' are loose files as exports name them; cs231n_layers'
    (two modules each) are folders."""
    subs = root / "submissions"
    subs.mkdir(parents=True)
    students = {"ada": reference_sources(assignment),
                "grace": folder_sources(INDEPENDENT[assignment], assignment),
                "hal": folder_sources(HANDOUT[assignment], assignment),
                "ivy": with_mistakes(assignment, MISTAKE_A[assignment]),
                "jo": with_mistakes(assignment, MISTAKE_B[assignment]),
                "kim": syntax_error(assignment)}
    for student, sources in students.items():
        if assignment == FCN:
            name = {"ivy": "ivy_fully_connected_networks.py"}.get(student, f"{student}.py")   # a module-named export
            (subs / name).write_text(sources["fully_connected_networks"])
        else:
            write(subs / student, sources)
    write_notebook(subs / "lee.ipynb", as_notebook(notebook_source(students["grace"])))
    return subs


MASKS = textwrap.dedent("""
    import importlib.util, json, sys
    from pathlib import Path
    import numpy as np, torch
    from grader.cases import make_case
    from grader.spec import load_spec
    repo = Path(sys.argv[1])
    sys.path.insert(0, str(repo / "assignments" / "fully_connected_networks"))     # a3_helper, eecs598

    def load(path, name):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def case_args(assignment, function):
        spec = load_spec(repo / "assignments" / assignment)
        fn = spec.function(function)
        (case,) = [c for c in fn.cases if c.case_id == "public-1"]
        return make_case(spec, fn, case).args

    out = {}
    args = case_args("fully_connected_networks", "Dropout.forward")
    for who, path in (("reference", "reference"), ("independent", "tests/independent")):
        m = load(repo / path / "fully_connected_networks" / "fully_connected_networks.py", f"fcn_{who}")
        y, _ = m.Dropout.forward(torch.from_numpy(args["x"]), dict(args["dropout_param"]))
        out[f"fully_connected_networks/{who}"] = (y != 0).numpy().astype(int).tolist()
    args = case_args("cs231n_layers", "dropout_forward")
    for who, path in (("reference", "reference"), ("independent", "tests/independent")):
        m = load(repo / path / "cs231n_layers" / "layers.py", f"layers_{who}")
        y, _ = m.dropout_forward(args["x"].copy(), dict(args["dropout_param"]))
        out[f"cs231n_layers/{who}"] = (y != 0).astype(int).tolist()
    print(json.dumps(out))
""")


# relu_forward answering in float32 (right within the spec's tolerance), with the right relu_backward
# and with one 1% off everywhere.
F32_FORWARD = {
    "f32-forward": [("    out = np.maximum(0, x)  ", "    out = np.maximum(0, x).astype(np.float32)  ")],
    "f32-forward-wrong-backward": [("    out = np.maximum(0, x)  ", "    out = np.maximum(0, x).astype(np.float32)  "),
                                   ("    dx = dout * (x > 0)", "    dx = dout * (x > 0) * 1.01")],
    # relu_forward in float32, and 1.5 times as large in a child where affine_forward has not run: the
    # child of the float32 rerun, which runs only the check's moved calls; relu_backward 1.5 times too
    # large on the check's case. The rerun's differences then match the wrong gradient.
    "f32-rerun-forged": [("def affine_forward(x, w, b):\n", "_SEEN = [False]\n\n\ndef affine_forward(x, w, b):\n    _SEEN[0] = True\n"),
                         ("    out = np.maximum(0, x)  ", "    out = np.maximum(0, x).astype(np.float32) * np.float32(1 if _SEEN[0] else 1.5)  "),
                         ("    dx = dout * (x > 0)", "    dx = dout * (x > 0) * (1.5 if x.shape == (3, 5) else 1)")],
    # dropout_forward's mask from a generator of its own, seeded by the machine: another mask on every call
    "unseeded-dropout": [("        mask = (np.random.rand(*x.shape) < p) / p",
                          "        mask = (np.random.RandomState().rand(*x.shape) < p) / p")],
}


def _plan(tmp: Path) -> dict:
    plan = {}
    for a in COURSES:
        spec = ASSIGNMENT[a]
        subs = tmp / a / "submissions"
        build = {"wrong": fcn_wrong if a == FCN else layers_wrong,
                 "mistake_a": lambda a=a: with_mistakes(a, MISTAKE_A[a]),
                 "mistake_b": lambda a=a: with_mistakes(a, MISTAKE_B[a])}
        plan[f"{a}:handout"] = lambda a=a: grader_check(HANDOUT[a], HANDOUT[a], tmp / a / "handout")
        plan[f"{a}:reference"] = lambda a=a: grader_check(REFERENCE[a], ASSIGNMENT[a], tmp / a / "reference", "--hidden")
        plan[f"{a}:independent"] = lambda a=a: grader_check(INDEPENDENT[a], ASSIGNMENT[a], tmp / a / "independent", "--hidden")
        for key, make in build.items():
            plan[f"{a}:{key}"] = (lambda a=a, key=key, make=make, spec=spec, subs=subs:
                                  grader_check(write(subs / key, make()), spec, tmp / a / key, "--hidden"))
        plan[f"{a}:notebook"] = lambda a=a, subs=subs: grader_check(
            write_notebook(subs / "nb-independent" / "work.ipynb",
                           as_notebook(notebook_source(folder_sources(INDEPENDENT[a], a)))),
            ASSIGNMENT[a], tmp / a / "notebook", "--hidden")
        plan[f"{a}:self-check"] = lambda a=a: self_check(a, tmp / a / "self-check")
        if LINUX:                    # batch grading stays on Linux: elsewhere its tests are skipped, its runs not started
            plan[f"{a}:grade"] = lambda a=a: grade_twice(a, tmp / a / "class")
    plan["fully_connected_networks:wrong-notebook"] = lambda: grader_check(
        write_notebook(tmp / FCN / "submissions" / "nb-wrong" / "work.ipynb", as_notebook(notebook_source(fcn_wrong()))),
        ASSIGNMENT[FCN], tmp / FCN / "wrong-notebook", "--hidden")
    plan["cs231n_layers:bn-dict"] = lambda: grader_check(write(tmp / LAYERS / "submissions" / "bn-dict", layers_bn_dict_cache()),
                                                         ASSIGNMENT[LAYERS], tmp / LAYERS / "bn-dict", "--hidden")
    for how, edit in BN_RAISES.items():
        plan[f"cs231n_layers:bn-raises-{how}"] = (lambda how=how, edit=edit: grader_check(
            write(tmp / LAYERS / "submissions" / f"bn-raises-{how}",
                  {**reference_sources(LAYERS), "layers": edited(reference_sources(LAYERS)["layers"], edit)}),
            ASSIGNMENT[LAYERS], tmp / LAYERS / f"bn-raises-{how}", "--hidden"))
    for key, edits in F32_FORWARD.items():
        plan[f"cs231n_layers:{key}"] = (lambda key=key, edits=edits: grader_check(
            write(tmp / LAYERS / "submissions" / key,
                  {**reference_sources(LAYERS), "layers": edited(reference_sources(LAYERS)["layers"], *edits)}),
            ASSIGNMENT[LAYERS], tmp / LAYERS / key, "--hidden"))
    plan["pytest"] = lambda: plugin_runs(tmp / "pytest")
    if LINUX:
        plan["gradescope"] = lambda: gradescope_run(tmp / "gradescope")
    plan["masks"] = lambda: json.loads(subprocess.run([sys.executable, "-c", MASKS, str(REPO)], capture_output=True,
                                                      text=True, timeout=RUN_TIMEOUT, check=True).stdout)
    plan["check-api"] = lambda: check_api_runs(tmp / "check-api")
    return plan


def self_check(assignment: str, root: Path) -> Check:
    """A student's copy of the handout (no mistakes.yaml, no reference) with catalogued mistakes in
    their code, checked the way the handout says: in the folder, the assignment by name."""
    folder = shutil.copytree(HANDOUT[assignment], root / "hw", ignore=shutil.ignore_patterns("__pycache__"))
    write(folder, with_mistakes(assignment, *SELF_CHECK_MISTAKES[assignment]))
    target = "fully_connected_networks.py" if assignment == FCN else "."
    return grader_check(target, assignment, root / "out", cwd=folder)


def grade_twice(assignment: str, root: Path) -> dict:
    subs = class_folder(root, assignment)
    out = root / "graded"
    first = grade(subs, assignment, out)
    mtimes = {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("result.json")}
    time.sleep(0.05)
    second = grade(subs, assignment, out)
    return {"subs": subs, "out": out, "first": first, "second": second, "mtimes": mtimes,
            "after": {p.relative_to(out): p.stat().st_mtime_ns for p in out.rglob("result.json")}}


def plugin_runs(root: Path) -> dict:
    """A student's handout folder holding fully_connected_networks.py with the two hand-made bugs;
    pytest run there as the docs say, then with -k; and grader check on the same file."""
    folder = shutil.copytree(HANDOUT[FCN], root / "hw3", ignore=shutil.ignore_patterns("__pycache__"))
    write(folder, fcn_wrong())
    options = ["--grader-assignment", FCN, "--grader-submission", "fully_connected_networks.py"]
    full = run_pytest(folder, *options, "-rA", f"--junitxml={root / 'full.xml'}")
    k = run_pytest(folder, *options, "-rA", "-k", "TwoLayerNet", "-o", "junit_family=xunit1", f"--junitxml={root / 'k.xml'}")
    adam = run_pytest(folder, *options, "-k", "adam", "-o", "junit_family=xunit1", f"--junitxml={root / 'adam.xml'}")
    check = grader_check("fully_connected_networks.py", FCN, root / "check", cwd=folder)
    return {"folder": folder, "full": full, "full_items": junit_items(root / "full.xml"), "k": k,
            "k_items": junit_items(root / "k.xml"), "adam": adam, "adam_items": junit_items(root / "adam.xml"),
            "check": check}


def gradescope_run(root: Path) -> dict:
    """The zip built in the checkout, unpacked as Gradescope does (/autograder/source), run on a
    submission folder holding only the student's file."""
    root.mkdir(parents=True)
    archive = root / "autograder.zip"
    build = subprocess.run([GRADER, "gradescope", FCN, "--out", str(archive)], cwd=REPO, capture_output=True,
                           text=True, timeout=RUN_TIMEOUT)
    assert build.returncode == 0, build.stderr
    autograder = root / "autograder"
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        z.extractall(autograder / "source")
    write(autograder / "submission", fcn_wrong())
    env = {**os.environ, "AUTOGRADER_ROOT": str(autograder), "PATH": f"{Path(GRADER).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", str(autograder / "source" / "run_autograder")], env=env, capture_output=True,
                         text=True, timeout=RUN_TIMEOUT, cwd=root)
    return {"names": names, "run": run, "results": autograder / "results" / "results.json", "source": autograder / "source"}


CHECK_SCRIPT = textwrap.dedent("""
    from grader import check
    from fully_connected_networks import TwoLayerNet, Dropout

    if __name__ == "__main__":
        for what in (%s):
            feedback = check(what)
            print("@@", feedback.passed, feedback.error or "")
""")


KERNEL = textwrap.dedent("""
    import json, sys
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook
    nb = new_notebook(cells=[new_code_cell(c) for c in json.load(open(sys.argv[1], encoding="utf-8"))])
    NotebookClient(nb, timeout=300, kernel_name="grader-courses", allow_errors=True, coalesce_streams=True,
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
    print(json.dumps([[o["text"] if o["output_type"] == "stream" else f"{o['ename']}: {o['evalue']}"
                       for o in cell.outputs if o["output_type"] in ("stream", "error")] for cell in nb.cells]))
""")


def check_api_runs(root: Path) -> dict:
    """grader.check on class methods, from a student's script beside their file and from a Jupyter
    kernel whose cells define the classes."""
    folder = shutil.copytree(HANDOUT[FCN], root / "hw3", ignore=shutil.ignore_patterns("__pycache__"))
    write(folder, fcn_wrong())
    out = {}
    scripts = {"script-name": CHECK_SCRIPT % '"TwoLayerNet.loss",',            # the class imported from their file
               "script-method": CHECK_SCRIPT % "TwoLayerNet.loss,",
               "script-class": CHECK_SCRIPT % "TwoLayerNet,",
               "script-unimported": CHECK_SCRIPT.replace("from fully_connected_networks import TwoLayerNet, Dropout\n", "")
                                    % '"TwoLayerNet.loss",'}           # a name only: the file beside the script
    for key, text in scripts.items():
        (folder / f"{key}.py").write_text(text)
        out[key] = subprocess.run([sys.executable, f"{key}.py"], cwd=folder, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    kernels = root / "jupyter" / "kernels" / "grader-courses"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                                                     "display_name": "grader tests", "language": "python"}))
    cells = [fcn_wrong()["fully_connected_networks"],
             "from grader import check\nfeedback = check('TwoLayerNet.loss')\nprint(feedback.passed, repr(feedback.error))",
             "feedback = check(TwoLayerNet.loss)\nprint(feedback.passed, repr(feedback.error))",
             "feedback = check(TwoLayerNet)\nprint(feedback.passed, repr(feedback.error))"]
    (root / "cells.json").write_text(json.dumps(cells))
    env = {**os.environ, "JUPYTER_PATH": str(root / "jupyter")}
    proc = subprocess.run([sys.executable, "-c", KERNEL, str(root / "cells.json"), str(folder)], env=env, cwd=root,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    out["kernel"] = json.loads(proc.stdout)
    out["folder"] = folder
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    selected = [item for item in request.session.items if item.module is request.module]
    # Under pytest-xdist each worker sees every item but runs a share: it runs only what its tests ask for.
    prefetch = len(selected) > 40 and "PYTEST_XDIST_WORKER" not in os.environ
    r = Runs(_plan(tmp_path_factory.mktemp("courses")), prefetch=prefetch)             # test_check_cli's
    yield r
    r.close()


def assert_clean(run: Check, returncode: int):
    assert run.returncode == returncode, (
        f"exit code {run.returncode}, expected {returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}")
    assert "Traceback" not in run.stderr + run.stdout, run.stderr + run.stdout


def assert_full_marks(run: Check, assignment: str):
    assert_clean(run, 0)
    report = run.report
    assert report["hidden_graded"] is True
    assert [f["name"] for f in report["functions"]] == functions(assignment)
    assert report["score"]["earned"] == report["score"]["possible"] == TOTAL[assignment]
    assert report["counts"]["failures"] == report["counts"]["errors"] == 0
    statuses = {c["status"] for f in report["functions"] for c in f["cases"]} | \
               {c["status"] for f in report["functions"] for c in f["checks"]}
    assert statuses == {"passed"}
    assert "FAIL" not in run.stdout
    assert re.search(rf"^All \d+ public and hidden cases and \d+ checks passed: {TOTAL[assignment]}/{TOTAL[assignment]} points\.$",
                     run.stdout, re.M), run.stdout


def assert_loses_only_in(run: Check, assignment: str, losing: set[str]):
    """The functions in `losing` lose points; every other function keeps all of its points."""
    full = {f["name"]: f["possible"] for f in run.report["functions"]}
    earned = run.earned()
    assert {fn for fn in earned if earned[fn] < full[fn]} == losing, earned


# ---------------------------------------------------------------------------------------------
# 1. grader check: the handout, the reference, the independent solutions; JSON and JUnit


@pytest.mark.parametrize("assignment", COURSES)
def test_the_untouched_handout_scores_zero_naming_each_unwritten_function(runs, assignment):
    run = runs[f"{assignment}:handout"]
    assert_clean(run, 1)
    report = run.report
    assert report["hidden_graded"] is False and report["score"]["earned"] == 0
    assert [f["name"] for f in report["functions"]] == functions(assignment)
    assert "Public cases only: hidden cases are run when your work is graded." in run.stdout
    assert re.search(r"^0 of \d+ public cases and 0 of \d+ checks passed: 0/\d+ points\. Hidden cases, worth \d+ more points, "
                     r"are not run here\.$", run.stdout, re.M), run.stdout
    for fn in report["functions"]:
        name = fn["name"]
        assert fn["earned"] == 0
        assert run.block(name).startswith(f"FAIL {name}: 0/{len(fn['cases'])} cases passed")
        for case in fn["cases"]:
            assert case["status"] == "not_implemented", (name, case)
            message = case["message"]
            # its own stub, or the stub it needs: a backward's cases start with the forward, Linear_ReLU calls Linear
            unwritten = re.fullmatch(r"(?:not judged: your (?P<a>[\w.]+) is not implemented yet, and "
                                     + re.escape(name) + r"'s cases start with it \(`.+`\))"
                                     r"|(?:" + re.escape(name) + r" calls (?P<b>[\w.]+), which is not implemented yet)"
                                     r"|(?:(?P<c>" + re.escape(name) + r") is not implemented yet)", message)
            assert unwritten, message
            stub = unwritten["a"] or unwritten["b"] or unwritten["c"]
            assert f'raise NotImplementedError("{stub} is not implemented yet")' in case["details"], case["details"]
            assert message in run.block(name)
    by_name = {f["name"]: f for f in report["functions"]}
    if assignment == FCN:
        assert {c["message"] for c in by_name["Linear.forward"]["cases"]} == {"Linear.forward is not implemented yet"}
        assert {c["message"] for c in by_name["Dropout.forward"]["cases"]} == {"Dropout.forward is not implemented yet"}
        assert "not judged: your TwoLayerNet.__init__ is not implemented yet, and TwoLayerNet.loss's cases start with it" \
            in run.block("TwoLayerNet.loss")


@pytest.mark.parametrize("key", [f"{a}:{who}" for a in COURSES for who in ("reference", "independent")])
def test_correct_solutions_get_full_marks_hidden_cases_included(runs, key):
    assignment = key.split(":")[0]
    assert_full_marks(runs[key], assignment)


@pytest.mark.parametrize("key", [f"{a}:{who}" for a in COURSES for who in ("handout", "reference", "wrong")])
def test_junit_has_one_testsuite_per_function_named_as_the_student_writes_it(runs, key):
    assignment = key.split(":")[0]
    run = runs[key]
    root = ET.parse(run.junit).getroot()
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == functions(assignment)
    if assignment == FCN:
        assert "TwoLayerNet.loss" in [s.get("name") for s in suites]
    for suite, fn in zip(suites, run.report["functions"]):
        cases = suite.findall("testcase")
        assert len(cases) == int(suite.get("tests")) == len(fn["cases"]) + len(fn["checks"]), fn["name"]
        assert {c.get("classname") for c in cases} == {f"{assignment}.{fn['name']}"}
        bad = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
        assert len(bad) == sum(c["status"] != "passed" for c in fn["cases"] + fn["checks"]), fn["name"]
    counts = run.report["counts"]
    assert (int(root.get("tests")), int(root.get("failures")), int(root.get("errors"))) == \
        (counts["tests"], counts["failures"], counts["errors"])


@pytest.mark.parametrize("key", [f"{a}:{who}" for a in COURSES
                                 for who in ("handout", "reference", "independent", "wrong", "mistake_a", "mistake_b", "notebook")])
def test_json_report_validates_against_the_schema(runs, key):
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(runs[key].report)


def test_output_names_are_paths_into_the_returned_values(runs):
    fcn, layers = runs[f"{FCN}:reference"], runs[f"{LAYERS}:reference"]
    names = lambda run, fn, cid="public-1": [o["name"] for o in run.case(fn, cid)["outputs"]]
    assert names(fcn, "TwoLayerNet.loss") == ["scores", "loss", "grads['W1']", "grads['b1']", "grads['W2']", "grads['b2']"]
    assert set(names(fcn, "FullyConnectedNet.loss")) >= {"grads['W3']", "grads['b3']"}
    assert set(names(fcn, "FullyConnectedNet.loss", "hidden-2")) >= {"grads['W4']", "grads['b4']"}   # three hidden layers
    assert names(fcn, "adam") == ["next_w", "config['m']", "config['v']", "config['t']"]
    assert names(fcn, "TwoLayerNet.__init__")[:4] == ["params['W1']", "params['b1']", "params['W2']", "params['b2']"]
    assert names(layers, "batchnorm_forward") == ["out", "bn_param['running_mean']", "bn_param['running_var']"]
    assert names(layers, "adam") == ["next_w", "config['m']", "config['v']", "config['t']"]
    assert names(layers, "sgd_momentum") == ["next_w", "config['velocity']"]
    for run in (fcn, layers):
        dropout = names(run, DROPOUT[run.report["assignment"]][0])
        assert "property inverted" in dropout and "property same_seed_same_mask" in dropout


# ---------------------------------------------------------------------------------------------
# 2. Feedback on wrong submissions names the path and the element


PATH_MESSAGE = r"^{path}\[(\d+)(?:, (\d+))?\]: expected (\S+), got (\S+) \(relative error [^,;]+, tolerance 1e-06; (\d+) of (\d+) values are outside it\)"


def element_message(run: Check, function: str, case_id: str, path: str) -> tuple:
    """The case's message names `path` and its worst element, with expected and got as the JSON has them."""
    case = run.case(function, case_id)
    assert case["status"] == "failed"
    found = re.match(PATH_MESSAGE.format(path=re.escape(path)), case["message"])
    assert found, case["message"]
    output = run.output(function, case_id, path)
    assert output["ok"] is False
    index = tuple(int(i) for i in found.groups()[:2] if i is not None)
    assert list(index) == output["worst_index"]
    assert found[3] == f"{output['expected']:.8g}" and found[4] == f"{output['got']:.8g}"
    assert f"     {case_id} (seed {case['seed']}" in run.block(function)
    assert f"        {case['message']}" in run.block(function)
    return index, output["expected"], output["got"], case


def case_args(assignment: str, function: str, case_id: str) -> dict:
    spec = spec_of(assignment)
    fn = spec.function(function)
    (case,) = [c for c in fn.cases if c.case_id == case_id]
    return make_case(spec, fn, case).args


def test_a_wrong_grads_entry_of_two_layer_net_is_named_by_path_and_element(runs):
    run = runs[f"{FCN}:wrong"]
    assert_clean(run, 1)
    (i, j), expected, got, case = element_message(run, "TwoLayerNet.loss", "public-1", "grads['W2']")
    assert [o["name"] for o in case["outputs"] if not o["ok"]] == ["grads['W2']"]       # the loss and grads['W1'] are right
    args = case_args(FCN, "TwoLayerNet.loss", "public-1")
    assert got == pytest.approx(expected - args["reg"] * args["W2"][i, j], rel=1e-9, abs=1e-12)   # reg * W2, not 2 * reg * W2
    assert run.case("TwoLayerNet.loss", "public-2")["status"] == "passed"       # reg = 0 there
    assert case["diagnosis"] == ""                                              # no catalogued mistake is this one


def test_a_wrong_adam_config_m_is_named_by_path_and_element(runs):
    fcn = runs[f"{FCN}:wrong"]           # config['m'] holds m_hat: on the first step m / (1 - beta1) = 10 m
    (i, j), expected, got, case = element_message(fcn, "adam", "public-1", "config['m']")
    assert got == pytest.approx(expected / (1 - 0.9), rel=1e-9)
    assert [o["name"] for o in case["outputs"] if not o["ok"]] == ["config['m']"]   # next_w, v and t are right
    layers = runs[f"{LAYERS}:wrong"]     # config['m'] never updated: it stays at zeros
    (i, j), expected, got, case = element_message(layers, "adam", "public-1", "config['m']")
    args = case_args(LAYERS, "adam", "public-1")
    assert got == 0 and expected == pytest.approx(0.1 * args["dw"][i, j], rel=1e-12)
    assert [o["name"] for o in case["outputs"] if not o["ok"]] == ["config['m']"]
    assert {c["status"] for c in layers.function("adam")["cases"]} == {"failed"}


def test_a_wrong_running_mean_in_bn_param_is_named_by_path_and_element(runs):
    run = runs[f"{LAYERS}:wrong"]
    (j,), expected, got, case = element_message(run, "batchnorm_forward", "public-1", "bn_param['running_mean']")
    x = case_args(LAYERS, "batchnorm_forward", "public-1")["x"]       # running averages start at zeros, momentum 0.9
    assert expected == pytest.approx(0.1 * x.mean(axis=0)[j], rel=1e-9)
    assert got == pytest.approx(0.1 * x.var(axis=0)[j], rel=1e-9)
    assert [o["name"] for o in case["outputs"] if not o["ok"]] == ["bn_param['running_mean']"]
    assert run.case("batchnorm_forward", "public-3")["status"] == "passed"      # test mode reads the given averages
    assert_loses_only_in(run, LAYERS, {"batchnorm_forward", "adam"})


@pytest.mark.parametrize("assignment, which", [(a, w) for a in COURSES for w in ("mistake_a", "mistake_b")])
def test_a_catalogued_mistake_is_diagnosed_in_grader_check_hidden(runs, assignment, which):
    name = (MISTAKE_A if which == "mistake_a" else MISTAKE_B)[assignment]
    m = mistake(assignment, name)
    run = runs[f"{assignment}:{which}"]
    assert_clean(run, 1)
    losing = {fn for fn in functions(assignment) if run.function(fn)["earned"] < run.function(fn)["possible"]}
    assert set(m.touches) <= losing
    # graded on the wrong forward's output, so not judged where it is wrong
    assert losing - set(m.touches) <= {"batchnorm_backward", "batchnorm_backward_alt", "dropout_backward", "Dropout.backward"}
    for fn in losing - set(m.touches):
        assert all(c["blocked_by"] for c in run.function(fn)["cases"] if c["status"] != "passed"), fn
    for fn in m.touches:
        diagnosed = [c for c in run.function(fn)["cases"] if m.sentence in c["diagnosis"]]
        assert diagnosed, f"{fn}: {name} never named"
        assert f"Probably: {diagnosed[0]['diagnosis']}" in run.block(fn)
        assert f"Probably: {m.sentence}" in run.stdout or f"Or: {m.sentence}" in run.stdout


# ---------------------------------------------------------------------------------------------
# 3. A backward is graded on the student's own cache


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_backward_reading_its_own_cache_layout_passes(runs, tmp_path):
    run = runs[f"{LAYERS}:bn-dict"]
    assert_full_marks(run, LAYERS)
    # The layouts really differ: the reference's backward cannot read this cache, nor this backward the reference's.
    student = load_module(write(tmp_path / "s", layers_bn_dict_cache()) / "layers.py", "bn_dict_student")
    reference = load_module(REFERENCE[LAYERS] / "layers.py", "bn_dict_reference")
    args = case_args(LAYERS, "batchnorm_backward", "public-1")
    _, cache = student.batchnorm_forward(args["x"], args["gamma"], args["beta"], dict(args["bn_param"]))
    _, reference_cache = reference.batchnorm_forward(args["x"], args["gamma"], args["beta"], dict(args["bn_param"]))
    assert isinstance(cache, dict) and isinstance(reference_cache, tuple)
    with pytest.raises((TypeError, ValueError, KeyError, IndexError)):
        reference.batchnorm_backward(args["dout"], cache)
    with pytest.raises((TypeError, ValueError, KeyError, IndexError)):
        student.batchnorm_backward(args["dout"], reference_cache)


@pytest.mark.parametrize("how, exception", [("axis", "AxisError"), ("eps", "KeyError")])
def test_a_forward_that_raises_is_named_and_its_backward_not_blamed(runs, how, exception):
    run = runs[f"{LAYERS}:bn-raises-{how}"]
    assert_clean(run, 1)
    raised_line = BN_RAISES[how][1]
    for fn in ("batchnorm_backward", "batchnorm_backward_alt"):
        for case in run.function(fn)["cases"]:
            assert case["status"] == "error" and case["blocked_by"] == "batchnorm_forward", case
            assert case["message"].startswith("not judged: `out, cache = batchnorm_forward(x, gamma, beta, bn_param)`, "
                                              f"which {fn}'s cases run first, raised {exception}: "), case["message"]
            assert case["message"].endswith("; fix batchnorm_forward first")
            assert f"{fn} raised" not in case["message"]
            assert case["details"].startswith("layers.py, line ") and f"in batchnorm_forward: {raised_line}" in case["details"]
        assert run.function(fn)["earned"] == 0
        assert {c["status"] for c in run.function(fn)["checks"]} == {"error"}
        assert "not judged" in run.block(fn) and "fix batchnorm_forward first" in run.block(fn)
    if how == "eps":           # its own cases give eps but one, where it fails too
        forward = {c["case_id"]: c["status"] for c in run.function("batchnorm_forward")["cases"] if c["status"] != "passed"}
        assert list(forward.values()) == ["error"], forward
        assert_loses_only_in(run, LAYERS, {"batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt"})
    else:
        assert {c["status"] for c in run.function("batchnorm_forward")["cases"] if "test mode" not in c["note"]} == {"error"}
        assert_loses_only_in(run, LAYERS, {"batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt"})


def test_a_backward_is_not_judged_on_a_forward_that_returns_a_wrong_out(runs):
    run = runs[f"{LAYERS}:mistake_a"]          # bn_unbiased_variance: batchnorm_forward's out is wrong
    for fn in ("batchnorm_backward", "batchnorm_backward_alt"):
        for case in run.function(fn)["cases"]:
            assert case["blocked_by"] == "batchnorm_forward", case
            assert case["message"].startswith("not judged: your batchnorm_forward is wrong on this case (out["), case["message"]
            assert case["message"].endswith(f"and {fn} is graded on what it returns: fix batchnorm_forward first (see its own cases)")


def test_a_backward_gradient_check_takes_a_float32_forward_at_float32s_precision(runs):
    """The check of relu_backward differentiates sum(out * dout) with the student's own relu_forward:
    float64 (dout is), but out rounded to float32, whose rounding float64's step measures. Judged
    again with float32's step: a right backward passes, one 1% off still fails."""
    run = runs[f"{LAYERS}:f32-forward"]
    assert run.case("relu_forward", "public-1")["status"] == "passed"
    (check,) = run.function("relu_backward")["checks"]
    assert check["status"] == "passed", check["message"]
    assert_full_marks(run, LAYERS)
    wrong = runs[f"{LAYERS}:f32-forward-wrong-backward"]
    (check,) = wrong.function("relu_backward")["checks"]
    assert check["status"] == "failed" and check["message"].startswith(
        "dx is not the gradient of sum(out * dout) with your own out"), check["message"]
    assert "step 0.001" in check["details"]


def test_the_float32_rerun_checks_its_loss_on_the_unmoved_inputs_too(runs):
    """The rerun's child can tell it is not the first (what ran before it did not run there): a loss
    that answers otherwise there would make its differences match any gradient. The unmoved inputs
    run among the moved ones, at a place drawn for this run, and must give the first run's loss."""
    run = runs[f"{LAYERS}:f32-rerun-forged"]
    (check,) = run.function("relu_backward")["checks"]
    assert check["status"] == "error" and check["earned"] == 0, check
    assert check["message"].startswith("not judged: sum(out * dout) on the case's own inputs is not what it was on "
                                       "the first run ("), check["message"]


def test_a_checks_rerun_gets_only_what_is_left_of_the_submissions_time(tmp_path, monkeypatch):
    """Each rerun was a job with a time limit of its own: a submission slow in the rerun's child held
    its worker past limits.submission_timeout by the rerun's length, once per check that reruns."""
    from grader.grade import grade_submission
    from grader.run.worker import Worker, start_worker
    spec = load_spec(ASSIGNMENT[LAYERS])
    sub = write(tmp_path / "s", {**reference_sources(LAYERS),
                                 "layers": edited(reference_sources(LAYERS)["layers"], *F32_FORWARD["f32-forward"])})
    limits = []
    real = Worker.run
    monkeypatch.setattr(Worker, "run", lambda self, job, inputs: limits.append(job["limits"]["submission_timeout"])
                        or real(self, job, inputs))
    with start_worker(spec.framework) as worker:
        result = grade_submission(spec, sub, hidden=True, worker=worker)
    fn = next(f for f in result.functions if f.name == "relu_backward")
    assert fn.checks[0].status == "passed", fn.checks[0].message          # judged again with float32's step
    assert limits.count(spec.limits.submission_timeout) >= 2           # the reference's job, the submission's
    assert any(t < spec.limits.submission_timeout for t in limits), limits      # the rerun: what was left


def test_a_gradient_check_over_a_forward_that_answers_differently_each_time_is_not_judged(runs):
    """dropout_backward is right, but its forward draws a new mask on every call: the centred
    differences of sum(out * dout) would measure the masks, and blame dx (numerical 1e7, yours 0)."""
    run = runs[f"{LAYERS}:unseeded-dropout"]
    (check,) = run.function("dropout_backward")["checks"]
    assert check["status"] == "error" and check["earned"] == 0, check
    assert check["message"].startswith("not judged: sum(out * dout) is not the same on two runs of "
                                       "`out, cache = dropout_forward(x, dropout_param)` with the same inputs ("), check["message"]
    assert check["message"].endswith("is something drawn at random without the seed the case gives?")
    assert all(c["status"] == "passed" for c in run.function("dropout_backward")["cases"])
    assert_full_marks(runs[f"{LAYERS}:reference"], LAYERS)          # a deterministic forward: judged as before


# ---------------------------------------------------------------------------------------------
# 4. Dropout written two legitimate ways


@pytest.mark.parametrize("assignment", COURSES)
def test_dropout_drawn_two_legitimate_ways_passes_both(runs, assignment):
    forward = DROPOUT[assignment][0]
    ours = function_span((REFERENCE[assignment] / f"{MODULES[assignment][0]}.py").read_text(), forward).group()
    theirs = function_span((INDEPENDENT[assignment] / f"{MODULES[assignment][0]}.py").read_text(), forward).group()
    if assignment == FCN:
        assert "torch.rand_like(x) > p" in ours and "torch.bernoulli" in theirs and "rand_like" not in theirs
    else:
        assert "np.random.rand(*x.shape) < p" in ours and "np.random.binomial" in theirs and "random.rand(" not in theirs
    for who in ("reference", "independent"):
        run = runs[f"{assignment}:{who}"]
        for fn in DROPOUT[assignment]:
            f = run.function(fn)
            assert {c["status"] for c in f["cases"] + f["checks"]} == {"passed"} and f["earned"] == f["possible"], (who, fn)


@pytest.mark.parametrize("assignment", COURSES)
def test_the_two_dropouts_really_draw_different_masks(runs, assignment):
    masks = runs["masks"]
    ours, theirs = (np.array(masks[f"{assignment}/{who}"]) for who in ("reference", "independent"))
    assert ours.shape == theirs.shape and ours.size >= 16
    assert 0 < ours.sum() < ours.size and 0 < theirs.sum() < theirs.size     # some units kept, some dropped
    assert not np.array_equal(ours, theirs)                                     # same seed, same input: other masks


# ---------------------------------------------------------------------------------------------
# 5. grader grade on a small class, then again


@pytest.mark.linux
@pytest.mark.parametrize("assignment", COURSES)
def test_grade_a_class_writes_every_export(runs, assignment):
    r = runs[f"{assignment}:grade"]
    first, out = r["first"], r["out"]
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr + first.stdout
    assert f"graded 7 submissions of {assignment}" in first.stdout
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == STUDENTS
    assert {"gradebook.csv", "junit.xml", "report.html"} <= {p.name for p in out.iterdir()}
    for student in STUDENTS:
        assert sorted(p.name for p in (out / student).iterdir()) == ["feedback.txt", "result.json", "results.json"]

    rows = gradebook(out)
    names = functions(assignment)
    assert list(rows[0]) == ["student", *names, "total", "max", "percent", "status"]
    assert rows[0]["student"] == "Points Possible" and float(rows[0]["total"]) == TOTAL[assignment]
    by = {row["student"]: row for row in rows[1:]}
    assert list(by) == STUDENTS
    schema = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))
    for student, row in by.items():
        result = json.loads((out / student / "result.json").read_text())
        schema.validate(result)
        assert result["student"] == student and result["hidden_graded"] is True
        assert [f["name"] for f in result["functions"]] == names
        for f in result["functions"]:
            assert float(row[f["name"]]) == pytest.approx(f["earned"], abs=1e-4), (student, f["name"])
        assert float(row["total"]) == pytest.approx(result["score"]["earned"], abs=1e-4)
        results = json.loads((out / student / "results.json").read_text())        # Gradescope's
        assert results["score"] == pytest.approx(result["score"]["earned"])
        assert sum(t["max_score"] for t in results["tests"]) == pytest.approx(TOTAL[assignment])
    for student in ("ada", "grace", "lee"):                   # the reference, the independent solution, its notebook
        assert float(by[student]["total"]) == TOTAL[assignment] and by[student]["status"] == "ok", by[student]
    assert float(by["hal"]["total"]) == 0 and by["hal"]["status"] == "error"
    # The mistakes cost what they cost in grader check --hidden, and only in the functions they touch.
    for student, which in (("ivy", "mistake_a"), ("jo", "mistake_b")):
        check = runs[f"{assignment}:{which}"]
        for fn, earned in check.earned().items():
            assert float(by[student][fn]) == pytest.approx(earned, abs=1e-4), (student, fn)
        assert 0 < float(by[student]["total"]) < TOTAL[assignment]
    if assignment == FCN:                                      # the whole module fails to import
        assert float(by["kim"]["total"]) == 0 and by["kim"]["status"] == "error"
    else:                                                      # layers.py fails; optim.py is graded
        optim = [f for f in names if f in ("sgd_momentum", "rmsprop", "adam")]
        assert all(float(by["kim"][f]) > 0 for f in optim) and all(float(by["kim"][f]) == 0 for f in names if f not in optim)
        kim = json.loads((out / "kim" / "result.json").read_text())
        assert kim["functions"][0]["cases"][0]["message"].startswith("layers.py could not be imported: SyntaxError: ")

    junit = ET.parse(out / "junit.xml").getroot()
    suites = [s.get("name") for s in junit.iter("testsuite")]
    assert suites == [f"{student}.{fn}" for student in STUDENTS for fn in names]
    page = (out / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script src" not in page
    for student in STUDENTS:
        assert f'href="{student}/feedback.txt"' in page
    feedback = (out / "ivy" / "feedback.txt").read_text()
    assert f"Probably: {mistake(assignment, MISTAKE_A[assignment]).sentence}" in feedback


@pytest.mark.linux
@pytest.mark.parametrize("assignment", COURSES)
def test_grading_the_class_again_regrades_nothing(runs, assignment):
    r = runs[f"{assignment}:grade"]
    second = r["second"]
    assert second.returncode == 0, second.stderr
    assert "7 of 7 already graded (unchanged since): skipped" in second.stderr
    assert r["after"] == r["mtimes"] and len(r["mtimes"]) == 7
    assert gradebook(r["out"])[1:] and f"graded 7 submissions of {assignment}" in second.stdout


# ---------------------------------------------------------------------------------------------
# 6. The pytest plugin


def test_pytest_collects_file_function_case_items(runs):
    p = runs["pytest"]
    full, items = p["full"], p["full_items"]
    assert full.returncode == 1, full.stdout + full.stderr
    spec = load_spec(HANDOUT[FCN])
    cases = {f"{fn.name}[{c.case_id}]" for fn in spec.functions for c in fn.cases if c.visibility == "public"}
    assert cases <= set(items)
    assert {n for n in items if "[check-" in n} == {"Linear.backward[check-gradient]", "ReLU.backward[check-gradient]",
                                                    "TwoLayerNet.loss[check-gradient]", "FullyConnectedNet.loss[check-gradient]",
                                                    "Dropout.backward[check-gradient]", "Linear.backward[check-no_autograd]",
                                                    "ReLU.backward[check-no_autograd]", "TwoLayerNet.loss[check-no_autograd]"}
    assert "PASSED fully_connected_networks.py::Linear.forward[public-1]" in full.stdout
    assert "FAILED fully_connected_networks.py::TwoLayerNet.loss[public-1] - " in full.stdout
    assert {n for n, i in items.items() if i["outcome"] != "passed"} == {
        "TwoLayerNet.loss[public-1]", "TwoLayerNet.loss[check-gradient]", "adam[public-1]", "adam[public-2]"}


def test_pytest_k_selects_and_grades_only_those_functions(runs):
    p = runs["pytest"]
    k, items = p["k"], p["k_items"]
    assert k.returncode == 1, k.stdout + k.stderr
    assert set(items) == {"TwoLayerNet.__init__[public-1]", "TwoLayerNet.__init__[public-2]", "TwoLayerNet.loss[public-1]",
                          "TwoLayerNet.loss[public-2]", "TwoLayerNet.loss[check-gradient]",
                          "TwoLayerNet.loss[check-no_autograd]"}
    assert re.search(r"\b29 deselected\b", k.stdout), k.stdout
    assert "Functions run: TwoLayerNet.__init__, TwoLayerNet.loss." in k.stdout
    assert {n: i["outcome"] for n, i in items.items()} == {n: p["full_items"][n]["outcome"] for n in items}


def test_pytest_failures_show_grader_checks_block(runs):
    p = runs["pytest"]
    check = p["check"]
    assert_clean(check, 1)
    shown = [line.strip() for line in check.stdout.splitlines()]
    for name in ("TwoLayerNet.loss[public-1]", "TwoLayerNet.loss[check-gradient]", "adam[public-1]"):
        item = p["full_items"][name]
        assert item["outcome"] == "failure"
        lines = [line.strip() for line in item["text"].strip("\n").splitlines()]
        assert len(lines) >= 2 and "Traceback" not in item["text"] and "pytest_plugin" not in item["text"]
        starts = [i for i in range(len(shown)) if shown[i:i + len(lines)] == lines]
        assert starts, f"{name}: not grader check's block:\n{item['text']}\n---\n{check.stdout}"
        assert item["message"].startswith(lines[0])
    assert p["full_items"]["TwoLayerNet.loss[public-1]"]["text"].splitlines()[1].strip().startswith("grads['W2'][")


def def_line(source: str, function: str) -> int:
    """The 0-based line of `def` of a function or a method (`TwoLayerNet.loss`), as pytest counts item lines."""
    lines = source.splitlines()
    *cls, name = function.split(".")
    start = lines.index(f"class {cls[0]}(object):") if cls else 0
    return next(i for i in range(start, len(lines)) if re.match(rf"\s*def {name}\(", lines[i]))


def test_pytest_items_of_functions_point_at_their_def_line(runs):
    p = runs["pytest"]                  # the -k run writes xunit1 JUnit: file and line of each item
    source = (p["folder"] / "fully_connected_networks.py").read_text()
    assert def_line(source, "adam") == source.splitlines().index("def adam(w, dw, config=None):")
    items = p["adam_items"]
    assert p["adam"].returncode == 1 and set(items) == {"adam[public-1]", "adam[public-2]"}
    for item in items.values():
        assert item["attrib"]["file"] == "fully_connected_networks.py"
        assert item["attrib"]["line"] == str(def_line(source, "adam"))


def test_pytest_items_of_methods_point_at_their_def_line(runs):
    p = runs["pytest"]
    source = (p["folder"] / "fully_connected_networks.py").read_text()
    for name, item in p["k_items"].items():
        function = name.split("[")[0]
        assert item["attrib"].get("line") == str(def_line(source, function)), (name, item["attrib"])


# ---------------------------------------------------------------------------------------------
# 7. Notebooks


def scores(run: Check) -> dict:
    """Everything a score depends on, per case: status, message, each output's verdict and error."""
    report = run.report
    return {"score": report["score"], "counts": report["counts"], "functions": {
        f["name"]: (f["earned"], f["public"], f["hidden"], [
            (c["case_id"], c["status"], c["message"], c["diagnosis"],
             [(o["name"], o["ok"], o["max_rel_error"]) for o in c["outputs"]]) for c in f["cases"]],
            [(c["name"], c["status"], c["earned"]) for c in f["checks"]]) for f in report["functions"]}}


@pytest.mark.parametrize("assignment, notebook, py", [
    (FCN, "notebook", "independent"),          # the classes, in cells between markdown and work cells
    (FCN, "wrong-notebook", "wrong"),
    (LAYERS, "notebook", "independent"),       # layers.py and optim.py in one notebook
])
def test_a_notebook_grades_like_the_py(runs, assignment, notebook, py):
    nb, ref = runs[f"{assignment}:{notebook}"], runs[f"{assignment}:{py}"]
    assert Path(nb.args[2]).suffix == ".ipynb"
    cells = json.loads(Path(nb.args[2]).read_text())["cells"]
    assert any("class TwoLayerNet" in "".join(c["source"]) for c in cells) == (assignment == FCN)
    assert any("while True:" in "".join(c["source"]) for c in cells)            # cells the grader must not run
    assert_clean(nb, ref.returncode)
    assert scores(nb) == scores(ref)


# ---------------------------------------------------------------------------------------------
# 8. The Gradescope autograder


HIDDEN_VALUE = re.compile(r"expected|got|\d\.\d|\de-?\d|nan|inf\b", re.I)


def hidden_outputs(results: dict, report: dict) -> list[str]:
    """What hidden tests tell the student, the diagnosis lines (the catalogue's sentences) left out.
    Not the public checks' (`report`: the same submission's JSON report), which Gradescope shows with
    the hidden cases once those are graded: what they say comes from public cases."""
    public = {f"{f['name']}: check {c['name']}" for f in report["functions"] for c in f["checks"]
              if c["visibility"] == "public"}
    return ["\n".join(line for line in t["output"].splitlines() if not line.strip().startswith("Probably: "))
            for t in results["tests"] if t["visibility"] != "visible" and t["name"] not in public]


def hidden_numbers(check: Check) -> set[str]:
    """Every expected or returned value a hidden case's report holds, as the messages print them."""
    printed = {f"{o[k]:.8g}" for f in check.report["functions"] for c in f["cases"] if c["visibility"] == "hidden"
               for o in c["outputs"] for k in ("expected", "got") if isinstance(o.get(k), float)}
    return {n for n in printed if len(n) >= 4}          # "2" is in grads['W2']: only numbers that say something


@pytest.mark.linux
def test_the_gradescope_zip_carries_the_support_files_and_scenarios(runs):
    g = runs["gradescope"]
    names = set(g["names"])
    assert {"setup.sh", "run_autograder", "grader-src/pyproject.toml", "assignment/assignment.yaml",
            "assignment/hidden.yaml", "assignment/mistakes.yaml", "assignment/reference/fully_connected_networks.py",
            "assignment/a3_helper.py", "assignment/scenarios.py", "assignment/eecs598/__init__.py",
            "assignment/eecs598/solver.py", "assignment/eecs598/grad.py", "assignment/eecs598/utils.py"} <= names
    for name in ("a3_helper.py", "scenarios.py", "eecs598/solver.py"):
        assert (g["source"] / "assignment" / name).read_bytes() == (ASSIGNMENT[FCN] / name).read_bytes()
    spec = load_spec(g["source"] / "assignment")
    assert spec.name == FCN and [f.name for f in spec.functions] == functions(FCN)
    assert not any(n.startswith("assignment/") and "student_template" in n for n in names)


@pytest.mark.linux
def test_run_autograder_scores_the_submission_and_hidden_cases_show_no_values(runs):
    g = runs["gradescope"]
    assert g["run"].returncode == 0, g["run"].stderr
    results = json.loads(g["results"].read_text())
    check = runs[f"{FCN}:wrong"]                                # the same file through grader check --hidden
    # 40: TwoLayerNet.loss passes some public cases and no hidden one, and its no_autograd check
    # waits for a hidden case passed (a replay of the handout's public answers earned the checks)
    assert results["score"] == pytest.approx(check.report["score"]["earned"]) == 40
    assert sum(t["max_score"] for t in results["tests"]) == TOTAL[FCN]
    assert {t["visibility"] for t in results["tests"]} == {"visible", "after_published"}
    # graded with the hidden cases, every check is shown with them: its verdict waits for a hidden case passed
    assert {t["visibility"] for t in results["tests"] if ": check " in t["name"]} == {"after_published"}
    failing = {t["name"]: t for t in results["tests"] if t["score"] < t["max_score"]}
    assert set(failing) == {"TwoLayerNet.loss (public cases)", "TwoLayerNet.loss (hidden cases)",
                            "TwoLayerNet.loss: check gradient", "TwoLayerNet.loss: check no_autograd",
                            "adam (public cases)", "adam (hidden cases)"}
    assert failing["TwoLayerNet.loss: check no_autograd"]["output"] == \
        "judged once TwoLayerNet.loss passes at least one hidden case"
    assert "grads['W2'][" in failing["TwoLayerNet.loss (public cases)"]["output"]          # public: the element and values
    assert "wrong grads['W2']" in failing["TwoLayerNet.loss (hidden cases)"]["output"]     # hidden: the path only
    assert "wrong config['m']" in failing["adam (hidden cases)"]["output"]
    numbers = hidden_numbers(check)
    assert numbers
    for text in hidden_outputs(results, check.report):
        assert not HIDDEN_VALUE.search(text), text
        assert not [n for n in numbers if n in text], text


def test_gradescope_hidden_cases_blocked_by_a_wrong_forward_show_no_values(runs):
    check = runs[f"{LAYERS}:mistake_a"]         # bn_unbiased_variance: the backwards' cases are not judged
    numbers = hidden_numbers(check) | {n for f in check.report["functions"] for c in f["cases"] if c["visibility"] == "hidden"
                                       for pair in re.findall(r"expected (\S+), got (\S+) ", c["message"]) for n in pair}
    for text in hidden_outputs(check.gradescope, check.report):
        assert not HIDDEN_VALUE.search(text), text
        assert not [n for n in numbers if n in text], text


def test_gradescope_hidden_cases_blocked_by_a_raising_forward_name_the_forward(runs):
    results = runs[f"{LAYERS}:bn-raises-eps"].gradescope
    (hidden,) = [t for t in results["tests"] if t["name"] == "batchnorm_backward (hidden cases)"]
    assert "batchnorm_backward raised" not in hidden["output"], hidden["output"]
    assert "batchnorm_forward" in hidden["output"], hidden["output"]


# ---------------------------------------------------------------------------------------------
# 9. The handout's self-check names catalogued mistakes


@pytest.mark.parametrize("assignment", COURSES)
def test_the_handouts_self_check_names_catalogued_mistakes_dropout_included(runs, assignment):
    run = runs[f"{assignment}:self-check"]
    assert_clean(run, 1)
    assert "Public cases only: hidden cases are run when your work is graded." in run.stdout
    assert run.report["hidden_graded"] is False and run.report["hidden_available"] is False
    assert not list(HANDOUT[assignment].glob("mistakes.yaml")) and not list(HANDOUT[assignment].glob("hidden.yaml"))
    named = set()
    for name in SELF_CHECK_MISTAKES[assignment]:
        m = mistake(assignment, name)
        for fn in m.touches:
            diagnosed = [c for c in run.function(fn)["cases"] if c["visibility"] == "public" and m.sentence in c["diagnosis"]]
            assert diagnosed, f"{fn}: {name} not named on a public case:\n{run.block(fn)}"
            assert m.sentence in run.block(fn)
            named.add(fn)
    assert DROPOUT[assignment][0] in named               # judged by properties: no expected output to compare with
    case = run.case(DROPOUT[assignment][0], "public-1")
    assert "property inverted" in [o["name"] for o in case["outputs"] if not o["ok"]]


# ---------------------------------------------------------------------------------------------
# Cosmetic engine problems found on the way


def test_a_message_names_the_other_wrong_outputs(runs):
    """'(and 2 more outputs wrong)' left the student to guess which: a number is said with its
    expected value, an array by its name."""
    message = runs[f"{FCN}:mistake_a"].case("TwoLayerNet.loss", "public-1")["message"]
    assert re.fullmatch(r"loss: expected [-\d.e]+, got [-\d.e]+ \(relative error .*\) \(also wrong: grads\['W1'\], grads\['W2'\]\)",
                        message), message


def test_an_all_zero_output_is_not_called_zero_times_the_expected_value(runs):
    case = runs[f"{LAYERS}:wrong"].case("adam", "public-1")
    details = case["details"] + case["diagnosis"]           # config['m'] left at its start: named as such
    assert "config['m']" in details
    assert "0 times the expected value" not in details, details


# ---------------------------------------------------------------------------------------------
# grader.check on class methods


SCRIPT_VERDICT = ("FAIL TwoLayerNet.loss: 1/2 cases passed, 1/2 checks passed, 2/4 points\n"
                  "     public-1 (seed 1, N=6, D=6, H=7, C=2): failed\n"
                  "        grads['W2'][")


@pytest.mark.parametrize("key", ["script-name", "script-method"])
def test_check_in_a_script_grades_a_method_of_the_students_file(runs, key):
    script = runs["check-api"][key]
    assert script.returncode == 0, script.stderr
    assert f"fully_connected_networks, {runs['check-api']['folder'] / 'fully_connected_networks.py'}\n" in script.stdout
    assert SCRIPT_VERDICT in script.stdout, script.stdout
    assert script.stdout.rstrip().endswith("@@ False"), script.stdout


def test_check_of_a_class_checks_its_graded_methods(runs):
    script = runs["check-api"]["script-class"]
    assert script.returncode == 0, script.stderr
    assert SCRIPT_VERDICT in script.stdout and "ok   TwoLayerNet.__init__: 2/2 cases passed" in script.stdout, script.stdout
    assert not re.search(r"^\S+ +Linear\.forward:", script.stdout, re.M), script.stdout     # only the class's methods are graded


def test_check_given_a_method_defined_in_a_kernels_cell_grades_it_from_the_cells(runs):
    outputs = runs["check-api"]["kernel"]
    assert outputs[0] == []                                   # the module's cell ran
    assert outputs[2] == ["False ''\n"], outputs[2]           # TwoLayerNet.loss's grads['W2'] is wrong


@pytest.mark.parametrize("cell", [1, 3], ids=["by-name", "the-class"])
def test_check_of_a_class_defined_in_a_kernels_cell_grades_it_from_the_cells(runs, cell):
    outputs = runs["check-api"]["kernel"]
    assert outputs[cell] == ["False ''\n"], outputs[cell]


def test_check_by_name_in_a_script_grades_the_students_file_beside_it(runs):
    script = runs["check-api"]["script-unimported"]
    assert script.returncode == 0, script.stderr
    assert SCRIPT_VERDICT in script.stdout, script.stdout


@pytest.mark.slow
def test_random_weights_of_another_distribution_are_not_named_as_a_mistake_of_a_third(tmp_path):
    """TwoLayerNet's weights drawn uniformly in [0, weight_scale) break the properties the catalogued
    mistake (N(0, 1), weight_scale forgotten) breaks; a random output was compared by its shapes
    alone, and the student was told they had forgotten weight_scale. Random outputs are now compared
    as draws: spreads and means alike. The catalogued mistake itself is still named."""
    sentence = mistake(FCN, "init_not_scaled").sentence
    source = reference_sources(FCN)["fully_connected_networks"]
    uniform = edited(source, ("self.params['W1'] = weight_scale * torch.randn(", "self.params['W1'] = weight_scale * torch.rand("),
                     ("self.params['W2'] = weight_scale * torch.randn(", "self.params['W2'] = weight_scale * torch.rand("))
    run = grader_check(write(tmp_path / "uniform", {"fully_connected_networks": uniform}), ASSIGNMENT[FCN], tmp_path / "u")
    cases = run.function("TwoLayerNet.__init__")["cases"]
    assert cases and all(c["status"] == "failed" for c in cases)
    assert not [c["diagnosis"] for c in cases if sentence in c["diagnosis"]]
    run = grader_check(write(tmp_path / "unscaled", with_mistakes(FCN, "init_not_scaled")), ASSIGNMENT[FCN], tmp_path / "n")
    assert all(sentence in c["diagnosis"] for c in run.function("TwoLayerNet.__init__")["cases"])


def test_an_overflow_written_as_exp_over_its_sum_is_named_though_nan_spreads_to_dx(tmp_path):
    """softmax_loss as exp(x) / exp(x).sum() with no max shift: on the scores of order 1000 both the
    loss and dx are NaN. The catalogued overflow, written with log-softmax, has an inf loss and a
    finite dx, so no mistake matched and the student got only the NaN hint. An output that is NaN
    or inf throughout is what one overflow leaves after it: the overflow is named."""
    sources = reference_sources(LAYERS)
    sources["layers"] = edited(sources["layers"],
                               ("    shifted = x - x.max(axis=1, keepdims=True)\n"
                                "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
                                "    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)\n"
                                "    log_probs = np.log(probs)\n"))
    run = grader_check(write(tmp_path / "sub", sources), ASSIGNMENT[LAYERS], tmp_path / "out", "--hidden")
    large = [c for c in run.function("softmax_loss")["cases"] if c["status"] != "passed"]
    assert large and all("order 1000" in c["note"] for c in large), [(c["case_id"], c["note"]) for c in large]
    for case in large:
        assert case["message"].startswith("loss is NaN"), case["message"]
        assert case["diagnosis"] == mistake(LAYERS, "softmax_no_max_shift").sentence, case["diagnosis"]
