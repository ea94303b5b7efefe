"""Question time for the brief's recommendations: route a question to them, look them up by topic
and write the cited answer.

The records themselves are extracted when the brief is indexed (`assistant.ingest.recommendations`,
stored with the index generation) and read here from the snapshot (`snapshot.recommendations`);
nothing is extracted at question time.
"""

from __future__ import annotations

import re

from assistant.answer.citations import build_citation
from assistant.domain import Answer, Citation, ScoredChunk
from assistant.index.store import Snapshot
from assistant.ingest import recommendations as _extraction
from assistant.ingest.recommendations import (  # noqa: F401 - the records and lexicons, re-exported
    BULLET,
    IN_TEXT,
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
from assistant.retrieve.language import detect_language
from assistant.retrieve.translate import GLOSSED, english_gloss
from assistant.textutil import collapse, fold, split_sentences, strip_footnote_marks

NO_RECOMMENDATION = "The brief makes no recommendation on this."
_GENERIC_QUERY_WORDS = frozenset(
    ["brief", "recommend", "recommends", "recommended", "recommendation", "recommendations", "propose", "proposes", "suggest", "suggests", "advise", "advises", "say", "says", "u.s", "us", "united", "states", "mexico", "mexican", "washington", "administration", "usmca", "what", "which", "does", "do", "should", "about", "on", "regarding", "concerning", "the", "a", "an", "of", "for", "to", "in", "and", "or", "its", "it", "brief's", "author", "way", "ahead", "policy", "report", "recomienda", "recomendacion", "recomendaciones", "informe"]
)


def load_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    """Every recommendation of the indexed brief(s), as stored with the index generation."""
    return snapshot.recommendations


def extract_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    """A fresh extraction from a snapshot's passages (what the indexer stores; for tests and tools)."""
    def indexed(chunk_id: str):
        return snapshot.sentences(chunk_id) if chunk_id in snapshot.sentence_spans else None

    return _extraction.extract_recommendations(snapshot.chunks.values(), indexed)


# ---- lookup -----------------------------------------------------------------------------------


def recommendations_for(topic_or_question: str, snapshot: Snapshot) -> list[Recommendation]:
    """Recommendations on a topic, mechanism or free-text subject, best first ("" or "all": all).

    Known topics and mechanisms (also in Spanish) select by the keyword rules; other words must
    occur in the recommendation or its argument, so a subject the brief never addresses returns []."""
    recs = load_recommendations(snapshot)
    query = topic_or_question.strip()
    if not query or query.lower() in ("all", "todas", "todo"):
        return list(recs)
    english = _english(query)
    own = english_gloss(query) if english != query else query  # a Spanish subject is checked in English
    words = {w for w in stems(own) if w not in _GENERIC_QUERY_WORDS and len(w) > 2}
    if words - snapshot.recommendation_set.all_words():
        return []  # a subject the brief never mentions ("softwood lumber") has no recommendation
    topics, mechanisms = _labels(english)
    if topics or mechanisms:
        scored = []
        for r in recs:
            score = sum(r.topic_scores.get(t, 0.0) for t in topics)
            score += sum(3.0 for m in mechanisms if m in r.mechanisms)
            if score:
                scored.append((score, r))
        best = max((x[0] for x in scored), default=0.0)
        # a topic named only in passing in another recommendation's argument is not a recommendation on it
        return [r for score, r in sorted(scored, key=lambda x: -x[0]) if score >= 0.2 * best]
    if not words:
        return list(recs)
    scored = []
    for r in recs:
        have = set(stems(f"{r.title} {r.text} {r.rationale}"))
        share = len(words & have) / len(words)
        if share >= 0.5:
            scored.append((share, r))
    return [r for _, r in sorted(scored, key=lambda x: -x[0])]


def _english(text: str) -> str:
    """Spanish text (or a single accented Spanish word such as "energía") with its English gloss."""
    spanish = detect_language(text) in GLOSSED or re.search(r"[áéíóúñ¿¡]", text, re.I)
    return f"{text} {english_gloss(text)}" if spanish else text


def _labels(text: str) -> tuple[list[str], list[str]]:
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


_REC_QUESTION = re.compile(
    r"\brecommend\w*|\bpropos\w*|\bsuggest\w*|\badvi[sc]\w*|\bway ahead\b|\bway forward\b|"
    r"\bwhat should (?:the u\.?s\.?|the united states|washington|the administration|the us)\b[^?]*\bdo\b|"
    r"\brecomien\w*|\brecomend\w*|\bpropone\w*|\bpropuesta\w*|\bsugier\w*|\bsugerenc\w*|\baconseja\w*|"
    r"\bque deberia\w* hacer\b",
    re.I,
)
# The brief as the one who recommends ...
_BRIEF_AGENT = re.compile(r"\b(?:brief|(?:the|this) report|author|quincy|sankaran|informe|autor|documento)\b", re.I)
# ... and others whose proposals and recommendations are not the brief's (the USTR's report to
# Congress, Mexico's proposal on semiconductors, the UAW's demands).
_OTHER_AGENT = re.compile(
    r"\b(?:ustr|trade representative|president|congress|committee|commission|secretary|board|law|statute|"
    r"section|§|article|annex|proclamation|mexico|canada|oecd|uaw|union|sheinbaum|trump|greer|ebrard|"
    r"representante|presidenta?|congreso|comite|ley|mexico|canada)\b",
    re.I,
)
_TOPIC_AFTER = re.compile(
    r"\b(?:on|about|regarding|concerning|for|in|sobre|en|acerca de|respecto a|respecto de|en materia de|para)\s+"
    r"(?:the\s+|el\s+|la\s+|los\s+|las\s+)?(.+?)\s*[?.!]*$",
    re.I,
)


def is_recommendation_question(question: str) -> str | None:
    """The topic of a question that asks what the brief recommends ("all" when it names none);
    None when the question is not about the brief's recommendations."""
    q = question.strip()
    folded = fold(q)
    if not _REC_QUESTION.search(folded):
        return None
    if not _BRIEF_AGENT.search(folded) and _OTHER_AGENT.search(folded):
        return None  # someone else's recommendation or proposal
    english = _english(q)
    topics, mechanisms = _labels(english)
    if topics or mechanisms:
        return (topics + mechanisms)[0]
    m = _TOPIC_AFTER.search(_REC_QUESTION.split(folded, maxsplit=1)[-1])
    if m:
        phrase = m.group(1).strip()
        rest = [w for w in re.findall(r"[\w'’.-]+", fold(phrase)) if w not in _GENERIC_QUERY_WORDS]
        if rest:
            return phrase
    return "all"


# ---- the chat's answer ------------------------------------------------------------------------

MAX_IN_ANSWER = 5


def summary_answer(question: str, snapshot: Snapshot) -> Answer:
    """A cited summary of the brief's recommendations on the question's topic, or an abstention
    when the brief recommends nothing on it."""
    topic = is_recommendation_question(question) or question
    recs = recommendations_for("" if topic == "all" else topic, snapshot)[:MAX_IN_ANSWER]
    if not recs:
        return Answer(question, NO_RECOMMENDATION, [], True, [], backend="recommendations",
                      standalone_question=question)
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    retrieved: list[ScoredChunk] = []

    def cite(p: RecommendationPassage, quotes: dict[str, list[str]]) -> int:
        if p.chunk_id not in numbers:
            numbers[p.chunk_id] = len(numbers) + 1
            quotes[p.chunk_id] = []
        if p.quote not in quotes[p.chunk_id]:
            quotes[p.chunk_id].append(p.quote)
        return numbers[p.chunk_id]

    quotes: dict[str, list[str]] = {}
    sentences: list[str] = []
    said: set[str] = set()
    detail = len(recs) <= 2
    for r in recs:
        statement = next((p for p in r.passages if p.role in ("recommendation", "summary")), r.passages[0])
        marks = [cite(statement, quotes)]
        summary = next((p for p in r.passages if p.role == "summary" and p is not statement), None)
        if summary is not None:
            marks.append(cite(summary, quotes))
        body = _sentence_body(statement.quote, r)
        if body not in said:
            said.add(body)
            sentences.append(f"{body} {_marks(marks)}.")
        if (detail or (r is recs[0] and topic != "all")) and summary is not None:
            # the executive summary often words it more concretely ("... in Mexico's renewable
            # energy sector"; "... such as tourism and healthcare"): quote what it adds
            extra = _sentence_body(summary.quote, r)
            if extra not in said and _new_words(extra, body):
                said.add(extra)
                sentences.append(f"Executive summary: {extra} {_marks([cite(summary, quotes)])}.")
        argument = next((p for p in r.passages if p.role == "argument"), None)
        if detail and argument is not None and r.source != SUMMARY:
            first = _first_sentence(argument.quote)
            if first not in said:
                said.add(first)
                sentences.append(f"{first} {_marks([cite(argument, quotes)])}.")
    text = " ".join(sentences)
    for cid, n in sorted(numbers.items(), key=lambda kv: kv[1]):
        chunk = snapshot.chunks[cid]
        citations.append(build_citation(n, chunk, quotes[cid], snapshot.sources))
        retrieved.append(ScoredChunk(chunk=chunk, score=1.0 / n, rank=n))
    return Answer(question, text, citations, False, retrieved, backend="recommendations",
                  standalone_question=question)


def _sentence_body(quote: str, rec: Recommendation) -> str:
    """The statement as quoted; an item of a series ("could be used to A; B; and C") as its own
    clause, so the answer says which item is on the topic."""
    body = collapse(strip_footnote_marks(BULLET.sub("", quote))).rstrip(" .;,")
    if rec.source == IN_TEXT and len(rec.text) < len(body):
        return capitalize(rec.text.rstrip(" .;,"))
    return capitalize(body)


def _new_words(text: str, than: str) -> set[str]:
    """Content words of `text` that `than` does not use, even in another form ("Mexican" is
    "Mexico" in other words: same first five letters)."""
    known = {w[:5] for w in stems(than)}
    return {w for w in stems(text) if w[:5] not in known}


def _first_sentence(quote: str) -> str:
    spans = split_sentences(quote)
    first = quote[spans[0][0] : spans[0][1]] if spans else quote
    return collapse(strip_footnote_marks(BULLET.sub("", first))).rstrip(" .;,")


def _marks(numbers: list[int]) -> str:
    return "".join(f"[{n}]" for n in dict.fromkeys(numbers))
