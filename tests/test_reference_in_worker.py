"""`grader check` runs the reference and the catalogued mistakes in its worker, never in its own
process (which then never imports torch: on one CPU that import would be paid twice), falls back to
its own process when the worker fails, and loses no diagnosis either way."""
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from grader.grade import grade_submission
from grader.run.worker import WorkerError, start_worker

BOB = REPO / "examples" / "linear_classifier" / "bob"
pytestmark = pytest.mark.slow                   # each grades a submission in a worker

DIAGNOSIS = "dW has `reg * W` where it needs `2 * reg * W`"


def test_a_hidden_check_never_imports_torch_in_the_graders_process():
    script = textwrap.dedent(f"""
        import sys
        from grader.grade import grade_submission
        from grader.spec import load_spec
        result = grade_submission(load_spec({str(REPO / "assignments" / "linear_classifier")!r}), {str(BOB)!r}, hidden=True)
        messages = [c.diagnosis for fn in result.functions for c in fn.cases]
        print(result.earned, result.possible, "torch" in sys.modules, any({DIAGNOSIS!r} in m for m in messages))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["5.5", "20.0", "False", "True"]


def reference_refused(spec):
    """This platform's worker, failing whenever it is asked to run the reference or a variant of it."""
    worker = start_worker(spec.framework)
    run = worker.run

    def refusing(job, inputs):
        if job["submission_dir"] == str(spec.reference_dir):
            raise WorkerError("the worker could not start (as if)")
        return run(job, inputs)
    worker.run = refusing
    return worker


def test_when_the_worker_cannot_run_the_reference_this_process_does_and_diagnoses_as_well(spec):
    with reference_refused(spec) as worker:
        result = grade_submission(spec, BOB, hidden=True, worker=worker)
    with start_worker(spec.framework) as worker:
        normal = grade_submission(spec, BOB, hidden=True, worker=worker)
    assert (result.earned, result.possible) == (normal.earned, normal.possible) == (5.5, 20)
    diagnoses = lambda r: [c.diagnosis for fn in r.functions for c in fn.cases]
    assert diagnoses(result) == diagnoses(normal)
    assert any(DIAGNOSIS in d for d in diagnoses(result))


def test_several_variants_run_in_one_job_each_on_its_own_modules(tmp_path):
    """The catalogue's variants of a function come in one job: each call runs on its variant's
    modules; a variant that does not import, or kills its child, costs its own calls only."""
    import numpy as np
    from grader.cases import make_case
    from grader.expected import variants_in_worker
    from test_running import make_assignment
    spec = make_assignment(tmp_path)
    fn = spec.function("scale")
    cases = [(fn, make_case(spec, fn, c)) for c in fn.cases]
    reference = (spec.reference_dir / "tiny.py").read_text()
    groups = [({"tiny": reference.replace("return k * x", "return 2 * k * x")}, cases),
              ({"tiny": "def scale(x, k) return x\n"}, cases[:1]),                        # a syntax error
              ({"tiny": reference.replace("return k * x", "import os; os._exit(3)")}, cases[:2]),
              ({}, cases)]                                                                   # the reference itself
    with start_worker(spec.framework) as worker:
        doubled, broken, dying, itself = variants_in_worker(spec, groups, worker)
    for (_, case), outcome in zip(cases, doubled):
        assert outcome.ok and np.allclose(outcome.outputs["out"].array, 2 * case.args["k"] * case.args["x"])
    assert [o.status for o in broken] == ["import_error"] and broken[0].error["type"] == "SyntaxError"
    assert [o.status for o in dying] == ["crashed", "crashed"]
    for (_, case), outcome in zip(cases, itself):
        assert outcome.ok and np.allclose(outcome.outputs["out"].array, case.args["k"] * case.args["x"])
