"""Incremental, crash-safe indexing: plan, parse, embed, write a generation, commit, clean up.

Documents are keyed by id (registry id, else the path under its corpus folder) and content hash:
unchanged documents are skipped, changed ones have all their chunks replaced, removed ones are
deleted, a renamed or copied file with the same content is not indexed twice. Passage and
sentence vectors come from one forward pass of the model; a chunk whose id and text are already
indexed (a renamed file) keeps its vectors.

One run, under the write lock: finish any interrupted run (journal), journal the vector ids this
run may touch, upsert vectors, write the new generation, commit documents.json (the only moment
readers see a change), delete the vectors no longer referenced, drop the journal. A SIGKILL at
any point leaves the old or the new state; the next run converges. `check`/`repair` (the
`doctor` command) find and fix drift between the manifest, the generation files and Chroma.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from filelock import FileLock, Timeout

from assistant.domain import Chunk, SourceRef
from assistant.index import store
from assistant.index.embeddings import get_embedder
from assistant.index.vectors import VectorStore, make_client
from assistant.ingest.base import DocumentInfo, IngestError, ParsedDocument
from assistant.ingest.loaders import file_format
from assistant.ingest.parse import parse_file
from assistant.settings import Settings
from assistant.textutil import split_sentences

# Test hooks: SIGKILL ourselves, or pause, at a named checkpoint of a run (see `_checkpoint`).
CRASH_ENV = "ASSISTANT_TEST_CRASH_AT"
PAUSE_ENV = "ASSISTANT_TEST_PAUSE_AT"
CHECKPOINTS = ("locked", "journaled", "upsert_batch", "upserted", "generation", "committed", "cleaned")
UPSERT_BATCHES_PER_STEP = 8  # chunks embedded and upserted together: 8 model batches


def _checkpoint(name: str) -> None:
    """`ASSISTANT_TEST_CRASH_AT=<name>` kills the process here (crash-safety tests);
    `ASSISTANT_TEST_PAUSE_AT=<name>:<seconds>` sleeps here (locking and concurrency tests)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    point, _, seconds = os.environ.get(PAUSE_ENV, "").partition(":")
    if point == name:
        time.sleep(float(seconds or 5))


@lru_cache(maxsize=1)
def code_version() -> str:
    """A fingerprint of the code that turns files into chunks, ids and vectors. An index built by
    other code is parsed again on the next run, so an upgrade never serves stale passages."""
    root = Path(__file__).resolve().parent.parent
    files = [
        *sorted((root / "ingest").glob("*.py")),
        root / "textutil.py",
        root / "domain.py",
        root / "index" / "lexical.py",
        root / "index" / "embeddings.py",
    ]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


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
    replaces: str = ""  # rename: the document id the file was indexed under before
    same_as: str = ""  # duplicate: the document that already holds this content


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
    recovered: list[str] = field(default_factory=list)  # what was finished for an interrupted run
    chunks_embedded: int = 0
    chunks_reused: int = 0  # already-indexed chunks (renamed or copied files) that kept their vectors
    chunks_total: int = 0
    generation: str = ""
    committed: bool = False  # False when nothing changed and documents.json was left alone
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class Problem:
    """One inconsistency `check` found, and what `repair` does about it."""

    code: str  # busy | stale-writer | interrupted-run | temp-files | manifest | generation | texts |
    #            chroma | vectors-elsewhere | missing-vectors | orphan-vectors | missing-files
    detail: str
    fix: str
    severity: str = "error"  # error: answers may be wrong or incomplete; warning: housekeeping


@dataclass
class Health:
    problems: list[Problem] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def codes(self) -> set[str]:
        return {p.code for p in self.problems}


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


def hash_file(path: Path) -> str:
    """sha256 of a file, read in blocks (the same value as `domain.content_hash` of its bytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def _without_timestamps(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in manifest.items() if k != "updated_at"}


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

    def _acquire(self, timeout: float, command: str) -> FileLock:
        """The write lock, or IndexBusy naming the holder. Records us as the writer."""
        lock = self.lock(timeout)
        try:
            lock.acquire()
        except Timeout as e:
            holder = store.describe_writer(store.read_writer_record(self.index_dir))
            waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
            raise IndexBusy(
                f"the index in {self.index_dir} is busy{waited}: {holder} is writing it. "
                "Wait for it to finish (e.g. `index --wait 600`) or retry later."
            ) from e
        store.write_writer_record(self.index_dir, command)
        # Start from a fresh Chroma view: a long-lived process may hold one from before another
        # writer's run, and writing through a stale in-memory HNSW index can lose vectors.
        self._vectors = None
        return lock

    def _release(self, lock: FileLock) -> None:
        store.clear_writer_record(self.index_dir)
        lock.release()

    # -- planning ---------------------------------------------------------------------------
    def plan(
        self, paths: list[Path] | None = None, *, force: Iterable[str] = (), rebuild: bool = False
    ) -> Plan:
        """What a run would do. With explicit paths, documents elsewhere are left alone.
        `force` document ids (or all, with `rebuild`) are parsed and embedded again."""
        roots = [Path(p) for p in self.settings.corpus_dirs]
        full_sync = paths is None
        files = discover(roots if full_sync else paths)
        missing_roots = [r for r in roots if full_sync and not r.is_dir()]
        registry = _load_registry(self.settings)
        try:
            docs: dict[str, dict] = store.read_manifest(self.index_dir).get("documents", {})
        except store.CorruptIndex:
            docs, rebuild = {}, True
        forced = set(force)
        plan = Plan()
        entries: list[tuple[Path, str, DocumentInfo]] = []
        unreadable_ids: set[str] = set()
        for f in files:
            info = document_info(f, roots, registry)
            try:
                digest = hash_file(f)
            except OSError as e:
                plan.errors[str(f)] = f"cannot read file ({e.strerror or e})" + (
                    "; the previously indexed version is kept" if info.id in docs else ""
                )
                unreadable_ids.add(info.id)
                continue
            entries.append((f, digest, info))
        # Files already indexed under their own id with this content claim it first, so a new
        # copy never displaces the document it copies.
        entries.sort(key=lambda e: 0 if docs.get(e[2].id, {}).get("sha256") == e[1] else 1)
        found_hash = {info.id: digest for _, digest, info in entries}
        by_hash = {d["sha256"]: doc_id for doc_id, d in sorted(docs.items())}
        seen_ids: set[str] = set()
        claimed: dict[str, str] = {}  # content hash -> document id holding it in this plan
        for f, digest, info in entries:
            if info.id in seen_ids:
                info.id = f"{info.id}#{digest[:8]}"
            if digest in claimed:
                plan.tasks.append(FileTask(f, info.id, digest, info, "duplicate", same_as=claimed[digest]))
                continue
            old = docs.get(info.id)
            replaces = same_as = ""
            if old and old["sha256"] == digest:
                action = "update" if rebuild or info.id in forced else "unchanged"
            elif old:
                action = "update"
            elif digest in by_hash:
                other = by_hash[digest]
                other_now = found_hash.get(other) if full_sync else self._hash_on_disk(docs[other])
                if other_now == digest and other not in seen_ids:
                    action, same_as = "duplicate", other  # the indexed file is still there
                elif other_now is None:
                    action, replaces = "rename", other  # the indexed file is gone: moved here
                else:
                    action = "add"  # a copy of a version the other file no longer has
            else:
                action = "add"
            if action == "duplicate":
                plan.tasks.append(FileTask(f, info.id, digest, info, action, same_as=same_as))
                continue
            claimed[digest] = info.id
            seen_ids.add(info.id)
            plan.tasks.append(FileTask(f, info.id, digest, info, action, replaces=replaces))
        kept = {t.doc_id for t in plan.tasks if t.action != "duplicate"} | unreadable_ids
        gone = {t.replaces for t in plan.tasks if t.replaces}
        for r in missing_roots:
            plan.errors[str(r)] = "corpus folder does not exist (ASSISTANT_CORPUS_DIRS); its documents are kept"
        if full_sync and not missing_roots:
            gone |= {d for d in docs if d not in kept}
        plan.remove = sorted(gone - kept)
        return plan

    @staticmethod
    def _hash_on_disk(doc: dict[str, Any]) -> str | None:
        path = Path(doc.get("abs_path", ""))
        try:
            return hash_file(path) if path.is_file() else None
        except OSError:
            return None

    # -- running ----------------------------------------------------------------------------
    def run(
        self,
        paths: list[Path] | None = None,
        *,
        rebuild: bool = False,
        lock_timeout: float = 0,
        remove: list[str] | None = None,
        force: Iterable[str] = (),
    ) -> IndexReport:
        """Index `paths` (default: a full sync of the corpus folders) and drop the documents in
        `remove`. Only one writer at a time: waits `lock_timeout` seconds, then raises IndexBusy.

        `rebuild` parses and embeds every document again and drops every vector the new index
        does not reference; like any run it commits atomically, so readers keep the old index
        until the new one is complete. `force` does the same for some document ids."""
        lock = self._acquire(lock_timeout, shlex.join(sys.argv) or "python")
        try:
            _checkpoint("locked")
            recovered = self._recover()
            report = self._run_locked(paths, list(remove or []), rebuild=rebuild, force=set(force))
            report.recovered = recovered + report.recovered
            return report
        finally:
            self._release(lock)

    def remove(self, doc_ids: list[str], lock_timeout: float = 0) -> IndexReport:
        """Drop documents (all their chunks, vectors and BM25 entries) without touching others."""
        return self.run([], remove=doc_ids, lock_timeout=lock_timeout)

    def _recover(self) -> list[str]:
        """Finish what an interrupted run left: temp files, and vectors it added (or made
        unreferenced) that the committed manifest does not reference."""
        notes = []
        leftovers = store.remove_leftovers(self.index_dir)
        if leftovers:
            notes.append(f"removed {len(leftovers)} temp file(s) left by an interrupted run")
        journal = store.read_journal(self.index_dir)
        if journal is not None:
            try:
                referenced = store.manifest_chunk_ids(store.read_manifest(self.index_dir), dense_only=True)
            except store.CorruptIndex:
                referenced = journal  # decided later by a rebuild's full scan
            orphans = journal - referenced
            if orphans:
                self.vectors.delete(orphans)
            store.clear_journal(self.index_dir)
            notes.append(f"finished an interrupted run: deleted {len(orphans)} uncommitted or stale vector(s)")
        return notes

    def _current(self, rebuild: bool) -> tuple[dict[str, Any], store.Snapshot, bool, list[str]]:
        """The committed manifest and snapshot; an unreadable one turns this run into a rebuild."""
        notes = []
        try:
            manifest = store.read_manifest(self.index_dir)
        except store.CorruptIndex as e:
            notes.append(f"{e}; rebuilding the index from the documents on disk")
            return store.empty_manifest(), store.empty_snapshot(), True, notes
        try:
            current = store.load_snapshot(self.index_dir)
        except (store.CorruptIndex, FileNotFoundError) as e:
            notes.append(f"the committed index files cannot be read ({e}); re-parsing every document")
            current = store.empty_snapshot()
            rebuild = True
        previous_location = manifest.get("vectors", "")
        if manifest.get("generation") and previous_location and (
            previous_location != self.vectors.location or manifest.get("collection") != self.vectors.name
        ):
            notes.append(
                f"the index's vectors were stored in {previous_location} ({manifest.get('collection')}), "
                f"now {self.vectors.location} ({self.vectors.name}); embedding every document again"
            )
            rebuild = True
        return manifest, current, rebuild, notes

    def _run_locked(self, paths: list[Path] | None, remove: list[str], *, rebuild: bool, force: set[str]) -> IndexReport:
        t0 = time.perf_counter()
        manifest, current, rebuild, notes = self._current(rebuild)
        old_docs: dict[str, dict] = manifest.get("documents", {})
        if paths is not None and current.empty and old_docs:
            # The old chunks are unreadable: documents outside `paths` must be parsed again too.
            extra = [Path(d["abs_path"]) for d in old_docs.values() if Path(d.get("abs_path", "")).is_file()]
            paths = [*paths, *extra]
        if old_docs and manifest.get("code_version") != code_version():
            # Parsers or chunking changed since this index was built: parse every document again
            # (vectors of passages whose text did not change are reused, not recomputed).
            force = force | set(old_docs)
            notes.append("the indexing code changed since the last run: every document was parsed again")
        plan = self.plan(paths, force=force, rebuild=rebuild)
        plan.remove = sorted(set(plan.remove) | set(remove))
        report = IndexReport(plan=plan, errors=dict(plan.errors), recovered=notes)

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
                kept = "; the previously indexed version is kept" if t.doc_id in old_docs else ""
                report.errors[str(t.path)] = e.reason + kept
            self.progress.advance()
        for t in plan.tasks:
            if t.action == "duplicate":
                report.warnings.append(f"{t.path}: same content as document '{t.same_as}'; indexed once")
        failed_renames = {t.replaces for t in todo if t.replaces and t.doc_id not in parsed}
        removed = set(plan.remove) - failed_renames
        report.seconds["parse"] = time.perf_counter() - t0

        # 2. journal every vector id this run may add or leave unreferenced, before touching Chroma
        new_chunks = [c for p in parsed.values() for c in p.chunks]
        touched = {c.id for c in new_chunks}
        for doc_id in removed | set(parsed):
            touched.update(old_docs.get(doc_id, {}).get("chunk_ids", []))
        if touched:
            store.write_journal(self.index_dir, touched)
        _checkpoint("journaled")

        # 3. embed new chunks (passage and sentence vectors in one pass); reuse indexed ones
        t1 = time.perf_counter()
        sentences: dict[str, tuple[list[tuple[int, int]], Any]] = {}
        to_embed = new_chunks
        if not rebuild and new_chunks:
            to_embed = self._reuse(new_chunks, current, sentences)
            report.chunks_reused = len(new_chunks) - len(to_embed)
        if to_embed:
            self._embed_and_upsert(to_embed, sentences)
        _checkpoint("upserted")
        report.chunks_embedded = sum(1 for c in to_embed if c.kind not in self.settings.lexical_only_kinds)
        report.seconds["embed"] = time.perf_counter() - t1

        # 4. the new generation: kept documents + new ones; failed updates keep their old version
        t2 = time.perf_counter()
        self.progress.stage("Writing index", 1)
        new_docs = self._new_documents(plan, old_docs, parsed, removed, rebuild)
        chunks: list[Chunk] = []
        for doc_id in sorted(new_docs):
            if doc_id in parsed:
                chunks.extend(parsed[doc_id].chunks)
            else:
                kept = [current.chunks[c] for c in new_docs[doc_id]["chunk_ids"] if c in current.chunks]
                if len(kept) != len(new_docs[doc_id]["chunk_ids"]):  # unreadable old generation
                    report.warnings.append(
                        f"{doc_id}: dropped; its indexed chunks could not be read and its file "
                        f"{new_docs[doc_id].get('path', '')} could not be parsed again"
                    )
                    del new_docs[doc_id]
                    continue
                chunks.extend(kept)
                for c in kept:
                    sentences[c.id] = current.sentences(c.id)
        sources = self._sources(parsed, current.sources, new_docs)
        old_generation = manifest.get("generation", "")
        content_changed = bool(parsed) or bool(removed & set(old_docs)) or set(new_docs) != set(old_docs)
        generation = old_generation
        if content_changed or not old_generation or rebuild:
            generation = f"g{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-{len(chunks)}"
            store.write_generation(self.index_dir, generation, chunks, sources, sentences)
        _checkpoint("generation")
        new_manifest = {
            "version": store.MANIFEST_VERSION,
            "generation": generation,
            "embedding_model": self.settings.embedding_model,
            "code_version": code_version(),
            "collection": self.vectors.name,
            "vectors": self.vectors.location,
            "documents": new_docs,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "last_errors": report.errors,
        }
        if _without_timestamps(new_manifest) != _without_timestamps(manifest):
            store.write_manifest(self.index_dir, new_manifest)  # the commit point
            report.committed = True
        _checkpoint("committed")
        self.progress.advance()

        # 5. clean up what no manifest references any more
        referenced = store.manifest_chunk_ids(new_manifest, dense_only=True)
        stale = touched - referenced
        if rebuild:
            stale |= self.vectors.all_ids() - referenced
        if stale:
            self.vectors.delete(stale)
        _checkpoint("cleaned")
        store.clear_journal(self.index_dir)
        store.collect_garbage(self.index_dir, new_manifest, keep_previous=old_generation)
        report.indexed = sorted(parsed)
        report.removed = sorted(removed & set(old_docs))
        report.chunks_total = len(chunks)
        report.generation = generation
        report.seconds["write"] = time.perf_counter() - t2
        report.seconds["total"] = time.perf_counter() - t0
        return report

    def _reuse(
        self, chunks: list[Chunk], current: store.Snapshot, sentences: dict[str, tuple[list, Any]]
    ) -> list[Chunk]:
        """Chunks already indexed with the same text and the same sentence spans keep their vectors
        (their metadata is updated); the rest are returned for embedding. A new sentence segmenter
        changes spans without changing text: those passages get new sentence vectors."""
        same = [
            c for c in chunks
            if c.id in current.chunks and current.chunks[c.id].search_text == c.search_text
            and c.id in current.sentence_spans and [tuple(s) for s in current.sentence_spans[c.id][1]] == sentence_spans(c)
        ]
        have = self.vectors.present(c.id for c in same) if same else set()
        reused = [c for c in same if c.id in have]
        changed = [c for c in reused if current.chunks[c.id].to_metadata() != c.to_metadata()]
        if changed:
            self.vectors.update_metadata([c.id for c in changed], [c.to_metadata() for c in changed])
        for c in reused:
            sentences[c.id] = current.sentences(c.id)
        done = {c.id for c in reused}
        return [c for c in chunks if c.id not in done]

    def _embed_and_upsert(self, chunks: list[Chunk], sentences: dict[str, tuple[list, Any]] | None) -> None:
        """Passage and sentence vectors in one forward pass. Chunks of lexical-only kinds (the
        7,457 tariff lines: found by item number and BM25, and 90 % of the embedding time) get no
        vector; their sentence row is zero."""
        embedder = get_embedder(self.settings.embedding_model, self.settings.embedding_batch_size)
        lexical_only = set(self.settings.lexical_only_kinds)
        if sentences is not None:
            for c in chunks:
                if c.kind in lexical_only:
                    sentences[c.id] = ([(0, len(c.text))], np.zeros((1, embedder.dimension), dtype=np.float32))
        chunks = [c for c in chunks if c.kind not in lexical_only]
        if not chunks:
            return
        self.progress.stage("Embedding", len(chunks))
        step = max(1, self.settings.embedding_batch_size) * UPSERT_BATCHES_PER_STEP
        for i in range(0, len(chunks), step):
            batch = chunks[i : i + step]
            spans = [sentence_spans(c) for c in batch]
            shift = [len(c.search_text) - len(c.text) for c in batch]
            vecs, sent_vecs = embedder.embed_with_sentences(
                [c.search_text for c in batch],
                [[(a + d, b + d) for a, b in sp] for sp, d in zip(spans, shift, strict=True)],
                progress=self.progress.advance,
            )
            self.vectors.upsert([c.id for c in batch], vecs, [c.text for c in batch], [c.to_metadata() for c in batch])
            if sentences is not None:
                for c, sp, sv in zip(batch, spans, sent_vecs, strict=True):
                    sentences[c.id] = (sp, sv)
            _checkpoint("upsert_batch")

    def _new_documents(
        self,
        plan: Plan,
        old_docs: dict[str, dict],
        parsed: dict[str, ParsedDocument],
        removed: set[str],
        rebuild: bool,
    ) -> dict[str, dict]:
        new_docs = {doc_id: dict(d) for doc_id, d in old_docs.items() if doc_id not in removed and doc_id not in parsed}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for t in plan.tasks:
            p = parsed.get(t.doc_id)
            if p is None or t.action == "duplicate":
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
                "dense": p.info.kind not in self.settings.lexical_only_kinds,
                "indexed_at": now,
                "warnings": p.warnings,
            }
            store.write_text(self.index_dir, t.sha256, p.text, overwrite=rebuild)
        for t in plan.tasks:  # an unchanged document may have moved between corpus folders
            if t.action == "unchanged" and t.doc_id in new_docs:
                new_docs[t.doc_id]["path"] = str(t.path)
                new_docs[t.doc_id]["abs_path"] = str(t.path.resolve())
        return new_docs

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

    # -- consistency check and repair (`usmca-assistant doctor`) -----------------------------
    def check(self) -> Health:
        """Compare the manifest, the generation files, the stored texts and Chroma. Read-only."""
        return self._check(holding_lock=False)

    def _check(self, holding_lock: bool) -> Health:
        health = Health()
        record = None if holding_lock else store.read_writer_record(self.index_dir)
        writing = store.writer_alive(record)
        if writing:
            health.problems.append(Problem(
                "busy", f"{store.describe_writer(record)} is writing the index; results below may be in flux",
                "wait for it to finish, then run doctor again", "warning"))
        elif record:
            health.problems.append(Problem(
                "stale-writer", f"{store.describe_writer(record)} stopped without finishing (crashed or killed)",
                "clear the record and finish its run"))
        if not writing and store.read_journal(self.index_dir) is not None:
            health.problems.append(Problem(
                "interrupted-run", "an indexing run was interrupted before cleaning up (pending.json)",
                "delete the vectors it added that the index does not reference"))
        leftovers = [] if writing else store.leftover_temp_files(self.index_dir)
        if leftovers:
            health.problems.append(Problem(
                "temp-files", f"{len(leftovers)} leftover temp file(s): " + ", ".join(p.name for p in leftovers[:5]),
                "delete them", "warning"))
        try:
            manifest = store.read_manifest(self.index_dir)
        except store.CorruptIndex as e:
            health.problems.append(Problem("manifest", str(e), "rebuild the index from the documents on disk"))
            return health
        docs = manifest.get("documents", {})
        expected = store.manifest_chunk_ids(manifest)
        health.stats.update(documents=len(docs), chunks=len(expected))
        generation = manifest.get("generation", "")
        if generation:
            self._check_generation(health, generation, expected)
        missing_texts = [d["id"] for d in docs.values() if not store.has_text(self.index_dir, d["sha256"])]
        if missing_texts:
            health.problems.append(Problem(
                "texts", f"stored text missing for {len(missing_texts)} document(s): {', '.join(missing_texts[:5])}",
                "re-index those documents from their files", "warning"))
        gone = [d["id"] for d in docs.values() if not Path(d.get("abs_path", "")).is_file()]
        if gone:
            health.problems.append(Problem(
                "missing-files", f"{len(gone)} indexed document(s) no longer have their file: {', '.join(gone[:5])}",
                "none: they keep answering; `usmca-assistant index` removes them", "warning"))
        self._check_vectors(health, manifest, store.manifest_chunk_ids(manifest, dense_only=True), writing)
        return health

    def _check_generation(self, health: Health, generation: str, expected: set[str]) -> None:
        problems = store.verify_generation(self.index_dir, generation)
        if not problems:
            try:
                snap = store.load_snapshot(self.index_dir)
            except (store.CorruptIndex, FileNotFoundError) as e:
                problems = [str(e)]
            else:
                lexical_ids = set(snap.lexical.ids)
                if set(snap.chunks) != expected:
                    problems.append(f"the doc store holds {len(snap.chunks)} chunks, the manifest lists {len(expected)}")
                if lexical_ids != expected or len(snap.lexical.ids) != len(lexical_ids):
                    problems.append(f"BM25 holds {len(snap.lexical.ids)} ids, the manifest lists {len(expected)}")
                if set(snap.sentence_spans) != expected:
                    problems.append("sentence vectors do not cover the manifest's chunks")
                health.stats["bm25"] = len(snap.lexical.ids)
        if problems:
            health.problems.append(Problem(
                "generation", "; ".join(problems[:3]), "rebuild the generation from the documents on disk"))

    def _check_vectors(self, health: Health, manifest: dict[str, Any], expected: set[str], writing: bool) -> None:
        try:
            vectors = self.vectors
            present = vectors.all_ids()
        except Exception as e:  # noqa: BLE001 - any failure to open or read the store is the finding
            fix = (
                "none: start the Chroma server or fix ASSISTANT_CHROMA_HOST / ASSISTANT_CHROMA_PORT"
                if self.settings.chroma_host
                else "move the embedded Chroma folder aside and embed every document again"
            )
            health.problems.append(Problem("chroma", f"the vector store cannot be read ({e})", fix))
            return
        health.stats["vectors"] = len(present)
        location = manifest.get("vectors", "")
        if manifest.get("generation") and location and location != vectors.location:
            health.problems.append(Problem(
                "vectors-elsewhere", f"the index was embedded into {location}, settings now point to {vectors.location}",
                "embed the missing vectors here", "warning"))
        missing = expected - present
        if missing:
            health.problems.append(Problem(
                "missing-vectors", f"{len(missing)} indexed chunk(s) have no vector in Chroma (dense search misses them)",
                "embed those chunks again"))
        orphans = present - expected
        if orphans and not writing:
            health.problems.append(Problem(
                "orphan-vectors", f"{len(orphans)} vector(s) in Chroma belong to no indexed chunk",
                "delete them", "warning"))

    def repair(self, lock_timeout: float = 0) -> Health:
        """Fix what `check` finds, under the write lock; returns the health after repairing."""
        prior = store.read_writer_record(self.index_dir)
        lock = self._acquire(lock_timeout, "doctor --repair")
        repaired: list[str] = []
        try:
            if prior:
                repaired.append(f"cleared the record of {store.describe_writer(prior)}, which had stopped")
            codes = self._check(holding_lock=True).codes()
            repaired += self._recover()
            if "chroma" in codes and not self.settings.chroma_host:
                aside = self.index_dir / f"chroma.broken-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
                (self.index_dir / "chroma").rename(aside)
                self._vectors = None
                repaired.append(f"moved the unreadable Chroma folder to {aside.name}")
                codes.add("missing-vectors")
            if codes & {"manifest", "generation"}:
                report = self._run_locked(None, [], rebuild=True, force=set())
                repaired.append(
                    f"rebuilt the index from the documents on disk: {len(report.indexed)} document(s), "
                    f"{report.chunks_total} chunks" + (f", {len(report.errors)} failed" if report.errors else "")
                )
            else:
                repaired += self._repair_vectors(codes)
                if "texts" in codes:
                    repaired += self._repair_texts()
            after = self._check(holding_lock=True)
            after.repaired = repaired
            return after
        finally:
            self._release(lock)

    def _repair_vectors(self, codes: set[str]) -> list[str]:
        out: list[str] = []
        if not codes & {"missing-vectors", "orphan-vectors", "vectors-elsewhere"}:
            return out
        manifest = store.read_manifest(self.index_dir)
        expected = store.manifest_chunk_ids(manifest, dense_only=True)
        present = self.vectors.all_ids()
        missing = expected - present
        if missing:
            snap = store.load_snapshot(self.index_dir)
            chunks = [snap.chunks[c] for c in sorted(missing) if c in snap.chunks]
            self._embed_and_upsert(chunks, None)
            out.append(f"embedded {len(chunks)} chunk(s) that had no vector")
        orphans = present - expected
        if orphans:
            self.vectors.delete(orphans)
            out.append(f"deleted {len(orphans)} orphan vector(s)")
        if manifest.get("generation") and manifest.get("vectors") != self.vectors.location:
            manifest.update(vectors=self.vectors.location, collection=self.vectors.name)
            store.write_manifest(self.index_dir, manifest)
            out.append(f"recorded {self.vectors.location} as the index's vector store")
        return out

    def _repair_texts(self) -> list[str]:
        docs = store.read_manifest(self.index_dir).get("documents", {})
        todo = [d for d in docs.values() if not store.has_text(self.index_dir, d["sha256"])]
        paths = [Path(d["abs_path"]) for d in todo if Path(d.get("abs_path", "")).is_file()]
        if not paths:
            return [f"{len(todo)} document(s) lack their stored text and their files are gone; not repaired"]
        report = self._run_locked(paths, [], rebuild=False, force={d["id"] for d in todo})
        return [f"re-indexed {len(report.indexed)} document(s) whose stored text was missing"]
