"""Which units of one graded function share code, and how much: an inverted index of fingerprints
finds the candidate pairs, and only those are compared, k-gram by k-gram.

    >>> pairs, stats = compare_function("svm_loss_naive", entries, handout, Settings())

`entries` are (Source, Unit): the students' units and the corpus's. A pair is two students, or a
student and a corpus file (corpus files are not compared with each other). What is never evidence:

- the handout's code (MOSS's base file): the tokens that line up with it are taken out of every
  unit before its k-grams are made, so they neither match nor count in its size;
- passages that more than `Settings.common` of the students share (MOSS's `-m`): the way nearly
  everyone writes something. They stay in a unit's size but never match.

Scores: each side's matched fraction is the share of its own tokens (not the handout's) covered by
k-grams the other side has too; the pair's score is the matched tokens of both over the own tokens
of both (Dolos's similarity), so a short function copied into a long one scores between the two
fractions. Pairs are sorted by score, then by name: the same input gives the same list.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

import numpy as np

from grader.similarity.fingerprint import kgram_hashes, winnow
from grader.similarity.normalize import Unit

IGNORED = np.iinfo(np.uint64).max    # a masked hash: larger than any window's minimum


@dataclass(frozen=True)
class Settings:
    k: int = 16                      # tokens in a k-gram: matches shorter than this are noise
    window: int = 8                  # winnowing window: a match of window + k - 1 tokens is always found
    threshold: float = 0.6           # pairs scoring at least this are reported
    common: float = 0.1              # a passage in more than this share of the students is common...
    common_floor: int = 20           # ...and more than this many of them
    min_matched: int = 20            # tokens each side must have matched (a one-line function never is evidence)

    def common_cap(self, students: int) -> int:
        return max(self.common_floor, math.ceil(self.common * students))


@dataclass(frozen=True)
class Source:
    """Whose unit it is: a student, or a file of the corpus."""

    name: str                        # the student's id, or the corpus file's path
    file: str                        # the file the unit was read from, as shown in the report
    corpus: bool = False


@dataclass(frozen=True)
class Side:
    """One side of a pair: who, how much of their own code matched, and where."""

    source: Source
    fraction: float                  # matched / own
    matched: int                     # own tokens in a matched k-gram
    own: int                         # tokens not from the handout
    lines: tuple                     # (line number, text) of the unit's source
    marks: dict = field(default_factory=dict)     # line number -> region (0, 1, ...) matched on it


@dataclass(frozen=True)
class Pair:
    function: str
    score: float
    a: Side
    b: Side


@dataclass
class Stats:
    units: int = 0                   # units fingerprinted (students and corpus)
    candidates: int = 0              # pairs sharing a fingerprint: the only ones compared
    common: int = 0                  # k-grams ignored as common to many students


class _Prepared:
    """A unit's own tokens (those not from the handout) and their k-grams."""

    def __init__(self, source: Source, unit: Unit, k: int, handout: Unit | None):
        self.source, self.unit = source, unit
        own = own_tokens(unit.tokens, handout.tokens if handout is not None else ())
        self.tokens = [t for t, keep in zip(unit.tokens, own) if keep]
        self.lines = [n for n, keep in zip(unit.lines, own) if keep]
        self.hashes = kgram_hashes(self.tokens, k)
        self.valid: np.ndarray = np.zeros(0, dtype=np.uint64)    # set by compare_function
        self.fingerprints: np.ndarray = np.zeros(0, dtype=np.uint64)


HANDOUT_RUN = 3                      # tokens in a row, in the handout's order, that count as the handout's code


def own_tokens(tokens, handout) -> list:
    """Which tokens the student wrote: not part of a run of `HANDOUT_RUN` or more tokens that lines
    up with the handout's stream (its signature, the given code around the TODOs, the return). The
    handout's code is taken out before k-grams are made, so a k-gram never joins a student's line to
    the handout's lines around it."""
    own = [True] * len(tokens)
    if not handout:
        return own
    matcher = difflib.SequenceMatcher(None, list(handout), list(tokens), autojunk=False)
    for block in matcher.get_matching_blocks():
        if block.size >= HANDOUT_RUN:
            own[block.b:block.b + block.size] = [False] * block.size
    return own


def compare_function(function: str, entries: list, handout: Unit | None, settings: Settings) -> tuple[list, Stats]:
    """The pairs of `entries` (Source, Unit) whose score reaches the threshold, best first."""
    units = [_Prepared(source, unit, settings.k, handout) for source, unit in entries]
    students = [u for u in units if not u.source.corpus]
    stats = Stats(units=len(units))

    # Passages more than `cap` students share: the common way to write it, not evidence.
    seen = [np.unique(u.hashes) for u in students]
    values, counts = np.unique(np.concatenate(seen), return_counts=True) if seen else (np.zeros(0), np.zeros(0))
    ignore = values[counts > settings.common_cap(len(students))]
    stats.common = len(ignore)

    index: dict = {}                                     # fingerprint -> [unit number], students first
    for number, u in enumerate(units):
        u.valid = np.unique(u.hashes[~np.isin(u.hashes, ignore)])
        masked = np.where(np.isin(u.hashes, ignore), IGNORED, u.hashes)
        chosen = masked[winnow(masked, settings.window)]
        u.fingerprints = np.unique(chosen[chosen != IGNORED])
        for fp in u.fingerprints.tolist():
            index.setdefault(fp, []).append(number)

    candidates = set()
    for numbers in index.values():
        if len(numbers) < 2:
            continue
        people = [n for n in numbers if not units[n].source.corpus]
        files = [n for n in numbers if units[n].source.corpus]
        for i, a in enumerate(people):
            candidates.update((a, b) for b in people[i + 1:])
            candidates.update((a, c) for c in files)
    stats.candidates = len(candidates)

    pairs = []
    for a, b in candidates:
        pair = _score(function, units[a], units[b], settings)
        if pair is not None:
            pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, p.a.source.name, p.b.source.name))
    return pairs, stats


def _score(function: str, a: _Prepared, b: _Prepared, settings: Settings) -> Pair | None:
    shared = np.intersect1d(a.valid, b.valid, assume_unique=True)
    if not len(shared):
        return None
    k = settings.k
    cover_a, cover_b = _covered(a, shared, k), _covered(b, shared, k)
    matched_a, matched_b = int(cover_a.sum()), int(cover_b.sum())
    own_a, own_b = len(a.tokens), len(b.tokens)
    score = (matched_a + matched_b) / (own_a + own_b)
    if score < settings.threshold or min(matched_a, matched_b) < settings.min_matched:
        return None
    marks_a, marks_b = _regions(a, b, shared, k)
    side_a = Side(a.source, matched_a / own_a, matched_a, own_a, a.unit.source, marks_a)
    side_b = Side(b.source, matched_b / own_b, matched_b, own_b, b.unit.source, marks_b)
    if (b.source.corpus, b.source.name) < (a.source.corpus, a.source.name):     # students first, then by name
        side_a, side_b = side_b, side_a
    return Pair(function, round(score, 6), side_a, side_b)


def _covered(u: _Prepared, shared: np.ndarray, k: int) -> np.ndarray:
    """Tokens inside a k-gram the other side has too."""
    covered = np.zeros(len(u.tokens), dtype=bool)
    for p in np.flatnonzero(np.isin(u.hashes, shared)):
        covered[p:p + k] = True
    return covered


def _regions(a: _Prepared, b: _Prepared, shared: np.ndarray, k: int) -> tuple[dict, dict]:
    """Line -> region number on each side. A region is a maximal run of shared k-grams in `a`; the
    same k-grams in `b` get its number, so the report can colour the two alike."""
    marks_a: dict = {}
    marks_b: dict = {}
    where_b: dict = {}
    for p in np.flatnonzero(np.isin(b.hashes, shared)).tolist():
        where_b.setdefault(int(b.hashes[p]), []).append(p)
    positions = np.flatnonzero(np.isin(a.hashes, shared)).tolist()
    region, last = -1, None
    for p in positions:
        if last is None or p > last + 1:
            region += 1
        last = p
        _mark(a, p, k, region, marks_a)
        for q in where_b.get(int(a.hashes[p]), ()):
            _mark(b, q, k, region, marks_b)
    return marks_a, marks_b


def _mark(u: _Prepared, start: int, k: int, region: int, marks: dict) -> None:
    for t in range(start, start + k):
        marks.setdefault(u.lines[t], region)
