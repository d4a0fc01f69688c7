"""The class report: one self-contained HTML page an instructor opens after a batch.

    write_html(results, "graded/report.html", title="hw1: linear classifier")

Score distribution, pass rate per function and per case, the most common failures across the
class, and a table of students linking to their feedback. Everything is inline (CSS, SVG drawn
here, no JavaScript, fonts or images), so the file opens offline and can be mailed around. It
lists every student and hidden-case messages: it is for the course staff, not for students.
Student-controlled text (ids, messages) is escaped everywhere.
"""
from __future__ import annotations

import os
import re
import statistics
from collections import Counter, defaultdict
from html import escape
from urllib.parse import quote

from grader.results import PASSED, CaseResult, SubmissionResult
from grader.report.atomic import write_atomic
from grader.report.gradebook import STATUS_OK, function_names, points, submission_status

TOP_FAILURES = 10
STUDENTS_LISTED = 8                  # students named per failure group; the rest are counted

# A number not glued to a word, so "float32" and "log2" survive while "2.1e-05", "-0.03" and
# the 6 in "[0, 6]" become "#" and messages that differ only in values group together.
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")

CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto;
       max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.meta { color: #555; margin: 2px 0; } .warn { color: #8a4b00; }
.charts { display: flex; flex-wrap: wrap; gap: 32px; } .scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; white-space: nowrap; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.rate { text-align: center; min-width: 38px; } td.none { background: #fafafa; color: #bbb; text-align: center; }
.status-ok { color: #1a7f37; } .status-bad { color: #b42318; font-weight: 600; }
code { font-size: 12px; background: #f6f6f6; padding: 0 3px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
"""


def render_html(results: list[SubmissionResult], title: str, similarity=None) -> str:
    """The report as one HTML string; with a similarity report (grader.similarity), its section."""
    results = sorted(results, key=lambda r: r.label)
    names = function_names(results)
    body = [f"<h1>{escape(title)}</h1>", _header(results)]
    if results:
        body += ['<div class="charts"><div><h2>Score distribution</h2>', _histogram(results), "</div>",
                 "<div><h2>Pass rate per function</h2>", _function_bars(results, names), "</div></div>",
                 "<h2>Pass rate per case</h2>", _scroll(_case_table(results, names)),
                 "<h2>Most common failures</h2>", _scroll(_failures(results))]
    if similarity is not None:
        from grader.report.similarity import render_section
        body.append(_scroll(render_section(similarity)))
    if results:
        body += ["<h2>Students</h2>", _scroll(_students(results, names))]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_html(results: list[SubmissionResult], path: str | os.PathLike[str], title: str, similarity=None) -> None:
    """Write the report to `path`; readers never see a half-written file."""
    write_atomic(path, render_html(results, title, similarity).encode("utf-8", "replace"))   # "replace": a stray surrogate is one "?"


def normalize_message(message: str) -> str:
    """`message` with every number replaced by "#": the shape of a mistake, not its values."""
    return _NUMBER.sub("#", message)


def _percent(result: SubmissionResult) -> float | None:
    """The total as a percent (rounded off below a millionth: 4 of 20 points summed from case shares
    is 3.9999999999999996, which must fall in the 20-30% bin), or None when nothing was possible."""
    return round(100 * result.earned / result.possible, 6) if result.possible else None


def _scored(results: list[SubmissionResult]) -> list[SubmissionResult]:
    """The students who could earn points: the others have no percent to count."""
    return [r for r in results if r.possible]


def _header(results: list[SubmissionResult]) -> str:
    assignments = sorted({r.assignment for r in results})
    lines = [f"Assignment: <b>{escape(', '.join(assignments) or '-')}</b> &middot; {len(results)} students"]
    if results:
        scored = _scored(results)
        pct, earned = [_percent(r) for r in scored], [r.earned for r in scored]
        if scored:
            lines.append(f"Mean {statistics.mean(pct):.1f}% ({points(round(statistics.mean(earned), 2))} points) &middot; "
                         f"median {statistics.median(pct):.1f}% ({points(round(statistics.median(earned), 2))} points)"
                         + (f" of the {len(scored)} who could earn points" if len(scored) < len(results) else ""))
        graded = sum(r.hidden_graded for r in results)
        lines.append(f"Hidden cases graded for {graded} of {len(results)} students")
        statuses = Counter(submission_status(r) for r in results)
        lines.append("Status: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    out = [f'<p class="meta">{line}</p>' for line in lines]
    for warning, n in Counter(r.sandbox_warning for r in results if r.sandbox_warning).items():
        out.append(f'<p class="meta warn">{n} graded with a weaker sandbox: {escape(warning)}</p>')
    return "\n".join(out)


def _histogram(results: list[SubmissionResult]) -> str:
    bins = [0] * 10
    for r in _scored(results):
        bins[min(int(_percent(r) // 10), 9)] += 1      # 100% joins the 90-100 bin
    width, height, left, bottom, bar = 460, 210, 30, 34, 40
    scale = (height - bottom - 16) / max(max(bins), 1)
    parts = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             'aria-label="Histogram of total percent">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{left + 10 * bar}" y2="{height - bottom}" stroke="#999"/>']
    for i, count in enumerate(bins):
        h = count * scale
        x, y = left + i * bar, height - bottom - h
        label = f"{i * 10}-{i * 10 + 10}%: {count} student{'' if count == 1 else 's'}"
        parts.append(f'<rect x="{x + 2}" y="{y:.1f}" width="{bar - 4}" height="{h:.1f}" fill="#4a7ebb">'
                     f"<title>{label}</title></rect>")
        if count:
            parts.append(f'<text x="{x + bar / 2}" y="{y - 3:.1f}" text-anchor="middle">{count}</text>')
    for i in range(11):
        parts.append(f'<text x="{left + i * bar}" y="{height - bottom + 14}" text-anchor="middle">{i * 10}</text>')
    parts.append(f'<text x="{left + 5 * bar}" y="{height - 1}" text-anchor="middle">total percent</text></svg>')
    return "".join(parts)


def _rates(results: list[SubmissionResult], key) -> dict:
    """[passed, total] of cases, grouped by key(case)."""
    rates: dict = defaultdict(lambda: [0, 0])
    for case in (c for r in results for c in r.cases()):
        rates[key(case)][0] += case.passed
        rates[key(case)][1] += 1
    return rates


def _function_bars(results: list[SubmissionResult], names: list[str]) -> str:
    rates = _rates(results, lambda c: c.function)
    row, label, span = 24, 190, 240
    parts = [f'<svg width="{label + span + 60}" height="{row * len(names) + 8}" role="img" '
             'aria-label="Pass rate per function">']
    for i, name in enumerate(names):
        passed, total = rates[name]
        rate = passed / total if total else 0.0
        y = 4 + i * row
        shown = name if len(name) <= 28 else name[:27] + "…"
        parts += [f'<text x="{label - 6}" y="{y + 15}" text-anchor="end">{escape(shown)}</text>',
                  f'<rect x="{label}" y="{y + 3}" width="{span}" height="{row - 8}" fill="#eee"/>',
                  f'<rect x="{label}" y="{y + 3}" width="{rate * span:.1f}" height="{row - 8}" fill="{_color(rate, 45)}">'
                  f"<title>{escape(name)}: {passed} of {total} cases passed</title></rect>",
                  f'<text x="{label + span + 6}" y="{y + 15}">{100 * rate:.0f}%</text>']
    return "".join(parts) + "</svg>"


def _case_table(results: list[SubmissionResult], names: list[str]) -> str:
    rates = _rates(results, lambda c: (c.function, c.case_id))
    ids = list(dict.fromkeys(case_id for _, case_id in rates))   # public-1.., then hidden-1.., as first seen
    rows = ["<table><tr><th>function</th>" + "".join(f"<th>{escape(i)}</th>" for i in ids) + "</tr>"]
    for name in names:
        cells = []
        for case_id in ids:
            if (name, case_id) not in rates:
                cells.append('<td class="none">&ndash;</td>')
                continue
            passed, total = rates[name, case_id]
            cells.append(f'<td class="rate" style="background:{_color(passed / total, 85)}" '
                         f'title="{passed} of {total} passed">{100 * passed / total:.0f}%</td>')
        rows.append(f"<tr><th>{escape(name)}</th>{''.join(cells)}</tr>")
    return "\n".join(rows) + "</table>"


def _failure_key(case: CaseResult) -> str:
    # A diagnosis names the mistake ("forgot to divide by N"); without one, the message's shape.
    return case.diagnosis or normalize_message(case.message) or f"({case.status.replace('_', ' ')})"


def _failures(results: list[SubmissionResult]) -> str:
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in results:
        for case in r.cases():
            if case.status != PASSED:
                groups[case.function, _failure_key(case)].append(r.label)
    if not groups:
        return "<p>No failing cases.</p>"
    # Most students first: one broken submission fails every case, a common mistake one case each of many.
    top = sorted(groups.items(), key=lambda kv: (-len(set(kv[1])), -len(kv[1]), kv[0]))[:TOP_FAILURES]
    rows = ["<table><tr><th>students</th><th>function</th><th>message</th><th>cases</th><th>who</th></tr>"]
    for (function, message), students in top:
        unique = list(dict.fromkeys(students))
        named = ", ".join(escape(s) for s in unique[:STUDENTS_LISTED])
        more = f" and {len(unique) - STUDENTS_LISTED} more" if len(unique) > STUDENTS_LISTED else ""
        rows.append(f'<tr><td class="n">{len(unique)}</td><td>{escape(function)}</td>'
                    f'<td><code>{escape(message)}</code></td><td class="n">{len(students)}</td><td>{named}{more}</td></tr>')
    return "\n".join(rows) + "</table>"


def _students(results: list[SubmissionResult], names: list[str]) -> str:
    head = "".join(f"<th>{escape(n)}</th>" for n in names)
    rows = [f"<table><tr><th>student</th><th>total</th><th>percent</th><th>status</th>{head}</tr>"]
    for r in results:
        sid = r.label
        status = submission_status(r)
        by_name = {fn.name: fn for fn in r.functions}
        cells = []
        for name in names:
            fn = by_name.get(name)
            if fn is None:
                cells.append('<td class="none">&ndash;</td>')
            else:
                rate = fn.earned / fn.possible if fn.possible else 0.0
                cells.append(f'<td class="n" style="background:{_color(rate, 88)}">{points(fn.earned)}</td>')
        link = escape(quote(sid) + "/feedback.txt")
        rows.append(f'<tr><td><a href="{link}">{escape(sid)}</a></td>'
                    f'<td class="n">{points(r.earned)} / {points(r.possible)}</td>'
                    f'<td class="n">{"n/a" if r.possible == 0 else f"{_percent(r):.1f}%"}</td>'
                    f'<td class="status-{"ok" if status == STATUS_OK else "bad"}">{status}</td>{"".join(cells)}</tr>')
    return "\n".join(rows) + "</table>"


def _scroll(table: str) -> str:
    # Many functions or cases make a table wider than the window; scroll it, not the whole page.
    return f'<div class="scroll">{table}</div>'


def _color(rate: float, lightness: int) -> str:
    """Red (0) through yellow to green (1)."""
    return f"hsl({120 * max(0.0, min(rate, 1.0)):.0f}, 65%, {lightness}%)"
