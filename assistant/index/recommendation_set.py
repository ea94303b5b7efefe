"""The brief's recommendation records as an index generation stores them (recommendations.json).

Extraction itself is `assistant.ingest.recommendations`; this is the stored form: the records of
every brief, a fingerprint per brief so an unchanged brief reuses its records, and each brief's
vocabulary so a question about a subject the brief never mentions is told so without a scan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from assistant.domain import Chunk
from assistant.ingest.recommendations import (
    Recommendation,
    SentenceLookup,
    assemble,
    brief_chunks,
    brief_vocabulary,
    extract_document,
)


@dataclass
class RecommendationSet:
    records: list[Recommendation] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # document id -> fingerprint of its passages
    vocabulary: dict[str, frozenset[str]] = field(default_factory=dict)  # document id -> stemmed words

    def all_words(self) -> frozenset[str]:
        return frozenset().union(*self.vocabulary.values()) if self.vocabulary else frozenset()

    def of_document(self, doc_id: str) -> list[Recommendation]:
        """This brief's records as extraction left them (before numbering and linking)."""
        out = []
        for r in self.records:
            if r.document_id == doc_id:
                raw = Recommendation.from_json(r.to_json())
                raw.id, raw.related = "", []
                out.append(raw)
        return out

    def to_json(self) -> dict[str, Any]:
        docs = {d: {"key": self.keys.get(d, ""), "vocabulary": sorted(self.vocabulary.get(d, ()))}
                for d in sorted(set(self.keys) | set(self.vocabulary))}
        return {"version": 1, "documents": docs, "records": [r.to_json() for r in self.records]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RecommendationSet:
        docs = data.get("documents", {})
        return cls(
            records=[Recommendation.from_json(r) for r in data.get("records", [])],
            keys={d: v.get("key", "") for d, v in docs.items()},
            vocabulary={d: frozenset(v.get("vocabulary", [])) for d, v in docs.items()},
        )


def extract_set(chunks: Iterable[Chunk], sentences: SentenceLookup | None = None) -> RecommendationSet:
    """The records and vocabulary of every brief among `chunks` (no fingerprints: nothing to reuse)."""
    briefs = brief_chunks(chunks)
    records = assemble([extract_document(briefs[d], sentences) for d in sorted(briefs)])
    return RecommendationSet(records, vocabulary={d: brief_vocabulary(briefs[d]) for d in briefs})
