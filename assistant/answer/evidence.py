"""The evidence features the refusal decision weighs, computed once per question from its analysis.

Coverage features (all cheap: BM25 idf from the snapshot, sentence vectors from the index, the
question's vector from retrieval):

- `coverage`: the largest idf-weighted share of the question's terms that one top passage (its text
  and heading) contains; `sentence_coverage`: the same for the best single sentence.
- `dense`: the best cosine between the question and a sentence of a top passage.
- `unknown_share`: the share of the question's idf weight on terms the corpus (or the scope the
  question narrows itself to) never uses.
- `slot_gap`: 1 - the subject coverage of the best sentence stating a figure of the asked type
  (0 when no figure is asked for; `coverage.slot_fill`).
- `unknown_names` / `absent_names`: names the question uses that no document uses ("Tesla",
  "Banxico"), or that the top passages do not contain (an acronym counts as present when its
  expansion is there: "RRM" ~ "Rapid Response Mechanism").
- `absent_numbers`: numbers and years of the asked part of the question (not of a premise before it)
  missing from the top passages.
- `multilingual`: the multilingual model's best cosine between the question and a top passage (e5,
  trained for query-passage relevance). For a question with a premise ("The brief cites an OECD
  finding that 60 percent ... What share holds a university degree?") it is the cosine of the
  question from its first asking sentence on, plus `PREMISE_SHIFT`: a premise that paraphrases a
  passage raises the whole question's cosine whether or not the passage answers what is asked.
  A tariff line has no stored vector: the lines among the first passages are embedded at query time
  when the question is not in English or none of the first EVIDENCE_PASSAGES has a multilingual
  cosine (`Retrieval.scored_at_query`), and their cosine (`line_multilingual`) is read shifted by
  `LINE_SHIFT`, the gap between lines' and prose passages' cosines; the model weighs the better of
  the two (`best_multilingual`).
- `realized_figure`: the question asks for a figure or date as things actually stand up to now
  ("How many cases have been filed so far?"): the documents set out rules and plans, seldom tallies.
- `uncovered_specificity`: how specific the most specific uncovered concept is (7 - its rarest
  word's Zipf frequency in general English, from the `wordfreq` package): a question whose
  "softwood lumber" no sentence covers asks about something else; an uncovered "mood" or
  "downside" is phrasing. `uncovered`: how many concepts are uncovered.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from assistant.answer.coverage import (
    Coverage,
    EvidenceSentence,
    coverage,
    term_weights,
)
from assistant.domain import ScoredChunk
from assistant.index.lexical import tokenize
from assistant.index.store import Snapshot
from assistant.retrieve.analysis import QUESTION_VOCABULARY, SCOPE_VOCABULARY, QueryAnalysis
from assistant.textutil import fold, name_present, numbers, strip_footnote_marks

EVIDENCE_PASSAGES = 6  # the passages an answer is drawn from
# What is asked, without its premise, is less similar to the passage that answers it than the whole
# question is (its referents are in the premise): on the 190 answerable single questions with a
# premise of the tuning sets up to round 26, by a median 0.013. Added back so that the refusal
# weights (fitted on whole questions) read it on their scale; to be swept again when they are
# refitted. Fitted on those questions and the 46 unanswerable ones with a premise (0 / 0.013 / 0.02 /
# 0.03): 0.02 refuses 4 more unanswerable ones (21 -> 25 of 46) and no more answerable ones (6 of 190).
PREMISE_SHIFT = 0.02
# A tariff line's multilingual cosine (its text embedded at query time) sits below the cosines of the
# prose passages the refusal weights were fitted on: a line is a heading and a few words of
# description. Added to it so that a question the lines answer reads on the passages' scale: the
# median gap on the answerable single questions of the 33 single-question tuning files up to round 30
# (prose 0.869 over 960 questions, lines 0.849 over 100; unanswerable ones' lines 0.798 over 14).
# Set from that gap, not swept. On those files (1,504 decided by the score, lines and today's
# weights) answerable refused 25 -> 23 of 990 with it, unanswerable 296 of 514 either way; a sweep
# from 0 to 0.12 would give 24 -> 20 and 296 -> 295 (docs/benchmarks.md, thirtieth session).
# Spanish questions' lines, read unshifted before, now read shifted too.
LINE_SHIFT = 0.02
GENERAL_ZIPF_CEILING = 7.0  # Zipf frequencies run from 0 (unseen) to about 7.5 ("the")


@dataclass(frozen=True)
class EvidenceFeatures:
    coverage: float
    sentence_coverage: float
    dense: float
    unknown_share: float
    slot_gap: float
    unknown_names: tuple[str, ...] = ()
    absent_names: tuple[str, ...] = ()
    absent_numbers: tuple[str, ...] = ()
    uncovered_specificity: float = 0.0
    uncovered: int = 0
    # the multilingual model's best cosine with a top passage that has stored vectors (0: not
    # searched, or none has)
    multilingual: float = 0.0
    realized_figure: float = 0.0
    # the same for the top passages scored at query time (tariff lines; 0: none scored)
    line_multilingual: float = 0.0

    @property
    def best_multilingual(self) -> float:
        """The multilingual feature the model weighs: the best cosine of a passage with vectors or
        of a line scored at query time, the line's shifted onto the passages' scale (LINE_SHIFT)."""
        line = self.line_multilingual + LINE_SHIFT if self.line_multilingual else 0.0
        return max(self.multilingual, line)

    def vector(self) -> np.ndarray:
        """The inputs of the evidence score, in the order of `FEATURES`."""
        return np.array([
            self.coverage,
            self.dense,
            self.unknown_share,
            self.slot_gap,
            min(len(self.unknown_names), 2),
            min(len(self.absent_names), 2),
            min(len(self.absent_numbers), 2),
            self.uncovered_specificity / GENERAL_ZIPF_CEILING,
            min(self.uncovered, 3),
            self.best_multilingual,
            self.realized_figure,
        ])

    def to_dict(self) -> dict[str, object]:
        return {k: v if isinstance(v, (tuple, str, int)) else round(float(v), 4) for k, v in asdict(self).items()}


# The "multilingual" input is `EvidenceFeatures.best_multilingual` (prose or shifted line cosine).
FEATURES = ("coverage", "dense", "unknown_share", "slot_gap", "unknown_names", "absent_names", "absent_numbers",
            "uncovered_specificity", "uncovered", "multilingual", "realized_figure")


@lru_cache(maxsize=4096)
def specificity(phrase: str) -> float:
    """7 - the Zipf frequency (general English) of the phrase's rarest word: "softwood" 4.7,
    "mood" 2.6, "the" 0. Words are looked up as typed, hyphenated parts separately."""
    from wordfreq import zipf_frequency

    best = 0.0
    for word in re.findall(r"[A-Za-z][\w\-’']*", phrase):
        parts = [p for p in re.split(r"[-’']", word) if p]
        z = min((zipf_frequency(p, "en") for p in parts), default=0.0)
        best = max(best, GENERAL_ZIPF_CEILING - z)
    return best


def _share(weights: dict[str, float], present: set[str] | frozenset[str]) -> float:
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / total if total else 0.0


def features(
    a: QueryAnalysis,
    retrieved: list[ScoredChunk],
    sentences: list[EvidenceSentence],
    snap: Snapshot,
    query_vector: np.ndarray | None,
    scope: frozenset[str] | None,
    embed: Callable[[list[str]], np.ndarray] | None,
    *,
    lexical_covered: float,
    dense_covered: float,
    measure_all: bool = False,
    asked_multilingual: dict[str, float] | None = None,
    scored_at_query: frozenset[str] = frozenset(),
) -> tuple[EvidenceFeatures, Coverage]:
    """The evidence features of the analysed question against the top passages, and the per-concept
    coverage they were computed from. `asked_multilingual`: per passage, the multilingual cosine of
    what is asked when a premise precedes it (`Retrieval.asked_multilingual`); `scored_at_query`: the
    passages whose multilingual cosine was computed from their text at query time (tariff lines,
    `Retrieval.scored_at_query`)."""
    terms = [t for t in tokenize(a.english) if t not in QUESTION_VOCABULARY and t not in SCOPE_VOCABULARY]
    weights = term_weights(terms, snap, scope)
    if a.translated:  # a gloss keeps unknown words as typed: they are not evidence of anything
        weights = {t: w for t, w in weights.items() if snap.lexical.idf(t)}
    total = sum(weights.values())
    unknown = {t for t in weights if not snap.lexical.idf(t)}
    unknown_share = sum(weights[t] for t in unknown) / total if total else 0.0
    cov = coverage(a, sentences, snap, scope, embed, lexical_covered=lexical_covered, dense_covered=dense_covered,
                   measure_all=measure_all)
    best_passage = best_sentence = 0.0
    dense = -1.0
    top = retrieved[:EVIDENCE_PASSAGES]
    for sc in top:
        best_passage = max(best_passage, _share(weights, set(tokenize(sc.chunk.read_text))))
    for s in sentences:
        best_sentence = max(best_sentence, _share(weights, s.terms))
        if s.vector is not None and query_vector is not None:
            dense = max(dense, float(s.vector @ query_vector))
    for sc in top:
        if sc.dense is not None and sc.chunk.id not in {s.chunk.id for s in sentences if s.vector is not None}:
            dense = max(dense, sc.dense)
    if not weights:  # nothing but question words and ubiquitous terms: let similarity decide
        best_passage = best_sentence = 1.0 if retrieved else 0.0
    unknown_names, absent_names = ((), ()) if a.translated else name_evidence(a, top, snap)
    uncovered = cov.missing
    return EvidenceFeatures(
        coverage=best_passage,
        sentence_coverage=best_sentence,
        dense=max(dense, 0.0),
        unknown_share=unknown_share,
        slot_gap=0.0 if not a.asks_for_figure else 1.0 - cov.slot_topic,
        unknown_names=unknown_names,
        absent_names=absent_names,
        absent_numbers=absent_numbers(a, top),
        uncovered_specificity=max((specificity(c.concept.text) for c in uncovered), default=0.0),
        uncovered=len(uncovered),
        multilingual=_multilingual([sc for sc in top if sc.chunk.id not in scored_at_query], asked_multilingual),
        realized_figure=float(a.realized and a.asks_for_figure),
        line_multilingual=_multilingual([sc for sc in top if sc.chunk.id in scored_at_query], asked_multilingual),
    ), cov


def _multilingual(top: list[ScoredChunk], asked: dict[str, float] | None) -> float:
    """The best multilingual cosine of a top passage: with what is asked when the question opens
    with a premise (shifted to the whole question's scale), else with the question."""
    if asked:
        scores = [asked[sc.chunk.id] for sc in top if sc.chunk.id in asked]
        if scores:
            return max(scores) + PREMISE_SHIFT
    return max((sc.multilingual or 0.0 for sc in top), default=0.0)


def _initials(text: str) -> set[str]:
    """Initials of every run of up to six words ("Rapid Response Mechanism" -> "rrm")."""
    words = [w for w in re.findall(r"[A-Za-z][\w\-]*", text) if w.lower() not in ("of", "the", "and", "for", "on")]
    out = set()
    for i in range(len(words)):
        acc = ""
        for w in words[i:i + 6]:
            acc += w[0].lower()
            out.add(acc)
    return out


def _spelled_out(name: str, joined_tokens: str, snap: Snapshot) -> bool:
    """An acronym whose long form the passages use ("USTR": "the Trade Representative");
    `joined_tokens` is the passages' tokens joined by spaces, with a space at each end."""
    keys = tokenize(name)
    long = snap.acronyms().get(keys[0]) if len(keys) == 1 else None
    return bool(long) and f" {' '.join(long)} " in joined_tokens


def name_evidence(a: QueryAnalysis, top: list[ScoredChunk], snap: Snapshot) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names no document uses, names some document uses but no top passage contains), of the
    question from its first asking sentence on (`QueryAnalysis.asked_names`): a premise's names set
    the scene ("A Texas company ships canes to Ontario. Which line of Canada's schedule ...?"), and
    the tariff line that answers never repeats them, even when no document knows the place. Of the
    tuning singles and pairs (rounds 1-24), 234 answerable and 14 unanswerable questions have a
    premise name no document uses. A name made of stop words only ("U.S.", "IT") has no idf to
    tell: it is absent, not unknown."""
    if not a.asked_names:
        return (), ()
    text = strip_footnote_marks("\n".join(sc.chunk.read_text for sc in top))
    folded = fold(text)
    words = {w.strip(".’'-") for w in re.findall(r"[\w.’'\-]+", folded)} | set(re.findall(r"\w+", folded))
    initials: set[str] | None = None
    joined = ""
    unknown, absent = [], []
    for n in sorted(a.asked_names):
        if name_present(n, words, folded):
            continue
        if n.isalpha() and len(n) <= 5:
            if initials is None:  # once, and only when a short name is not found as written
                initials, joined = _initials(text), f" {' '.join(tokenize(text))} "
            if n in initials or _spelled_out(n, joined, snap):
                continue
        terms = tokenize(n)
        if terms and not any(snap.lexical.idf(t) for t in terms):
            unknown.append(n)
        else:
            absent.append(n)
    return tuple(unknown), tuple(absent)


def absent_numbers(a: QueryAnalysis, top: list[ScoredChunk]) -> tuple[str, ...]:
    """Numbers and years of the asked part of the question (identifiers aside) that no top passage
    contains. A premise's numbers describe the situation ("a plant builds 125 cc engines. Which
    tariff item covers them?"), and the passage that answers seldom repeats them. On the 310 tuning
    questions with a premise (singles and pairs with their twins, rounds 1-17): answerable refused
    44 -> 36 of 303, unanswerable refused 3 of 7 either way; the other questions do not change."""
    asked = {n for n in a.asked_numbers if not re.fullmatch(r"\d{1,2}\.\d{1,2}|\d{4}\.\d{2}(?:\.\d{2})?", n)}
    if not asked:
        return ()
    present: set[str] = set()
    for sc in top:
        present |= numbers(strip_footnote_marks(sc.chunk.read_text))
    return tuple(sorted(asked - present))
