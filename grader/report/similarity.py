"""The similarity reports: `similarity.csv`, `similarity.html`, and a section of the class report.html.

    write_similarity(report, Path("graded"))     # graded/similarity.csv, graded/similarity.html

Read from a grader.similarity.SimilarityReport, never recomputed. The HTML is one offline file like
report.html (inline CSS, no scripts, fonts or images): per function a ranked table of pairs, then
each pair side by side, its matched regions in the same colour on both sides. Every piece of
student or corpus text is escaped. The wording is that of evidence for a person to read: a score
says how much code two units share after normalization, not who copied, or whether anyone did.
"""
from __future__ import annotations

import csv
import io
from html import escape
from pathlib import Path

from grader.report.atomic import write_atomic
from grader.report.cells import spreadsheet_rows

SHOWN_PER_FUNCTION = 50              # pairs shown side by side per function; the CSV has all of them
IN_CLASS_REPORT = 20                 # pairs listed in report.html's section
COLOURS = ("#ffe08a", "#b9e4ff", "#c8f0c0", "#ffc9de", "#e0d0ff", "#ffd3b0")

NOTICE = ("This report is evidence for a person to read, not a verdict. A score is the share of two "
          "pieces of code that is the same after renaming, reformatting and reordering are undone; "
          "it does not say who copied, or that anyone did: code the assignment dictates, a common "
          "idiom or a short function can match by themselves. The handout's code is never counted. "
          "Nothing here changes a grade.")

CSV_HEADER = ["function", "rank", "score", "a", "a_file", "a_matched", "a_matched_tokens", "a_tokens",
              "b", "b_kind", "b_file", "b_matched", "b_matched_tokens", "b_tokens"]

CSS = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto;
       max-width: 1400px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; } h3 { font-size: 15px; margin: 22px 0 6px; }
.meta { color: #555; margin: 2px 0; } .notice { background: #f4f6fb; border-left: 4px solid #4a7ebb; padding: 8px 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.side { border: 1px solid #ddd; min-width: 0; } .side h4 { margin: 0; padding: 4px 8px; background: #f4f4f4; font-size: 13px; }
pre { margin: 0; padding: 4px 0; font-size: 12px; line-height: 1.35; overflow-x: auto; }
.ln { display: inline-block; width: 3.5em; color: #999; text-align: right; padding-right: 8px; user-select: none; }
.corpus { color: #6b4e00; }
""" + "".join(f".m{i} {{ background: {c}; }}\n" for i, c in enumerate(COLOURS))


# ---------------------------------------------------------------------------------------------
# CSV


def render_csv(report) -> str:
    out = io.StringIO()
    rows = [[function, rank, f"{p.score:.3f}",
             p.a.source.name, p.a.source.file, f"{p.a.fraction:.3f}", p.a.matched, p.a.own,
             p.b.source.name, "corpus" if p.b.source.corpus else "student", p.b.source.file,
             f"{p.b.fraction:.3f}", p.b.matched, p.b.own]
            for function in report.functions for rank, p in enumerate(report.pairs_of(function), 1)]
    csv.writer(out, lineterminator="\n").writerows(spreadsheet_rows([CSV_HEADER, *rows]))
    return out.getvalue()


# ---------------------------------------------------------------------------------------------
# HTML


def render_html(report) -> str:
    title = f"Similarity: {report.title or report.assignment}"
    body = [f"<h1>{escape(title)}</h1>", f'<p class="notice">{escape(NOTICE)}</p>', _header(report)]
    if report.problems:
        body.append("<h2>Not compared</h2><ul>" + "".join(
            f"<li>{escape(who)}: {escape(what)}</li>" for who, what in report.problems) + "</ul>")
    for function in report.functions:
        pairs = report.pairs_of(function)
        stats = report.stats.get(function)
        body.append(f'<h2 id="{_anchor(function)}">{escape(function)}</h2>')
        if stats is not None:
            body.append(f'<p class="meta">{stats.units} units, {stats.candidates} candidate pairs compared '
                        f'(those sharing a fingerprint), {len(pairs)} at or above {report.settings.threshold:g}</p>')
        if not pairs:
            body.append("<p>No pair at or above the threshold.</p>")
            continue
        body.append(_table(list(enumerate(pairs, 1)), link="", with_function=False))
        for rank, pair in enumerate(pairs[:SHOWN_PER_FUNCTION], 1):
            body.append(_side_by_side(function, rank, pair))
        if len(pairs) > SHOWN_PER_FUNCTION:
            body.append(f"<p>{len(pairs) - SHOWN_PER_FUNCTION} more pairs are in similarity.csv.</p>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def write_similarity(report, out: Path) -> list[Path]:
    """Write similarity.csv and similarity.html into `out`; readers never see a half-written file."""
    paths = [Path(out) / "similarity.csv", Path(out) / "similarity.html"]
    write_atomic(paths[0], render_csv(report).encode("utf-8", "replace"))
    write_atomic(paths[1], render_html(report).encode("utf-8", "replace"))
    return paths


def render_section(report, link: str = "similarity.html") -> str:
    """The class report's section: the best pairs of all functions, linking to `link` for the code."""
    s = report.settings
    ranked = [(rank, p) for f in report.functions for rank, p in enumerate(report.pairs_of(f), 1)]
    ranked.sort(key=lambda rp: (-rp[1].score, report.functions.index(rp[1].function), rp[0]))
    head = (f'<h2>Similarity</h2>\n<p class="meta">{escape(NOTICE)}</p>\n'
            f'<p class="meta">{len(report.pairs)} pairs at or above {s.threshold:g} over {len(report.functions)} '
            f'functions; each pair side by side: <a href="{escape(link)}">{escape(link)}</a></p>')
    if not ranked:
        return head + "\n<p>No pair at or above the threshold.</p>"
    more = (f'<p class="meta">{len(ranked) - IN_CLASS_REPORT} more in {escape(link)}</p>'
            if len(ranked) > IN_CLASS_REPORT else "")
    return head + "\n" + _table(ranked[:IN_CLASS_REPORT], link=link, with_function=True) + more


def _header(report) -> str:
    s = report.settings
    corpus = (f"{report.corpus_files} corpus files ({escape(', '.join(report.corpus))})"
              if report.corpus else "no corpus")
    handout = (f"Handout code excluded: {escape(report.handout)}" if report.handout
               else "No handout found: starter code is not excluded")
    lines = [f"Assignment: <b>{escape(report.assignment)}</b> &middot; {report.students} students &middot; {corpus}",
             handout,
             f"Pairs reported at a score of {s.threshold:g} or more (tokens k = {s.k}, window {s.window}; "
             f"at least {s.min_matched} tokens matched on each side; passages shared by more than "
             f"{s.common_cap(report.students)} students are treated as common and never match)"]
    return "\n".join(f'<p class="meta">{line}</p>' for line in lines)


def _who(side) -> str:
    if side.source.corpus:
        return f'<span class="corpus">corpus: {escape(side.source.name)}</span>'
    return f"{escape(side.source.name)} <small>({escape(side.source.file)})</small>"


def _table(ranked: list, link: str, with_function: bool) -> str:
    """A table of (rank in its function, pair), each rank linking to the pair's code in `link`."""
    rows = ["<table><tr>" + ("<th>function</th>" if with_function else "") +
            "<th>#</th><th>score</th><th>a</th><th>matched of a</th><th>b</th><th>matched of b</th></tr>"]
    for rank, p in ranked:
        href = f"{link}#{_anchor(p.function, rank)}"
        rows.append("<tr>" + (f"<td>{escape(p.function)}</td>" if with_function else "")
                    + f'<td class="n"><a href="{escape(href)}">{rank}</a></td><td class="n">{p.score:.2f}</td>'
                    f'<td>{_who(p.a)}</td><td class="n">{_percent(p.a)}</td>'
                    f'<td>{_who(p.b)}</td><td class="n">{_percent(p.b)}</td></tr>')
    return "\n".join(rows) + "</table>"


def _percent(side) -> str:
    return f"{100 * side.fraction:.0f}% <small>({side.matched}/{side.own})</small>"


def _side_by_side(function: str, rank: int, pair) -> str:
    head = (f'<h3 id="{_anchor(function, rank)}">{escape(function)} #{rank}: score {pair.score:.2f}</h3>')
    sides = []
    for side in (pair.a, pair.b):
        lines = []
        for number, text in side.lines:
            region = side.marks.get(number)
            cls = f' class="m{region % len(COLOURS)}"' if region is not None else ""
            lines.append(f'<span{cls}><span class="ln">{number}</span>{escape(text)}</span>')
        sides.append(f'<div class="side"><h4>{_who(side)}: {_percent(side)} matched</h4><pre>'
                     + "\n".join(lines) + "</pre></div>")
    return head + '\n<div class="pair">' + "".join(sides) + "</div>"


def _anchor(function: str, rank: int | None = None) -> str:
    base = "f-" + "".join(c if c.isalnum() else "-" for c in function)
    return base if rank is None else f"{base}-{rank}"

