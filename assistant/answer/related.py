"""Passages linked to a citation: the cited source's own words, and the articles a treaty text points to.

A negotiator checking "the relevant executive order says ...²⁹" wants the proclamation's sentence,
not only footnote 29's URL; one reading "as provided in Article 2.11" wants Article 2.11. Two links:

- footnote source: the brief passage cites footnote N and N's source is itself indexed
  (`SourceRef.document_id`). The sentence carrying the footnote mark is looked up in that document
  only: its quoted words verbatim first (the brief quotes the source), then hybrid retrieval
  restricted to the document (`Query(documents={id})`).
- cross-reference: a treaty passage names another article, annex or appendix (`meta["xrefs"]`,
  written by the treaty parser); the linked unit's first passage is found by exact key lookup
  (`Snapshot.by_key`, keys lower-cased: "2.11", "annex 2-b", "appendix 2").
"""

from __future__ import annotations

import re

from assistant.domain import Chunk, Citation, SourceRef
from assistant.index.store import Snapshot
from assistant.retrieve.analysis import identifiers_of
from assistant.retrieve.hybrid import HybridRetriever, Query
from assistant.textutil import (
    collapse,
    content_words,
    footnote_marks,
    normalize_for_match,
    split_sentences,
    strip_footnote_marks,
)

FOOTNOTE_SOURCE, CROSS_REFERENCE = "footnote source", "cross-reference"
MAX_XREFS = 4
QUOTE_WORDS = 45  # a related passage is quoted by its best sentence(s), about this long at most
_QUOTED = re.compile(r"“([^”]+)”|\"([^\"]+)\"")
_ELLIPSIS = re.compile(r"\s*(?:\.\s?\.\s?\.|…)\s*")


def related_passages(
    citation: Citation, snapshot: Snapshot, retriever: HybridRetriever | None = None
) -> list[dict[str, str]]:
    """Linked passages for one citation, footnote sources first, each as
    {"relation", "chunk_id", "document_id", "title", "location", "quote", "url", "via"}."""
    chunk = snapshot.chunks.get(citation.chunk_id)
    items = _footnote_sources(citation, chunk, snapshot, retriever)
    if chunk is not None:
        items += _cross_references(chunk, snapshot)
    seen = {citation.chunk_id}
    out = []
    for item in items:
        if item["chunk_id"] not in seen:
            seen.add(item["chunk_id"])
            out.append(item)
    return out


# ---- footnote sources -------------------------------------------------------------------------


def _footnote_sources(
    citation: Citation, chunk: Chunk | None, snapshot: Snapshot, retriever: HybridRetriever | None
) -> list[dict[str, str]]:
    refs = list(citation.footnotes)
    if not refs and chunk is not None:
        refs = [snapshot.sources[n] for n in chunk.footnotes if n in snapshot.sources]
    passage = chunk.text if chunk is not None else citation.passage
    out = []
    for ref in refs:
        if not ref.document_id or not _indexed(ref.document_id, snapshot):
            continue
        claim = _claim(passage, citation.quote, ref.footnote)
        found = _by_locator(ref, snapshot) or _by_quoted_words(claim, ref.document_id, snapshot)
        if found is None and retriever is not None:
            found = _by_retrieval(claim, ref.document_id, snapshot, retriever)
        if found is not None:
            target, quote = found
            out.append(_item(FOOTNOTE_SOURCE, target, quote, f"footnote {ref.footnote}"))
    return out


def _indexed(document_id: str, snapshot: Snapshot) -> bool:
    return document_id in snapshot.documents or any(
        c.document_id == document_id for c in snapshot.chunks.values()
    )


def _claim(passage: str, quote: str, footnote: int) -> str:
    """The sentence(s) of the passage that carry footnote `footnote`'s mark (else the quote)."""
    marked = [passage[a:b] for a, b in split_sentences(passage) if footnote in footnote_marks(passage[a:b])]
    return " ".join(marked) if marked else quote or passage


def _by_locator(ref: SourceRef, snapshot: Snapshot) -> tuple[Chunk, str] | None:
    """A footnote that names its place in the source ("Article 34.7", "clause 2") points there."""
    if not ref.locator:
        return None
    for key in identifiers_of(ref.locator):
        ids = [i for i in snapshot.by_key.get(key.lower(), []) if snapshot.chunks[i].document_id == ref.document_id]
        if ids:
            target = min((snapshot.chunks[i] for i in ids), key=lambda c: c.position)
            return target, _lead(target.text)
    return None


def _by_quoted_words(claim: str, document_id: str, snapshot: Snapshot) -> tuple[Chunk, str] | None:
    """The brief quotes its source: find the source passage that contains a quoted fragment."""
    fragments = []
    for m in _QUOTED.finditer(strip_footnote_marks(claim)):
        for part in _ELLIPSIS.split(m.group(1) or m.group(2) or ""):
            if len(part.split()) >= 4:
                fragments.append(normalize_for_match(part).strip(" .,;:"))
    if not fragments:
        return None
    chunks = sorted((c for c in snapshot.chunks.values() if c.document_id == document_id), key=lambda c: c.position)
    for fragment in sorted(fragments, key=len, reverse=True):
        for c in chunks:
            if fragment in normalize_for_match(c.text):
                return c, _sentence_with(c.text, fragment)
    return None


def _by_retrieval(
    claim: str, document_id: str, snapshot: Snapshot, retriever: HybridRetriever
) -> tuple[Chunk, str] | None:
    text = collapse(strip_footnote_marks(claim))
    hits = retriever.search(Query(text, 3, documents={document_id}))
    hits = [h for h in hits if h.chunk.document_id == document_id]
    if not hits:
        return None
    target = hits[0].chunk
    return target, _best_sentences(target.text, text)


# ---- cross-references -------------------------------------------------------------------------


def _cross_references(chunk: Chunk, snapshot: Snapshot) -> list[dict[str, str]]:
    out = []
    own = str(chunk.meta.get("key", "")).lower()
    for ref in list(chunk.meta.get("xrefs") or [])[:MAX_XREFS]:
        key = str(ref).lower()
        if key == own:
            continue
        ids = [i for i in snapshot.by_key.get(key, []) if i in snapshot.chunks and i != chunk.id]
        if not ids:
            continue
        # the unit's first passage, in the citing document when it has the unit
        target = min(
            (snapshot.chunks[i] for i in ids),
            key=lambda c: (c.document_id != chunk.document_id, c.kind == "tariff", c.position),
        )
        out.append(_item(CROSS_REFERENCE, target, _lead(target.text), str(ref)))
    return out


# ---- quoting ----------------------------------------------------------------------------------


def _item(relation: str, chunk: Chunk, quote: str, via: str) -> dict[str, str]:
    return {
        "relation": relation,
        "chunk_id": chunk.id,
        "document_id": chunk.document_id,
        "title": chunk.title,
        "location": chunk.location,
        "quote": quote,
        "url": chunk.url,
        "via": via,
    }


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)] or [text]


def _lead(text: str) -> str:
    """The passage's opening, verbatim: whole sentences up to about QUOTE_WORDS words (a paragraph
    number such as "1." is not a sentence of its own)."""
    spans = split_sentences(text)
    if not spans:
        return text.strip()
    taken = [spans[0]]
    words = len(text[spans[0][0] : spans[0][1]].split())
    for a, b in spans[1:]:
        n = len(text[a:b].split())
        if words >= 8 and words + n > QUOTE_WORDS:
            break
        taken.append((a, b))
        words += n
    while len(taken) > 1 and len(text[taken[-1][0] : taken[-1][1]].split()) < 3:
        taken.pop()  # the next paragraph's number
    return text[taken[0][0] : taken[-1][1]].strip()


def _sentence_with(text: str, fragment: str) -> str:
    for s in _sentences(text):
        if fragment in normalize_for_match(s):
            return s.strip()
    return _lead(text)


def _best_sentences(text: str, claim: str) -> str:
    """The sentence of the passage sharing the most content words with the claim."""
    want = set(content_words(claim))
    sents = _sentences(text)
    best = max(sents, key=lambda s: len(want & set(content_words(s))) / (1 + 0.01 * len(s.split())))
    return best.strip()
