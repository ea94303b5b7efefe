"""The brief's recommendations as structured records, extracted by rules from its parsed passages.

Run by the indexer when a brief is (re)parsed; the records are stored with the index generation and
question time only looks them up (assistant/answer/recommend.py). Found in three places:

1. Executive summary: a lead-in "... recommends that ...:" followed by bullets, one record each.
2. The recommendations section (heading says "recommendation" or "way ahead/forward"): each
   imperative heading ("Recognize ...", "Use ...") or line followed by bullets is one record; its
   bullets are the argument (rationale).
3. In the text: sentences outside quotations that match the recommendation patterns ("should
   consider", "the U.S. should", "could be used to", "could become a point of agreement", "would
   ideally", "there is a strong case for"). A series after "could be used to" ("bolster ...; deepen
   ...; and incentivize ...") gives one record per item; lead-ins that only announce a list ("should
   consider the following steps") are skipped.

Topics and treaty mechanisms come from keyword rules kept as data (data/recommendation_topics.json).
A summary bullet and a recommendations-section heading that state the same idea are merged
(content-word overlap plus the cosine of their index-time sentence vectors, greedy one-to-one
matching); in-text items are linked (`related`) to merged records sharing a specific topic or
mechanism.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.domain import Chunk
from assistant.textutil import collapse, content_words, split_sentences, strip_footnote_marks

SUMMARY, WAY_AHEAD, IN_TEXT = "executive summary", "the way ahead", "in text"
LEXICON_FILE = Path(__file__).with_name("data") / "recommendation_topics.json"
# A chunk id -> (sentence spans of its text, their vectors), or None when the index has none.
SentenceLookup = Callable[[str], "tuple[list[tuple[int, int]], np.ndarray] | None"]

# ---- lexicons (data/recommendation_topics.json) -------------------------------------------------

_LEXICON: dict[str, Any] = json.loads(LEXICON_FILE.read_text(encoding="utf-8"))
# Topic -> pattern over the recommendation's words, in display order for ties.
TOPICS: dict[str, str] = {k: "|".join(v) for k, v in _LEXICON["topics"].items()}
# Treaty mechanisms the recommendation relies on.
MECHANISMS: dict[str, str] = {k: "|".join(v) for k, v in _LEXICON["mechanisms"].items()}
RECOMMENDATION_PATTERNS: dict[str, str] = {k: "|".join(v) for k, v in _LEXICON["recommendation_patterns"].items()}
TOPIC_RE = {k: re.compile(v, re.I) for k, v in TOPICS.items()}
MECHANISM_RE = {k: re.compile(v, re.I) for k, v in MECHANISMS.items()}
# Words a question uses for a topic or mechanism that the lexicons above do not spell the same way.
TOPIC_ALIASES: dict[str, str] = dict(_LEXICON["question_aliases"])
# Specific enough to link an in-text item to a summary / way-ahead record.
LINKING = frozenset(_LEXICON["linking"])
_IMPERATIVES = frozenset(_LEXICON["imperatives"])
_NOMINAL: dict[str, str] = dict(_LEXICON["nominalizations"])

_PATTERN_RE = {k: re.compile(v, re.I) for k, v in RECOMMENDATION_PATTERNS.items()}
_LIST_LEAD_IN = re.compile(r"\bthe following\b|:\s*$", re.I)
_SUMMARY_LEAD_IN = re.compile(r"\brecommends? that\b[^.]*:\s*$|\brecommendations? (?:are|is)\b[^.]*:\s*$", re.I)
_RECS_SECTION = re.compile(r"recommendation|way ahead|way forward|policy options", re.I)
BULLET = re.compile(r"^\s*[•\-*]\s*")
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
_ANAPHORA = re.compile(r"^(?:This|These|Such|That)\b|\b(?:this|these|such) (?:direction|approach|strategy|steps?|"
                       r"goals?|way|outcomes?)\b")


# ---- records ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecommendationPassage:
    """A passage that states or argues a recommendation, with the exact sentences quoted."""

    chunk_id: str
    location: str
    quote: str
    role: str  # "recommendation" | "summary" | "argument"


@dataclass
class Recommendation:
    id: str
    title: str
    text: str  # the recommendation as the brief states it
    rationale: str  # the brief's argument for it
    topics: list[str]
    mechanisms: list[str]
    passages: list[RecommendationPassage]
    source: str  # where it is stated most fully: "the way ahead" | "executive summary" | "in text"
    sources: list[str] = field(default_factory=list)  # every place it is stated (after merging)
    related: list[str] = field(default_factory=list)  # ids of records stating a close idea
    topic_scores: dict[str, float] = field(default_factory=dict, repr=False)
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)  # the statement's index vector
    document_id: str = field(default="", repr=False)  # the brief it comes from

    def to_dict(self) -> dict[str, Any]:
        """What users see (`recommend --json`)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in ("id", "title", "text", "rationale")}
        out.update({k: list(getattr(self, k)) for k in ("topics", "mechanisms")}, source=self.source)
        out.update({k: list(getattr(self, k)) for k in ("sources", "related")})
        return {**out, "citations": [asdict(p) for p in self.passages]}

    def to_json(self) -> dict[str, Any]:
        """Everything the index stores (all but the vector, which only merging uses)."""
        return {**self.to_dict(), "topic_scores": dict(self.topic_scores), "document_id": self.document_id}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Recommendation:
        return cls(
            id=d["id"], title=d["title"], text=d["text"], rationale=d["rationale"], topics=list(d["topics"]),
            mechanisms=list(d["mechanisms"]), passages=[RecommendationPassage(**p) for p in d["citations"]],
            source=d["source"], sources=list(d["sources"]), related=list(d["related"]),
            topic_scores={k: float(v) for k, v in d.get("topic_scores", {}).items()},
            document_id=d.get("document_id", ""),
        )


@dataclass
class _Unit:
    """One sentence or bullet of a brief passage, with its place."""

    chunk: Chunk
    start: int
    end: int
    text: str
    bullet: bool
    first_in_chunk: bool
    vector: np.ndarray | None = None

    @property
    def plain(self) -> str:
        return collapse(strip_footnote_marks(BULLET.sub("", self.text)))


# ---- extraction -------------------------------------------------------------------------------


def extract_recommendations(chunks: Iterable[Chunk], sentences: SentenceLookup | None = None) -> list[Recommendation]:
    """Every recommendation of the brief passages among `chunks`, numbered and linked."""
    briefs = brief_chunks(chunks)
    return assemble([extract_document(briefs[d], sentences) for d in sorted(briefs)])


def brief_chunks(chunks: Iterable[Chunk]) -> dict[str, list[Chunk]]:
    """The passages of each brief among `chunks`, by document id, in the order given."""
    briefs: dict[str, list[Chunk]] = {}
    for c in chunks:
        if c.kind == "brief":
            briefs.setdefault(c.document_id, []).append(c)
    return briefs


def extract_document(chunks: list[Chunk], sentences: SentenceLookup | None = None) -> list[Recommendation]:
    """One brief's recommendations, unnumbered and unlinked (see `assemble`)."""
    units = _units(sorted(chunks, key=lambda c: c.position), sentences)
    used: set[int] = set()
    summary = _summary_items(units, used)
    way_ahead = _way_ahead_items(units, used)
    merged = _merge(summary, way_ahead)
    in_text = _in_text_items(units, used)
    out = merged + in_text
    for r in out:
        r.document_id = chunks[0].document_id if chunks else ""
    return out


def assemble(per_document: list[list[Recommendation]]) -> list[Recommendation]:
    """Number the records of all briefs (in document order) and link related ones."""
    out = [r for recs in per_document for r in recs]
    for i, r in enumerate(out, start=1):
        r.id = f"rec-{i:02d}-{_slug(r.title)}"
    _link(out)
    return out


def brief_vocabulary(chunks: Iterable[Chunk]) -> frozenset[str]:
    """The content words (stemmed) of a brief's passages."""
    return frozenset(w for c in chunks for w in stems(c.text))


def stems(text: str) -> list[str]:
    return [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in content_words(text)]


def _units(chunks: list[Chunk], sentences: SentenceLookup | None) -> list[_Unit]:
    """Sentences and bullets in reading order; text repeated by overlapping chunks is kept once."""
    seen: set[str] = set()
    units: list[_Unit] = []
    for c in chunks:
        if c.meta.get("table") or c.meta.get("note"):
            continue  # figures and the notes (the sources the brief cites) recommend nothing
        indexed = sentences(c.id) if sentences is not None else None
        spans, vecs = indexed if indexed is not None else (split_sentences(c.text), None)
        for i, (a, b) in enumerate(spans):
            text = c.text[a:b]
            key = collapse(strip_footnote_marks(text)).lower()
            if not key or key in seen:
                continue
            seen.add(key)
            vec = vecs[i] if vecs is not None and i < len(vecs) else None
            units.append(_Unit(c, a, b, text, bool(BULLET.match(text)), i == 0, vec))
    return units


def _summary_items(units: list[_Unit], used: set[int]) -> list[Recommendation]:
    out: list[Recommendation] = []
    for i, u in enumerate(units):
        if not _SUMMARY_LEAD_IN.search(u.plain) or u.bullet:
            continue
        used.add(i)
        j = i + 1
        while j < len(units) and units[j].bullet and units[j].chunk.section == u.chunk.section:
            b = units[j]
            used.add(j)
            statement = b.plain.rstrip(";.,")
            rec = _record(
                title=capitalize(statement),
                text=statement,
                rationale=u.plain,
                passages=[_passage(b, "summary"), _passage(u, "argument")],
                source=SUMMARY,
            )
            rec.vector = b.vector
            out.append(rec)
            j += 1
    return out


def _way_ahead_items(units: list[_Unit], used: set[int]) -> list[Recommendation]:
    out: list[Recommendation] = []
    i = 0
    while i < len(units):
        u = units[i]
        if i in used or u.bullet or not _RECS_SECTION.search(u.chunk.section) or not _is_heading(units, i):
            i += 1
            continue
        used.add(i)
        j = i + 1
        argument: list[_Unit] = []  # everything up to the next heading of the section
        while j < len(units) and units[j].chunk.section == u.chunk.section and (
            units[j].bullet or not _is_heading(units, j)
        ):
            argument.append(units[j])
            used.add(j)
            j += 1
        heading = u.plain.rstrip(".")
        rec = _record(
            title=heading,
            text=heading,
            rationale=" ".join(a.plain for a in argument),
            passages=[_passage(u, "recommendation")] + _grouped_passages(argument, "argument"),
            source=WAY_AHEAD,
        )
        rec.vector = u.vector
        out.append(rec)
        i = j
    return out


def _is_heading(units: list[_Unit], i: int) -> bool:
    """An imperative line, or a short line whose next unit is a bullet (the argument)."""
    u = units[i]
    words = u.plain.split()
    if not words or len(words) > 45 or u.plain.endswith(":"):
        return False
    followed_by_bullet = i + 1 < len(units) and units[i + 1].bullet
    imperative = words[0].lower().strip(",") in _IMPERATIVES
    return (imperative and (u.first_in_chunk or followed_by_bullet)) or (followed_by_bullet and u.first_in_chunk)


def _in_text_items(units: list[_Unit], used: set[int]) -> list[Recommendation]:
    out: list[Recommendation] = []
    for i, u in enumerate(units):
        if i in used or u.chunk.section.lower().startswith(("about", "cover")):
            continue
        plain = u.plain
        masked = _QUOTED.sub(lambda m: " " * len(m.group(0)), plain)
        hits = [name for name, rx in _PATTERN_RE.items() if rx.search(masked)]
        if not hits or _LIST_LEAD_IN.search(masked):
            continue
        prev = units[i - 1] if i > 0 and units[i - 1].chunk.section == u.chunk.section else None
        nxt = units[i + 1] if i + 1 < len(units) and units[i + 1].chunk.section == u.chunk.section else None
        context = [prev] if prev is not None and (_ANAPHORA.search(plain) or not nxt) else []
        follow = [nxt] if nxt is not None and re.match(r"(?:Such|This|These)\b", nxt.plain) else []
        rationale_units = context + follow or ([prev] if prev is not None else [])
        rationale = " ".join(x.plain for x in rationale_units)
        passages = [_passage(u, "recommendation")] + [_passage(x, "argument") for x in rationale_units]
        lead = " ".join(x.plain for x in context)
        for title, clause in _statements(plain, hits[0]):
            text = f"{lead} {clause}".strip() if lead else clause
            out.append(_record(title=title, text=text, rationale=rationale, passages=passages, source=IN_TEXT))
    return out


def _statements(sentence: str, pattern: str) -> list[tuple[str, str]]:
    """(title, statement) pairs of one recommendation sentence; a series gives one pair per item."""
    s = sentence.rstrip(".")
    if pattern in ("could be used to", "could be employed"):
        m = _PATTERN_RE[pattern].search(s)
        assert m is not None
        subject = _subject(s[: m.start()], s)
        verb = "Use" if pattern == "could be used to" else "Employ"
        rest = s[m.end() :].strip()
        items = [x.strip() for x in re.split(r";\s*(?:and\s+)?", rest) if x.strip()]
        sep = " to " if verb == "Use" else " "
        if len(items) == 1:
            return [(f"{verb} {subject}{sep}{_main_clause(items[0])}", s)]
        said = s[: m.end()].strip()
        return [(f"{verb} {subject}{sep}{_main_clause(item)}", f"{said} {item}") for item in items]
    if pattern == "point of agreement":
        m = _PATTERN_RE[pattern].search(s)
        assert m is not None
        subject = s[: m.start()].strip()
        subject = subject.rsplit(", ", 1)[-1] if ", " in subject else subject
        nm = re.match(r"(?:an?|the)\s+(\w+)\s+of\s+(.*)$", subject, re.I)
        if nm and nm.group(1).lower() in _NOMINAL:
            title = f"{_NOMINAL[nm.group(1).lower()]} {nm.group(2)}"
        else:
            title = capitalize(subject)
        return [(title, s)]
    if pattern == "ideally":
        m = re.search(r"\bwould(?: ideally)?\s+(.*)$", s)
        if m and re.match(r"Ideally\b", s):
            return [(capitalize(_main_clause(m.group(1))), s)]
        return [(_shorten(s), s)]
    return [(_shorten(s), s)]


def _subject(before: str, sentence: str) -> str:
    """The thing that "could be used": the noun phrase before the pattern, or, for "a mechanism
    that", the treaty mechanism the sentence names."""
    subj = before.strip().rstrip(",")
    subj = subj.rsplit(", ", 1)[-1] if ", " in subj else subj
    if re.search(r"\b(?:that|which)$", subj) or re.match(r"(?:a|the) (?:mechanism|tool|provision)\b", subj):
        for name, rx in MECHANISM_RE.items():
            if rx.search(sentence):
                return name
        subj = re.sub(r"\s+(?:that|which)$", "", subj)
    if len(subj) > 1 and subj[0].isupper() and subj[1].islower():
        subj = subj[0].lower() + subj[1:]
    return subj


def _main_clause(text: str) -> str:
    """A clause without its trailing relative or causal clause ("..., where gains ...")."""
    return re.split(r",\s+(?:where|which|because|since|as|thus|so that)\b", text, maxsplit=1)[0].strip()


def _shorten(text: str, words: int = 24) -> str:
    w = text.split()
    return " ".join(w[:words]) + ("…" if len(w) > words else "")


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _slug(text: str) -> str:
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(ch))
    words = [w for w in re.findall(r"[a-z0-9]+", folded) if w not in {"the", "a", "an", "of", "to", "and", "in"}]
    return "-".join(words[:5]) or "recommendation"


def _passage(u: _Unit, role: str) -> RecommendationPassage:
    return RecommendationPassage(u.chunk.id, u.chunk.location, u.text.strip(), role)


def _grouped_passages(units: list[_Unit], role: str) -> list[RecommendationPassage]:
    """Consecutive units of one chunk quoted together (the quote stays a verbatim span)."""
    out: list[RecommendationPassage] = []
    for u in units:
        if out and out[-1].chunk_id == u.chunk.id:
            prev = out[-1]
            c = u.chunk
            a = c.text.find(prev.quote)
            if a >= 0 and a + len(prev.quote) <= u.start:
                out[-1] = RecommendationPassage(prev.chunk_id, prev.location, c.text[a : u.end].strip(), role)
                continue
        out.append(_passage(u, role))
    return out


def _record(*, title: str, text: str, rationale: str, passages: list[RecommendationPassage],
            source: str) -> Recommendation:
    title = collapse(title).rstrip(" .;,")
    rec = Recommendation(
        id="", title=title, text=collapse(text), rationale=collapse(rationale), topics=[], mechanisms=[],
        passages=passages, source=source, sources=[source],
    )
    _classify(rec)
    return rec


def _classify(rec: Recommendation) -> None:
    """Topics scored by where their keywords occur (statement 2, argument 1); mechanisms by presence."""
    scores: dict[str, float] = {}
    for name, rx in TOPIC_RE.items():
        s = 2.0 * len(rx.findall(rec.title + " " + rec.text)) + 1.0 * len(rx.findall(rec.rationale))
        if s:
            scores[name] = s
    order = list(TOPICS)
    rec.topic_scores = scores
    rec.topics = sorted(scores, key=lambda t: (-scores[t], order.index(t)))
    both = f"{rec.title} {rec.text} {rec.rationale}"
    rec.mechanisms = [name for name, rx in MECHANISM_RE.items() if rx.search(both)]


def _merge(summary: list[Recommendation], way_ahead: list[Recommendation]) -> list[Recommendation]:
    """One record per idea: each summary bullet joins the way-ahead heading that states it."""
    pairs = []
    for i, s in enumerate(summary):
        for j, w in enumerate(way_ahead):
            pairs.append((_similarity(s, w) + (0.05 if i == j else 0.0), i, j))
    taken_s: set[int] = set()
    taken_w: set[int] = set()
    match: dict[int, int] = {}
    for score, i, j in sorted(pairs, reverse=True):
        if score < 0.5 or i in taken_s or j in taken_w:
            continue
        taken_s.add(i)
        taken_w.add(j)
        match[j] = i
    out: list[Recommendation] = []
    for j, w in enumerate(way_ahead):
        if j in match:
            s = summary[match[j]]
            w.passages = w.passages + [p for p in s.passages if p.role == "summary"]
            w.sources = [WAY_AHEAD, SUMMARY]
            w.text = f"{w.text}. Summary: {s.text}."
            _classify(w)
        out.append(w)
    out.extend(s for i, s in enumerate(summary) if i not in taken_s)
    return out


def _similarity(a: Recommendation, b: Recommendation) -> float:
    """Content-word overlap (share of the shorter statement) and the cosine of the index's vectors."""
    wa, wb = set(stems(a.title)), set(stems(b.title))
    lexical = len(wa & wb) / max(1, min(len(wa), len(wb)))
    va, vb = a.vector, b.vector
    if va is None or vb is None:
        return lexical
    cosine = float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb) + 1e-9))
    return 0.5 * lexical + 0.5 * cosine


def _link(recs: list[Recommendation]) -> None:
    """In-text items point to the stated recommendations they echo, and back."""
    main = [r for r in recs if r.source != IN_TEXT]
    for r in recs:
        if r.source != IN_TEXT:
            continue
        mine = _key_labels(r, statement_only=True)
        for m in main:
            if mine & _key_labels(m, statement_only=False):
                r.related.append(m.id)
                m.related.append(r.id)


def _key_labels(r: Recommendation, *, statement_only: bool) -> set[str]:
    """Specific topics and mechanisms; for an in-text item only those of its own statement."""
    if statement_only:
        text = r.title
        labels = {t for t, rx in TOPIC_RE.items() if rx.search(text)}
        labels |= {m for m, rx in MECHANISM_RE.items() if rx.search(text)}
    else:
        labels = {t for t in r.topics if r.topic_scores.get(t, 0) >= 2} | set(r.mechanisms)
    return labels & LINKING
