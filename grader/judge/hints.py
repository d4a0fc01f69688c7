"""One-sentence advice for errors that have a usual cause, whatever the assignment.

These are about Python, numpy and torch, never about one assignment's mathematics: that
knowledge belongs to the assignment's own files.
"""
from __future__ import annotations

import re

# What a package the grader lacks was for, where students use it often: what to write instead
_MISSING = {
    "past": "`past` (the `future` package) gives Python 2's xrange: in Python 3 use range, and remove the import.",
    "future": "`future` gives Python 2's names (xrange): in Python 3 use range, and remove the import.",
    "tqdm": "tqdm only draws a progress bar: loop over the iterable itself (`for i in range(N)`), and remove the "
            "import.",
    "google": "google.colab works only in Colab (drive.mount, files.upload): keep that code out of the file you "
              "hand in.",
    "scipy": "Write that part with numpy (the loops the assignment asks for, or numpy's own functions).",
    "matplotlib": "Keep plots out of the graded functions, under `if __name__ == \"__main__\":` (or remove them).",
}
_MISSING_NAME = re.compile(r"No module named '(\w+)")
_NOT_HERE = ("No module of that name is installed where your code is graded, nor is it in your submission: "
             "importing it is harmless, using it fails.")

# (exception type or None for any, pattern on the message, advice)
_RULES = [
    (None, r"CUDA|NVIDIA driver|cuda", "The grader runs on a CPU: make new tensors on the inputs' device "
                                       "(torch.zeros_like(W), or device=W.device) instead of 'cuda'."),
    ("ModuleNotFoundError", r"No module named '(?!numpy|torch).*used here",
     _NOT_HERE + " Write that part with the libraries the assignment uses; if it is a file of yours, hand it in "
     "too; keep plots and experiments out of the graded functions, under `if __name__ == \"__main__\":` (or remove "
     "them)."),
    ("ModuleNotFoundError", r"No module named '(?!numpy|torch)", "Only the standard library, numpy and torch are "
                                                                 "available to your code here: remove that import."),
    # A notebook graded as linear_classifier, with `from linear_classifier import svm_loss_naive` in a cell
    # for the .py file beside it: the notebook is that module here (a tenth students' round)
    ("ImportError", r"cannot import name '\w+' from (?:partially initialized module )?'[\w.]+' \([^()/]*\.ipynb\)",
     "The notebook imports from the module it is graded as: here the notebook is that module, so a .py file of that "
     "name is not what it imports. Define those functions in the notebook's cells, or hand in the .py file with all "
     "of them."),
    # Python 2 left in a file (the course's files before 2017, or copied from them)
    ("NameError", r"name 'xrange' is not defined", "Python 3 has no xrange: use range."),
    # a breakpoint left in: the debugger reads no input where the code is graded, and quits
    ("BdbQuit", r"", "A breakpoint was left in the code (pdb.set_trace(), breakpoint()): it stops your function where "
                     "it is graded. Remove it."),
    ("MemoryError", r"", "Your code used more memory than the grader allows."),
    (None, r"bad_alloc|can't allocate memory|not enough memory|DefaultCPUAllocator",
     "Your code used more memory than the grader allows."),
    ("OSError", r"File too large", "Your code printed (or wrote) more than the grader keeps: remove large prints."),
    ("OSError", r"No space left on device|Disk quota exceeded",
     "Your code wrote more to disk than the grader allows (the spec's limits.disk): a graded function should "
     "not need to write files at all."),
    ("RecursionError", r"", "Recursion without an end: loops are the usual way to write this."),
    ("SystemExit", r"", "Your code called exit() or sys.exit(): a graded function must return its result instead."),
    ("KeyboardInterrupt", r"", "Your code raised KeyboardInterrupt: a graded function must return its result."),
    (None, r"expected scalar type (Double|Float) but found (Double|Float)|dtype.*(Double|Float)|mat1 and mat2 must have the same dtype",
     "float32 and float64 mixed: make new tensors with the inputs' dtype (torch.zeros_like(W), or dtype=X.dtype)."),
    # A dim or axis the array does not have is an IndexError too (torch's; numpy's AxisError), not an index past its end.
    (None, r"Dimension out of range|axis -?\d+ is out of bounds for array of dimension",
     "A dim or axis the array does not have: check the dim= or axis= on that line against the array's number of "
     "dimensions (x.ndim; a vector has only dim 0, or -1)."),
    ("IndexError", r"too many indices", "More indices than the array has dimensions: check its shape on that line "
                                        "(a vector takes one index)."),
    ("IndexError", r"out of bounds|out of range", "An index past the end: check loop bounds and indices against "
                                                  "the shapes of the arrays they index."),
    # np.max(0, margins): numpy reads margins as the axis (an eighth students' round, with no hint).
    ("TypeError", r"only integer scalar arrays can be converted to a scalar index|'axis' must be an integer|"
                  r"cannot be interpreted as an integer",
     "An array where one integer is needed: an axis, an index into a list, a range's end. np.max(0, x) and "
     "np.min(a, b) read their second argument as the axis: the larger of two values, entry by entry, is "
     "np.maximum(0, x) (torch.clamp(x, min=0), or torch.maximum)."),
    (None, r"size mismatch|shapes cannot be multiplied|must match the size|could not be broadcast|not aligned",
     "Shapes do not fit together: print the shapes of the arrays on that line."),
]


_SHAPES = re.compile(r"with shapes ((?:\([\d, ]*\) ?)+)")
_TORCH_DIM1 = re.compile(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at non-singleton dimension 1\b")


def _reduced_without_its_axis(message: str) -> str:
    """A row-wise reduction combined with its matrix without its axis kept, the commonest broadcast
    error of these courses (`scores - scores.max(axis=1)`): numpy names the shapes, (N, C) and (N,);
    torch the sizes at dimension 1, where C meets N."""
    found = _SHAPES.search(message or "")
    if found:
        shapes = [tuple(int(d) for d in re.findall(r"\d+", s)) for s in re.findall(r"\([\d, ]*\)", found.group(1))]
        pairs = [(m, v) for m in shapes if len(m) == 2 for v in shapes if len(v) == 1 and v[0] == m[0] != m[1]]
        if pairs:
            (n, c), _ = pairs[0]
            return (f"A ({n}, {c}) array and a ({n},) one: numpy lines up their last dimensions, {c} against {n}. "
                    f"If the ({n},) one is a sum, mean or max over axis 1 (one per row), keep the axis to combine it "
                    f"with the ({n}, {c}) array row by row: keepdims=True (or x[:, None]). If you meant one per column, "
                    f"that is a reduction over axis 0, of shape ({c},).")
    if _TORCH_DIM1.search(message or ""):
        return ("Sizes differ at dimension 1. If one side is a sum, mean or max over dim 1 of an (N, C) tensor, it "
                "is (N,), which torch lines up with the C columns: keep the dim to combine it row by row "
                "(keepdim=True, or x[:, None]). Else, print the shapes of the tensors on that line.")
    return ""


def advice(exc_type: str, message: str) -> str:
    reduced = _reduced_without_its_axis(message)
    if reduced:
        return reduced
    for rule_type, pattern, text in _RULES:
        if (rule_type is None or rule_type == exc_type) and re.search(pattern, message or ""):
            missing = _MISSING_NAME.match(message) if exc_type == "ModuleNotFoundError" else None
            if missing and missing.group(1) in _MISSING:       # the usual package's own way round it
                return f"{_NOT_HERE} {_MISSING[missing.group(1)]}" if "used here" in message else _MISSING[missing.group(1)]
            return text
    return ""
