"""Plain domain records shared by every stage of the pipeline.

They carry no behaviour beyond (de)serialisation so that ingest, index, retrieve and answer can
exchange them without importing each other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Document kinds a negotiator filters by. User uploads get "user" unless told otherwise.
KINDS = ("brief", "treaty", "tariff", "law", "source", "user")


@dataclass(frozen=True)
class Chunk:
    """One retrievable passage with everything needed to cite it.

    `text` is the passage exactly as it is quoted to the user. `context` is a short header
    (document and section) prepended for embedding and BM25 so that a passage is found by the
    words of its heading too, without those words being quoted as if they were the passage.
    """

    id: str
    document_id: str
    title: str
    kind: str
    text: str
    position: int
    start: int  # char offsets of the passage in the document's source text
    end: int
    section: str = ""  # "Background: A deeply intertwined partnership > Mexico's Growing ..."
    label: str = ""  # citation label: "USMCA Art. 2.4.2", "19 U.S.C. § 4611(b)", "Brief, Background, p. 5"
    page: int | None = None
    footnotes: tuple[int, ...] = ()
    url: str = ""
    context: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # parser-specific: article, tariff_item, xrefs ...

    @property
    def location(self) -> str:
        """The label a negotiator pastes into a memo: "USMCA Art. 2.4", "19 U.S.C. § 4611(b)", or the
        section and page, else the title (one rule for citations, related passages and recommendations)."""
        if self.label:
            return self.label
        parts = [self.section] if self.section else []
        if self.page:
            parts.append(f"p. {self.page}")
        return ", ".join(parts) or self.title

    @property
    def search_text(self) -> str:
        """What the embedding models read: the context, any search-only terms (a tariff line's
        Harmonized System names, `meta["search_only"]`) and the passage, which ends it."""
        return "\n".join(x for x in (self.context, self.meta.get("search_only", ""), self.text) if x)

    @property
    def lexical_text(self) -> str:
        """What BM25 reads: `search_text`, with the passage as it is searched where that differs
        (`meta["searched_as"]`: a residual tariff line without the lines it excludes)."""
        body = self.meta.get("searched_as")
        if not body:
            return self.search_text
        return "\n".join(x for x in (self.context, self.meta.get("search_only", ""), body) if x)

    @property
    def read_text(self) -> str:
        """What answering and refusal read: the context and the passage, without search-only terms
        (words that find a passage but that neither it nor its heading says)."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    def to_metadata(self) -> dict[str, Any]:
        """Flat metadata for Chroma (scalars only); `from_metadata` restores the chunk."""
        return {
            "document_id": self.document_id,
            "title": self.title,
            "kind": self.kind,
            "position": self.position,
            "start": self.start,
            "end": self.end,
            "section": self.section,
            "label": self.label,
            "page": -1 if self.page is None else self.page,
            "footnotes": ",".join(str(n) for n in self.footnotes),
            "url": self.url,
            "context": self.context,
            "meta": json.dumps(self.meta, ensure_ascii=False, sort_keys=True),
        }

    @classmethod
    def from_metadata(cls, chunk_id: str, text: str, md: dict[str, Any]) -> Chunk:
        page = int(md.get("page", -1))
        fns = str(md.get("footnotes") or "")
        return cls(
            id=chunk_id,
            document_id=str(md["document_id"]),
            title=str(md.get("title", "")),
            kind=str(md.get("kind", "user")),
            text=text,
            position=int(md.get("position", 0)),
            start=int(md.get("start", 0)),
            end=int(md.get("end", 0)),
            section=str(md.get("section", "")),
            label=str(md.get("label", "")),
            page=None if page < 0 else page,
            footnotes=tuple(int(n) for n in fns.split(",") if n),
            url=str(md.get("url", "")),
            context=str(md.get("context", "")),
            meta=json.loads(md.get("meta") or "{}"),
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["footnotes"] = list(self.footnotes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        d = dict(d)
        d["footnotes"] = tuple(d.get("footnotes") or ())
        return cls(**d)


def chunk_id(content_hash: str, position: int, text: str = "") -> str:
    """Deterministic id: the same file content always yields the same ids. A short hash of the
    chunk's own text guards against reusing a stored vector after the chunker itself changed."""
    suffix = hashlib.sha1(text.encode("utf-8")).hexdigest()[:6] if text else "0"
    return f"{content_hash[:16]}-{position:05d}-{suffix}"


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class SourceRef:
    """A source the brief cites in a footnote (resolved to its first full citation)."""

    footnote: int
    text: str  # the footnote text as printed
    title: str = ""
    author: str = ""
    publisher: str = ""
    date: str = ""
    url: str = ""
    document_id: str = ""  # set when the cited source is itself in the corpus
    page: str = ""  # the page or table the footnote points at ("5", "Graph 10")
    locator: str = ""  # a finer pointer such as "Article 34.7"
    repeats: int | None = None  # a short cite ("ICO/TIVA Highlights," 2.) repeats this footnote


@dataclass(frozen=True)
class ScoredChunk:
    chunk: Chunk
    score: float  # fused score, higher is better
    dense: float | None = None  # MiniLM cosine similarity, when the MiniLM channel found it
    lexical: float | None = None  # BM25 score, when the lexical side found it
    rank: int = 0
    multilingual: float | None = None  # multilingual-model cosine, when that channel found it


@dataclass
class Citation:
    """A numbered reference under an answer: `[n]` in the text points at `number`."""

    number: int
    chunk_id: str
    document_id: str
    title: str
    kind: str
    location: str  # human label: "USMCA Art. 2.4", "Brief, Background ..., p. 5"
    quote: str  # the exact sentence(s) of the passage that support the answer
    passage: str  # the whole passage the quote comes from
    url: str = ""
    page: int | None = None
    section: str = ""
    footnotes: list[SourceRef] = field(default_factory=list)
    related: list[dict[str, str]] = field(default_factory=list)  # linked source passages, xrefs

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d


@dataclass
class SentenceSupport:
    """The verifier's judgement of one answer sentence against the passages it cites."""

    sentence: str
    citations: list[int]
    supported: bool
    score: float
    reason: str = ""


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation]
    abstained: bool
    retrieved: list[ScoredChunk]
    backend: str = "extractive"
    standalone_question: str = ""  # the question actually searched (after follow-up rewriting)
    abstain_reason: str = ""  # why the evidence was judged too weak (abstentions only)
    not_covered: list[str] = field(default_factory=list)  # parts of the question the documents do not answer
    support: list[SentenceSupport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The CLI's `ask --json` contract (other tools rely on these keys)."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question or self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "not_covered": list(self.not_covered),
            "backend": self.backend,
            "citations": [c.to_dict() for c in self.citations],
            "retrieved": [s.chunk.id for s in self.retrieved],
            "retrieved_details": [
                {
                    "rank": s.rank,
                    "chunk_id": s.chunk.id,
                    "document_id": s.chunk.document_id,
                    "location": s.chunk.label,
                    "score": round(s.score, 6),
                }
                for s in self.retrieved
            ],
            "support": [asdict(s) for s in self.support],
            "warnings": list(self.warnings),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
