"""How well `grader similarity` finds disguised copies, how rarely it flags independent work, and how
long a class of 1,000 takes.

    python benchmarks/similarity.py                   # (a) recall and false positives
    python benchmarks/similarity.py --scale           # (b) 1,000 students x 4 functions + 200 corpus files
    python benchmarks/similarity.py --scale -n 200    # a smaller class

(a) The disguise set. Each disguise is applied programmatically to every reference module of the
assignments below, alone and all together: renamed local variables; comments, docstrings and
whitespace changed; two independent assignments swapped; extra parentheses; `np.dot(a, b)`,
`a.dot(b)` and `a @ b` exchanged (torch's `mm`/`mv`/`matmul` too); `for i in range(...)` loops
turned into `while` loops. A disguise that finds nothing to change in a function (no loop, no
product) is not counted for it. Recall is the share of (original, disguised) pairs of a graded
function that are reported at the default threshold. The false-positive rate is the share of pairs
of legitimately different solutions of the same function that are reported: the reference against
each independent solution (tests/independent/, tests/similarity/), and those against each other.
The AST-based disguises write the module back with `ast.unparse`, which also drops comments: the
comparison never sees comments, so that does not make them easier.

(b) Scale. Synthetic students of linear_classifier's four functions, each a random draw of
equivalent ways to write each step (so that most pairs share little, as in a class), 5% of them
copies of another student with disguises, and a corpus of 200 files, public solutions and copies of
them. Prints the time of the whole command, `grader similarity`, as an instructor runs it.
"""
from __future__ import annotations

import argparse
import ast
import io
import itertools
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from grader.expected.starter import strip_solutions  # noqa: E402
from grader.similarity.compare import Settings, Source, compare_function, own_tokens  # noqa: E402
from grader.similarity.normalize import NotFound, _find, extract  # noqa: E402
from grader.spec import find_spec, load_spec  # noqa: E402

ASSIGNMENTS = ["linear_classifier", "cs231n", "cs231n_layers", "fully_connected_networks", "autograd_basics"]
INDEPENDENT = [REPO / "tests" / "independent", REPO / "tests" / "similarity" / "independent"]


# ---------------------------------------------------------------------------------------------
# Disguises: module source in, module source out


def _function_locals(tree: ast.Module) -> list:
    """(first body line, last line, {local name: new name}) of every function, outermost first:
    the names it assigns that are not its parameters."""
    spans = []
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
            names = sorted({n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - params)
            spans.append((fn.body[0].lineno, fn.end_lineno, {n: f"q{i}_{n[::-1]}" for i, n in enumerate(names)}))
    return sorted(spans, key=lambda s: s[0] - s[1])


def rename(source: str) -> str:
    """Every local variable renamed (`scores` -> `q3_serocs`), comments and layout kept."""
    spans = _function_locals(ast.parse(source))
    out, previous = [], None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and previous not in (".", "def", "class"):
            inner = [names for first, last, names in spans if first <= tok.start[0] <= last]
            if inner and tok.string in inner[-1]:
                tok = tok._replace(string=inner[-1][tok.string])
        out.append(tok)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.string
    return tokenize.untokenize(out)


class _Docstrings(ast.NodeTransformer):
    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        text = ast.Constant("Computes what the assignment asks, in my own words.")
        if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            node.body[0] = ast.Expr(text)
        else:
            node.body.insert(0, ast.Expr(text))
        return node


def comments(source: str) -> str:
    """Comments dropped and others added, docstrings rewritten, spacing and blank lines changed."""
    tree = _Docstrings().visit(ast.parse(source))
    lines = []
    for i, line in enumerate(ast.unparse(ast.fix_missing_locations(tree)).splitlines()):
        lines.append(line.replace(" = ", "=").replace(", ", ",") if i % 2 else line)
        if line.strip() and not line.rstrip().endswith(":") and i % 3 == 0:
            lines[-1] += "   # my step"
        if i % 4 == 0:
            lines.append("")
    return "\n".join(lines) + "\n"


def _independent(a: ast.stmt, b: ast.stmt) -> bool:
    def names(s, ctx):
        return {n.id for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}
    simple = all(isinstance(s, ast.Assign) and all(isinstance(t, ast.Name) for t in s.targets) for s in (a, b))
    return simple and not (names(a, ast.Store) & (names(b, ast.Load) | names(b, ast.Store)) or
                           names(a, ast.Load) & names(b, ast.Store))


class _Reorder(ast.NodeTransformer):
    def generic_visit(self, node):
        super().generic_visit(node)
        body = getattr(node, "body", None)
        if isinstance(body, list):
            i = 0
            while i + 1 < len(body):
                if _independent(body[i], body[i + 1]):
                    body[i], body[i + 1] = body[i + 1], body[i]
                    self.changed = True
                    i += 2
                else:
                    i += 1
        return node


def reorder(source: str) -> str:
    """Adjacent independent assignments swapped."""
    t = _Reorder()
    t.changed = False
    tree = t.visit(ast.parse(source))
    return ast.unparse(tree) + "\n"


def parentheses(source: str) -> str:
    """The value of every one-line assignment and return, and each left operand, in parentheses."""
    tree = ast.parse(source)
    spans = []
    for node in ast.walk(tree):
        value = getattr(node, "value", None) if isinstance(node, (ast.Assign, ast.AugAssign, ast.Return)) else None
        if isinstance(node, ast.BinOp):
            value = node.left
        if isinstance(value, ast.expr) and value.lineno == value.end_lineno:
            spans.append((value.lineno, value.col_offset, value.end_col_offset))
    lines = source.splitlines(keepends=True)
    opens: dict = {}
    closes: dict = {}
    for lineno, start, end in spans:
        opens[lineno, start] = opens.get((lineno, start), 0) + 1
        closes[lineno, end] = closes.get((lineno, end), 0) + 1
    for number in {lineno for lineno, _, _ in spans}:
        b = lines[number - 1].encode()
        out = b""
        for i in range(len(b) + 1):           # at one offset, spans that end close before others open
            out += b")" * closes.get((number, i), 0) + b"(" * opens.get((number, i), 0) + b[i:i + 1]
        lines[number - 1] = out.decode()
    return "".join(lines)


class _Products(ast.NodeTransformer):
    """a @ b -> np.dot(a, b) (torch.matmul in torch); a.dot(b) and a.mm(b) -> a @ b; np.dot(a, b) -> a.dot(b)."""

    def __init__(self, torch: bool):
        self.torch = torch

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.MatMult):
            mod = "torch" if self.torch else "np"
            return ast.Call(ast.Attribute(ast.Name(mod, ast.Load()), "matmul" if self.torch else "dot", ast.Load()),
                            [node.left, node.right], [])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in ("dot", "mm", "mv", "matmul"):
            if isinstance(f.value, ast.Name) and f.value.id in ("np", "numpy", "torch") and len(node.args) == 2:
                return ast.Call(ast.Attribute(node.args[0], "dot" if not self.torch else "matmul", ast.Load()),
                                [node.args[1]], [])
            if len(node.args) == 1:
                return ast.BinOp(f.value, ast.MatMult(), node.args[0])
        return node


def products(source: str) -> str:
    return ast.unparse(ast.fix_missing_locations(_Products("import torch" in source).visit(ast.parse(source)))) + "\n"


class _While(ast.NodeTransformer):
    def visit_For(self, node):
        self.generic_visit(node)
        call = node.iter
        if not (isinstance(node.target, ast.Name) and isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "range" and 1 <= len(call.args) <= 2 and not node.orelse):
            return node
        var = node.target.id
        start, stop = (ast.Constant(0), call.args[0]) if len(call.args) == 1 else call.args
        step = ast.parse(f"{var} += 1").body[0]
        body = _step_before_continue(node.body, step)
        return [ast.Assign([ast.Name(var, ast.Store())], start), ast.While(
            ast.Compare(ast.Name(var, ast.Load()), [ast.Lt()], [stop]), body + [step], [])]


def _step_before_continue(body: list, step: ast.stmt) -> list:
    out = []
    for stmt in body:
        if isinstance(stmt, ast.Continue):
            out.append(step)
        elif isinstance(stmt, ast.If):
            stmt.body, stmt.orelse = _step_before_continue(stmt.body, step), _step_before_continue(stmt.orelse, step)
        out.append(stmt)
    return out


def for_to_while(source: str) -> str:
    return ast.unparse(ast.fix_missing_locations(_While().visit(ast.parse(source)))) + "\n"


def everything(source: str) -> str:
    return parentheses(for_to_while(products(reorder(comments(rename(source))))))


DISGUISES = {"renamed": rename, "comments": comments, "reordered": reorder, "parentheses": parentheses,
             "products": products, "for->while": for_to_while, "all": everything}
CHANGES_CODE = {"reordered", "products", "for->while"}     # counted where they change the tree, not only the text


def _changed(original: str, disguised: str, function: str, code: bool) -> bool:
    """Whether a disguise changed the function: its tree (`code`), or else its text. A disguise
    with nothing to change in a function (no loop, no product) is not counted for it."""
    def seen(src):
        node = _find(ast.parse(src), function)
        if node is None:
            return None
        if not code:
            return ast.get_source_segment(src, node)
        if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            node.body = node.body[1:]
        return ast.dump(node)
    return seen(original) != seen(disguised)


# ---------------------------------------------------------------------------------------------
# (a) recall and false positives


def disguise_set(settings: Settings) -> tuple[list, list]:
    """Scores of every (original, disguised) pair: [(assignment, function, disguise, score or None,
    own tokens of the original)], and of every pair of independent solutions: [(assignment,
    function, a, b, score or None)]. None: not reported even at threshold 0 (no k-gram in common,
    or fewer than `min_matched` tokens matched)."""
    everything_scored = replace(settings, threshold=0.0)
    copies, independent = [], []
    for name in ASSIGNMENTS:
        spec = load_spec(find_spec(str(REPO / "assignments" / name)))
        graded = {f.name for f in spec.functions}
        for module in spec.modules:
            reference = (spec.reference_dir / f"{module}.py").read_text()
            handout_source = strip_solutions(reference)
            authors = {"reference": reference}
            for root in INDEPENDENT:
                for path in sorted([root / name / f"{module}.py", *root.glob(f"{name}/*/{module}.py")]):
                    if path.is_file():
                        authors[f"{path.parent.relative_to(REPO)}"] = path.read_text()
            disguised = {d: f(reference) for d, f in DISGUISES.items()}
            for fn in [f for f in spec.functions if f.module == module]:
                entries, applied = [], []
                for who, source in authors.items():
                    try:
                        entries.append((Source(who, f"{who}/{module}.py"), extract(source, fn.name, graded)))
                    except NotFound:
                        pass
                for d, source in disguised.items():
                    if _changed(reference, source, fn.name, d in CHANGES_CODE):
                        entries.append((Source(f"disguise:{d}", d), extract(source, fn.name, graded)))
                        applied.append(d)
                try:
                    handout = extract(handout_source, fn.name, graded)
                except NotFound:
                    handout = None
                pairs, _ = compare_function(fn.name, entries, handout, everything_scored)
                scores = {}
                for p in pairs:
                    scores[p.a.source.name, p.b.source.name] = scores[p.b.source.name, p.a.source.name] = p.score
                own = sum(own_tokens(entries[0][1].tokens, handout.tokens if handout else ()))
                for d in applied:
                    copies.append((name, fn.name, d, scores.get(("reference", f"disguise:{d}")), own))
                who = [w.name for w, _ in entries if not w.name.startswith("disguise:")]
                for x, y in itertools.combinations(who, 2):
                    independent.append((name, fn.name, x, y, scores.get((x, y))))
    return copies, independent


def print_disguise_set(settings: Settings, verbose: bool = False) -> None:
    copies, independent = disguise_set(settings)
    t = settings.threshold
    print(f"Disguise set at threshold {t} (k={settings.k}, window={settings.window}, "
          f"at least {settings.min_matched} tokens matched on each side):")
    short = [c for c in copies if c[4] < settings.min_matched]
    counted = [c for c in copies if c[4] >= settings.min_matched]
    for d in DISGUISES:
        mine = [c for c in counted if c[2] == d]
        found = sum(c[3] is not None and c[3] >= t for c in mine)
        print(f"  {d:<12} {found}/{len(mine)} pairs found")
    found = [c for c in counted if c[3] is not None and c[3] >= t]
    print(f"Recall: {len(found)}/{len(counted)} = {100 * len(found) / max(len(counted), 1):.1f}%")
    for c in counted:
        if c not in found:
            print(f"  missed: {c[0]} {c[1]} {c[2]} (score {c[3]})")
    names = sorted({c[1] for c in short})
    print(f"Not counted: {len(short)} pairs of {len(names)} functions whose solution is shorter than "
          f"{settings.min_matched} tokens, which are never reported ({', '.join(names)})")
    flagged = [i for i in independent if i[4] is not None and i[4] >= t]
    print(f"False positives: {len(flagged)}/{len(independent)} pairs of independent solutions = "
          f"{100 * len(flagged) / max(len(independent), 1):.1f}%")
    for i in flagged:
        print(f"  flagged: {i[0]} {i[1]}: {i[2]} ~ {i[3]} ({i[4]:.2f})")
    if verbose:
        print("Scores of disguised copies:", sorted(round(c[3] or 0, 2) for c in counted))
        print("Scores of independent pairs:", sorted(round(i[4] or 0, 2) for i in independent))


# ---------------------------------------------------------------------------------------------
# (b) scale

IDIOMS = ["scores = X @ W", "scores = X[i] @ W", "loss /= num_train", "dW /= num_train", "dW += 2 * reg * W",
          "loss += reg * torch.sum(W * W)", "margins = torch.clamp(scores - correct + 1, min=0)",
          "correct = scores[torch.arange(num_train), y]", "probs = torch.softmax(scores, dim=1)",
          "scores -= scores.max(dim=1, keepdim=True).values", "exp_scores = torch.exp(scores)",
          "loss = -torch.log(probs[torch.arange(num_train), y]).mean()", "dscores = probs.clone()",
          "dscores[torch.arange(num_train), y] -= 1", "dW = X.t() @ dscores / num_train",
          "num_train = X.shape[0]", "num_classes = W.shape[1]", "mask = (margins > 0).to(X.dtype)"]
METHODS = ["sum", "max", "t", "exp", "clamp", "mean", "clone", "abs"]
FUNCS = ["torch.exp", "torch.log", "torch.sum", "torch.maximum", "torch.zeros_like", "torch.where", "torch.mm"]
WORDS = ["score", "margin", "grad", "total", "row", "prob", "delta", "acc", "tmp", "mask", "out", "val"]


class _Writer:
    """Random statements of plausible shape: mostly a student's own, some class idioms."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.names = [f"{w}{rng.randint(0, 9)}" for w in rng.sample(WORDS, 6)] + ["loss", "dW"]

    def expr(self, depth: int = 0) -> str:
        r, pick = self.rng, self.rng.random()
        if depth > 2 or pick < 0.3:
            return r.choice(self.names + ["W", "X", "y", "reg", str(r.randint(0, 5)), "1.0"])
        if pick < 0.5:
            return f"{r.choice(FUNCS)}({self.expr(depth + 1)})"
        if pick < 0.65:
            return f"({self.expr(depth + 1)}).{r.choice(METHODS)}()"
        if pick < 0.85:
            return f"{self.expr(depth + 1)} {r.choice('+-*/@')} {self.expr(depth + 1)}"
        return f"{self.expr(depth + 1)}[{r.choice([':, ', ''])}{self.expr(depth + 1)}]"

    def block(self, indent: str, count: int, depth: int = 0) -> list:
        r, lines = self.rng, []
        for _ in range(count):
            pick = r.random()
            if pick < 0.3:
                lines.append(indent + r.choice(IDIOMS))
            elif pick < 0.4 and depth < 2:
                lines.append(f"{indent}for {r.choice(['i', 'j', 'k'])} in range({r.choice(['num_train', 'num_classes', 'X.shape[0]'])}):")
                lines += self.block(indent + "    ", r.randint(1, 3), depth + 1)
            elif pick < 0.5 and depth < 2:
                lines.append(f"{indent}if {self.expr(1)} > {self.expr(2)}:")
                lines += self.block(indent + "    ", r.randint(1, 2), depth + 1)
            else:
                op = r.choice(["=", "=", "+=", "-=", "*="])
                lines.append(f"{indent}{r.choice(self.names)} {op} {self.expr()}")
        return lines


def synthetic_module(handout: str, rng: random.Random) -> str:
    """The handout with each TODO replaced by 8 to 20 random statements."""
    writer = _Writer(rng)
    out = []
    for line in handout.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("# TODO"):
            continue
        if stripped.startswith("raise NotImplementedError"):
            indent = line[:len(line) - len(stripped)]
            out += [f"{indent}num_train = X.shape[0]", f"{indent}num_classes = W.shape[1]"]
            out += writer.block(indent, rng.randint(8, 20))
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def make_class(root: Path, students: int, corpus: int, seed: int = 0) -> tuple[Path, Path]:
    """`students` folders of linear_classifier, 5% of them disguised copies of a classmate or of a
    corpus file, and `corpus` files: a fifth of them public solutions, the rest forks of those."""
    rng = random.Random(seed)
    spec = load_spec(find_spec(str(REPO / "assignments" / "linear_classifier")))
    handout = strip_solutions((spec.reference_dir / "linear_classifier.py").read_text())
    corpus_dir, class_dir = root / "corpus", root / "class"
    publics = [synthetic_module(handout, rng) for _ in range(max(1, corpus // 5))]
    for i in range(corpus):
        path = corpus_dir / f"repo{i:03d}" / "linear_classifier.py"
        path.parent.mkdir(parents=True)
        base = publics[i % len(publics)]
        path.write_text(base if i < len(publics) else rename(comments(base)))
    made = []
    for i in range(students):
        if i > 10 and rng.random() < 0.05:
            source = everything(rng.choice(made) if rng.random() < 0.5 else rng.choice(publics))
        else:
            source = synthetic_module(handout, rng)
        made.append(source)
        folder = class_dir / f"student{i:04d}"
        folder.mkdir(parents=True)
        (folder / "linear_classifier.py").write_text(source)
    return class_dir, corpus_dir


def print_scale(students: int, corpus: int, threshold: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="grader-similarity-bench-"))
    try:
        class_dir, corpus_dir = make_class(root, students, corpus)
        grader = str(Path(sys.executable).parent / "grader")
        command = [grader, "similarity", str(class_dir), "--assignment", "linear_classifier",
                   "--out", str(root / "out"), "--corpus", str(corpus_dir), "--threshold", str(threshold)]
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        elapsed = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"grader similarity failed:\n{done.stderr}")
        print(done.stdout.strip().splitlines()[0])
        rows = (root / "out" / "similarity.csv").read_text().count("\n") - 1
        html = (root / "out" / "similarity.html").read_text()
        compared = sum(int(n) for n in re.findall(r"(\d+) candidate pairs compared", html))
        every = 4 * (students * (students - 1) // 2 + students * corpus)
        print(f"{students} students x 4 functions + {corpus} corpus files: {elapsed:.1f} s for the whole "
              f"`grader similarity` command; {compared} candidate pairs compared of {every} possible "
              f"({100 * compared / every:.2f}%), {rows} pairs in similarity.csv")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", action="store_true", help="time a synthetic class instead")
    parser.add_argument("-n", type=int, default=1000, help="students in the synthetic class (default 1000)")
    parser.add_argument("--corpus", type=int, default=200, help="files in the synthetic corpus (default 200)")
    parser.add_argument("--threshold", type=float, default=Settings.threshold)
    parser.add_argument("-k", type=int, default=Settings.k)
    parser.add_argument("--window", type=int, default=Settings.window)
    parser.add_argument("-v", "--verbose", action="store_true", help="also print every score")
    args = parser.parse_args()
    settings = Settings(k=args.k, window=args.window, threshold=args.threshold)
    if args.scale:
        print_scale(args.n, args.corpus, args.threshold)
    else:
        print_disguise_set(settings, args.verbose)


if __name__ == "__main__":
    main()
