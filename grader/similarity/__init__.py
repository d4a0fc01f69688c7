"""Similarity of a class's code, per graded function: evidence for a person to read, never a verdict.

    >>> report = find_similar(spec, submissions, corpus=[Path("public_solutions")])
    >>> report.pairs[0]          # Pair(function='svm_loss_naive', score=0.97, a=Side(...), b=Side(...))

Each graded function of each student (with the module helpers it calls) is normalized into tokens
(normalize.py), fingerprinted by winnowing (fingerprint.py), and compared with the others and with
the corpus's through an inverted index of fingerprints (compare.py); the handout's code is never
evidence. Reporters (grader/report/similarity.py) write similarity.csv, similarity.html and the
section of the class report.html from the SimilarityReport; nothing here changes a grade.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.similarity.compare import Pair, Settings, Side, Source, Stats, compare_function
from grader.similarity.sources import CorpusError, check_corpus, corpus_units, handout_units, student_units
from grader.spec import AssignmentSpec

__all__ = ["CorpusError", "Pair", "Settings", "Side", "SimilarityReport", "Source", "check_corpus", "find_similar"]


@dataclass
class SimilarityReport:
    """What the reporters read."""

    assignment: str
    title: str
    settings: Settings
    functions: list                  # graded function names, in the spec's order
    students: int = 0
    corpus_files: int = 0
    handout: str = ""                # where the excluded handout code came from ("" if none was found)
    pairs: list = field(default_factory=list)       # Pair, by function in the spec's order, then by score
    problems: list = field(default_factory=list)    # (who, sentence): files not compared
    stats: dict = field(default_factory=dict)       # function -> Stats
    corpus: list = field(default_factory=list)      # the --corpus folders, as given

    def pairs_of(self, function: str) -> list:
        return [p for p in self.pairs if p.function == function]


def find_similar(spec: AssignmentSpec, submissions: list, corpus: list | None = None,
                 settings: Settings | None = None) -> SimilarityReport:
    """Compare every graded function of `submissions` (grader.batch.Submission) with the same
    function of the other students and of the corpus files."""
    settings = settings or Settings()
    corpus = [Path(c) for c in corpus or []]
    report = SimilarityReport(spec.name, spec.title, settings, [f.name for f in spec.functions],
                              students=len(submissions), corpus=[str(c) for c in corpus])
    handout, report.handout = handout_units(spec)
    corpus_entries, corpus_problems, report.corpus_files = corpus_units(spec, corpus)
    by_function: dict = {name: [] for name in report.functions}
    for sub in submissions:
        if sub.problem:
            report.problems.append((sub.student, sub.problem))
            continue
        units, problems = student_units(spec, sub.path)
        report.problems += [(sub.student, p) for p in problems]
        for name, (unit, file) in units.items():
            by_function[name].append((Source(sub.student, file), unit))
    report.problems += [("corpus", p) for p in corpus_problems]
    for entry in corpus_entries:
        by_function[entry[1].function].append(entry)
    for name in report.functions:
        pairs, report.stats[name] = compare_function(name, by_function[name], handout.get(name), settings)
        report.pairs += pairs
    return report

