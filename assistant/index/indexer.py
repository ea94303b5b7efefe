"""Incremental, crash-safe indexing: plan, parse, embed, write a generation, commit, clean up.

Documents are keyed by id (registry id, else the path under its corpus folder) and content hash:
unchanged documents are skipped, changed ones have all their chunks replaced, removed ones are
deleted, a renamed or copied file with the same content is not indexed twice. Passage and
sentence vectors come from one forward pass of the model.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

from assistant.domain import Chunk, SourceRef, content_hash
from assistant.index import store
from assistant.index.embeddings import get_embedder
from assistant.index.vectors import VectorStore, make_client
from assistant.ingest.base import DocumentInfo, IngestError, ParsedDocument
from assistant.ingest.loaders import file_format
from assistant.ingest.parse import parse_file
from assistant.settings import Settings
from assistant.textutil import split_sentences


def sentence_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The units answers quote: sentences, or the whole passage for tables and tariff lines."""
    if chunk.meta.get("table") or chunk.kind == "tariff":
        return [(0, len(chunk.text))]
    return split_sentences(chunk.text) or [(0, len(chunk.text))]


class Progress(Protocol):
    def stage(self, name: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class _NoProgress:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


class IndexBusy(RuntimeError):
    """Another process holds the write lock."""


@dataclass
class FileTask:
    path: Path
    doc_id: str
    sha256: str
    info: DocumentInfo
    action: str  # add | update | unchanged | rename | duplicate


@dataclass
class Plan:
    tasks: list[FileTask] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)  # document ids whose files are gone
    errors: dict[str, str] = field(default_factory=dict)  # path -> reason (unreadable before parsing)

    def count(self, action: str) -> int:
        return sum(1 for t in self.tasks if t.action == action)

    def summary(self) -> dict[str, int]:
        out = {a: self.count(a) for a in ("add", "update", "rename", "unchanged", "duplicate")}
        out["remove"] = len(self.remove)
        out["errors"] = len(self.errors)
        return out


@dataclass
class IndexReport:
    plan: Plan
    indexed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # path -> reason
    warnings: list[str] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def discover(paths: Iterable[Path]) -> list[Path]:
    """Supported files under the given files/folders, hidden files and folders skipped, sorted."""
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_file():
            found.append(p)
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                rel = f.relative_to(p).parts
                if f.is_file() and not any(part.startswith(".") for part in rel) and file_format(f):
                    found.append(f)
    seen, out = set(), []
    for f in found:
        r = f.resolve()
        if r not in seen:
            seen.add(r)
            out.append(f)
    return out


def _load_registry(settings: Settings) -> Any:
    if not Path(settings.registry_file).exists():
        return None
    from assistant.ingest.registry import load_registry

    return load_registry(settings.registry_file)


def document_info(path: Path, roots: list[Path], registry: Any) -> DocumentInfo:
    """The registry entry for a known file, else facts derived from the path."""
    if registry is not None:
        info = registry.match_path(path)
        if info is not None:
            return DocumentInfo.from_dict(info.to_dict())
    rel = path.name
    for root in roots:
        try:
            rel = path.resolve().relative_to(Path(root).resolve()).as_posix()
            break
        except ValueError:
            continue
    return DocumentInfo(id=rel, title="", kind="user", path=rel)


class Indexer:
    def __init__(self, settings: Settings, progress: Progress | None = None):
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self.progress = progress or _NoProgress()
        self._vectors: VectorStore | None = None

    @property
    def vectors(self) -> VectorStore:
        if self._vectors is None:
            client = make_client(self.index_dir, self.settings.chroma_host, self.settings.chroma_port)
            self._vectors = VectorStore(client, self.settings.embedding_model)
        return self._vectors

    def lock(self, timeout: float = 0) -> FileLock:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.index_dir / "write.lock"), timeout=timeout)

    # -- planning ---------------------------------------------------------------------------
    def plan(self, paths: list[Path] | None = None) -> Plan:
        """What a run would do. With explicit paths, documents elsewhere are left alone."""
        roots = [Path(p) for p in self.settings.corpus_dirs]
        full_sync = paths is None
        files = discover(roots if full_sync else paths)
        registry = _load_registry(self.settings)
        manifest = store.read_manifest(self.index_dir)
        docs: dict[str, dict] = manifest.get("documents", {})
        by_hash = {d["sha256"]: doc_id for doc_id, d in docs.items()}
        plan = Plan()
        seen_ids: set[str] = set()
        seen_hashes: dict[str, str] = {}
        for f in files:
            try:
                data = f.read_bytes()
            except OSError as e:
                plan.errors[str(f)] = f"cannot read file ({e.strerror or e})"
                continue
            digest = content_hash(data)
            info = document_info(f, roots, registry)
            if info.id in seen_ids:
                info.id = f"{info.id}#{digest[:8]}"
            if digest in seen_hashes:
                plan.tasks.append(FileTask(f, info.id, digest, info, "duplicate"))
                continue
            seen_hashes[digest] = info.id
            seen_ids.add(info.id)
            old = docs.get(info.id)
            if old and old["sha256"] == digest:
                action = "unchanged"
            elif old:
                action = "update"
            elif digest in by_hash and not Path(docs[by_hash[digest]].get("abs_path", "")).exists():
                action = "rename"
            else:
                action = "add"
            plan.tasks.append(FileTask(f, info.id, digest, info, action))
        if full_sync:
            present = {t.doc_id for t in plan.tasks if t.action != "duplicate"}
            plan.remove = sorted(d for d in docs if d not in present)
        return plan

    # -- running ----------------------------------------------------------------------------
    def run(
        self,
        paths: list[Path] | None = None,
        *,
        rebuild: bool = False,
        lock_timeout: float = 0,
        remove: list[str] | None = None,
    ) -> IndexReport:
        """Index `paths` (default: a full sync of the corpus folders) and drop the documents in
        `remove`. Only one writer at a time: waits `lock_timeout` seconds, then raises IndexBusy."""
        lock = self.lock(lock_timeout)
        try:
            lock.acquire()
        except Timeout as e:
            raise IndexBusy(
                f"another process is writing the index in {self.index_dir} (lock file write.lock); "
                "wait for it to finish or retry later"
            ) from e
        try:
            if rebuild:
                self._reset()
            return self._run_locked(paths, remove or [])
        finally:
            lock.release()

    def _reset(self) -> None:
        store.write_manifest(self.index_dir, {"version": store.MANIFEST_VERSION, "generation": "", "documents": {}})
        self.vectors.delete(self.vectors.all_ids())
        store.collect_garbage(self.index_dir, {"generation": "", "documents": {}})

    def remove(self, doc_ids: list[str], lock_timeout: float = 0) -> IndexReport:
        """Drop documents (all their chunks, vectors and BM25 entries) without touching others."""
        return self.run([], remove=doc_ids, lock_timeout=lock_timeout)

    def _run_locked(self, paths: list[Path] | None, remove: list[str]) -> IndexReport:
        t0 = time.perf_counter()
        plan = self.plan(paths)
        plan.remove = sorted(set(plan.remove) | set(remove))
        report = IndexReport(plan=plan, errors=dict(plan.errors))
        manifest = store.read_manifest(self.index_dir)
        old_docs: dict[str, dict] = manifest.get("documents", {})
        current = store.load_snapshot(self.index_dir)

        # 1. parse what is new or changed
        todo = [t for t in plan.tasks if t.action in ("add", "update", "rename")]
        self.progress.stage("Parsing", len(todo))
        parsed: dict[str, ParsedDocument] = {}
        for t in todo:
            try:
                parsed[t.doc_id] = parse_file(
                    t.path,
                    t.info,
                    max_bytes=int(self.settings.max_file_mb * 1024 * 1024),
                    max_pages=self.settings.max_pdf_pages,
                    max_chunks=self.settings.max_chunks_per_document,
                )
                report.warnings.extend(parsed[t.doc_id].warnings)
            except IngestError as e:
                report.errors[str(t.path)] = e.reason
            self.progress.advance()
        for t in plan.tasks:
            if t.action == "duplicate":
                report.warnings.append(f"{t.path}: same content as {t.info.id}; indexed once")
        report.seconds["parse"] = time.perf_counter() - t0

        # 2. embed new chunks (passage and sentence vectors in one pass) and store the vectors
        new_chunks = [c for p in parsed.values() for c in p.chunks]
        t1 = time.perf_counter()
        sentences: dict[str, tuple[list[tuple[int, int]], Any]] = {}
        if new_chunks:
            self.progress.stage("Embedding", len(new_chunks))
            embedder = get_embedder(self.settings.embedding_model, self.settings.embedding_batch_size)
            step = 256
            for i in range(0, len(new_chunks), step):
                batch = new_chunks[i : i + step]
                spans = [sentence_spans(c) for c in batch]
                shift = [len(c.search_text) - len(c.text) for c in batch]
                vecs, sent_vecs = embedder.embed_with_sentences(
                    [c.search_text for c in batch],
                    [[(a + d, b + d) for a, b in sp] for sp, d in zip(spans, shift, strict=True)],
                    progress=self.progress.advance,
                )
                self.vectors.upsert(
                    [c.id for c in batch], vecs, [c.text for c in batch], [c.to_metadata() for c in batch]
                )
                for c, sp, sv in zip(batch, spans, sent_vecs, strict=True):
                    sentences[c.id] = (sp, sv)
        report.chunks_embedded = len(new_chunks)
        report.seconds["embed"] = time.perf_counter() - t1

        # 3. the new generation: kept documents + new ones; failed updates keep their old version
        t2 = time.perf_counter()
        self.progress.stage("Writing index", 1)
        new_docs: dict[str, dict] = {}
        removed = set(plan.remove)
        for doc_id, d in old_docs.items():
            if doc_id in removed or doc_id in parsed:
                continue
            new_docs[doc_id] = d
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for t in todo:
            p = parsed.get(t.doc_id)
            if p is None:
                continue
            new_docs[t.doc_id] = {
                "id": t.doc_id,
                "path": str(t.path),
                "abs_path": str(t.path.resolve()),
                "sha256": t.sha256,
                "title": p.info.title or t.path.stem,
                "kind": p.info.kind,
                "url": p.info.url,
                "publisher": p.info.publisher,
                "date": p.info.date,
                "parser": p.info.parser,
                "footnotes": list(p.info.footnotes),
                "chunks": len(p.chunks),
                "chunk_ids": [c.id for c in p.chunks],
                "indexed_at": now,
                "warnings": p.warnings,
            }
            store.write_text(self.index_dir, t.sha256, p.text)
        for t in plan.tasks:  # a renamed file keeps its record under the new path
            if t.action == "unchanged" and t.doc_id in new_docs:
                new_docs[t.doc_id]["path"] = str(t.path)
                new_docs[t.doc_id]["abs_path"] = str(t.path.resolve())

        chunks: list[Chunk] = []
        for doc_id in sorted(new_docs):
            if doc_id in parsed:
                chunks.extend(parsed[doc_id].chunks)
            else:
                kept = [current.chunks[c] for c in new_docs[doc_id]["chunk_ids"] if c in current.chunks]
                chunks.extend(kept)
                for c in kept:
                    sentences[c.id] = current.sentences(c.id)
        sources = self._sources(parsed, current.sources, new_docs)
        changed = bool(parsed) or bool(removed) or set(new_docs) != set(old_docs)
        old_generation = manifest.get("generation", "")
        if changed or not old_generation:
            generation = f"g{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{len(chunks)}"
            store.write_generation(self.index_dir, generation, chunks, sources, sentences)
        else:
            generation = old_generation
        new_manifest = {
            "version": store.MANIFEST_VERSION,
            "generation": generation,
            "embedding_model": self.settings.embedding_model,
            "collection": self.vectors.name,
            "documents": new_docs,
            "updated_at": now,
            "last_errors": report.errors,
        }
        store.write_manifest(self.index_dir, new_manifest)  # the commit point
        self.progress.advance()

        # 4. clean up what no manifest references any more
        kept_ids = {c.id for c in chunks}
        stale = {cid for d in old_docs.values() for cid in d.get("chunk_ids", [])} - kept_ids
        if stale:
            self.vectors.delete(stale)
        store.collect_garbage(self.index_dir, new_manifest, keep_previous=old_generation)
        report.indexed = sorted(parsed)
        report.removed = sorted(removed)
        report.chunks_total = len(chunks)
        report.seconds["write"] = time.perf_counter() - t2
        report.seconds["total"] = time.perf_counter() - t0
        return report

    def _sources(
        self, parsed: dict[str, ParsedDocument], previous: dict[int, SourceRef], docs: dict[str, dict]
    ) -> dict[int, SourceRef]:
        """Footnote sources of the brief, linked to corpus documents that are their text."""
        refs: dict[int, SourceRef] = {}
        brief_parsed = [p for p in parsed.values() if p.sources]
        if brief_parsed:
            refs = {s.footnote: s for s in brief_parsed[0].sources}
        elif any(d["kind"] == "brief" for d in docs.values()):
            refs = dict(previous)
        by_footnote = {n: doc_id for doc_id, d in docs.items() for n in d.get("footnotes", [])}
        out = {}
        for n, s in refs.items():
            linked = by_footnote.get(n, "")
            out[n] = SourceRef(**{**s.__dict__, "document_id": linked})
        return out
