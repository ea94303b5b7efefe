"""Consistency check and repair of an index (`usmca-assistant doctor [--repair]`): find and fix
drift between the manifest, the generation files, the stored texts and Chroma.

`check` only reads. `repair` runs under the write lock (the caller holds it) and uses what the
indexer can do — recover an interrupted run, embed chunks, index files again — through the small
`Writer` protocol, so this module never depends on the indexer itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from assistant.domain import Chunk
from assistant.index import runstate, store
from assistant.index.manifest import Manifest
from assistant.index.plan import IndexReport
from assistant.index.vectors import VectorStore
from assistant.settings import Settings


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


class Writer(Protocol):
    """What repairing needs from the indexer."""

    settings: Settings
    index_dir: Path

    @property
    def vectors(self) -> VectorStore: ...
    @property
    def multilingual_vectors(self) -> VectorStore | None: ...
    def stores(self) -> list[VectorStore]: ...
    def forget_vectors(self) -> None: ...
    def recover(self) -> list[str]: ...
    def embed(self, chunks: list[Chunk]) -> None: ...
    def embed_multilingual(self, chunks: list[Chunk]) -> None: ...
    def reindex(self, paths: list[Path] | None, *, rebuild: bool, force: set[str]) -> IndexReport: ...


def check(writer: Writer, *, holding_lock: bool = False) -> Health:
    """Compare the manifest, the generation files, the stored texts and Chroma. Read-only."""
    index_dir = writer.index_dir
    health = Health()
    record = None if holding_lock else runstate.read_writer_record(index_dir)
    writing = runstate.writer_alive(record)
    if writing:
        health.problems.append(Problem(
            "busy", f"{runstate.describe_writer(record)} is writing the index; results below may be in flux",
            "wait for it to finish, then run doctor again", "warning"))
    elif record:
        health.problems.append(Problem(
            "stale-writer", f"{runstate.describe_writer(record)} stopped without finishing (crashed or killed)",
            "clear the record and finish its run"))
    if not writing and runstate.read_journal(index_dir) is not None:
        health.problems.append(Problem(
            "interrupted-run", "an indexing run was interrupted before cleaning up (pending.json)",
            "delete the vectors it added that the index does not reference"))
    leftovers = [] if writing else store.leftover_temp_files(index_dir)
    if leftovers:
        health.problems.append(Problem(
            "temp-files", f"{len(leftovers)} leftover temp file(s): " + ", ".join(p.name for p in leftovers[:5]),
            "delete them", "warning"))
    try:
        manifest = store.load_manifest(index_dir)
    except store.CorruptIndex as e:
        health.problems.append(Problem("manifest", str(e), "rebuild the index from the documents on disk"))
        return health
    docs = manifest.documents
    expected = manifest.chunk_ids()
    health.stats.update(documents=len(docs), chunks=len(expected))
    if manifest.generation:
        _check_generation(index_dir, health, manifest.generation, expected)
    missing_texts = [d.id for d in docs.values() if not store.has_text(index_dir, d.sha256)]
    if missing_texts:
        health.problems.append(Problem(
            "texts", f"stored text missing for {len(missing_texts)} document(s): {', '.join(missing_texts[:5])}",
            "re-index those documents from their files", "warning"))
    gone = [d for d in docs.values() if not d.abs_path or not Path(d.abs_path).is_file()]
    if gone:
        folders = sorted({str(Path(d.abs_path).parent) for d in gone if d.abs_path})
        health.problems.append(Problem(
            "missing-files",
            f"{len(gone)} indexed document(s) no longer have their file: {', '.join(d.id for d in gone[:5])}",
            "none: they keep answering until `usmca-assistant index` (all corpus folders) or "
            f"`usmca-assistant index FOLDER` for the folder they were in ({', '.join(folders[:3]) or '?'}) "
            "removes them", "warning"))
    _check_vectors(writer, health, manifest, writing)
    return health


def _check_generation(index_dir: Path, health: Health, generation: str, expected: set[str]) -> None:
    problems = store.verify_generation(index_dir, generation)
    if not problems:
        try:
            snap = store.load_snapshot(index_dir)
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


def _check_vectors(writer: Writer, health: Health, manifest: Manifest, writing: bool) -> None:
    """Both collections (MiniLM's and, when the channel is on, the multilingual one) must hold a
    vector for every dense chunk the manifest lists, and nothing else."""
    generation, location, expected = manifest.generation, manifest.vectors, manifest.chunk_ids(dense_only=True)
    try:
        stores = writer.stores()
        present_in = [s.all_ids() for s in stores]
    except Exception as e:  # noqa: BLE001 - any failure to open or read the store is the finding
        fix = (
            "none: start the Chroma server or fix ASSISTANT_CHROMA_HOST / ASSISTANT_CHROMA_PORT"
            if writer.settings.chroma_host
            else "move the embedded Chroma folder aside and embed every document again"
        )
        health.problems.append(Problem("chroma", f"the vector store cannot be read ({e})", fix))
        return
    vectors = stores[0]
    health.stats["vectors"] = len(present_in[0])
    if len(stores) > 1:
        health.stats["multilingual_vectors"] = len(present_in[1])
    if generation and location and location != vectors.location:
        health.problems.append(Problem(
            "vectors-elsewhere", f"the index was embedded into {location}, settings now point to {vectors.location}",
            "embed the missing vectors here", "warning"))
    for i, (store_, present) in enumerate(zip(stores, present_in, strict=True)):
        where = "Chroma" if i == 0 else f"the multilingual collection {store_.name}"
        if i and generation and manifest.multilingual_collection != store_.name:
            health.problems.append(Problem(
                "missing-vectors", f"the index has no complete multilingual collection ({store_.name}): it was "
                "built before that channel existed, with it off or with another model, so questions are "
                "retrieved without it", f"embed every passage with {writer.settings.multilingual_model}"))
            continue
        missing = expected - present
        if missing:
            health.problems.append(Problem(
                "missing-vectors", f"{len(missing)} indexed chunk(s) have no vector in {where} (dense search misses them)",
                "embed those chunks again"))
        orphans = present - expected
        if orphans and not writing:
            health.problems.append(Problem(
                "orphan-vectors", f"{len(orphans)} vector(s) in {where} belong to no indexed chunk",
                "delete them", "warning"))


def repair(writer: Writer, prior_writer: dict | None) -> Health:
    """Fix what `check` finds; the caller holds the write lock. Returns the health afterwards."""
    repaired: list[str] = []
    if prior_writer:
        repaired.append(f"cleared the record of {runstate.describe_writer(prior_writer)}, which had stopped")
    codes = check(writer, holding_lock=True).codes()
    repaired += writer.recover()
    if "chroma" in codes and not writer.settings.chroma_host:
        aside = writer.index_dir / f"chroma.broken-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
        (writer.index_dir / "chroma").rename(aside)
        writer.forget_vectors()
        repaired.append(f"moved the unreadable Chroma folder to {aside.name}")
        codes.add("missing-vectors")
    if codes & {"manifest", "generation"}:
        report = writer.reindex(None, rebuild=True, force=set())
        repaired.append(
            f"rebuilt the index from the documents on disk: {len(report.indexed)} document(s), "
            f"{report.chunks_total} chunks" + (f", {len(report.errors)} failed" if report.errors else "")
        )
    else:
        repaired += _repair_vectors(writer, codes)
        if "texts" in codes:
            repaired += _repair_texts(writer)
    after = check(writer, holding_lock=True)
    after.repaired = repaired
    return after


def _repair_vectors(writer: Writer, codes: set[str]) -> list[str]:
    out: list[str] = []
    if not codes & {"missing-vectors", "orphan-vectors", "vectors-elsewhere"}:
        return out
    manifest = store.load_manifest(writer.index_dir)
    expected = manifest.chunk_ids(dense_only=True)
    vectors, ml = writer.vectors, writer.multilingual_vectors
    snap = None
    for target, embed in ((vectors, writer.embed), (ml, writer.embed_multilingual)):
        if target is None:
            continue
        where = "" if target is vectors else " in the multilingual collection"
        if target is ml and manifest.multilingual_collection != ml.name:
            target.clear()  # what it holds may be stale: fill it from scratch
        present = target.all_ids()
        missing = expected - present
        if missing:
            snap = snap or store.load_snapshot(writer.index_dir)
            chunks = [snap.chunks[c] for c in sorted(missing) if c in snap.chunks]
            embed(chunks)
            out.append(f"embedded {len(chunks)} chunk(s) that had no vector{where}")
        orphans = present - expected
        if orphans:
            target.delete(orphans)
            out.append(f"deleted {len(orphans)} orphan vector(s){where}")
    changed = False
    if manifest.generation and manifest.vectors != vectors.location:
        manifest.vectors, manifest.collection = vectors.location, vectors.name
        out.append(f"recorded {vectors.location} as the index's vector store")
        changed = True
    listed = ml.name if ml is not None else ""
    if manifest.generation and manifest.multilingual_collection != listed:
        manifest.multilingual_collection = listed
        changed = True
    if changed:
        store.write_manifest(writer.index_dir, manifest)
    return out


def _repair_texts(writer: Writer) -> list[str]:
    docs = store.load_manifest(writer.index_dir).documents
    todo = [d for d in docs.values() if not store.has_text(writer.index_dir, d.sha256)]
    paths = [Path(d.abs_path) for d in todo if d.abs_path and Path(d.abs_path).is_file()]
    if not paths:
        return [f"{len(todo)} document(s) lack their stored text and their files are gone; not repaired"]
    report = writer.reindex(paths, rebuild=False, force={d.id for d in todo})
    return [f"re-indexed {len(report.indexed)} document(s) whose stored text was missing"]
