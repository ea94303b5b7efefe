"""The manifest (documents.json) as typed records: what is indexed, under which generation.

The JSON on disk is unchanged (readers such as the UI read it as plain dicts); the writer works
with `Manifest` and `DocumentEntry`. Fields missing from manifests written by older versions get
their defaults, and keys this version does not know are carried over untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

MANIFEST_VERSION = 1


@dataclass
class DocumentEntry:
    """One indexed document: where its file was, its content hash and the chunks it produced."""

    id: str
    sha256: str
    path: str = ""
    abs_path: str = ""  # resolved path of the file it was indexed from
    title: str = ""
    kind: str = "user"
    url: str = ""
    publisher: str = ""
    date: str = ""
    parser: str = ""
    footnotes: list[int] = field(default_factory=list)  # brief footnotes whose source this document is
    chunks: int = 0
    chunk_ids: list[str] = field(default_factory=list)
    dense: bool = True  # False for lexical-only kinds (tariff lines): no vectors in Chroma
    indexed_at: str = ""
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # keys written by other versions

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentEntry:
        known = {f.name for f in fields(cls)} - {"extra"}
        entry = cls(**{k: v for k, v in d.items() if k in known})
        entry.footnotes = [int(n) for n in entry.footnotes]
        entry.chunk_ids = list(entry.chunk_ids)
        entry.warnings = list(entry.warnings)
        entry.extra = {k: v for k, v in d.items() if k not in known}
        return entry

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["footnotes"] = list(self.footnotes)
        out["chunk_ids"] = list(self.chunk_ids)
        out["warnings"] = list(self.warnings)
        return {**self.extra, **out}


@dataclass
class Manifest:
    """The committed state: the current generation and every indexed document."""

    generation: str = ""
    documents: dict[str, DocumentEntry] = field(default_factory=dict)
    embedding_model: str = ""
    code_version: str = ""
    collection: str = ""
    # the multilingual channel's collection, once every dense chunk has a vector in it ("": none)
    multilingual_collection: str = ""
    vectors: str = ""  # where the vectors live: embedded:<folder> or http://host:port
    updated_at: str = ""
    last_errors: dict[str, str] = field(default_factory=dict)
    version: int = MANIFEST_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        known = {f.name for f in fields(cls)} - {"extra", "documents"}
        m = cls(**{k: v for k, v in d.items() if k in known})
        m.documents = {doc_id: DocumentEntry.from_dict(e) for doc_id, e in (d.get("documents") or {}).items()}
        m.extra = {k: v for k, v in d.items() if k not in known and k != "documents"}
        return m

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.extra}
        for f in fields(self):
            if f.name not in ("extra", "documents"):
                out[f.name] = getattr(self, f.name)
        out["documents"] = {doc_id: e.to_dict() for doc_id, e in self.documents.items()}
        return out

    def chunk_ids(self, *, dense_only: bool = False) -> set[str]:
        """Chunk ids the manifest references; with `dense_only`, those that must have a vector in
        Chroma (documents of lexical-only kinds, such as tariff lines, have none)."""
        return {cid for d in self.documents.values() if not dense_only or d.dense for cid in d.chunk_ids}

    def same_content(self, other: Manifest) -> bool:
        """Equal but for the time of writing: nothing to commit."""
        a, b = self.to_dict(), other.to_dict()
        a.pop("updated_at", None)
        b.pop("updated_at", None)
        return a == b
