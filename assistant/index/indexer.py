"""Incremental, crash-safe indexing: plan, parse, embed, write a generation, commit, clean up.

`Indexer` runs the steps; each job lives in its own module, and dependencies point one way:

    plan.py        what to add, update, rename, skip and remove (and the run's report)
    upsert.py      embedding new chunks and storing their vectors in Chroma (MiniLM with sentence
                   vectors; the multilingual channel in its own collection); reusing indexed ones
    generation.py  what the new generation holds: documents, chunks, sources, recommendations
    commit.py      the write lock, the journal, the atomic manifest commit, cleaning up
    doctor.py      consistency check and repair (`usmca-assistant doctor`)
    hooks.py       progress and fault-injection callbacks

A SIGKILL at any point leaves the old or the new state; the next run converges (commit.py).
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from assistant.domain import Chunk
from assistant.index import commit, doctor, generation, runstate, store
from assistant.index.commit import IndexBusy
from assistant.index.doctor import Health, Problem
from assistant.index.hooks import STAGES, Faults, NoProgress, Progress, no_faults
from assistant.index.manifest import Manifest
from assistant.index.plan import FileTask, IndexReport, Plan, code_version, discover, make_plan
from assistant.index.recommendation_set import RecommendationSet
from assistant.index.upsert import (
    UPSERT_BATCHES_PER_STEP,
    IndexEmbedder,
    PassageEmbedder,
    Sentences,
    embed_and_upsert,
    embed_passages_and_upsert,
    reuse_vectors,
    sentence_spans,
)
from assistant.index.vectors import VectorStore, make_client, multilingual_store
from assistant.ingest.base import IngestError, ParsedDocument
from assistant.ingest.parse import parse_file
from assistant.settings import Settings

__all__ = [
    "STAGES", "UPSERT_BATCHES_PER_STEP", "FileTask", "Health", "IndexBusy", "IndexReport", "Indexer", "Plan",
    "Problem", "code_version", "discover", "sentence_spans",
]


class Indexer:
    """Indexes documents into `settings.index_dir`.

    `embedder`: a ready-made model (any `IndexEmbedder`); default, the settings' model, loaded on
    first use. `multilingual_embedder`: the same for the multilingual channel (any `PassageEmbedder`;
    default `settings.multilingual_model`; with that setting "" the channel is off and this is
    ignored). `faults`: called with each stage name of a run (`hooks.STAGES`); tests use it to
    fail, pause or kill a run at a precise point."""

    def __init__(
        self,
        settings: Settings,
        progress: Progress | None = None,
        *,
        embedder: IndexEmbedder | None = None,
        multilingual_embedder: PassageEmbedder | None = None,
        faults: Faults | None = None,
    ):
        self.settings = settings
        self.index_dir = Path(settings.index_dir)
        self.progress = progress or NoProgress()
        self.faults = faults or no_faults
        self._embedder = embedder
        self._multilingual_embedder = multilingual_embedder
        self._vectors: VectorStore | None = None
        self._multilingual_vectors: VectorStore | None = None

    @property
    def vectors(self) -> VectorStore:
        """The MiniLM collection (passage vectors; sentence vectors live in the generation)."""
        if self._vectors is None:
            client = make_client(self.index_dir, self.settings.chroma_host, self.settings.chroma_port)
            self._vectors = VectorStore(client, self.settings.embedding_model)
        return self._vectors

    @property
    def multilingual_vectors(self) -> VectorStore | None:
        """The multilingual channel's collection, on the same client (None: the channel is off)."""
        if not self.settings.multilingual_model:
            return None
        if self._multilingual_vectors is None:
            self._multilingual_vectors = multilingual_store(self.vectors.client, self.settings.multilingual_model)
        return self._multilingual_vectors

    def stores(self) -> list[VectorStore]:
        """Every collection this index keeps vectors in: MiniLM's, then the multilingual one."""
        ml = self.multilingual_vectors
        return [self.vectors] if ml is None else [self.vectors, ml]

    def forget_vectors(self) -> None:
        """Open the vector stores afresh on next use."""
        self._vectors = None
        self._multilingual_vectors = None

    @property
    def embedder(self) -> IndexEmbedder:
        if self._embedder is None:
            from assistant.index.embeddings import get_embedder

            self._embedder = get_embedder(self.settings.embedding_model, self.settings.embedding_batch_size)
        return self._embedder

    @property
    def multilingual_embedder(self) -> PassageEmbedder:
        if self._multilingual_embedder is None:
            from assistant.index.embeddings import get_embedder

            self._multilingual_embedder = get_embedder(
                self.settings.multilingual_model, self.settings.embedding_batch_size
            )
        return self._multilingual_embedder

    def lock(self, timeout: float = 0) -> FileLock:
        return commit.write_lock(self.index_dir, timeout)

    def _acquire(self, timeout: float, command: str) -> FileLock:
        lock = commit.acquire(self.index_dir, timeout, command)
        # Start from a fresh Chroma view: a long-lived process may hold one from before another
        # writer's run, and writing through a stale in-memory HNSW index can lose vectors.
        self.forget_vectors()
        return lock

    # -- planning ---------------------------------------------------------------------------
    def plan(self, paths: list[Path] | None = None, *, force: Iterable[str] = (), rebuild: bool = False) -> Plan:
        """What a run would do (`index --dry-run`). Without paths: the corpus folders; with paths,
        those files and folders (documents elsewhere are left alone)."""
        try:
            docs = store.load_manifest(self.index_dir).documents
        except store.CorruptIndex:
            docs, rebuild = {}, True
        return make_plan(self.settings, docs, paths, force=force, rebuild=rebuild)

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
            self.faults("locked")
            recovered = self.recover()
            report = self.reindex(paths, remove=list(remove or []), rebuild=rebuild, force=set(force))
            report.recovered = recovered + report.recovered
            return report
        finally:
            commit.release(self.index_dir, lock)

    def remove(self, doc_ids: list[str], lock_timeout: float = 0) -> IndexReport:
        """Drop documents (all their chunks, vectors and BM25 entries) without touching others."""
        return self.run([], remove=doc_ids, lock_timeout=lock_timeout)

    def recover(self) -> list[str]:
        """Finish an interrupted run (call holding the lock)."""
        return commit.recover(self.index_dir, self.stores())

    def embed(self, chunks: list[Chunk], sentences: Sentences | None = None) -> None:
        """Embed chunks and upsert their vectors (lexical-only kinds get none)."""
        embed_and_upsert(
            chunks, embedder=self.embedder, vectors=self.vectors, batch_size=self.settings.embedding_batch_size,
            lexical_only=set(self.settings.lexical_only_kinds), sentences=sentences, progress=self.progress,
            faults=self.faults,
        )

    def embed_multilingual(self, chunks: list[Chunk]) -> None:
        """Embed chunks with the multilingual model into its collection (no-op when it is off)."""
        ml = self.multilingual_vectors
        if ml is None:
            return
        embed_passages_and_upsert(
            chunks, embedder=self.multilingual_embedder, vectors=ml, batch_size=self.settings.embedding_batch_size,
            lexical_only=set(self.settings.lexical_only_kinds), progress=self.progress, faults=self.faults,
        )

    def _current(self, rebuild: bool) -> tuple[Manifest, store.Snapshot, bool, list[str]]:
        """The committed manifest and snapshot; an unreadable one turns this run into a rebuild."""
        notes = []
        try:
            manifest = store.load_manifest(self.index_dir)
        except store.CorruptIndex as e:
            notes.append(f"{e}; rebuilding the index from the documents on disk")
            return Manifest(), store.empty_snapshot(), True, notes
        try:
            current = store.load_snapshot(self.index_dir)
        except (store.CorruptIndex, FileNotFoundError) as e:
            notes.append(f"the committed index files cannot be read ({e}); re-parsing every document")
            current = store.empty_snapshot()
            rebuild = True
        if manifest.generation and manifest.vectors and (
            manifest.vectors != self.vectors.location or manifest.collection != self.vectors.name
        ):
            notes.append(
                f"the index's vectors were stored in {manifest.vectors} ({manifest.collection}), "
                f"now {self.vectors.location} ({self.vectors.name}); embedding every document again"
            )
            rebuild = True
        return manifest, current, rebuild, notes

    def _parse(self, todo: list[FileTask], old_docs: dict, report: IndexReport) -> dict[str, ParsedDocument]:
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
        return parsed

    def reindex(
        self, paths: list[Path] | None, *, remove: Iterable[str] = (), rebuild: bool, force: set[str]
    ) -> IndexReport:
        """One run's work; the caller holds the write lock and has recovered any interrupted run."""
        t0 = time.perf_counter()
        manifest, current, rebuild, notes = self._current(rebuild)
        old_docs = manifest.documents
        if paths is not None and current.empty and old_docs:
            # The old chunks are unreadable: documents outside `paths` must be parsed again too.
            paths = [*paths, *(Path(d.abs_path) for d in old_docs.values() if d.abs_path and Path(d.abs_path).is_file())]
        if old_docs and manifest.code_version != code_version():
            # Parsers or chunking changed since this index was built: parse every document again
            # (vectors of passages whose text did not change are reused, not recomputed).
            force = force | set(old_docs)
            notes.append("the indexing code changed since the last run: every document was parsed again")
        plan = make_plan(self.settings, old_docs, paths, force=force, rebuild=rebuild)
        plan.remove = sorted(set(plan.remove) | set(remove))
        report = IndexReport(plan=plan, errors=dict(plan.errors), recovered=notes)

        # 1. parse what is new or changed
        todo = [t for t in plan.tasks if t.action in ("add", "update", "rename")]
        parsed = self._parse(todo, old_docs, report)
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
            touched.update(old_docs[doc_id].chunk_ids if doc_id in old_docs else [])
        commit.journal(self.index_dir, touched)
        self.faults("journaled")

        # 3. embed new chunks (passage and sentence vectors in one pass); reuse indexed ones
        t1 = time.perf_counter()
        sentences: Sentences = {}
        to_embed = new_chunks
        if not rebuild and new_chunks:
            to_embed = reuse_vectors(new_chunks, current, self.vectors, sentences)
            report.chunks_reused = len(new_chunks) - len(to_embed)
        if to_embed:
            self.embed(to_embed, sentences)
        lexical_only = set(self.settings.lexical_only_kinds)
        report.chunks_embedded = sum(1 for c in to_embed if c.kind not in lexical_only)
        report.seconds["embed"] = time.perf_counter() - t1
        # 3b. the same dense chunks into the multilingual collection, by the same reuse rule
        t1 = time.perf_counter()
        ml_todo = self._multilingual_todo(manifest, current, new_chunks, old_docs, parsed, removed, rebuild)
        if ml_todo:
            self.embed_multilingual(ml_todo)
        report.chunks_embedded_multilingual = sum(1 for c in ml_todo if c.kind not in lexical_only)
        report.seconds["embed_multilingual"] = time.perf_counter() - t1
        self.faults("upserted")

        # 4. the new generation: kept documents + new ones; failed updates keep their old version
        t2 = time.perf_counter()
        self.progress.stage("Writing index", 1)
        new_docs = generation.document_entries(
            plan, old_docs, parsed, removed, set(self.settings.lexical_only_kinds)
        )
        for doc_id, p in parsed.items():
            if doc_id in new_docs:
                store.write_text(self.index_dir, new_docs[doc_id].sha256, p.text, overwrite=rebuild)
        chunks = generation.collect_chunks(new_docs, parsed, current, sentences, report.warnings)
        old_generation = manifest.generation
        content_changed = bool(parsed) or bool(removed & set(old_docs)) or set(new_docs) != set(old_docs)
        name = old_generation
        if content_changed or not old_generation or rebuild:
            name = commit.generation_name(len(chunks))
            previous = current.stored_recommendations or RecommendationSet()
            recommendations, report.recommendations_extracted = generation.recommendations(
                chunks, sentences, previous, self.settings.embedding_model
            )
            sources = generation.footnote_sources(parsed, current.sources, new_docs)
            store.write_generation(self.index_dir, name, chunks, sources, sentences, recommendations)
        self.faults("generation")
        new_manifest = Manifest(
            generation=name,
            documents=new_docs,
            embedding_model=self.settings.embedding_model,
            code_version=code_version(),
            collection=self.vectors.name,
            multilingual_collection=ml.name if (ml := self.multilingual_vectors) is not None else "",
            vectors=self.vectors.location,
            updated_at=datetime.now(UTC).isoformat(timespec="seconds"),
            last_errors=report.errors,
        )
        report.committed = commit.commit(self.index_dir, manifest, new_manifest)
        self.faults("committed")
        self.progress.advance()

        # 5. clean up what no manifest references any more
        commit.drop_unreferenced(self.stores(), touched, new_manifest, everything=rebuild)
        self.faults("cleaned")
        commit.finish(self.index_dir, new_manifest, old_generation)
        report.indexed = sorted(parsed)
        report.removed = sorted(removed & set(old_docs))
        report.chunks_total = len(chunks)
        report.generation = name
        report.seconds["write"] = time.perf_counter() - t2
        report.seconds["total"] = time.perf_counter() - t0
        return report

    def _multilingual_todo(
        self,
        manifest: Manifest,
        current: store.Snapshot,
        new_chunks: list[Chunk],
        old_docs: dict,
        parsed: dict[str, ParsedDocument],
        removed: set[str],
        rebuild: bool,
    ) -> list[Chunk]:
        """The chunks the multilingual collection needs vectors for in this run.

        A rebuild embeds every chunk (all were parsed again). An index whose committed manifest does
        not list this collection (built before the channel existed, with it off, or with another
        model) gets it filled from scratch: readers do not use it until this run commits. Otherwise
        new chunks are embedded and unchanged ones keep their vectors, as on the MiniLM side."""
        ml = self.multilingual_vectors
        if ml is None:
            return []
        if rebuild:
            return new_chunks
        if manifest.multilingual_collection != ml.name:
            ml.clear()
            return new_chunks + generation.kept_chunks(old_docs, parsed, removed, current)
        return reuse_vectors(new_chunks, current, ml) if new_chunks else []

    # -- consistency check and repair (`usmca-assistant doctor`) -----------------------------
    def check(self) -> Health:
        """Compare the manifest, the generation files, the stored texts and Chroma. Read-only."""
        return doctor.check(self)

    def repair(self, lock_timeout: float = 0) -> Health:
        """Fix what `check` finds, under the write lock; returns the health after repairing."""
        prior = runstate.read_writer_record(self.index_dir)
        lock = self._acquire(lock_timeout, "doctor --repair")
        try:
            return doctor.repair(self, prior)
        finally:
            commit.release(self.index_dir, lock)
