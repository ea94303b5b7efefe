"""Refusal decided in code, before any backend writes a word: say what the documents don't say.

The decision reads the question's analysis and the retrieval, never the answer, so every backend
gets the same one. In order:

1. **Identifiers the index lacks.** A treaty article, annex, U.S. Code section or tariff item that
   no indexed document contains ("Article 32.10" when only chapter 2 is indexed), a treaty chapter
   whose text is not indexed ("What does USMCA Chapter 8 say ..."), or an annex of one ("Annex
   23-A", which the implementing law names but whose text is not indexed).
2. **Events after the corpus.** "Did the 2026 joint review extend the agreement?" asks what
   happened at a date later than the newest document: no document can report it.
3. **Coverage** (`assistant.answer.coverage`, `assistant.answer.evidence`): each concept of the
   question is checked against the sentences of the top passages, lexically and by meaning, and a
   figure question needs a sentence about its subject stating a figure of the asked type. The
   coverage features are combined by a logistic model (`WEIGHTS`) fitted by bench/fit_refusal.py
   on the tuning sets (dev, calibration, held-out, tuning); the question is refused above
   `ABSTAIN_ABOVE`, naming the most specific concept no sentence covers, the figure no sentence
   states, or the names and numbers the passages lack. A question of several parts whose other
   parts are covered is answered, and the uncovered parts are listed in `not_covered`. A question
   on a party's schedule whose lines are not indexed (only Canada's are; Chapter 2 holds the U.S.
   and Mexican general notes and appendices) is refused when it names a good only tariff lines
   name: its line is not in the index. A question on whether something was actually done ("Has
   Canada actually sent that notice?") is refused when its top passages are all rules (treaty,
   statute, tariff schedule), which record nothing that happened under them; asked beside a
   question on the rule itself, that part is listed as not covered. A figure asked in a unit of
   measure ("how many barrels a day") is refused, whatever the score, when no top sentence states
   one in that unit about its subject (listed as not covered when the question asks more).

Every refusal names what is missing; none says only "the documents do not answer this".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.answer.coverage import Coverage, EvidenceSentence, evidence_sentences, states_finding
from assistant.answer.evidence import EVIDENCE_PASSAGES, EvidenceFeatures, features, specificity
from assistant.domain import Chunk, ScoredChunk
from assistant.index.lexical import tokenize
from assistant.index.store import Snapshot
from assistant.retrieve.analysis import QueryAnalysis, annex_chapter, treaty_chapters
from assistant.retrieve.hybrid import Retrieval

# Concept coverage: a concept is covered when one sentence holds this share of its idf weight, or
# when its embedding is this close to one sentence. Chosen with the model below by a grid on the
# tuning sets, each set decided by a model fitted on the others (bench/fit_refusal.py): 0.6 / 0.6
# refused 0.536 of the unanswerable at 0.040 false refusals (0.5 / 0.5: 0.476 at 0.036).
LEXICAL_COVERED = 0.6
DENSE_COVERED = 0.6
# Logistic weights (bias first, then evidence.FEATURES) of P(the passages do not answer), and the
# decision threshold at 3 % false refusals; fitted by bench/fit_refusal.py on the 11 single-question
# tuning sets (dev, calibration, held-out, tuning, round1-3, round5-7, es_twins; 2026-12-03, sixth
# session): 113/205 unanswerable refused, 19/569 answerable. Each set decided by a model fitted on
# the others: 111/205 and 19/569 — the figure to expect on fresh questions (the weights before,
# fitted on six of these sets, gave 91/205 and 21/569 on all eleven; without `realized_figure` the
# refit gives 93/205 and 22/569 set by set). The multilingual model's cosine with the best passage
# (e5, trained for query-passage relevance) separates the two best of all features and takes over
# most of MiniLM's and the coverage weights. The concept features fit to 0: on these sets paraphrase
# words are as often uncovered as the subjects of near misses.
# Each weight keeps the sign its feature's meaning allows (bench/fit_refusal.py `SIGNS`).
WEIGHTS = (15.131, -0.211, -0.957, 0.0, 1.992, 1.02, 0.431, 2.257, 0.0, 0.0, -19.149, 2.737)
ABSTAIN_ABOVE = 0.449
# The multilingual model those weights were fitted with: another model's cosines are on another
# scale, so with any other (or none) the model without the multilingual feature decides.
MULTILINGUAL_FITTED_ON = "multilingual-e5-small"
# The same fit without the multilingual feature (`--without multilingual`), for an index built
# without the multilingual model: 105/205 and 22/569 each set decided by the others.
WEIGHTS_WITHOUT_MULTILINGUAL = (0.145, -0.221, -3.347, 0.0, 2.211, 1.011, 0.402, 2.283, 0.0, 0.0, 0.0, 2.604)
ABSTAIN_ABOVE_WITHOUT_MULTILINGUAL = 0.483
# A question narrowed to the brief ("what does the brief say about ...") about a concept whose rarest
# word other documents use but the brief never does is about something only they discuss. A
# concept must be this specific (7 - the Zipf frequency of its rarest word in general English):
# fitted on the 35 brief-scoped questions of the tuning sets, where it refuses the near miss on
# tomato duties and no answerable question (0.0 to 4.6 for answerable ones' such concepts).
OUT_OF_SCOPE_SPECIFICITY = 5.0
# Off-topic: no concept of the question is covered and no sentence of the top passages comes this
# close to it. On the tuning sets no answerable question with every concept uncovered has a nearest
# sentence below 0.367; off-topic questions ("the boiling point of liquid nitrogen") sit near 0.2.
OFF_TOPIC_DENSE = 0.33
# A question on what a report concluded needs a finding in one of this many top passages (set by
# hand, the answer's own span; not fitted).
FINDING_PASSAGES = 3
# Document kinds that set out rules and record no events: a treaty, a statute, a tariff schedule.
# The brief, a proclamation's preamble and the cited sources report what happened. A question on
# whether something was actually done is not answered when this many top passages are all rules
# (set by hand, as FINDING_PASSAGES). On the tuning singles of rounds up to 25: unanswerable refused
# 277 -> 281 of 479, no answerable one refused; round 26 (read while writing the rule) 3 -> 6 of 14.
PRESCRIPTIVE_KINDS = frozenset({"treaty", "tariff", "law"})
EVENT_PASSAGES = 3
# The multilingual cosine above which a translated question's untranslated words are left to the
# model (`_read_through_the_model`). Fitted on the Spanish questions of dev, tuning, heldout,
# calibration, round1, es_twins, spanish_pairs_tuning and round1_spanish_pairs (docs/benchmarks.md).
MULTILINGUAL_TRUST = 0.815

# A part of a several-part question is named as not covered only when its most specific uncovered
# concept is at least this specific (7 - Zipf frequency of its rarest word). Fitted on the 30
# not-covered notes of answered questions in dev, calibration, tuning, heldout, round1-3, round5,
# round6 and es_twins (2026-12-02, fifth session): it keeps the two parts of unanswerable questions
# ("Ottawa comply" 3.02, "carve-outs" 3.59) and drops 20 of the 28 notes on answerable ones, all
# phrasing ("must" 1.32, "us" 0.96, "drove" 2.64, "body" 1.60, "sense" 1.81).
GAP_SPECIFICITY = 3.0

# The refusals a follow-up's second reading may overturn: those of evidence, not the hard rules
# (an identifier the index lacks, a year after the corpus stay refused whatever the thread says).
SECOND_READING = ("coverage", "off-topic", "unit")

# A figure asked in a unit of measure ("how many barrels a day", "how many tonnes") is refused when no
# top sentence states a figure in that unit about the question's subject (`slot_gap` at this value),
# whatever the score: a dollar figure on the same trade is no tonnage. A question of several parts is
# answered for the others, and the figure is listed as not covered. Measured in the thirty-fourth
# session on the 170 count and unit questions of the tuning singles and pair twins (rounds 1-35, dev,
# calibration, heldout, tuning): unanswerable unit questions refused 13 -> 15 of 15, answerable ones
# 1 -> 1 of 37. Since the thirty-sixth session a unit asked without "how many" ("at what tonnage",
# `analysis._unit_named`) counts too. The same rule for every count ("how many petitions") would
# refuse 8 more unanswerable questions and 3 answerable ones whose count is written with another noun
# ("12 members" for "how many people"), so counts stay with the model.
UNIT_SLOT_GAP = 1.0

# The passages an answer quotes first. Set on hand-made Chapter 10 and 31 questions (the implementing
# law's panel provisions lead for a question on the panels, ranks 0-1, and come 5th or lower for one on
# what the chapter itself says of report deadlines), then measured on the 41 tuning questions that
# name a treaty chapter (round 7 included): false refusals 4 -> 0, unanswerable refused 13 -> 12.
CHAPTER_MENTION_TOP = 3


@dataclass(frozen=True)
class Decision:
    """Answer or refuse, and what the documents do not cover, in words a person reads."""

    refuse: bool
    text: str = ""  # the refusal sentence (empty when answering)
    reason: str = ""  # the rule and its evidence, for the curious and for tuning
    not_covered: tuple[str, ...] = ()  # parts of the question the documents do not answer
    rule: str = ""
    coverage: Coverage | None = None
    details: dict[str, object] = field(default_factory=dict)


def nothing_found(a: QueryAnalysis) -> Decision:
    subject = main_subject_text(a)
    return Decision(True, f"Nothing in the indexed documents matches {subject}.", "nothing retrieved",
                    (subject,), "nothing")


def main_subject_text(a: QueryAnalysis) -> str:
    return a.concepts[0].named if a.concepts else "this question"


# ---- hard rules ------------------------------------------------------------------------------


def missing_identifiers(a: QueryAnalysis, snap: Snapshot, retrieved: Sequence[Chunk] = ()) -> tuple[str, ...]:
    """Identifiers the question names that no indexed document has as a key nor mentions, then the
    treaty chapters asked about whose text is not indexed."""
    missing, missing_keys = [], set()
    for key in a.identifiers:
        k = key.lower()
        if k in snap.by_key or any(snap.lexical.idf(t) for t in tokenize(key) if any(ch.isdigit() for ch in t)):
            continue
        if re.fullmatch(r"\d{4}\.\d{2}", k) and any(x.startswith(k) for x in snap.by_key):
            continue  # a tariff subheading: its lines are keyed by the full item
        missing.append(_identifier_name(key))
        missing_keys.add(k)
    return (*missing, *missing_chapters(a, snap, retrieved, missing_keys=missing_keys))


def _identifier_name(key: str) -> str:
    """A lookup key as a person names it: "32.10" -> "USMCA Article 32.10", "4999" -> "19 U.S.C. § 4999"."""
    if re.fullmatch(r"\d{1,2}\.\d{1,2}", key):
        return f"USMCA Article {key}"
    if key.startswith("annex "):
        return f"USMCA Annex {key.split()[1]}"
    if re.fullmatch(r"4[5-7]\d\d", key):
        return f"19 U.S.C. § {key}"
    if re.fullmatch(r"\d{4}\.\d{2}(?:\.\d{2})?", key):
        return f"tariff item {key}"
    if re.fullmatch(r"AG\d{8}", key):
        return f"Table 1 provision {key}"
    if " cl. " in key:
        number, clause = key.split(" cl. ")
        return f"Proclamation {number}, clause {clause}"
    return key


def missing_chapters(
    a: QueryAnalysis, snap: Snapshot, retrieved: Sequence[Chunk] = (), missing_keys: Set[str] = frozenset()
) -> tuple[str, ...]:
    """Treaty chapters asked about, by number or by name ("the digital trade chapter"), whose text
    is not indexed, refused with their title. When a leading passage (among the first
    CHAPTER_MENTION_TOP found) itself names the chapter ("binational panels convened under chapter
    10", in the law implementing it), that passage may answer, and coverage decides; a chapter only
    passages further down name is still refused. So is none when the question asks what the brief
    says of a chapter: coverage decides. A chapter asked about through one of its annexes ("Annex
    31-A", `QueryAnalysis.annexes`) is named by the annex, and not at all when the identifier rule
    already names that annex as missing (`missing_keys`, lower-case lookup keys: "annex 14-c")."""
    if not a.chapters or a.names_brief:
        return ()
    present = {str(c.meta.get("chapter")) for c in snap.chunks.values() if c.kind == "treaty"}
    leading = [c for c in retrieved[:CHAPTER_MENTION_TOP] if c.kind != "tariff"]
    present |= {n for n in a.chapters if any(_names_chapter(c.text, n) for c in leading)}
    titles = treaty_chapters()
    out = []
    for n in a.chapters:
        if n in present:
            continue
        title = titles[n]["title"] if n in titles else ""
        annexes = [x for x in a.annexes if annex_chapter(x) == n]
        if not annexes:
            out.append(f"USMCA Chapter {n} ({title})" if title else f"USMCA Chapter {n}")
            continue
        unnamed = [x for x in annexes if f"annex {x.split('.')[0]}".lower() not in missing_keys]
        if unnamed:  # "USMCA Annex 23-A (Chapter 23, Labor)"
            named = " and ".join(f"Annex {x}" for x in unnamed)
            out.append(f"USMCA {named} (Chapter {n}, {title})" if title else f"USMCA {named}")
    return tuple(out)


def _names_chapter(text: str, number: str) -> bool:
    """"chapter 10", or one of its articles ("article 10.12 of the USMCA"); not "chapter 10 of this
    title" nor "chapter 19 of NAFTA" (other bodies of law)."""
    other_law = r"\s+of\s+(?:this\s+title|title\s+\d+|NAFTA|the\s+North\s+American)"
    chapter = rf"\bchapters?\s+{number}\b(?![.\d])"
    article = rf"\barticles?\s+{number}\.\d+\b"
    return re.search(rf"(?i)(?:{chapter}|{article})(?!{other_law})", text) is not None


def unindexed_schedules(a: QueryAnalysis, snap: Snapshot) -> tuple[str, ...]:
    """The parties whose schedule the question names but whose lines are not indexed (Chapter 2
    holds only the general notes and appendices of the U.S. and Mexican schedules)."""
    present = snap.scheduled_parties()
    return tuple(p for p in a.schedules if p not in present)


def _goods_only_lines_name(a: QueryAnalysis, cov: Coverage, snap: Snapshot) -> list[str]:
    """The uncovered concepts with a term that tariff lines use and no other passage does ("fresh
    tomatoes", "yellow corn"), or, in a translated question, whose terms no passage uses (a gloss's
    untranslated "jamones cerdo"): goods, which only a schedule's lines would answer for. A tariff
    number is no good's name: the party's appendices may list it ("U.S. tariff items 0406.90.12 and
    0406.90.18" in Table 1 of the U.S. quota appendix), and one the index lacks is refused as such."""
    lines = snap.vocabulary({"tariff"})
    prose = snap.vocabulary(set(snap.kinds.tolist()) - {"tariff"})

    def a_good(terms: tuple[str, ...]) -> bool:
        terms = tuple(t for t in terms if not t[:1].isdigit())
        return any(t in lines and t not in prose for t in terms) or \
            (a.translated and bool(terms) and all(t not in lines and t not in prose for t in terms))

    return [c.concept.named for c in cov.missing if c.concept.terms and a_good(c.concept.terms)]


def newest_year(snap: Snapshot) -> int | None:
    years = [int(m.group(0)) for d in snap.documents.values()
             for m in [re.match(r"(?:19|20)\d\d", str(d.get("date") or ""))] if m]
    return max(years) if years else None


def after_corpus(a: QueryAnalysis, snap: Snapshot) -> str:
    """The year, later than the newest document, whose outcome the question asks about."""
    newest = newest_year(snap)
    if newest is None or not a.outcome:
        return ""
    later = [y for y in a.years if int(y) > newest]
    return later[0] if later else ""


# ---- the decision ----------------------------------------------------------------------------


def decide(
    a: QueryAnalysis,
    ret: Retrieval,
    embed: Callable[[list[str]], np.ndarray] | None,
    *,
    measure_all: bool = False,
) -> Decision:
    """Refuse or answer, from the analysis and the retrieval (see the module docstring).
    `measure_all` computes every concept's similarity (for fitting), not only the undecided ones'.

    A follow-up refused for weak evidence is read a second time with its thread (`a.thread`: the
    words of the thread's questions added): an elliptical turn ("Has it settled which of those comes
    first?") leaves its subject in the previous question, and its own words ("settled") say little
    on their own. It is refused only when both readings refuse."""
    d = _decide(a, ret, embed, measure_all=measure_all)
    if d.refuse and d.rule in SECOND_READING and a.thread is not None and ret.context_vector is not None:
        second = _decide(a.thread, replace(ret, query_vector=ret.context_vector), embed, measure_all=measure_all)
        if not second.refuse:
            return replace(second, details={**second.details, "first_reading": d.reason})
    return d


def _decide(
    a: QueryAnalysis,
    ret: Retrieval,
    embed: Callable[[list[str]], np.ndarray] | None,
    *,
    measure_all: bool = False,
) -> Decision:
    snap = ret.snapshot
    if not ret.chunks:
        return nothing_found(a)
    missing = missing_identifiers(a, snap, [sc.chunk for sc in ret.chunks])
    if missing:
        names = ", ".join(missing)
        return Decision(True, f"The indexed documents do not contain {names}.",
                        f"not indexed: {names}", missing, "identifier")
    year = after_corpus(a, snap)
    if year:
        newest = newest_year(snap)
        return Decision(True, f"The indexed documents end in {newest}; none can report what happened in {year}.",
                        f"asks about {year}, after the newest document ({newest})", (f"events of {year}",), "after")
    sentences = evidence_sentences([sc.chunk for sc in ret.chunks], snap)
    a = _read_through_the_model(a, ret)
    feats, cov = features(a, ret.chunks, sentences, snap, ret.query_vector, ret.scope, embed,
                          lexical_covered=LEXICAL_COVERED, dense_covered=DENSE_COVERED, measure_all=measure_all,
                          asked_multilingual=ret.asked_multilingual, scored_at_query=ret.scored_at_query)
    if ret.multilingual_model != MULTILINGUAL_FITTED_ON:
        feats = replace(feats, multilingual=0.0, line_multilingual=0.0)
    p = evidence_score(feats)
    above = ABSTAIN_ABOVE if feats.best_multilingual else ABSTAIN_ABOVE_WITHOUT_MULTILINGUAL
    # "premise": the multilingual feature was read on what is asked, not on the whole question
    details = {**feats.to_dict(), "best_multilingual": round(feats.best_multilingual, 4), "score": round(p, 4),
               "premise": bool(ret.asked_multilingual)}
    where = "The brief does not" if ret.scope == frozenset({"brief"}) else "The indexed documents do not"
    unindexed = unindexed_schedules(a, snap)
    schedules = _listed([f"the tariff schedule of {p}" for p in unindexed], "or") if unindexed else ""
    goods = _goods_only_lines_name(a, cov, snap) if unindexed else []
    if goods and len(unindexed) == len(a.schedules):
        # the schedule's notes are indexed, its lines are not: a good only lines name asks for a line
        item = _listed(goods[:2], "or")
        their = "its" if len(unindexed) == 1 else "their"
        return Decision(True, f"The indexed documents do not contain the lines of {schedules}, only {their} "
                        f"general notes and appendices, which do not discuss {item}.",
                        f"not indexed: lines of {schedules}", (f"{item} in {schedules}",), "identifier", cov, details)
    # another party's schedule named beside it ("Canada's and Mexico's"): answered for the one indexed
    unanswered = (f"the lines of {schedules}",) if unindexed and len(unindexed) < len(a.schedules) else ()
    outside = out_of_scope_concepts(a, snap, ret.scope)
    if outside:
        item = _listed(outside, "or")
        return Decision(True, f"The brief does not discuss {item}; other indexed documents do.",
                        f"only documents outside the brief use {item}", (item,), "out-of-scope", cov, details)
    off_topic = bool(cov.concepts) and not any(c.covered for c in cov.concepts) \
        and nearest_sentence_read(sentences, ret.chunks, ret.scored_at_query if ret.lines_asked else frozenset()) \
        and feats.dense < OFF_TOPIC_DENSE
    if off_topic:
        tail, item = _what_is_missing(a, feats, cov)
        return Decision(True, f"{where} {tail}.", f"off topic (nearest sentence {feats.dense:.2f})",
                        (item,), "off-topic", cov, details)
    if a.asks_finding:
        top = {sc.chunk.id for sc in ret.chunks[:FINDING_PASSAGES]}
        if not any(states_finding(s.text) for s in sentences if s.chunk.id in top):
            # "What did the report conclude?" answered by the law that requires the report
            of = (f"“{a.finding_of}”" if a.translated else a.finding_of) if a.finding_of else _subject(a, cov)
            item = f"the findings of {of}"
            return Decision(True, f"{where} give {item}.", "no passage reports a finding", (item,), "coverage",
                            cov, details)
    events: tuple[str, ...] = ()
    if a.realized_events and all(sc.chunk.kind in PRESCRIPTIVE_KINDS for sc in ret.chunks[:EVENT_PASSAGES]):
        # "Has Canada actually sent that notice?" answered by the paragraph that provides for it
        events = tuple(f"a record of what has actually been done (“{s}”)" for s in a.realized_events)
        if a.only_realized_events and a.asks_for_figure:
            # a tally ("How many panels have been convened so far?") is named as the tally it is
            tail, item = _what_is_missing(a, feats, cov)
            return Decision(True, f"{where} {tail}.", "a realized event asked of rules only", (item,), "realized",
                            cov, details)
        if a.only_realized_events:
            return Decision(True, f"{where} give {_listed(list(events), 'or')}: the passages found set out "
                            "rules, not what has been done under them.", "a realized event asked of rules only",
                            events, "realized", cov, details)
    in_unit: tuple[str, ...] = ()
    if a.unit and feats.slot_gap >= UNIT_SLOT_GAP:
        # "how many barrels a day ...": no top sentence states a figure in barrels about the subject
        tail, item = _what_is_missing(a, feats, cov)
        if len(a.parts) < 2:
            return Decision(True, f"{where} {tail}.", "no figure in the asked unit about the subject", (item,),
                            "unit", cov, details)
        in_unit = (item,)  # one part of several: the others may still be answered, this one is named
    if p > above:
        tail, item = _what_is_missing(a, feats, cov)
        return Decision(True, f"{where} {tail}.", f"weak evidence (score {p:.2f} > {above:.2f})",
                        (item,), "coverage", cov, details)
    parts = _uncovered_parts(a, cov)
    return Decision(False, "", "", parts + tuple(i for i in in_unit if i not in parts) + unanswered + events, "",
                    cov, details)


def nearest_sentence_read(sentences: Sequence[EvidenceSentence], chunks: Sequence[ScoredChunk],
                          asked_lines: frozenset[str] = frozenset()) -> bool:
    """Whether the nearest sentence of the evidence tells if the question is on topic. Tariff lines
    are indexed without vectors (their sentence vectors are zeros): top passages that are all lines
    have no sentence to measure, and when a question that asks for a line gets one first (its
    multilingual cosine read at query time; `asked_lines`: `Retrieval.scored_at_query` when
    `Retrieval.lines_asked`) the prose further down says nothing of the answer. Either is left to
    the score and its multilingual feature. A line that leads a question not asking for one (it
    joined the prose by matching strongly) is no answer to vouch for: the prose is read."""
    if chunks and chunks[0].chunk.id in asked_lines:
        return False
    return any(s.vector is not None and s.vector.any() for s in sentences) \
        or any(sc.dense is not None for sc in chunks[:EVIDENCE_PASSAGES])


def _read_through_the_model(a: QueryAnalysis, ret: Retrieval) -> QueryAnalysis:
    """A question in another language whose gloss left words untranslated ("¿cuánto espera GM que
    le cuesten ...": "cuesten", "espera"): no English passage can contain them, so word coverage
    would refuse every such question. When the multilingual model puts a passage close to the
    question as typed (cosine >= MULTILINGUAL_TRUST), those words are left to the model: coverage
    reads the concepts' English words only. Below it, they stay and count as missing (a key term
    no document uses)."""
    if not a.translated or not ret.chunks:
        return a
    # raw cosines, lines' unshifted: MULTILINGUAL_TRUST was fitted on them
    best = max((sc.multilingual or 0.0 for sc in ret.chunks), default=0.0)
    if best < MULTILINGUAL_TRUST:
        return a
    idf = ret.snapshot.lexical.idf

    def english(terms: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t for t in terms if idf(t) or t[0].isdigit())

    concepts = tuple(replace(c, terms=english(c.terms)) for c in a.concepts if english(c.terms))
    parts = tuple(replace(p, concepts=tuple(replace(c, terms=english(c.terms)) for c in p.concepts)) for p in a.parts)
    return replace(a, concepts=concepts, parts=parts)


def out_of_scope_concepts(a: QueryAnalysis, snap: Snapshot, scope: frozenset[str] | None) -> list[str]:
    """Concepts of a question narrowed to a scope (the brief) whose rarest word the scope never
    uses while other documents do ("tomatoes" asked of the brief: only the tariff schedule has them)."""
    if not scope:
        return []
    vocabulary = snap.vocabulary(set(scope))
    out, english = [], []
    for c in a.concepts:
        # a word a gloss kept as typed ("materia") is rare in English, not a subject
        known = [t for t in c.terms if snap.lexical.idf(t) and t not in a.untranslated]
        if known and max(known, key=snap.lexical.idf) not in vocabulary:
            words = [w for w in c.text.split() if not set(tokenize(w)) <= a.untranslated]
            english.append(" ".join(words) or c.text)
            out.append(c.named if c.typed else english[-1])
    # one of them specific enough to be the subject, not a word of the asking
    return out if any(specificity(x) >= OUT_OF_SCOPE_SPECIFICITY for x in english) else []


def declined(a: QueryAnalysis, d: Decision) -> Decision:
    """A refusal after the decision let the question through: the model answered that the passages
    do not answer it, or no sentence survived verification. It still names what is missing."""
    if d.refuse:
        return d
    subject = _subject(a, d.coverage) if d.coverage is not None else (a.concepts[0].named if a.concepts else "this")
    return Decision(True, f"The indexed documents do not answer what is asked about {subject}.",
                    "no supported answer in the passages", (subject,), "declined", d.coverage, d.details)


def evidence_score(f: EvidenceFeatures, weights: tuple[float, ...] | None = None) -> float:
    """P(the passages do not answer the question) under the fitted logistic model (the one without
    the multilingual feature when that channel was not searched)."""
    if weights is None:
        weights = WEIGHTS if f.best_multilingual else WEIGHTS_WITHOUT_MULTILINGUAL
    z = weights[0] + float(np.dot(weights[1:], f.vector()))
    return float(1.0 / (1.0 + np.exp(-z)))


def _what_is_missing(a: QueryAnalysis, f: EvidenceFeatures, cov: Coverage) -> tuple[str, str]:
    """What the documents do not say, as the end of "The indexed documents do not ...": the
    concepts no sentence covers (most specific first), the figure no sentence states, the names or
    numbers the passages lack."""
    uncovered = [c.concept.named for c in sorted(cov.missing, key=lambda c: (-specificity(c.concept.text), -c.weight))]
    subject = _subject(a, cov)
    if f.realized_figure and not uncovered:
        # a tally "so far" on a subject the passages discuss: why no sentence states it
        item = f"an up-to-date {_tally(a, cov, subject)}"
        return f"give {item} (they set out rules and plans, not what has happened since)", item
    if a.asks_for_figure and f.slot_gap >= 0.5 and a.unit:
        # no sentence states a figure in the asked unit: the unit names it ("in barrels")
        item = f"the figure asked for in {f'“{a.unit_word}”' if a.translated else a.unit_word}"
        return f"give {item}", item
    if a.asks_for_figure and f.slot_gap >= 0.5:
        # a count no sentence states is named by what it counts ("facility-specific petitions")
        item = f"the {'date' if a.slot == 'date' else 'figure'} asked for on " \
               f"{_listed(uncovered[:3] or [a.counted or subject], 'and')}"
        return f"give {item}", item
    if uncovered:
        item = _listed(uncovered[:3], "or")
        return f"discuss {item}", item
    names = [_as_typed(a.text, n) for n in (*f.unknown_names, *f.absent_names)]
    if names:
        item = _listed(names, "or")
        return f"mention {item} in connection with {subject}", item
    if f.absent_numbers:
        item = f"{subject} in {_listed(list(f.absent_numbers), 'or')}"
        return f"discuss {item}", item
    return f"answer what is asked about {subject}", subject


def _tally(a: QueryAnalysis, cov: Coverage, subject: str) -> str:
    """What a figure-to-date question counts or measures: "count of workers" (how many), "date for
    <its subject>", else the heaviest phrase of several words ("figure on Section 232 auto tariffs")."""
    if a.slot == "date":
        return f"date for {subject}"
    if a.counted:
        return f"count of {a.counted}"
    phrases = [c for c in cov.concepts if " " in c.concept.text]
    return f"figure on {max(phrases, key=lambda c: c.weight).concept.named if phrases else subject}"


def _listed(items: list[str], conjunction: str) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _subject(a: QueryAnalysis, cov: Coverage) -> str:
    """The question's most specific concept, as typed ("this question" when it has none)."""
    if not cov.concepts:
        return "this question"
    return max(cov.concepts, key=lambda c: (specificity(c.concept.text), c.weight)).concept.named


def _as_typed(text: str, folded: str) -> str:
    for w in re.findall(r"[\w’'.\-]+", text):
        if w.lower().strip(".’'-").startswith(folded):
            return w.strip(".’'")
    return folded


def _uncovered_parts(a: QueryAnalysis, cov: Coverage) -> tuple[str, ...]:
    """The parts of a several-part question that no sentence covers (while another part is), named
    by their most specific concept; a part whose words are all everyday English ("how often must it
    meet": "must"; "what drove it": "drove") is phrasing the passages answer in other words."""
    if len(a.parts) < 2:
        return ()
    by_text = cov.by_text()
    gaps = []
    for part in a.parts:
        concepts = [by_text[c.text] for c in part.concepts if c.text in by_text]
        if concepts and not any(c.covered for c in concepts):
            gap = max(concepts, key=lambda c: (specificity(c.concept.text), c.weight)).concept
            if specificity(gap.text) >= GAP_SPECIFICITY:
                gaps.append(gap.named)
    return tuple(gaps) if len(gaps) < len(a.parts) else ()


def explain(a: QueryAnalysis, d: Decision) -> dict[str, object]:
    """The decision and its evidence as plain data."""
    cov = d.coverage
    return {
        **d.details,
        "scope": sorted(a.scope) if a.scope else None,
        "language": a.language,
        "english": a.english,
        "slot": a.slot,
        "intent": a.intent,
        "parts": [p.text for p in a.parts],
        "refuse": d.refuse,
        "rule": d.rule,
        "reason": d.reason,
        "text": d.text,
        "not_covered": list(d.not_covered),
        "concepts": [] if cov is None else [
            {"text": c.concept.text, "weight": round(c.weight, 3), "unknown": c.unknown,
             "lexical": round(c.lexical, 3), "dense": round(c.dense, 3)}
            for c in cov.concepts
        ],
        "slot_filled": None if cov is None else cov.slot_filled,
        "slot_topic": None if cov is None else round(cov.slot_topic, 3),
        "part_concepts": [[c.text for c in p.concepts] for p in a.parts],
        "part_slots": [p.slot for p in a.parts],
    }


def with_not_covered(text: str, decision: Decision) -> str:
    """The answer, then one sentence naming the parts of the question the documents do not cover."""
    if not decision.not_covered:
        return text
    return f"{text}\n\nNot covered by the indexed documents: {'; '.join(decision.not_covered)}."
