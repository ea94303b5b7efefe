"""Does the evidence speak about what the question asks? Concept coverage, checked before answering.

A confident, cited answer that does not answer the question is worse than "the documents don't
say". Similarity cannot tell the two apart: a passage about dairy quotas is similar to a question
about their fill rate whether or not it states one. So each salient concept of the question (a run
of content words, `analysis.concepts_of`) is checked against the sentences of the passages an
answer would be drawn from:

- **lexically**: a sentence (read with its passage's heading) holds the concept's terms, stemmed,
  weighted by rarity (idf), at least `LEXICAL_COVERED` of its weight — a multi-word concept is
  covered by its rare words, not by "trade";
- **by meaning**: the concept's embedding is at least `DENSE_COVERED` close to one of those
  sentences (paraphrases: "bringing factories home" ~ "reshoring").

A figure question (how much, how many, what share, when) also needs a sentence that states a figure
of that type (a number the question does not already give, a percentage for a share, an amount for
money, a date for "when") and speaks about the question's subject.

The decision (`assistant.answer.abstain.decide`) refuses when the question's subject is not
covered, naming it, and reports the uncovered parts of a multi-part question as `not_covered`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.domain import Chunk
from assistant.index.lexical import tokenize
from assistant.index.store import Snapshot
from assistant.retrieve.analysis import Concept, QueryAnalysis
from assistant.textutil import REFERENCE_NUMBER, numbers, strip_footnote_marks

UBIQUITOUS_IDF = 1.0  # terms in most passages ("Mexico", "USMCA") say nothing about coverage
EVIDENCE_PASSAGES = 6  # the passages an answer is drawn from

_YEAR = re.compile(r"^(?:19|20)\d\d$")
_SHARE_IN_TEXT = re.compile(r"%|\bper ?cent|\bin every\b|\bhalf\b|\bthird\b|\bquarter\b|\bshare\b", re.I)
_MONEY_IN_TEXT = re.compile(r"\$|\bbillion\b|\bmillion\b|\btrillion\b|\bdollars?\b|\bpesos?\b", re.I)
_DATE_IN_TEXT = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d|\b(?:19|20)\d\d\b", re.I
)

Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class EvidenceSentence:
    """One sentence of a top passage, as coverage reads it."""

    chunk: Chunk
    text: str
    terms: frozenset[str]  # its tokens plus its passage's heading tokens
    vector: np.ndarray | None
    previous: str = ""  # the sentence before it in its passage


@dataclass(frozen=True)
class ConceptCoverage:
    concept: Concept
    weight: float  # idf of its rarest term; terms no document (of the scope) uses weigh the most
    unknown: bool  # one of its terms occurs in no document (of the scope)
    lexical: float  # best share of its term weight in one evidence sentence
    dense: float  # best cosine between the concept and an evidence sentence
    covered: bool


@dataclass(frozen=True)
class Coverage:
    concepts: tuple[ConceptCoverage, ...]
    slot_filled: bool  # a figure/date of the asked type about the subject is stated (True: no slot)
    slot_topic: float  # subject coverage of the best sentence holding such a figure

    @property
    def missing(self) -> tuple[ConceptCoverage, ...]:
        return tuple(c for c in self.concepts if not c.covered)

    def by_text(self) -> dict[str, ConceptCoverage]:
        return {c.concept.text: c for c in self.concepts}


def evidence_sentences(chunks: Sequence[Chunk], snap: Snapshot) -> list[EvidenceSentence]:
    """The sentences of the top passages with their index-time vectors (when the passage has them)."""
    out: list[EvidenceSentence] = []
    for c in chunks[:EVIDENCE_PASSAGES]:
        heading = set(tokenize(f"{c.section} {c.context}"))
        if c.id in snap.sentence_spans:
            spans, vecs = snap.sentences(c.id)
        else:
            spans, vecs = [(0, len(c.text))], None
        prev = ""
        for i, (a, b) in enumerate(spans):
            text = c.text[a:b]
            out.append(EvidenceSentence(c, text, with_acronyms(text, snap) | heading,
                                        None if vecs is None else vecs[i], prev))
            prev = text
    return out


# A party and its adjective are one concept: "Canada's schedule" covers "the Canadian line".
_PARTY_ADJECTIVES = {"canada": "canadian", "canadian": "canada", "mexico": "mexican", "mexican": "mexico"}


def with_acronyms(text: str, snap: Snapshot) -> frozenset[str]:
    """A text's terms with each acronym it uses spelled out, and each long form it spells out
    abbreviated, as the indexed documents define them ("the RRM" also reads "Rapid Response
    Mechanism"), and a party's name with its adjective ("Canada", "Canadian")."""
    tokens = tokenize(text)
    terms = set(tokens) | {_PARTY_ADJECTIVES[t] for t in tokens if t in _PARTY_ADJECTIVES}
    joined = f" {' '.join(tokens)} "
    for short, long in snap.acronyms().items():
        if short in terms:
            terms.update(long)
        elif f" {' '.join(long)} " in joined:
            terms.add(short)
    return frozenset(terms)


def term_weights(terms: Sequence[str], snap: Snapshot, scope: frozenset[str] | None) -> dict[str, float]:
    """idf per term; a term no document (of the scope) uses gets the highest possible weight, and
    ubiquitous terms are left out."""
    n = max(len(snap.lexical.ids), 1)
    unseen = float(np.log(1 + (n + 0.5) / 0.5))
    vocabulary = snap.vocabulary(set(scope)) if scope else None
    out: dict[str, float] = {}
    for t in terms:
        idf = snap.lexical.idf(t)
        if vocabulary is not None and t not in vocabulary:
            idf = 0.0
        if idf and idf < UBIQUITOUS_IDF:
            continue
        out[t] = idf or unseen
    return out


def coverage(
    a: QueryAnalysis,
    sentences: Sequence[EvidenceSentence],
    snap: Snapshot,
    scope: frozenset[str] | None,
    embed: Embed | None,
    *,
    lexical_covered: float,
    dense_covered: float,
    measure_all: bool = False,
) -> Coverage:
    """How far the evidence sentences cover each concept of the question, and its figure slot.
    A concept's similarity is computed only when its words do not cover it, unless `measure_all`
    (fitting wants every similarity)."""
    n = max(len(snap.lexical.ids), 1)
    unseen = float(np.log(1 + (n + 0.5) / 0.5))
    results: list[ConceptCoverage] = []
    need_dense: list[int] = []
    for concept in a.concepts:
        w = term_weights(concept.terms, snap, scope)
        if not w:
            continue
        total = sum(w.values())
        best = max((sum(v for t, v in w.items() if t in s.terms) / total for s in sentences), default=0.0)
        results.append(ConceptCoverage(concept, max(w.values()), max(w.values()) >= unseen, best, 0.0,
                                       best >= lexical_covered))
        if best < lexical_covered or measure_all:
            need_dense.append(len(results) - 1)
    vectors = [s.vector for s in sentences if s.vector is not None]
    if need_dense and embed is not None and vectors:
        matrix = np.vstack(vectors)
        qv = embed([results[i].concept.text for i in need_dense])
        for row, i in zip(qv, need_dense, strict=True):
            cos = float(np.max(matrix @ row))
            r = results[i]
            results[i] = ConceptCoverage(r.concept, r.weight, r.unknown, r.lexical, cos,
                                         r.covered or cos >= dense_covered)
    filled, topic = slot_fill(a, sentences, snap, scope)
    return Coverage(tuple(results), filled, topic)


def slot_fill(
    a: QueryAnalysis, sentences: Sequence[EvidenceSentence], snap: Snapshot, scope: frozenset[str] | None
) -> tuple[bool, float]:
    """(is a figure of the asked type stated about the subject?, the subject coverage of the best
    sentence that states one). The subject is the question's concepts, weighted by squared idf (the
    rarest words are the subject); a sentence is read with the one before it and its heading."""
    if not a.asks_for_figure:
        return True, 1.0
    # Kept-as-typed words are not the topic, nor words no document uses ("pay", a premise's "Baja"):
    # `unknown_share` and the name features count those already; here they would outweigh the rest.
    # On the 1,717 questions of every tuning file (singles, pairs with their twins, calibration):
    # answerable refused 84 -> 81 of 1,392, unanswerable refused 180 of 325 both ways.
    terms = [t for c in a.concepts for t in c.terms if t not in a.untranslated and snap.lexical.idf(t)]
    # Nor words no evidence sentence holds ("chain" in "a restaurant chain exports"): the subject
    # coverage features judge a missing subject; here it would only sink a stated figure. When no
    # word of the topic is held, though, no figure is about it. On the 1,795 tuning questions
    # (singles, pair twins, calibration; rounds 1-15): answerable refused 97 -> 72 of 1,456,
    # unanswerable refused 188 -> 174 of 339; at 72 false refusals the old rule refuses 171.
    topic = term_weights(terms, snap, scope)
    nears = [s.terms | with_acronyms(s.previous, snap) for s in sentences]
    seen = set().union(*nears)
    w = {t: v for t, v in topic.items() if t in seen}
    if topic and not w:
        return False, 0.0  # no word of the topic is in any evidence sentence: no figure about it
    focus = {t: v * v for t, v in w.items()}
    total = sum(focus.values())
    counted = counted_terms(a)
    best = 0.0
    for s, near in zip(sentences, nears, strict=True):
        if (states_figure(a, s.text) or _states_rate(a, s)) and (counted is None or _states_count(counted, s, a)) \
                and _in_unit(a, s):
            share = sum(v for t, v in focus.items() if t in near) / total if total else 1.0
            best = max(best, share)
    return best > 0.0, best


# A count ("how many petitions") is stated by a number next to the counted noun ("three petitions",
# "14 new petitions", "1.6 million vehicles", "petitions: 14"), not by any number of a sentence that
# names it ("within 30 days after receiving a petition"). Words between them, stop words dropped, at
# most this many: 3 took "within 30 days after receiving a petition" for a count; 1 was measured on
# the 1,276 tuning singles (twenty-first session: unanswerable refused 241 -> 253 of 437, answerable
# refused 33 -> 31, with the unit rule below).
COUNT_WINDOW = 1
_COUNT = re.compile(r"\d[\d,]*(?:\.\d+)?")
_YEAR_IN_TEXT = re.compile(r"(?<![\d,.])(?:19|20)\d\d(?![\d,])")  # "2,000" is a number, not a year
# "how many dollars" asks for an amount of money (`QueryAnalysis.money`), not a count of dollars
_CURRENCIES = frozenset(tokenize("dollars dólares pesos"))
# a count in words in an English passage ("three petitions", "a dozen"); not "one" ("no one filed")
_COUNT_WORDS = frozenset(tokenize("two three four five six seven eight nine ten eleven twelve twenty dozen dozens "
                                  "hundred hundreds thousand thousands million millions billion"))


def counted_terms(a: QueryAnalysis) -> frozenset[str] | None:
    """The words of what a "how many" question counts, or None when it counts nothing: no "how
    many", or a unit of measure ("how many (metric) tonnes": an amount, which a quota table states
    under "(MT)", with no number next to "tonnes"; `_in_unit` checks it)."""
    terms = tokenize(a.counted) if a.counted else []
    return frozenset(terms) if terms and not a.unit and not _CURRENCIES & set(terms[:2]) else None


def _in_unit(a: QueryAnalysis, s: EvidenceSentence) -> bool:
    """A figure asked in a unit ("how many tonnes") is stated in it: the sentence, or for a row of
    a table the table's caption or header (the passage's first lines: "Aggregate Quantity (MT)"),
    writes the unit. A dollar figure on the same trade is no tonnage."""
    if not a.unit:
        return True
    header = "\n".join(s.chunk.text.split("\n", 3)[:3]) if s.chunk.meta.get("table") or "\t" in s.text else ""
    return bool(a.unit & (s.terms | set(tokenize(header))))


def _states_count(counted: frozenset[str], s: EvidenceSentence, a: QueryAnalysis) -> bool:
    """A number of the sentence (not a year, not one the question gives, not a label) stands next
    to a word of the counted phrase ("American jobs": "1.1 million U.S. jobs")."""
    text = REFERENCE_NUMBER.sub(" ", strip_footnote_marks(s.text))
    years = set(_YEAR_IN_TEXT.findall(text))
    toks = tokenize(text)
    figure = [(bool(_COUNT.fullmatch(t)) and t not in years and t not in a.numbers) or t in _COUNT_WORDS
              for t in toks]
    return any(t in counted and any(figure[max(0, i - COUNT_WINDOW - 1):i + COUNT_WINDOW + 2])
               for i, t in enumerate(toks))


def _states_rate(a: QueryAnalysis, s: EvidenceSentence) -> bool:
    """A tariff line states its good's rate ("0", "*"): the figure a question on what a good pays
    ("cuánto pagan") wants, though it is no amount of money. Not a share, a count, nor what has
    happened (revenue collected, money spent)."""
    return a.slot == "quantity" and bool(s.chunk.meta.get("tariff_item")) and \
        not (a.counted or a.share or a.realized or a.outcome)


# A finding reported as made ("the Secretary found and advised me of his opinion that ...", "the
# Commission concluded that ..."), not one a text requires or supposes ("shall determine whether",
# "if the Commission finds that").
_FINDING = re.compile(r"\b(?:found|finds|concluded|concludes|determined|determines)\b[^.;]{0,60}?\bthat\b", re.I)
_NOT_MADE = re.compile(r"\b(?:shall|must|may|will|would|should|to|if|whether|when|unless|upon)\s+(?:[\w’'.]+\s+){0,3}$",
                       re.I)


def states_finding(text: str) -> bool:
    """The sentence reports what a report or an inquiry found."""
    return any(not _NOT_MADE.search(text[:m.start()]) for m in _FINDING.finditer(text))


def states_figure(a: QueryAnalysis, text: str) -> bool:
    """The sentence states a figure of the type the question asks for: a number it does not
    already give (not a bare year) — a percentage for a share, an amount for money — or a date."""
    body = strip_footnote_marks(text)
    if a.slot == "quantity":
        found = [x for x in numbers(body) - a.numbers if not _YEAR.match(x)]
        return (bool(found) and (not a.share or bool(_SHARE_IN_TEXT.search(body)))
                and (not a.money or bool(_MONEY_IN_TEXT.search(body))))
    if a.slot == "date":
        return bool(_DATE_IN_TEXT.search(body))
    return False
