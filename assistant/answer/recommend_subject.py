"""Does the brief recommend anything on the asked subject, and which recommendations: the subject
of a recommendation question, the coverage gate (its words as a phrase in or next to a
recommendation or its argument, or its meaning within `DENSE_COVERED`), and the recommendations
selected (see `assistant.answer.recommend` for the whole flow)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.answer.coverage import UBIQUITOUS_IDF
from assistant.index.lexical import tokenize
from assistant.index.store import Snapshot
from assistant.ingest.recommendations import (
    IN_TEXT,
    MECHANISM_RE,
    MECHANISMS,
    SUMMARY,
    TOPIC_ALIASES,
    TOPIC_RE,
    TOPICS,
    WAY_AHEAD,
    Recommendation,
)
from assistant.retrieve.analysis import (
    QUESTION_VOCABULARY,
    SCOPE_TAIL,
    Concept,
    QueryAnalysis,
    concepts_of,
    recommendation_subject,
)
from assistant.retrieve.language import detect_language
from assistant.retrieve.translate import english_gloss
from assistant.textutil import collapse

Embed = Callable[[list[str]], np.ndarray]

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
MAX_RELATED = 3  # closest recommendations shown with a refusal


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
    _CACHE[:] = [
        _Brief(snap.generation, [_record_units(r, snap) for r in snap.recommendations], df, len(briefs))
    ]
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
_GENERIC_HEADS = frozenset(
    re.findall(
        r"\w+",
        "industry industries sector sectors issue issues policy policies question "
        "questions matters area areas front file agenda",
    )
)


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
            concept = Concept(
                " ".join(w for w in words if w not in heads),
                tuple(t for t in concept.terms if t not in dropped),
            )
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
    re.I,
)
# The review is the occasion of the recommendations, not a subject of some of them: "advice for the
# joint review (talks)" asks for all of them.
_OCCASION = re.compile(
    r"(?:the\s+)?(?:20\d\d\s+)?(?:(?:usmca|cusma|t-mec|joint)\s+)*reviews?"
    r"(?:\s+(?:talks|process|negotiations?|meetings?))?",
    re.I,
)


def subject_of(a: QueryAnalysis, snap: Snapshot) -> Subject:
    """The subject of a recommendation question, its concepts split into those that decide coverage
    (the first and those joined to it by "and"/"or") and qualifiers ("energy *for the review*")."""
    typed = (a.subject or recommendation_subject(a.text) or "all").strip()
    own = _FOLLOW_UP_SUBJECT.match(a.question) if a.question.strip() != a.text.strip() else None
    if own and concepts_of(own.group(1)):
        typed = own.group(1).strip()  # "And on nuclear power?" after a question on energy: nuclear power
    if typed.lower() in ("all", "todas", "todo"):
        return Subject("all", "all", ())
    typed = SCOPE_TAIL.sub("", typed) or typed
    words = typed.split()
    while (
        len(words) > 1
        and words[-1].lower().endswith("ly")
        and set(tokenize(words[-1])) <= QUESTION_VOCABULARY
    ):
        words.pop()  # "nuclear power specifically" -> "nuclear power"
    typed = " ".join(words)
    if re.search(rf"\bthe\s+{re.escape(typed)}", a.text, re.I):
        typed = f"the {typed}"  # "no recommendation on the softwood lumber dispute"
    translated = a.translated or detect_language(typed) == "es" or bool(re.search(r"[áéíóúñ¿¡]", typed, re.I))
    english = english_gloss(typed) if translated else typed
    found = concepts_of(english, english_grammar=not translated)
    out: list[SubjectConcept] = []
    pos = 0
    for c in found:
        at = english.lower().find(c.text.lower(), pos)
        gap = english[pos:at] if at >= 0 else " "
        pos = at + len(c.text) if at >= 0 else pos
        english_terms = tuple(t for t in c.terms if t not in a.untranslated)
        if translated and english_terms and len(english_terms) < len(c.terms):
            # words the gloss kept as typed beside English ones ("materia energy") are in no English
            # passage: the English words decide; a concept of such words only ("tequila") stays, a
            # key term no document may use
            c = dataclasses.replace(c, terms=english_terms)
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
    lexical, dense = measure(
        subject.concepts, snap, embed, subject.english if subject.translated else None, all_dense=False
    )
    # a word the brief never uses is a subject it recommends nothing on, however close in meaning
    known = np.array([sc.known for sc in subject.concepts])
    covers = (lexical > 0) | ((dense >= DENSE_COVERED) & known)
    checked = [j for j, sc in enumerate(subject.concepts) if sc.checked]
    uncovered = [subject.concepts[j].typed for j in checked if not covers[:, j].any()]
    details = {
        sc.typed: {"lexical": float(lexical[:, j].max()), "dense": round(float(dense[:, j].max()), 3)}
        for j, sc in enumerate(subject.concepts)
    }
    covered_cols = [j for j in checked if covers[:, j].any()]
    if not covered_cols and a.subject_implied and (
        all(subject.concepts[j].known for j in checked) or not _names_brief(a)
    ):
        # the question's own words in no recommendation, and either all of them the brief's ("What
        # should USMCA's existing tools be used for?": a question about its text) or the brief not
        # named ("Who votes on the remedy it recommends?": someone else's): for retrieval
        return Match(subject, [], uncovered, [], details, declined=True)
    if not covered_cols:
        order = np.argsort(-dense.max(axis=1) - 0.01 * lexical.max(axis=1), kind="stable")
        related = [recs[i] for i in order[:MAX_RELATED] if dense[i].max() > -1.0 or lexical[i].max() > 0]
        return Match(subject, [], uncovered, related or recs[:MAX_RELATED], details)
    topics, mechanisms = labels(subject.english)
    scored = []
    for i, r in enumerate(recs):
        if not covers[i, covered_cols].any():
            continue
        label = sum(r.topic_scores.get(t, 0.0) for t in topics) + sum(
            3.0 for m in mechanisms if m in r.mechanisms
        )
        words = float(lexical[i, covered_cols].sum()) + 0.5 * float(
            lexical[i].sum() - lexical[i, covered_cols].sum()
        )
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


def measure(
    concepts: Sequence[SubjectConcept],
    snap: Snapshot,
    embed: Embed | None,
    gloss: str | None = None,
    *,
    all_dense: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
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
            lexical[i, j] = max(
                (u.weight for u in rec_units if _lexical(sc, u, gloss is not None)), default=0.0
            )
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
    if _names_brief(a):
        return False
    concepts = [c for c in (SubjectConcept.of(x, snap) for x in a.concepts) if c is not None]
    if not concepts:
        return False
    lexical, dense = measure(concepts, snap, embed, a.english if a.translated else None, all_dense=False)
    known = np.array([c.known for c in concepts])
    return not ((lexical > 0) | ((dense >= DENSE_COVERED) & known)).any()


def _names_brief(a: QueryAnalysis) -> bool:
    return a.names_brief or bool(re.search(r"\b(?:brief|report|informe|quincy|author)\b", a.text, re.I))


def _rank_general(
    a: QueryAnalysis, recs: list[Recommendation], units: list[list[_Unit]], snap: Snapshot
) -> list[Recommendation]:
    """All recommendations: those the question's own words point at first ("in the introduction"),
    then the stated ones (way ahead, executive summary) before those found in the text."""
    terms = {t for c in a.concepts for t in brief_weights(c.terms, snap)}
    priority = {WAY_AHEAD: 0, SUMMARY: 1, IN_TEXT: 2}

    def key(i: int) -> tuple[float, int, int]:
        r = recs[i]
        where = set(tokenize(" ".join(p.location for p in r.passages)))
        hits = sum(
            max([u.weight for u in units[i] if t in u.tokens] + [1.0 if t in where else 0.0]) for t in terms
        )
        return (-hits, priority.get(r.source, 3), i)

    return [recs[i] for i in sorted(range(len(recs)), key=key)]


def labels(text: str) -> tuple[list[str], list[str]]:
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
    question = (
        f"¿Qué recomienda el informe sobre {topic}?"
        if spanish
        else f"What does the brief recommend on {topic}?"
    )
    english = english_gloss(question) if spanish else None
    a = analyze(question, language="es" if spanish else "en", english=english)
    return a if a.subject else analyze(question)


def is_recommendation_question(question: str) -> str | None:
    """The subject of a question that asks what the brief recommends ("all" when it names none);
    None otherwise (the analysis's `recommendation_subject`, kept for tools)."""
    return recommendation_subject(question)
