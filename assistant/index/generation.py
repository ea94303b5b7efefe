"""What a new index generation holds: the documents' manifest entries, their chunks with sentence
vectors, the brief's footnote sources and its recommendation records.

Kept documents carry their chunks and vectors over from the current generation; parsed ones bring
new ones. The recommendations of a brief are extracted again only when its passages (or the code
or model that makes them) changed; otherwise the stored records are reused.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import numpy as np

from assistant.domain import Chunk, SourceRef
from assistant.index.manifest import DocumentEntry
from assistant.index.plan import Plan, code_version
from assistant.index.recommendation_set import RecommendationSet
from assistant.index.store import Snapshot
from assistant.index.upsert import Sentences
from assistant.ingest.base import ParsedDocument
from assistant.ingest.recommendations import assemble, brief_chunks, brief_vocabulary, extract_document


def document_entries(
    plan: Plan,
    old_docs: dict[str, DocumentEntry],
    parsed: dict[str, ParsedDocument],
    removed: set[str],
    lexical_only: set[str],
) -> dict[str, DocumentEntry]:
    """The manifest's documents after this run: kept ones, plus an entry per parsed file."""
    new_docs = {doc_id: d for doc_id, d in old_docs.items() if doc_id not in removed and doc_id not in parsed}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for t in plan.tasks:
        p = parsed.get(t.doc_id)
        if p is None or t.action == "duplicate":
            continue
        new_docs[t.doc_id] = DocumentEntry(
            id=t.doc_id,
            path=str(t.path),
            abs_path=str(t.path.resolve()),
            sha256=t.sha256,
            title=p.info.title or t.path.stem,
            kind=p.info.kind,
            url=p.info.url,
            publisher=p.info.publisher,
            date=p.info.date,
            parser=p.info.parser,
            footnotes=list(p.info.footnotes),
            chunks=len(p.chunks),
            chunk_ids=[c.id for c in p.chunks],
            dense=p.info.kind not in lexical_only,
            indexed_at=now,
            warnings=p.warnings,
        )
    for t in plan.tasks:  # an unchanged document may have moved between corpus folders
        if t.action == "unchanged" and t.doc_id in new_docs:
            old = new_docs[t.doc_id]
            new_docs[t.doc_id] = DocumentEntry.from_dict(
                {**old.to_dict(), "path": str(t.path), "abs_path": str(t.path.resolve())}
            )
    return new_docs


def kept_chunks(
    old_docs: dict[str, DocumentEntry], parsed: dict[str, ParsedDocument], removed: set[str], current: Snapshot
) -> list[Chunk]:
    """The chunks of the documents a run keeps as they were (neither parsed again nor removed)."""
    return [
        current.chunks[cid]
        for doc_id, d in sorted(old_docs.items())
        if doc_id not in parsed and doc_id not in removed
        for cid in d.chunk_ids
        if cid in current.chunks
    ]


def collect_chunks(
    docs: dict[str, DocumentEntry],
    parsed: dict[str, ParsedDocument],
    current: Snapshot,
    sentences: Sentences,
    warnings: list[str],
) -> list[Chunk]:
    """Every chunk of the new generation, document by document; kept documents bring their
    sentence vectors into `sentences`. A kept document whose chunks cannot be read from the
    current generation (damaged) is dropped from `docs`, with a warning."""
    chunks: list[Chunk] = []
    for doc_id in sorted(docs):
        if doc_id in parsed:
            chunks.extend(parsed[doc_id].chunks)
            continue
        kept = [current.chunks[c] for c in docs[doc_id].chunk_ids if c in current.chunks]
        if len(kept) != len(docs[doc_id].chunk_ids):
            warnings.append(
                f"{doc_id}: dropped; its indexed chunks could not be read and its file "
                f"{docs[doc_id].path} could not be parsed again"
            )
            del docs[doc_id]
            continue
        chunks.extend(kept)
        for c in kept:
            sentences[c.id] = current.sentences(c.id)
    return chunks


def footnote_sources(
    parsed: dict[str, ParsedDocument], previous: dict[int, SourceRef], docs: dict[str, DocumentEntry]
) -> dict[int, SourceRef]:
    """Footnote sources of the brief, linked to corpus documents that are their text."""
    refs: dict[int, SourceRef] = {}
    brief_parsed = [p for p in parsed.values() if p.sources]
    if brief_parsed:
        refs = {s.footnote: s for s in brief_parsed[0].sources}
    elif any(d.kind == "brief" for d in docs.values()):
        refs = dict(previous)
    by_footnote = {n: doc_id for doc_id, d in docs.items() for n in d.footnotes}
    out = {}
    for n, s in refs.items():
        linked = by_footnote.get(n, "")
        out[n] = SourceRef(**{**s.__dict__, "document_id": linked})
    return out


def recommendations(
    chunks: list[Chunk], sentences: Sentences, previous: RecommendationSet, embedding_model: str
) -> tuple[RecommendationSet, list[str]]:
    """The recommendation records of every brief among `chunks`, and the briefs whose records
    were extracted (rather than reused from `previous`)."""
    briefs = brief_chunks(chunks)

    def indexed_sentences(chunk_id: str) -> tuple[list[tuple[int, int]], np.ndarray] | None:
        if chunk_id not in sentences:
            return None
        spans, vecs = sentences[chunk_id]
        # as a reader sees them: the generation stores sentence vectors as float16
        return spans, np.asarray(vecs).astype(np.float16).astype(np.float32)

    out = RecommendationSet()
    per_document = []
    extracted = []
    for doc_id in sorted(briefs):
        key = _fingerprint(briefs[doc_id], embedding_model)
        if previous.keys.get(doc_id) == key:
            records = previous.of_document(doc_id)
        else:
            records = extract_document(briefs[doc_id], indexed_sentences)
            extracted.append(doc_id)
        per_document.append(records)
        out.keys[doc_id] = key
        out.vocabulary[doc_id] = brief_vocabulary(briefs[doc_id])
    out.records = assemble(per_document)
    return out, extracted


def _fingerprint(chunks: list[Chunk], embedding_model: str) -> str:
    """Changes when the brief's passages, the extracting code or the embedding model change."""
    h = hashlib.sha256(f"{code_version()}\n{embedding_model}\n".encode())
    for c in chunks:
        h.update(json.dumps(c.to_dict(), sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()[:24]
