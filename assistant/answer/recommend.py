"""The brief's recommendations as structured records, extracted by code from the indexed brief.

A negotiator asks "what does the brief recommend on energy?" and wants every recommendation on it
with the passages that state and argue it. Recommendations are found in three places, by rules:

1. Executive summary: a lead-in sentence "... recommends that ...:" followed by bullet items; each
   bullet is one recommendation.
2. The recommendations section (a section whose heading says "recommendation" or "way ahead/
   forward"): each imperative heading ("Recognize ...", "Use ...", "Encourage ...") or line followed
   by bullets is one recommendation; its bullets are the argument (rationale).
3. In the text: sentences outside quotations that match `RECOMMENDATION_PATTERNS` ("should
   consider", "the U.S. should", "could be used to", "could be employed", "could become a point of
   agreement", "would ideally", "ideally ... would", "there is a strong case for"). A series after
   "could be used to" ("bolster ...; deepen ...; and incentivize ...") gives one record per item.
   Lead-ins that only announce a list ("should consider the following steps") are skipped.

Topics and treaty mechanisms come from keyword rules (`TOPICS`, `MECHANISMS`, regular expressions
over the recommendation's text and argument). A summary bullet and a heading of the
recommendations section that state the same idea are merged (content-word overlap plus the cosine
of their index-time sentence vectors, greedy one-to-one matching); in-text items are linked
(`related`) to the merged records that share a specific topic or mechanism.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from assistant.answer.citations import build_citation, location
from assistant.domain import Answer, Chunk, Citation, ScoredChunk
from assistant.index.store import Snapshot
from assistant.retrieve.translate import english_gloss, fold, question_language
from assistant.textutil import collapse, content_words, split_sentences, strip_footnote_marks

SUMMARY, WAY_AHEAD, IN_TEXT = "executive summary", "the way ahead", "in text"
NO_RECOMMENDATION = "The brief makes no recommendation on this."

# ---- lexicons (documented rules) --------------------------------------------------------------

# Topic -> pattern over the recommendation's words. Order is the display order for ties.
TOPICS: dict[str, str] = {
    "energy": r"\benergy\b|\belectric\w*|\boil\b|\bpetroleum\b|\bnatural gas\b|\brenewab\w*|\bpower sector\b|"
    r"\bPEMEX\b|\bCFE\b|\bgrid\b|\bclimate\b",
    "labor": r"\blabou?r\b|\bworkers?\b|\bwages?\b|\bunions?\b|\bemployment\b|\bjobs?\b|\bwell-being\b|\bworking class\b",
    "autos": r"\bauto(?:s|mobiles?|motive)?\b|\bvehicles?\b|\bcars?\b|\bcarmakers?\b|\bautomakers?\b",
    "services": r"\bservices\b|\bentertainment\b|\bretail\b|\btourism\b|\bhealthcare\b|\bnontradeable\b",
    "security": r"\bsecurity\b|\bsecure\b|\bcartels?\b|\bcrime\b|\bnarcotics?\b|\bfentanyl\b|\bviolence\b",
    "China": r"\bChina\b|\bChinese\b",
    "technology": r"\belectronics\b|\binformation technology\b|\bsemiconductors?\b|\badvanced industries\b",
    "manufacturing": r"\bmanufactur\w*|\bindustrial\b|\breindustrializ\w*",
    "supply chains": r"\bsupply[- ]chains?\b|\bnearshor\w*|\breshor\w*",
    "investment": r"\binvest\w*",
    "trade": r"\btrade\b|\btariffs?\b|\bexports?\b|\bimports?\b|\bmarket access\b|\bmarket-opening\b",
    "diplomacy": r"\bdiploma\w*|\bSheinbaum\b|\bcompromise\b|\bdealmaking\b|\bpersuasion\b",
    "education": r"\beducat\w*|\bsocial spending\b|\bforeign aid\b",
    "migration": r"\bmigra\w*",
    "agriculture": r"\bagricultur\w*|\bfarm\w*|\bcorn\b|\bfood\b",
}
# Treaty mechanisms the recommendation relies on.
MECHANISMS: dict[str, str] = {
    "rules of origin": r"\brules? of origin\b|\bnon-USMCA content\b|\bregional value content\b",
    "high-wage / labor value content rules": r"\bminimum wage\b|\bhigh(?:er)?[- ]wage\b|\bhigher-paid workers\b|"
    r"\blabor value content\b",
    "labor provisions": r"\bprovisions on labor\b|\blabor standards\b|\blabor conditions\b",
    "Rapid Response Mechanism": r"\bRapid Response\b|\bRRM\b|\bfacility level\b",
    "Article 34.7 joint review": r"\breview\b|\b34\.7\b|\b16-year extension\b|\brenegotiation\b",
    "investor-state dispute settlement": r"\binvestor-state\b|\bISDS\b",
    "state-to-state dispute settlement": r"\bpanel decision\b|\bdispute settlement\b|\bChapter 31\b",
    "USMCA institutional mechanisms": r"\bUSMCA mechanisms\b|\binstitutional (?:features|mechanisms)\b|"
    r"\bmechanisms embedded within the treaty\b|\bUSMCA includes tools\b|\bUSMCA were used\b",
    "tariff preferences": r"\bhigher tariffs\b|\bexternal tariffs\b|\bSection 232\b",
}
_TOPIC_RE = {k: re.compile(v, re.I) for k, v in TOPICS.items()}
_MECH_RE = {k: re.compile(v, re.I) for k, v in MECHANISMS.items()}
# Words a question uses for a topic or mechanism that the lexicons above do not spell the same way.
_TOPIC_ALIASES: dict[str, str] = {
    "auto": "autos", "automotive": "autos", "car": "autos", "cars": "autos", "vehicles": "autos",
    "workers": "labor", "labour": "labor", "wages": "labor", "jobs": "labor",
    "electricity": "energy", "oil": "energy", "renewables": "energy",
    "crime": "security", "cartels": "security", "border": "security",
    "it": "technology", "electronics": "technology", "semiconductors": "technology",
    "nearshoring": "supply chains", "reshoring": "supply chains",
    "tariffs": "trade", "exports": "trade", "imports": "trade",
    "investors": "investment", "education": "education", "aid": "education",
    "rrm": "Rapid Response Mechanism", "isds": "investor-state dispute settlement",
}
# Specific enough to link an in-text item to a summary / way-ahead record.
_LINKING = {"energy", "labor", "autos", "services", "security", "China", "technology", "education",
            "migration", "agriculture", "rules of origin", "Rapid Response Mechanism",
            "high-wage / labor value content rules", "labor provisions"}

RECOMMENDATION_PATTERNS: dict[str, str] = {
    "recommends": r"\brecommends? that\b",
    "should consider": r"\bshould consider\b",
    "should": r"\b(?:the U\.S\.|the United States|Washington|the administration|the White House|policymakers|"
    r"both countries|the two countries|the parties|Mexico|it|they) (?:should|ought to)\b",
    "should be preferred": r"\bshould be preferred\b",
    "could be used to": r"\bcould be used to\b",
    "could be employed": r"\bcould be employed\b",
    "point of agreement": r"\bcould become a point of agreement\b",
    "ideally": r"\bwould ideally\b|\bIdeally, [^.]*?\bwould\b",
    "case for": r"\bthere is a (?:strong |clear |good )?(?:[\w-]+ )*?case for\b",
}
_PATTERN_RE = {k: re.compile(v, re.I) for k, v in RECOMMENDATION_PATTERNS.items()}
_LIST_LEAD_IN = re.compile(r"\bthe following\b|:\s*$", re.I)
_SUMMARY_LEAD_IN = re.compile(r"\brecommends? that\b[^.]*:\s*$|\brecommendations? (?:are|is)\b[^.]*:\s*$", re.I)
_RECS_SECTION = re.compile(r"recommendation|way ahead|way forward|policy options", re.I)
_BULLET = re.compile(r"^\s*[•\-*]\s*")
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_IMPERATIVES = _wordset(
    "recognize use encourage expand deepen build pursue support strengthen avoid leverage tailor engage promote "
    "prioritize maintain preserve seek consider work treat extend adopt create establish invest negotiate align "
    "reduce increase ensure protect develop keep launch offer press push resist restore make focus address "
    "continue coordinate incentivize bolster enhance improve limit include provide refrain revisit reform renew "
    "harmonize accept allow reject end stop start replace rethink reconsider"
)
_NOMINAL = {"extension": "Extend", "expansion": "Expand", "inclusion": "Include", "adoption": "Adopt",
            "creation": "Create", "alignment": "Align", "use": "Use", "deepening": "Deepen"}
_ANAPHORA = re.compile(r"^(?:This|These|Such|That)\b|\b(?:this|these|such) (?:direction|approach|strategy|steps?|"
                       r"goals?|way|outcomes?)\b")
_GENERIC_QUERY_WORDS = _wordset(
    "brief recommend recommends recommended recommendation recommendations propose proposes suggest suggests advise "
    "advises say says u.s us united states mexico mexican washington administration usmca what which does do should "
    "about on regarding concerning the a an of for to in and or its it brief's author way ahead policy "
    "report recomienda recomendacion recomendaciones informe"
)


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

    @property
    def chunk_ids(self) -> list[str]:
        return list(dict.fromkeys(p.chunk_id for p in self.passages))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "rationale": self.rationale,
            "topics": list(self.topics),
            "mechanisms": list(self.mechanisms),
            "source": self.source,
            "sources": list(self.sources),
            "related": list(self.related),
            "citations": [asdict(p) for p in self.passages],
        }


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
        return collapse(strip_footnote_marks(_BULLET.sub("", self.text)))


# ---- extraction -------------------------------------------------------------------------------

_cache: dict[str, list[Recommendation]] = {}
_cache_lock = threading.Lock()
_vocab_cache: dict[str, set[str]] = {}


def load_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    """Every recommendation of the indexed brief(s); computed once per index generation."""
    key = f"{snapshot.generation}:{len(snapshot.chunks)}"
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    recs = extract_recommendations(snapshot)
    with _cache_lock:
        if len(_cache) >= 4:
            _cache.pop(next(iter(_cache)))
        _cache[key] = recs
    return recs


def extract_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    briefs: dict[str, list[Chunk]] = {}
    for c in snapshot.chunks.values():
        if c.kind == "brief":
            briefs.setdefault(c.document_id, []).append(c)
    out: list[Recommendation] = []
    for doc_id in sorted(briefs):
        units = _units(sorted(briefs[doc_id], key=lambda c: c.position), snapshot)
        out.extend(_document_recommendations(units))
    for i, r in enumerate(out, start=1):
        r.id = f"rec-{i:02d}-{_slug(r.title)}"
    _link(out)
    return out


def _units(chunks: list[Chunk], snapshot: Snapshot) -> list[_Unit]:
    """Sentences and bullets in reading order; text repeated by overlapping chunks is kept once."""
    seen: set[str] = set()
    units: list[_Unit] = []
    for c in chunks:
        if c.meta.get("table") or c.meta.get("note"):
            continue  # figures and the notes (the sources the brief cites) recommend nothing
        vecs = None
        if c.id in snapshot.sentence_spans:
            spans, vecs = snapshot.sentences(c.id)
        else:
            spans = split_sentences(c.text)
        for i, (a, b) in enumerate(spans):
            text = c.text[a:b]
            key = collapse(strip_footnote_marks(text)).lower()
            if not key or key in seen:
                continue
            seen.add(key)
            vec = vecs[i] if vecs is not None and i < len(vecs) else None
            units.append(_Unit(c, a, b, text, bool(_BULLET.match(text)), i == 0, vec))
    return units


def _document_recommendations(units: list[_Unit]) -> list[Recommendation]:
    used: set[int] = set()
    summary = _summary_items(units, used)
    way_ahead = _way_ahead_items(units, used)
    merged = _merge(summary, way_ahead)
    in_text = _in_text_items(units, used)
    return merged + in_text


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
                title=_capitalize(statement),
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
            title = _capitalize(subject)
        return [(title, s)]
    if pattern == "ideally":
        m = re.search(r"\bwould(?: ideally)?\s+(.*)$", s)
        if m and re.match(r"Ideally\b", s):
            return [(_capitalize(_main_clause(m.group(1))), s)]
        return [(_shorten(s), s)]
    return [(_shorten(s), s)]


def _subject(before: str, sentence: str) -> str:
    """The thing that "could be used": the noun phrase before the pattern, or, for "a mechanism
    that", the treaty mechanism the sentence names."""
    subj = before.strip().rstrip(",")
    subj = subj.rsplit(", ", 1)[-1] if ", " in subj else subj
    if re.search(r"\b(?:that|which)$", subj) or re.match(r"(?:a|the) (?:mechanism|tool|provision)\b", subj):
        for name, rx in _MECH_RE.items():
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


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _slug(text: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", fold(text)) if w not in {"the", "a", "an", "of", "to", "and", "in"}]
    return "-".join(words[:5]) or "recommendation"


def _passage(u: _Unit, role: str) -> RecommendationPassage:
    return RecommendationPassage(u.chunk.id, location(u.chunk), u.text.strip(), role)


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
    for name, rx in _TOPIC_RE.items():
        s = 2.0 * len(rx.findall(rec.title + " " + rec.text)) + 1.0 * len(rx.findall(rec.rationale))
        if s:
            scores[name] = s
    order = list(TOPICS)
    rec.topic_scores = scores
    rec.topics = sorted(scores, key=lambda t: (-scores[t], order.index(t)))
    both = f"{rec.title} {rec.text} {rec.rationale}"
    rec.mechanisms = [name for name, rx in _MECH_RE.items() if rx.search(both)]


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
    wa, wb = set(_stems(a.title)), set(_stems(b.title))
    lexical = len(wa & wb) / max(1, min(len(wa), len(wb)))
    va, vb = a.vector, b.vector
    if va is None or vb is None:
        return lexical
    cosine = float(np.dot(va, vb) / (np.linalg.norm(va) * np.linalg.norm(vb) + 1e-9))
    return 0.5 * lexical + 0.5 * cosine


def _brief_vocabulary(snapshot: Snapshot) -> set[str]:
    key = f"vocab:{snapshot.generation}:{len(snapshot.chunks)}"
    with _cache_lock:
        if key in _vocab_cache:
            return _vocab_cache[key]
    vocab = {w for c in snapshot.chunks.values() if c.kind == "brief" for w in _stems(c.text)}
    with _cache_lock:
        _vocab_cache.clear()
        _vocab_cache[key] = vocab
    return vocab


def _stems(text: str) -> list[str]:
    return [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in content_words(text)]


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
        labels = {t for t, rx in _TOPIC_RE.items() if rx.search(text)}
        labels |= {m for m, rx in _MECH_RE.items() if rx.search(text)}
    else:
        labels = {t for t in r.topics if r.topic_scores.get(t, 0) >= 2} | set(r.mechanisms)
    return labels & _LINKING


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
    words = {w for w in _stems(own) if w not in _GENERIC_QUERY_WORDS and len(w) > 2}
    if words - _brief_vocabulary(snapshot):
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
        have = set(_stems(f"{r.title} {r.text} {r.rationale}"))
        share = len(words & have) / len(words)
        if share >= 0.5:
            scored.append((share, r))
    return [r for _, r in sorted(scored, key=lambda x: -x[0])]


def _english(text: str) -> str:
    """Spanish text (or a single accented Spanish word such as "energía") with its English gloss."""
    spanish = question_language(text) == "es" or re.search(r"[áéíóúñ¿¡]", text, re.I)
    return f"{text} {english_gloss(text)}" if spanish else text


def _labels(text: str) -> tuple[list[str], list[str]]:
    topics = [t for t, rx in _TOPIC_RE.items() if rx.search(text)]
    mechanisms = [m for m, rx in _MECH_RE.items() if rx.search(text) and m != "Article 34.7 joint review"]
    if re.search(r"\b(?:joint )?review\b|\b34\.7\b", text, re.I):
        mechanisms.append("Article 34.7 joint review")
    for word in re.findall(r"[A-Za-z]+", text):
        alias = _TOPIC_ALIASES.get(word.lower())
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
    body = collapse(strip_footnote_marks(_BULLET.sub("", quote))).rstrip(" .;,")
    if rec.source == IN_TEXT and len(rec.text) < len(body):
        return _capitalize(rec.text.rstrip(" .;,"))
    return _capitalize(body)


def _new_words(text: str, than: str) -> set[str]:
    """Content words of `text` that `than` does not use, even in another form ("Mexican" is
    "Mexico" in other words: same first five letters)."""
    known = {w[:5] for w in _stems(than)}
    return {w for w in _stems(text) if w[:5] not in known}


def _first_sentence(quote: str) -> str:
    spans = split_sentences(quote)
    first = quote[spans[0][0] : spans[0][1]] if spans else quote
    return collapse(strip_footnote_marks(_BULLET.sub("", first))).rstrip(" .;,")


def _marks(numbers: list[int]) -> str:
    return "".join(f"[{n}]" for n in dict.fromkeys(numbers))
