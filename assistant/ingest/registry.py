"""The document registry: what the corpus is made of, where each document comes from, and which of
the brief's footnotes cite it.

`corpus/registry.json` lists the documents (a JSON list of DocumentInfo fields plus `mirror`, the
file's path under a mirror root and under the download folder, `url_confirmed`, `download`, ...;
unknown keys land in `DocumentInfo.extra`). An entry may list `fallbacks`: other sources of the
same document, tried in order when the entry's own URL fails (each a dict of the fields that differ,
at least `url` and `mirror`; a different format needs its own `parser`). A fallback is a document
of its own once fetched: its id is its file name, and it keeps the entry's title, kind and
footnotes. The USMCA chapters list the Government of Canada's consolidated HTML page first (parsed
into articles) and the USTR PDF as fallback. Registries without `fallbacks` read as before.

The brief's footnote sources are not typed into the file: they are parsed from the brief at load
time, so they can never drift from the text, and each is linked to a registry document when it
cites that same document (by URL, an alternate URL, a fallback's URL, or title).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from assistant.domain import KINDS, SourceRef
from assistant.ingest.base import DocumentInfo
from assistant.ingest.footnotes import (
    extract_footnotes,
    fold_text,
    parse_citations,
    resolve_short_cites,
)

PARSERS = ("brief", "treaty_html", "treaty_pdf", "tariff_html", "uscode_md", "fedreg_html", "generic")
INDEXED = "indexed"
REFERENCE_ONLY = "reference-only"
_MIN_TITLE_MATCH = 20  # shorter footnote titles are too generic to identify a document by title


class RegistryError(ValueError):
    """A registry file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class SourceRecord:
    """One footnote of the brief with the source it cites (short cites resolved), what it pinpoints
    (`page`, `locator`) and, for a repeated short cite, the footnote it `repeats`."""

    footnote: int
    ref: SourceRef
    page: str = ""
    locator: str = ""
    repeats: int | None = None

    @property
    def document_id(self) -> str:
        return self.ref.document_id

    def status(self, indexed_ids: Iterable[str]) -> str:
        """`indexed` when the cited document's text is in the index, else `reference-only`."""
        return INDEXED if self.document_id and self.document_id in set(indexed_ids) else REFERENCE_ONLY


@dataclass
class Registry:
    documents: list[DocumentInfo]
    sources: list[SourceRecord] = field(default_factory=list)
    root: Path | None = None  # the corpus folder that `DocumentInfo.path` is relative to

    def __post_init__(self) -> None:
        self._by_id = {d.id: d for d in self.documents}
        self._variants = {d.id: alternatives(d) for d in self.documents}
        for variants in self._variants.values():
            for v in variants[1:]:
                self._by_id.setdefault(v.id, v)

    def by_id(self, doc_id: str) -> DocumentInfo | None:
        """An entry, or one of its fallbacks by the fallback's own id."""
        return self._by_id.get(doc_id)

    def variants(self, doc: DocumentInfo) -> list[DocumentInfo]:
        """The entry itself, then its fallbacks, in the order `corpus fetch` tries them."""
        return self._variants.get(doc.id) or [doc]

    def match_path(self, path: Path | str) -> DocumentInfo | None:
        """The entry for a local file: by base name (= id), else by its mirror or corpus path as a
        suffix of `path` (so the same file matches wherever the corpus folder lives)."""
        p = PurePosixPath(Path(path).as_posix())
        if doc := self.by_id(p.name):
            return doc
        for entry in self.documents:
            for doc in self.variants(entry):
                for rel in (mirror_path(doc), doc.path):
                    if rel and _has_suffix(p, PurePosixPath(rel)):
                        return doc
        return None

    def local_path(self, doc: DocumentInfo) -> Path | None:
        """The document's file under the corpus folder, if the registry knows that folder."""
        if self.root is None:
            return None
        return self.root / (doc.path or mirror_path(doc))

    def source(self, footnote: int) -> SourceRecord | None:
        return next((s for s in self.sources if s.footnote == footnote), None)

    def source_status(self, indexed_ids: Iterable[str]) -> dict[int, str]:
        """Footnote -> `indexed` | `reference-only`, given the ids of the documents in the index
        (an entry counts as indexed when any of its sources is)."""
        ids = set(indexed_ids)
        ids |= {d.id for d in self.documents if any(v.id in ids for v in self.variants(d))}
        return {s.footnote: s.status(ids) for s in self.sources}


def _has_suffix(path: PurePosixPath, rel: PurePosixPath) -> bool:
    n = len(rel.parts)
    return n > 0 and path.parts[-n:] == rel.parts


def mirror_path(doc: DocumentInfo) -> str:
    """Where the document's file lives relative to a mirror root (and to the fetch destination)."""
    return str(doc.extra.get("mirror") or doc.path or doc.id)


def url_confirmed(doc: DocumentInfo) -> bool:
    """False when the entry's URL is a best guess that no source confirmed."""
    return bool(doc.extra.get("url_confirmed", True))


def citation_url(doc: DocumentInfo) -> str:
    """The link to show a reader: the document URL when confirmed, else the page that lists it."""
    return doc.url if url_confirmed(doc) else str(doc.extra.get("listing_url") or doc.url)


def downloadable(doc: DocumentInfo) -> bool:
    """Whether `url` serves this very file (False for converted files that only a mirror has)."""
    return bool(doc.url) and bool(doc.extra.get("download", True))


def alternatives(doc: DocumentInfo) -> list[DocumentInfo]:
    """The entry and its `fallbacks` as documents of their own: a fallback takes the entry's fields
    except those it sets; its id is its file name; `fallback_of` names the entry."""
    out = [doc]
    for fb in doc.extra.get("fallbacks") or []:
        base = {k: v for k, v in doc.to_dict().items() if k not in _OWN_FIELDS}
        merged = {**base, **fb}
        merged.setdefault("id", PurePosixPath(str(fb.get("mirror") or fb.get("path") or "")).name)
        merged["fallback_of"] = doc.id
        out.append(DocumentInfo.from_dict(merged))
    return out


# Fields that describe one source (its file, publisher and edition), never inherited by a fallback;
# the rest (title, kind, chapter, footnotes ...) describe the document and are.
_OWN_FIELDS = frozenset({"id", "url", "path", "mirror", "sha256", "parser", "download", "url_confirmed",
                         "listing_url", "fallbacks", "note", "date", "publisher", "alternate_urls"})


def normalize_url(url: str) -> str:
    """For comparing URLs: lower-case scheme and host, no `www.`, no fragment, no trailing slash."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme.lower(), host, path, parts.query, ""))


def link_document(ref: SourceRef, documents: Iterable[DocumentInfo]) -> str:
    """The id of the registry document `ref` cites, or "": same URL (or one of the document's
    `alternate_urls`) first, else the footnote's title is contained in the document's title."""
    docs = [d for d in documents if d.kind != "brief"]
    if ref.url:
        want = normalize_url(ref.url)
        for d in docs:
            fallbacks = [str(fb.get("url") or "") for fb in d.extra.get("fallbacks") or []]
            urls = [d.url, *d.extra.get("alternate_urls", []), *fallbacks]
            if any(u and normalize_url(u) == want for u in urls):
                return d.id
    if len(ref.title) >= _MIN_TITLE_MATCH:
        title = fold_text(ref.title)
        for d in docs:
            if title in fold_text(d.title):
                return d.id
    return ""


def source_records(brief_path: Path, documents: Iterable[DocumentInfo] = ()) -> list[SourceRecord]:
    """The brief's footnote sources, parsed from the brief file and linked to `documents`."""
    docs = list(documents)
    markdown = brief_path.read_text(encoding="utf-8")
    cites = parse_citations(extract_footnotes(markdown, keep_emphasis=True))
    linked = [c.to_ref(link_document(c.to_ref(), docs)) for c in cites]
    refs, repeats = resolve_short_cites(linked)
    return [
        SourceRecord(
            footnote=c.footnote, ref=r, page=c.page, locator=c.locator, repeats=repeats.get(c.footnote)
        )
        for c, r in zip(cites, refs, strict=True)
    ]


def load_documents(path: Path) -> list[DocumentInfo]:
    """Read and check registry.json: a JSON list of entries (or `{"documents": [...]}`)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read the registry: {exc}") from exc
    entries = data.get("documents") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise RegistryError(f"{path}: expected a list of documents")
    docs: list[DocumentInfo] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("id") or not entry.get("title"):
            raise RegistryError(f"{path}: entry {i} needs at least an id and a title")
        doc = DocumentInfo.from_dict(entry)
        if doc.id in seen:
            raise RegistryError(f"{path}: duplicate id {doc.id!r}")
        if doc.kind not in KINDS:
            raise RegistryError(f"{path}: {doc.id}: unknown kind {doc.kind!r}")
        if doc.parser and doc.parser not in PARSERS:
            raise RegistryError(f"{path}: {doc.id}: unknown parser {doc.parser!r}")
        if doc.sha256 and not re.fullmatch(r"[0-9a-f]{64}", doc.sha256):
            raise RegistryError(f"{path}: {doc.id}: sha256 must be 64 lower-case hex digits")
        _check_fallbacks(path, doc)
        for variant in alternatives(doc):
            if variant is not doc and variant.id in seen:
                raise RegistryError(f"{path}: {doc.id}: fallback id {variant.id!r} is already used")
            mp = PurePosixPath(mirror_path(variant))
            if mp.is_absolute() or ".." in mp.parts:
                raise RegistryError(f"{path}: {variant.id}: mirror path must be relative: {mp}")
            seen.add(variant.id)
        docs.append(doc)
    return docs


def _check_fallbacks(path: Path, doc: DocumentInfo) -> None:
    fallbacks = doc.extra.get("fallbacks")
    if fallbacks is None:
        return
    if not isinstance(fallbacks, list):
        raise RegistryError(f"{path}: {doc.id}: fallbacks must be a list")
    for i, fb in enumerate(fallbacks):
        where = f"{path}: {doc.id}: fallback {i + 1}"
        if not isinstance(fb, dict) or not fb.get("url") or not fb.get("mirror"):
            raise RegistryError(f"{where} needs at least a url and a mirror path")
        if fb.get("parser") and fb["parser"] not in PARSERS:
            raise RegistryError(f"{where}: unknown parser {fb['parser']!r}")
        if fb.get("sha256") and not re.fullmatch(r"[0-9a-f]{64}", str(fb["sha256"])):
            raise RegistryError(f"{where}: sha256 must be 64 lower-case hex digits")
        if "fallbacks" in fb:
            raise RegistryError(f"{where}: a fallback cannot have fallbacks of its own")


def load_registry(path: Path | str) -> Registry:
    """Load registry.json; paths in it are relative to its folder. When the brief's file is there,
    its footnote sources are parsed and each linked document lists the footnotes that cite it."""
    path = Path(path)
    docs = load_documents(path)
    root = path.parent
    sources: list[SourceRecord] = []
    brief = next((d for d in docs if d.kind == "brief" and d.path), None)
    if brief is not None and (root / brief.path).is_file():
        sources = source_records(root / brief.path, docs)
    for doc in docs:
        cited = {s.footnote for s in sources if s.document_id == doc.id}
        if cited:
            doc.footnotes = sorted(set(doc.footnotes) | cited)
    return Registry(documents=docs, sources=sources, root=root)
