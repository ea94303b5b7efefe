"""Question time for the brief's recommendations: does the brief recommend anything on the asked
subject, which recommendations, and each one as one cited line.

The records are extracted when the brief is indexed (`assistant.ingest.recommendations`, stored with
the index generation) and read here from the snapshot (`snapshot.recommendations`); nothing is
extracted at question time.

**Coverage.** "What does the brief recommend on X?" is answered only when X is covered: the brief's
text uses X's words (stemmed; a multi-word subject as a phrase) in or next to a recommendation or its
argument, or X's embedding comes within `DENSE_COVERED` of one of those sentences. Otherwise the
answer says "The brief makes no recommendation on X." and shows the closest recommendations as
related passages, not as an answer. Only a question about the recommendations in general gets the
full list.

**One line each.** A recommendation is rendered as one line, "- what [1] … why [2] … mechanism [2].":
what it recommends (the executive summary's bullet, else the statement), why (a short verbatim clause
of its argument) and the treaty mechanism or U.S. law it relies on (a verbatim phrase naming the
record's most specific mechanism, unless the first two already name it). Every piece is verbatim in
the passage its marker cites — the verifier checks each piece between the ellipses — so a reworded
piece cannot pass. The chat answer (after a one-sentence lead), the Recommendations page and
`usmca-assistant recommend` share `one_line` and `render_line`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.citations import build_citation
from assistant.answer.coverage import UBIQUITOUS_IDF
from assistant.answer.verify import UNVERIFIED_TAG, Verified
from assistant.domain import Answer, Chunk, Citation, ScoredChunk
from assistant.index.lexical import tokenize
from assistant.index.store import Snapshot
from assistant.ingest import recommendations as _extraction
from assistant.ingest.recommendations import (  # noqa: F401 - the records and lexicons, re-exported
    BULLET,
    IN_TEXT,
    LEXICON_FILE,
    MECHANISM_RE,
    MECHANISMS,
    RECOMMENDATION_PATTERNS,
    SUMMARY,
    TOPIC_ALIASES,
    TOPIC_RE,
    TOPICS,
    WAY_AHEAD,
    Recommendation,
    RecommendationPassage,
    capitalize,
    stems,
)
from assistant.retrieve.analysis import (
    QUESTION_VOCABULARY,
    Concept,
    QueryAnalysis,
    concepts_of,
    recommendation_subject,
)
from assistant.retrieve.language import detect_language
from assistant.retrieve.translate import english_gloss
from assistant.textutil import STOPWORDS, collapse, split_sentences, strip_footnote_marks

Embed = Callable[[list[str]], np.ndarray]

BACKEND = "recommendations"
NO_RECOMMENDATION = "The brief makes no recommendation on {subject}."
MORE = "And {n} more: see the Recommendations page or `usmca-assistant recommend{topic}`."

# A subject is covered by meaning when its embedding has at least this cosine with a sentence of a
# recommendation, its argument or the sentence next to them (only a subject whose words the brief
# uses: a word it never uses is refused whatever its similarity). Fitted by
# bench/recommendation_coverage.py on the recommendation-kind and unanswerable items of dev,
# calibration, held-out, tuning and conversations: the lowest value above every concept of an
# unanswerable item that the words leave uncovered (115 of them, highest 0.497 "auto tariffs" and
# "hourly minimum wage", 0.481 "steel tariffs"); none of the 14 such concepts of recommendation
# questions reaches it, so on these sets the words decide and the meaning path only admits a
# paraphrase closer than anything they leave unanswered ("the Mexican leader's popularity").
DENSE_COVERED = 0.50
# A subject is covered by its words when one sentence holds its rarest word and this share of its
# idf weight, as a phrase: those words within PHRASE_SLACK extra tokens of each other, any order
# ("labor standards" ~ "standards for labor"). A Spanish subject's gloss is a bag of words (no
# reliable order): weight alone. The share is the passage coverage's (abstain.LEXICAL_COVERED,
# fitted on dev, calibration, held-out and tuning), kept equal so both gates read words alike.
LEXICAL_SHARE = 0.6
PHRASE_SLACK = 1
# Length: lines written out in a topic answer (the rest: "and N more"), in the general answer, and
# the longest "why" clause and statement found in the text. Chosen with bench/recommendation_coverage.py's
# topic answers (one question per topic of the lexicon, not a question set) to keep their median
# under 120 words (issue 12): 3 lines and 18 words give 106 (3 lines and 22 words gave 125).
MAX_LINES = 3
MAX_LINES_ALL = 5
WHY_WORDS = 18  # a longer argument sentence is cut to a clause, or trimmed with an ellipsis
WHAT_WORDS = 24  # a longer statement found in the text loses its lead-in clause
MAX_RELATED = 3  # closest recommendations shown with a refusal


def load_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    """Every recommendation of the indexed brief(s), as stored with the index generation."""
    return snapshot.recommendations


def extract_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    """A fresh extraction from a snapshot's passages (what the indexer stores; for tests and tools)."""
    def indexed(chunk_id: str):
        return snapshot.sentences(chunk_id) if chunk_id in snapshot.sentence_spans else None

    return _extraction.extract_recommendations(snapshot.chunks.values(), indexed)


# ---- the recommendations' sentences, as coverage reads them -----------------------------------


@dataclass(frozen=True)
class _Unit:
    """A sentence of a recommendation's passages (or next to one), as coverage reads it."""

    text: str
    tokens: tuple[str, ...]
    vector: np.ndarray | None
    weight: float  # 2: states the recommendation, 1: argues it, 0.5: next to it


@dataclass
class _Brief:
    """What question time reads of one index generation's brief(s), computed once."""

    generation: str
    units: list[list[_Unit]]  # per record, in `snapshot.recommendations` order
    df: dict[str, int]  # search term -> number of brief passages using it
    passages: int


_CACHE: list[_Brief] = []


def _brief(snap: Snapshot) -> _Brief:
    for c in _CACHE:
        if c.generation == snap.generation:
            return c
    df: dict[str, int] = {}
    briefs = [c for c in snap.chunks.values() if c.kind == "brief"]
    for c in briefs:
        for t in set(tokenize(c.search_text)):
            df[t] = df.get(t, 0) + 1
    _CACHE[:] = [_Brief(snap.generation, [_record_units(r, snap) for r in snap.recommendations], df, len(briefs))]
    return _CACHE[0]


def _sentences(snap: Snapshot) -> list[list[_Unit]]:
    """Each record's sentences with their index-time vectors."""
    return _brief(snap).units


def brief_weights(terms: Sequence[str], snap: Snapshot) -> dict[str, float]:
    """idf of each term among the brief's passages (the BM25 form), a term the brief never uses
    weighing the most; terms in most of its passages ("Mexico", "U.S.") are left out: below
    coverage.UBIQUITOUS_IDF they are said of every recommendation. The brief's own frequencies, not
    the whole index's: "tariff" is in every line of a tariff schedule, not of the brief."""
    b = _brief(snap)
    out: dict[str, float] = {}
    for t in terms:
        df = b.df.get(t, 0)
        idf = float(np.log(1 + (b.passages - df + 0.5) / (df + 0.5)))
        if idf >= UBIQUITOUS_IDF:
            out[t] = idf
    return out


def _record_units(rec: Recommendation, snap: Snapshot) -> list[_Unit]:
    out: list[_Unit] = []
    seen: set[str] = set()

    def add(text: str, vector: np.ndarray | None, weight: float) -> None:
        key = collapse(text).lower()
        if key and key not in seen:
            seen.add(key)
            out.append(_Unit(text, tuple(tokenize(text)), vector, weight))

    if rec.source == IN_TEXT:
        add(rec.text, None, 2.0)  # an item of a series: its own clause, not the whole series
    for p in rec.passages:
        chunk = snap.chunks.get(p.chunk_id)
        if chunk is None:
            continue
        at = chunk.text.find(p.quote)
        if at < 0 or chunk.id not in snap.sentence_spans:
            add(p.quote, None, 2.0 if p.role != "argument" else 1.0)
            continue
        spans, vecs = snap.sentences(chunk.id)
        inside = [i for i, (a, b) in enumerate(spans) if a < at + len(p.quote) and b > at]
        if not inside:
            continue
        series = rec.source == IN_TEXT and p.role == "recommendation"
        for i in range(max(0, inside[0] - 1), min(len(spans), inside[-1] + 2)):
            own = inside[0] <= i <= inside[-1]
            weight = (1.0 if p.role == "argument" else 2.0) if own else 0.5
            if series and own:
                weight = 0.5  # the other items of its series are next to it, not it
            a, b = spans[i]
            add(chunk.text[a:b], vecs[i], weight)
    return out


# ---- the subject ------------------------------------------------------------------------------


# Head nouns that only say "the area of": "the auto industry", "the energy sector", "labor issues".
_GENERIC_HEADS = frozenset(re.findall(r"\w+", "industry industries sector sectors issue issues policy policies question "
                                              "questions matters area areas front file agenda"))


@dataclass(frozen=True)
class SubjectConcept:
    concept: Concept
    weights: dict[str, float]  # its search terms (ubiquitous ones left out) and their idf
    checked: bool  # decides coverage (the head and co-subjects); a qualifier only ranks
    known: bool  # the brief uses every one of its words
    embed_text: str  # its words without the ubiquitous ones ("Mexico's", "U.S.")
    typed: str = ""  # the concept as the question words it ("the auto industry"; `concept` is "auto")

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(self.weights)

    @classmethod
    def of(cls, concept: Concept, snap: Snapshot, checked: bool = True) -> SubjectConcept | None:
        """None when every word of it is said of every recommendation ("Mexico", "the U.S.")."""
        typed = concept.text
        words = concept.text.split()
        heads = [w for w in words if w.lower() in _GENERIC_HEADS]
        if heads and len(heads) < len(words):  # "the auto industry" is the auto sector's subject: "auto"
            dropped = {t for w in heads for t in tokenize(w)}
            concept = Concept(" ".join(w for w in words if w not in heads),
                              tuple(t for t in concept.terms if t not in dropped))
        weights = brief_weights(concept.terms, snap)
        if not weights:
            return None
        df = _brief(snap).df
        words = [w for w in concept.text.split() if not tokenize(w) or set(tokenize(w)) & set(weights)]
        text = " ".join(words).strip() or concept.text
        return cls(concept, weights, checked, all(t in df for t in weights), text, typed)


@dataclass(frozen=True)
class Subject:
    """What a recommendation question asks about."""

    typed: str  # as the user typed it ("la energía" -> "energía"); "all" for the general question
    english: str  # its English wording (a gloss for Spanish)
    concepts: tuple[SubjectConcept, ...]  # empty: the recommendations in general
    translated: bool = False

    @property
    def general(self) -> bool:
        return not self.concepts


# A follow-up that names its own subject ("And on nuclear power specifically?", "¿Y sobre el
# azúcar?") asks about it instead of the previous question's subject.
_FOLLOW_UP_SUBJECT = re.compile(
    r"^\W*(?:(?:and|y|e)\s+(?:(?:what|how)\s+about\s+)?|(?:what|how)\s+about\s+)"
    r"(?:(?:on|about|for|regarding|sobre|en|para|acerca de)\s+)?(?:the\s+|el\s+|la\s+|los\s+|las\s+)?(.+?)\s*[?.!]*$",
    re.I)
# The review is the occasion of the recommendations, not a subject of some of them: "advice for the
# joint review (talks)" asks for all of them.
_OCCASION = re.compile(r"(?:the\s+)?(?:20\d\d\s+)?(?:(?:usmca|cusma|t-mec|joint)\s+)*reviews?"
                       r"(?:\s+(?:talks|process|negotiations?|meetings?))?", re.I)


def subject_of(a: QueryAnalysis, snap: Snapshot) -> Subject:
    """The subject of a recommendation question, its concepts split into those that decide coverage
    (the first and those joined to it by "and"/"or") and qualifiers ("energy *for the review*")."""
    typed = (a.subject or recommendation_subject(a.text) or "all").strip()
    own = _FOLLOW_UP_SUBJECT.match(a.question) if a.question.strip() != a.text.strip() else None
    if own and concepts_of(own.group(1)):
        typed = own.group(1).strip()  # "And on nuclear power?" after a question on energy: nuclear power
    if typed.lower() in ("all", "todas", "todo"):
        return Subject("all", "all", ())
    typed = re.sub(r"[\s,]+(?:according to|as per|per|in|from|seg[uú]n)\s+(?:the\s+|el\s+)?(?:brief|report|informe|author)\b.*$",
                   "", typed, flags=re.I) or typed
    words = typed.split()
    while len(words) > 1 and words[-1].lower().endswith("ly") and set(tokenize(words[-1])) <= QUESTION_VOCABULARY:
        words.pop()  # "nuclear power specifically" -> "nuclear power"
    typed = " ".join(words)
    if re.search(rf"\bthe\s+{re.escape(typed)}", a.text, re.I):
        typed = f"the {typed}"  # "no recommendation on the softwood lumber dispute"
    translated = a.translated or detect_language(typed) == "es" or bool(re.search(r"[áéíóúñ¿¡]", typed, re.I))
    english = english_gloss(typed) if translated else typed
    found = concepts_of(english)
    out: list[SubjectConcept] = []
    pos = 0
    for c in found:
        at = english.lower().find(c.text.lower(), pos)
        gap = english[pos:at] if at >= 0 else " "
        pos = at + len(c.text) if at >= 0 else pos
        sc = SubjectConcept.of(c, snap)
        if sc is None or _OCCASION.fullmatch(c.text.strip()):
            continue
        joined = not out or bool(re.fullmatch(r"[\s,;/&]*(?:(?:and|or|as well as|y|e|o|u)\b[\s,]*)?", gap))
        # a qualifier ("energy *for the review*") decides too when the brief never uses its words
        out.append(dataclasses.replace(sc, checked=joined or not sc.known or translated))
    return Subject(typed, english, tuple(out), translated)


# ---- coverage and selection -------------------------------------------------------------------


@dataclass
class Match:
    """Which recommendations speak about the subject, and which of its concepts none covers."""

    subject: Subject
    selected: list[Recommendation]  # on the subject, best first (all of them for the general question)
    uncovered: list[str]  # concepts (as typed) no recommendation covers
    related: list[Recommendation]  # the closest ones, for a refusal
    details: dict[str, object] = field(default_factory=dict)  # per concept: lexical hit, best cosine
    declined: bool = False  # not about the brief's recommendations after all (left to retrieval)

    @property
    def refused(self) -> bool:
        return not self.subject.general and not self.selected


def _near(terms: Sequence[str], tokens: Sequence[str]) -> bool:
    """`terms` occur in `tokens` within a window of len(terms) + PHRASE_SLACK tokens (a phrase)."""
    need = set(terms)
    if len(need) <= 1:
        return True
    width = len(need) + PHRASE_SLACK
    return any(need <= set(tokens[i : i + width]) for i in range(len(tokens)))


def _alias_topic(concept: Concept) -> str | None:
    """A one-word concept that is a topic's name or a question alias of it ("autos", "workers")."""
    word = concept.text.lower().strip()
    if word in TOPICS:
        return word
    alias = TOPIC_ALIASES.get(word)
    return alias if alias in TOPICS else None


def _lexical(sc: SubjectConcept, unit: _Unit, translated: bool) -> bool:
    """The unit uses the concept's words: its rarest word and at least `LEXICAL_SHARE` of their idf
    weight, as a phrase (a translated concept, a bag of glossed words: by weight alone); or a
    one-word concept naming a topic of the lexicon is matched by that topic's words."""
    w = sc.weights
    present = [t for t in w if t in unit.tokens]
    share = sum(w[t] for t in present) / sum(w.values())
    rarest = max(w, key=lambda t: w[t])
    if share >= LEXICAL_SHARE and (translated or (rarest in present and _near(present, unit.tokens))):
        return True
    topic = _alias_topic(sc.concept)
    return topic is not None and bool(TOPIC_RE[topic].search(unit.text))


def match(a: QueryAnalysis, snap: Snapshot, embed: Embed | None = None) -> Match:
    """The recommendations on the question's subject, or the concepts no recommendation covers."""
    recs = list(snap.recommendations)
    subject = subject_of(a, snap)
    units = _sentences(snap)
    if subject.general:
        ranked = _rank_general(a, recs, units, snap)
        return Match(subject, ranked, [], [], declined=_elsewhere(a, snap, embed))
    lexical, dense = measure(subject.concepts, snap, embed, subject.english if subject.translated else None,
                             all_dense=False)
    # a word the brief never uses is a subject it recommends nothing on, however close in meaning
    known = np.array([sc.known for sc in subject.concepts])
    covers = (lexical > 0) | ((dense >= DENSE_COVERED) & known)
    checked = [j for j, sc in enumerate(subject.concepts) if sc.checked]
    uncovered = [subject.concepts[j].typed for j in checked if not covers[:, j].any()]
    details = {sc.typed: {"lexical": float(lexical[:, j].max()), "dense": round(float(dense[:, j].max()), 3)}
               for j, sc in enumerate(subject.concepts)}
    covered_cols = [j for j in checked if covers[:, j].any()]
    if not covered_cols:
        order = np.argsort(-dense.max(axis=1) - 0.01 * lexical.max(axis=1), kind="stable")
        related = [recs[i] for i in order[:MAX_RELATED] if dense[i].max() > -1.0 or lexical[i].max() > 0]
        return Match(subject, [], uncovered, related or recs[:MAX_RELATED], details)
    topics, mechanisms = _labels(subject.english)
    scored = []
    for i, r in enumerate(recs):
        if not covers[i, covered_cols].any():
            continue
        label = sum(r.topic_scores.get(t, 0.0) for t in topics) + sum(3.0 for m in mechanisms if m in r.mechanisms)
        words = float(lexical[i, covered_cols].sum()) + 0.5 * float(lexical[i].sum() - lexical[i, covered_cols].sum())
        meaning = float(np.clip(dense[i, covered_cols], 0, None).sum())
        scored.append((label, label + 2.0 * words + meaning, i))
    if any(label for label, _, _ in scored):
        # a subject the topic lexicon names ("services") is recommended on by the records it labels,
        # not by one that uses the word in passing ("in the service of")
        scored = [x for x in scored if x[0]]
    best = max(score for _, score, _ in scored)
    # a subject named only in passing in another recommendation's argument is not a recommendation on it
    selected = [recs[i] for _, score, i in sorted(scored, key=lambda x: (-x[1], x[2])) if score >= 0.2 * best]
    return Match(subject, selected, uncovered, [], details)


def measure(concepts: Sequence[SubjectConcept], snap: Snapshot, embed: Embed | None,
            gloss: str | None = None, *, all_dense: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(lexical, dense), records x concepts: the weight of the best sentence of each record that
    holds the concept's words (2 states it, 1 argues it, 0.5 next to it; 0 none), and the best
    cosine between the concept and the record's sentences (-1 not computed). A translated subject
    (`gloss`, its English bag of words) is matched by idf share and embedded whole. Without
    `all_dense` only the concepts no record's words cover are embedded (the CLI then needs no
    model for a topic the brief names)."""
    recs, units = snap.recommendations, _sentences(snap)
    lexical = np.zeros((len(recs), len(concepts)))
    dense = np.full((len(recs), len(concepts)), -1.0)
    for i, rec_units in enumerate(units):
        for j, sc in enumerate(concepts):
            lexical[i, j] = max((u.weight for u in rec_units if _lexical(sc, u, gloss is not None)), default=0.0)
    cols = [j for j in range(len(concepts)) if all_dense or not lexical[:, j].any()]
    if embed is not None and cols:
        vectors = np.asarray(embed([gloss or concepts[j].embed_text for j in cols]))
        for i, rec_units in enumerate(units):
            vs = [u.vector for u in rec_units if u.vector is not None]
            if vs:
                dense[i, cols] = (np.vstack(vs) @ vectors.T).max(axis=0)
    return lexical, dense


def _elsewhere(a: QueryAnalysis, snap: Snapshot, embed: Embed | None) -> bool:
    """A question that asks what "it" recommends without naming the brief, none of whose concepts
    any recommendation speaks about ("Who gets to vote on the remedy it recommends?" after a
    question on the ITC): someone else's recommendation, for retrieval to answer."""
    if a.names_brief or re.search(r"\b(?:brief|report|informe|quincy|author)\b", a.text, re.I):
        return False
    concepts = [c for c in (SubjectConcept.of(x, snap) for x in a.concepts) if c is not None]
    if not concepts:
        return False
    lexical, dense = measure(concepts, snap, embed, a.english if a.translated else None, all_dense=False)
    known = np.array([c.known for c in concepts])
    return not ((lexical > 0) | ((dense >= DENSE_COVERED) & known)).any()


def _rank_general(a: QueryAnalysis, recs: list[Recommendation], units: list[list[_Unit]],
                  snap: Snapshot) -> list[Recommendation]:
    """All recommendations: those the question's own words point at first ("in the introduction"),
    then the stated ones (way ahead, executive summary) before those found in the text."""
    terms = {t for c in a.concepts for t in brief_weights(c.terms, snap)}
    priority = {WAY_AHEAD: 0, SUMMARY: 1, IN_TEXT: 2}

    def key(i: int) -> tuple[float, int, int]:
        r = recs[i]
        where = set(tokenize(" ".join(p.location for p in r.passages)))
        hits = sum(max([u.weight for u in units[i] if t in u.tokens] + [1.0 if t in where else 0.0]) for t in terms)
        return (-hits, priority.get(r.source, 3), i)

    return [recs[i] for i in sorted(range(len(recs)), key=key)]


def _labels(text: str) -> tuple[list[str], list[str]]:
    """Topics and mechanisms a subject names, by the lexicons and the question aliases."""
    topics = [t for t, rx in TOPIC_RE.items() if rx.search(text)]
    mechanisms = [m for m, rx in MECHANISM_RE.items() if rx.search(text) and m != "Article 34.7 joint review"]
    if re.search(r"\b(?:joint )?review\b|\b34\.7\b", text, re.I):
        mechanisms.append("Article 34.7 joint review")
    for word in re.findall(r"[A-Za-z]+", text):
        alias = TOPIC_ALIASES.get(word.lower())
        if alias in TOPICS and alias not in topics:
            topics.append(alias)
        elif alias in MECHANISMS and alias not in mechanisms:
            mechanisms.append(alias)
    return topics, mechanisms


def recommendations_for(topic: str, snapshot: Snapshot, embed: Embed | None = None) -> list[Recommendation]:
    """Recommendations on a topic, mechanism or free-text subject, best first ("" or "all": all of
    them); [] when the brief recommends nothing on it (`recommend TOPIC` and tools)."""
    text = topic.strip() or "all"
    return match(subject_analysis(text), snapshot, embed).selected


def subject_analysis(topic: str) -> QueryAnalysis:
    """A recommendation question about `topic`, analysed like a typed one."""
    from assistant.retrieve.analysis import analyze

    spanish = detect_language(topic) == "es" or bool(re.search(r"[áéíóúñ¿¡]", topic, re.I))
    question = f"¿Qué recomienda el informe sobre {topic}?" if spanish else f"What does the brief recommend on {topic}?"
    english = english_gloss(question) if spanish else None
    a = analyze(question, language="es" if spanish else "en", english=english)
    return a if a.subject else analyze(question)


def is_recommendation_question(question: str) -> str | None:
    """The subject of a question that asks what the brief recommends ("all" when it names none);
    None otherwise (the analysis's `recommendation_subject`, kept for tools)."""
    return recommendation_subject(question)


# ---- one line per recommendation --------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A verbatim piece of a passage: what is shown, and the passage sentence it comes from."""

    text: str  # pieces of one sentence joined by " … " where words were left out
    passage: RecommendationPassage
    sentence: str  # the whole passage sentence (the citation's quote)


@dataclass(frozen=True)
class Line:
    rec: Recommendation
    what: Piece
    why: Piece | None
    mechanism: Piece | None

    def pieces(self) -> list[Piece]:
        return [p for p in (self.what, self.why, self.mechanism) if p is not None]


_MODAL = re.compile(r"\b(?:would|could|can|will|might|may|should)\b", re.I)
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;:]|\s[–—-]\s)\s*")
_PATTERNS = [re.compile(p, re.I) for p in RECOMMENDATION_PATTERNS.values()]
# Each mechanism's names, in the lexicon's order (its canonical name first: "rules of origin" before
# "non-USMCA content").
_MECHANISM_NAMES = {k: [re.compile(p, re.I) for p in v]
                    for k, v in json.loads(LEXICON_FILE.read_text(encoding="utf-8"))["mechanisms"].items()}
# The mechanism most specific to a recommendation first; "the review" is the occasion of nearly all.
# "USMCA institutional mechanisms" is matched by clauses ("USMCA were used"), not by a name to show.
_MECHANISM_ORDER = [m for m in MECHANISMS if m not in ("USMCA institutional mechanisms", "Article 34.7 joint review")] + [
    "Article 34.7 joint review"]


def one_line(rec: Recommendation, snap: Snapshot | None = None, focus: Sequence[str] = ()) -> Line:
    """A recommendation as one line: what, why, and the mechanism it uses. `focus` are the asked
    subject's search terms: the "why" clause that speaks about them is preferred."""
    what = _what(rec)
    why = _why(rec, set(focus), what)
    shown = " ".join(p.text for p in (what, why) if p is not None)
    specific = next((m for m in _MECHANISM_ORDER if m in rec.mechanisms), None)
    mechanism = None
    if specific is not None and not MECHANISM_RE[specific].search(shown):
        mechanism = _mechanism(rec, specific)
    return Line(rec, what, why, mechanism)


def render_line(line: Line, mark: Callable[[Piece], int]) -> str:
    """"- What [1] … why [2] … mechanism [1]." — one sentence whose pieces, separated by
    ellipses, are each verbatim in the passage their marker cites (what the verifier checks)."""
    parts = [f"{capitalize(line.what.text)} [{mark(line.what)}]"]
    for piece in (line.why, line.mechanism):
        if piece is not None:
            parts.append(f"{_continuing(piece.text, line.rec)} [{mark(piece)}]")
    return "- " + " … ".join(parts) + "."


def by_passage(rec: Recommendation) -> Callable[[Piece], int]:
    """Numbers a record's pieces by its passages (1 = its first passage), as the Recommendations
    page and `recommend --json` number the record's evidence."""
    return lambda piece: rec.passages.index(piece.passage) + 1


def _continuing(text: str, rec: Recommendation) -> str:
    """A piece that continues the line: its first word in lower case unless it is a name (the
    brief never writes it in lower case: "Mexico", "U.S.")."""
    word = text.split(" ", 1)[0]
    lower = word[:1].lower() + word[1:]
    if lower == word or not word[1:].islower():
        return text
    said = " ".join(p.quote for p in rec.passages)
    common = lower.lower() in STOPWORDS or re.search(rf"(?<![\w.]){re.escape(lower)}\b", said)
    return lower + text[len(word):] if common else text


def _clean(text: str) -> str:
    return collapse(strip_footnote_marks(BULLET.sub("", text))).strip().rstrip(" .;,:")


def _sentence_of(p: RecommendationPassage) -> list[str]:
    """The sentences of a passage's quote."""
    return [p.quote[a:b] for a, b in split_sentences(p.quote)] or [p.quote]


def _what(rec: Recommendation) -> Piece:
    """The statement: the executive summary's bullet when it has one (the brief's own short and
    concrete wording), else the heading or sentence that states it. A sentence found in the text
    is cut to its item of a series ("The review could be used to … deepen cooperation on energy")
    or, when long, to the clause that recommends, the lead-in clause left out."""
    summary = next((p for p in rec.passages if p.role == "summary"), None)
    if summary is not None:
        return Piece(_clean(summary.quote), summary, summary.quote)
    p = next((x for x in rec.passages if x.role == "recommendation"), rec.passages[0])
    quote = _clean(p.quote)
    if rec.source != IN_TEXT:
        return Piece(quote, p, p.quote)
    m = next((m for rx in _PATTERNS for m in [rx.search(quote)] if m), None)
    own = collapse(rec.text).rstrip(" .;,")
    if own and own in quote:
        quote = own  # the item of a series, stated by the sentence's own words
    else:
        item = _series_item(rec.text, quote)
        if m is not None and item and quote.find(item) > m.end():
            return Piece(f"{quote[: m.end()].strip()} … {item}", p, p.quote)
    if len(quote.split()) > WHAT_WORDS and m is not None and m.start() < len(quote):
        starts = [b.end() for b in _CLAUSE_BREAK.finditer(quote) if b.end() <= m.start()]
        if starts and len(quote[starts[-1]:].split()) >= 8:
            quote = quote[starts[-1]:]
    return Piece(quote, p, p.quote)


def _series_item(text: str, sentence: str) -> str:
    """The longest tail of the record's statement that occurs verbatim in its sentence."""
    words = collapse(text).split()
    for i in range(len(words)):
        tail = " ".join(words[i:]).rstrip(" .;,")
        if len(tail.split()) >= 2 and tail in collapse(sentence):
            return tail
    return ""


def _why(rec: Recommendation, focus: set[str], what: Piece) -> Piece | None:
    """The argument's clause that says why: one with a modal ("would ensure", "could improve")
    gives the reason, one naming a mechanism says how, one on the asked subject answers it; a
    clause that repeats the statement is left out."""
    said = set(tokenize(what.text))
    best: tuple[float, Piece] | None = None
    for p in rec.passages:
        if p.role != "argument" or p is what.passage:
            continue
        for sentence in _sentence_of(p):
            for clause, preference in _clauses(_clean(sentence)):
                toks = set(tokenize(clause))
                if not toks or len(toks & said) > 0.6 * len(toks):
                    continue
                score = preference + 2.0 * bool(_MODAL.search(clause)) + 1.0 * len(focus & toks)
                score += 1.0 * any(MECHANISM_RE[m].search(clause) for m in rec.mechanisms if m in MECHANISM_RE)
                if best is None or score > best[0]:
                    best = (score, Piece(clause, p, sentence.strip()))
    return best[1] if best else None


_INTRODUCTORY = re.compile(r"(?:while|as|although|though|if|when|given|because|since|unlike|despite|however|"
                           r"moreover|indeed|instead|still|yet|thus|therefore)\b", re.I)
_PREPOSITIONS = frozenset(re.findall(r"\w+", "of to for in on with by from at about into among between than that which who"))
_NOT_A_START = re.compile(r"(?:and|or|but|nor|which|who|whom|whose|where|thus|as well as|\w+ing|\w+ed)\b", re.I)


def _clauses(sentence: str) -> list[tuple[str, float]]:
    """(clause, preference) of an argument sentence: the sentence itself when short enough (a
    whole sentence is preferred); else each run of its comma/dash segments that reads as a main
    clause — it starts the sentence, follows an introductory segment ("While ..., there is a
    strong case for ...") or starts with a capitalised word, does not reach over a colon or
    semicolon, and is not followed by a new capitalised clause nor by the items of a list — or the
    sentence's start and the part from its modal verb on, joined by an ellipsis."""
    sentence = re.sub(r"^(?:And|But|So)\s+", "", sentence)
    if len(sentence.split()) <= WHY_WORDS:
        return [(sentence, 0.5)]
    breaks = list(_CLAUSE_BREAK.finditer(sentence))
    cuts = [(0, 0)] + [(b.start(), b.end()) for b in breaks] + [(len(sentence), len(sentence))]
    hard = [False] + [bool(re.search(r"[;:]", b.group(0))) for b in breaks] + [True]  # before segment k
    segments = [sentence[cuts[k][1]: cuts[k + 1][0]].strip() for k in range(len(cuts) - 1)]
    out = []
    for i, first in enumerate(segments):
        intro = i > 0 and _INTRODUCTORY.match(segments[i - 1])
        if (i > 0 and not intro and not first[:1].isupper()) or _NOT_A_START.match(first):
            continue
        for j in range(i, len(segments)):
            if j > i and hard[j]:
                break
            text = sentence[cuts[i][1]: cuts[j + 1][0]].strip()
            n = len(text.split())
            if n > WHY_WORDS:
                break
            following = segments[j + 1] if j + 1 < len(segments) else ""
            if n < 8 or (following and not hard[j + 1] and (following[:1].isupper() or len(following.split()) < 4)):
                continue
            if j > i and re.match(r"(?:and|or)\b", following):
                continue  # "A, B, and C": the first items of a series
            out.append((text, -0.3 if _INTRODUCTORY.match(first) else 0.0))
    m = _MODAL.search(sentence)
    if m is not None and not _CLAUSE_BREAK.search(sentence[: m.start()]):  # the modal of the main clause
        head, tail = sentence[: m.start()].split(), sentence[m.start():].split()
        if len(tail) <= WHY_WORDS - 4:
            # the subject up to its first preposition: "Ratcheting up the fraction … could improve ..."
            cut = next((k for k in range(3, len(head)) if head[k].lower() in _PREPOSITIONS), len(head))
            if cut + len(tail) <= WHY_WORDS:
                out.append((" ".join(head[:cut]) + (" … " if cut < len(head) else " ") + " ".join(tail), 0.0))
    return out


def _mechanism(rec: Recommendation, name: str) -> Piece | None:
    """A verbatim phrase of the record's passages naming a mechanism ("stricter rules of origin")."""
    for rx in _MECHANISM_NAMES[name]:  # its names in the lexicon's order
        for p in rec.passages:
            for sentence in _sentence_of(p):
                clean = _clean(sentence)
                m = rx.search(clean)
                if m is not None:
                    return Piece(_noun_phrase(clean, m.start(), m.end()), p, sentence.strip())
    return None


_STOP_BEFORE = re.compile(r"^(?:and|or|but|that|which|to|of|in|on|for|with|by|is|are|was|were|be|would|could|"
                          r"will|can|if|as|than|from|at|into|a|an)$", re.I)


def _noun_phrase(text: str, start: int, end: int) -> str:
    """The match with up to three modifiers before it, up to an article (kept, with the
    preposition before it: "during the review") or a function word."""
    before = text[:start].split()
    kept: list[str] = []
    for k, w in enumerate(reversed(before[-3:])):
        bare = w.strip("“”\"'(),;:")
        if w != bare and not w.endswith("’s"):
            break
        if bare.lower() in ("the", "its", "their", "these"):
            kept.insert(0, w)
            prep = before[-k - 2] if len(before) >= k + 2 else ""
            if prep.lower() in ("during", "through", "in", "under", "at", "via", "by", "within"):
                kept.insert(0, prep)
            break
        if _STOP_BEFORE.match(bare):
            break
        kept.insert(0, w)
    return " ".join([*kept, text[start:end]]).strip()


# ---- the chat's answer ------------------------------------------------------------------------


@dataclass
class Draft:
    """A recommendation answer before verification: its cited lines, and what comes after them."""

    question: str
    lines: list[tuple[str, list[tuple[Piece, int]]]]  # each line's text and its pieces with their numbers
    chunks: dict[int, Chunk]  # citation number -> passage
    tail: list[str]  # "and N more", the not-covered sentence
    match: Match
    refusal: Answer | None = None  # the answer when the brief recommends nothing on the subject

    @property
    def texts(self) -> list[str]:
        """What the verifier checks, line by line (the lead and the tail are the assistant's own
        words): a line stands or falls whole, however the segmenter splits it."""
        return [text for text, _ in self.lines]


def draft_answer(a: QueryAnalysis, snap: Snapshot, embed: Embed | None = None, *, every: bool = False) -> Draft:
    """The answer to a recommendation question, its lines to be verified and then finished
    (`finish_answer`);
    `every` writes a line for every recommendation on the subject (the `recommend` command)."""
    m = match(a, snap, embed)
    if m.refused or m.declined:
        return Draft(a.question, [], {}, [], m, refusal=None if m.declined else _refusal(a, m, snap))
    general = m.subject.general
    shown = m.selected if every else m.selected[: MAX_LINES_ALL if general else MAX_LINES]
    focus = [t for sc in m.subject.concepts for t in sc.terms] or [t for c in a.concepts for t in c.terms]
    numbers: dict[str, int] = {}
    chunks: dict[int, Chunk] = {}
    lines = []
    for rec in shown:
        line = one_line(rec, snap, focus)
        if any(p.passage.chunk_id not in snap.chunks for p in line.pieces()):
            continue
        used: list[tuple[Piece, int]] = []

        def mark(piece: Piece, used: list[tuple[Piece, int]] = used) -> int:
            cid = piece.passage.chunk_id
            if cid not in numbers:
                numbers[cid] = len(numbers) + 1
                chunks[numbers[cid]] = snap.chunks[cid]
            used.append((piece, numbers[cid]))
            return numbers[cid]

        lines.append((render_line(line, mark), used))
    tail = []
    if len(m.selected) > len(shown):
        topic = "" if general else f" {_shell_word(_lead_subject(m))}"
        tail.append(MORE.format(n=len(m.selected) - len(shown), topic=topic))
    if m.uncovered:
        tail.append(" ".join(NO_RECOMMENDATION.format(subject=u) for u in m.uncovered))
    return Draft(a.question, lines, chunks, tail, m)


def finish_answer(d: Draft, verified: Sequence[Verified], snap: Snapshot) -> Answer:
    """The answer from the lines and their verification (one `Verified` per line, in order): a
    lead that counts the lines that survived, the lines as written (each piece keeps its own
    marker; a line with an unsupported sentence is dropped, or tagged when the verifier only
    marks), citations renumbered in order of first use, each quoting the passage sentences its
    pieces come from (whole sentences, so the quote is found in the passage)."""
    if d.refusal is not None:
        return d.refusal
    if d.match.declined:
        raise ValueError("a declined recommendation question has no answer here: ask the retriever")
    kept: list[tuple[str, list[tuple[Piece, int]]]] = []
    for (text, used), checked in zip(d.lines, verified, strict=True):
        if all(s.supported for s in checked.support):
            kept.append((text, used))
        elif UNVERIFIED_TAG in checked.text:  # the "mark" policy keeps it, visibly
            kept.append((text.removesuffix(".") + f" {UNVERIFIED_TAG}.", used))
    if not kept:
        return _unverified(d)
    numbers: dict[int, int] = {}
    quotes: dict[int, list[str]] = {}
    for _, used in kept:
        for piece, n in used:
            q = quotes.setdefault(numbers.setdefault(n, len(numbers) + 1), [])
            if piece.sentence not in q:
                q.append(piece.sentence)
    citations: list[Citation] = []
    retrieved: list[ScoredChunk] = []
    for old, new in numbers.items():
        citations.append(build_citation(new, d.chunks[old], quotes[new], snap.sources))
        retrieved.append(ScoredChunk(chunk=d.chunks[old], score=1.0 / new, rank=new))
    total = len(d.match.selected) - (len(d.lines) - len(kept))
    lines = [re.sub(r"\[(\d+)\]", lambda m: f"[{numbers[int(m.group(1))]}]", text) for text, _ in kept]
    text = "\n".join([_lead(d.match, total, len(kept) == total), *lines, *d.tail]).strip()
    support = [s for checked in verified for s in checked.support]
    answer = Answer(d.question, text, citations, False, retrieved, backend=BACKEND, support=support)
    answer.not_covered = list(d.match.uncovered)
    return answer


def _lead(m: Match, total: int, complete: bool) -> str:
    """"The brief makes 2 recommendations on energy:" (", among them:" when not all are listed)."""
    count = "one recommendation" if total == 1 else f"{total} recommendations"
    if m.subject.general:
        return f"The brief makes {count}" + (":" if complete else ", among them:")
    return f"The brief makes {count} on {_lead_subject(m)}:"


def _lead_subject(m: Match) -> str:
    """The subject as typed; a translated one in English (the topic it names, else its gloss)."""
    s = m.subject
    if not s.translated:
        return s.typed
    topics, mechanisms = _labels(s.english)
    return ", ".join(topics + mechanisms) or s.english


def _shell_word(text: str) -> str:
    return f'"{text}"' if re.search(r"\s", text) else text


def _refusal(a: QueryAnalysis, m: Match, snap: Snapshot) -> Answer:
    """"The brief makes no recommendation on X." with the closest recommendations as related
    passages (listed by title; their passages in `retrieved`), not as the answer."""
    subject = m.subject.typed
    text = NO_RECOMMENDATION.format(subject=subject)
    related = m.related[:MAX_RELATED]
    if related:
        text += "\n\nClosest recommendations (related, not an answer):\n" + "\n".join(f"- {r.title}." for r in related)
    retrieved: list[ScoredChunk] = []
    seen: set[str] = set()
    for r in related:
        for p in r.passages:
            if p.role == "argument" or p.chunk_id in seen or p.chunk_id not in snap.chunks:
                continue
            seen.add(p.chunk_id)
            retrieved.append(ScoredChunk(chunk=snap.chunks[p.chunk_id], score=1.0 / (len(retrieved) + 1),
                                         rank=len(retrieved) + 1))
    answer = Answer(a.question, text, [], True, retrieved, backend=BACKEND)
    answer.not_covered = [subject]
    answer.abstain_reason = "no recommendation covers the subject: " + "; ".join(
        f"{k} (words {v['lexical']:.0f}, similarity {v['dense']:.2f})" for k, v in m.details.items()  # type: ignore[index]
    )
    return answer


def _unverified(d: Draft) -> Answer:
    """No line survived verification: say so, with the recommendations' passages as related."""
    subject = "this question" if d.match.subject.general else d.match.subject.typed
    text = f"No recommendation of the brief on {subject} could be verified against its passages."
    retrieved = [ScoredChunk(chunk=c, score=1.0 / n, rank=n) for n, c in sorted(d.chunks.items())]
    answer = Answer(d.question, text, [], True, retrieved, backend=BACKEND)
    answer.not_covered = [subject]
    answer.abstain_reason = "no recommendation line survived verification"
    return answer
