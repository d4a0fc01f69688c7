"""Notebook versions of .py submissions, written with nbformat (and validated by it) for the tests,
and a real Jupyter kernel to run cells in.

`as_notebook(source)` splits a module into cells the way students write notebooks: a markdown
cell before each function, set-up with magics and a shell line first, and cells that would do the
notebook's work (train, print, plot, load data, loop forever, raise) if the grader ran them.
`run_in_kernel(cells, folder, kernel_spec(python, ...))` runs cells as a student runs them.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

SET_UP = "!pip install torch\n%matplotlib inline\n%load_ext autoreload\n%autoreload 2"
# Each would fail the import, or never finish, if the grader ran it.
WORK = [
    "X_train = torch.load('cifar10_train.pt')   # no such file: the grader must not run this\nprint(X_train.shape)",
    "W = 0.001 * torch.randn(3073, 10, dtype=torch.float64)\n"
    "for it in range(10 ** 12):\n    loss, grad = svm_loss_naive(W, X_train, y_train, 5e-4)\n    W -= 1e-7 * grad",
    "%%time\nraise RuntimeError('the grader ran a cell it should have dropped')",
    "svm_loss_naive?",
    "while True:\n    pass",
]


def as_notebook(source: str, work: bool = True) -> nbformat.NotebookNode:
    """The module's imports and top-level docstring in the first code cells, then one markdown and
    one code cell per top-level definition, with the work cells in between."""
    tree = ast.parse(source)
    lines = source.splitlines()
    cells = [new_markdown_cell("# Assignment 2: linear classifiers\n\nRun every cell from the top.")]
    if work:
        cells.append(new_code_cell(SET_UP))
    head_end = tree.body[0].lineno - 1 if tree.body else len(lines)
    pieces, start = [], head_end
    for stmt in tree.body:
        first = (stmt.decorator_list[0].lineno if getattr(stmt, "decorator_list", None) else stmt.lineno) - 1
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and first > start:
            pieces.append("\n".join(lines[start:first]).strip("\n"))
            start = first
    pieces.append("\n".join(lines[start:]).strip("\n"))
    work_cells = iter(WORK if work else [])
    for piece in pieces:
        name = piece.split("(")[0].split()[-1] if piece.lstrip().startswith(("def ", "class ")) else "set-up"
        cells.append(new_markdown_cell(f"## {name}"))
        cells.append(new_code_cell(piece))
        for extra in [next(work_cells, None)]:
            if extra:
                cells.append(new_code_cell(extra))
    cells += [new_code_cell(extra) for extra in work_cells]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}})
    nbformat.validate(nb)
    return nb


def write_notebook(path: Path, nb_or_cells) -> Path:
    """Write a notebook, given as a NotebookNode or as a list of ('code' | 'markdown', source)."""
    nb = nb_or_cells
    if isinstance(nb_or_cells, list):
        make = {"code": new_code_cell, "markdown": new_markdown_cell}
        nb = new_notebook(cells=[make[kind](text) for kind, text in nb_or_cells])
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def kernel_spec(python: str, jupyter: Path) -> str:
    """A kernel spec running `python`, written into the `jupyter` folder (which JUPYTER_PATH must
    name); its name."""
    spec = jupyter / "kernels" / "grader-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "grader tests", "language": "python"}), encoding="utf-8")
    return "grader-test"


def run_in_kernel(cells: list[str], folder: Path, kernel: str, timeout: float) -> nbformat.NotebookNode:
    """The cells run in order in a fresh kernel whose current folder is `folder`; an error is an
    output of its cell, and the next cells still run. What a cell prints is one output per stream,
    however the kernel happened to send it."""
    from nbclient import NotebookClient
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True, coalesce_streams=True,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return nb
