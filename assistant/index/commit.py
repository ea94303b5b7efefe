"""The commit protocol: the write lock, the write-ahead journal, the atomic manifest commit, and
cleaning up after it (or after a run that was killed).

One run, under the write lock: finish any interrupted run (`recover`), journal the vector ids the
run may add or leave unreferenced (`journal`), upsert vectors, write the new generation, commit
documents.json (`commit`: the only moment readers see a change), delete the vectors no longer
referenced (`drop_unreferenced`), drop the journal and old generations (`finish`). A SIGKILL at any
point leaves the old or the new state; the next run converges.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from assistant.index import runstate, store
from assistant.index.manifest import Manifest
from assistant.index.vectors import VectorStore


class IndexBusy(RuntimeError):
    """Another process holds the write lock."""


def write_lock(index_dir: Path, timeout: float = 0) -> FileLock:
    index_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(index_dir / "write.lock"), timeout=timeout)


def acquire(index_dir: Path, timeout: float, command: str) -> FileLock:
    """The write lock, or IndexBusy naming the holder. Records us as the writer."""
    lock = write_lock(index_dir, timeout)
    try:
        lock.acquire()
    except Timeout as e:
        holder = runstate.describe_writer(runstate.read_writer_record(index_dir))
        waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
        raise IndexBusy(
            f"the index in {index_dir} is busy{waited}: {holder} is writing it. "
            "Wait for it to finish (e.g. `index --wait 600`) or retry later."
        ) from e
    runstate.write_writer_record(index_dir, command)
    return lock


def release(index_dir: Path, lock: FileLock) -> None:
    runstate.clear_writer_record(index_dir)
    lock.release()


def recover(index_dir: Path, stores: Sequence[VectorStore]) -> list[str]:
    """Finish what an interrupted run left: temp files, and vectors it added (or made
    unreferenced) that the committed manifest does not reference, in every collection (MiniLM
    and multilingual). Call holding the lock."""
    notes = []
    leftovers = store.remove_leftovers(index_dir)
    if leftovers:
        notes.append(f"removed {len(leftovers)} temp file(s) left by an interrupted run")
    journaled = runstate.read_journal(index_dir)
    if journaled is not None:
        try:
            referenced = store.load_manifest(index_dir).chunk_ids(dense_only=True)
        except store.CorruptIndex:
            referenced = journaled  # decided later by a rebuild's full scan
        orphans = journaled - referenced
        if orphans:
            for vectors in stores:
                vectors.delete(orphans)
        runstate.clear_journal(index_dir)
        notes.append(f"finished an interrupted run: deleted {len(orphans)} uncommitted or stale vector(s)")
    return notes


def journal(index_dir: Path, touched: set[str]) -> None:
    """Before touching Chroma: every vector id the run may add or leave unreferenced."""
    if touched:
        runstate.write_journal(index_dir, touched)


def generation_name(n_chunks: int) -> str:
    """A new, unique generation folder name (time, writer pid, size)."""
    return f"g{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}-{os.getpid()}-{n_chunks}"


def commit(index_dir: Path, old: Manifest, new: Manifest) -> bool:
    """Replace documents.json atomically when anything but its timestamp changed (the commit
    point: readers see the new generation from here on). True when it was written."""
    if new.same_content(old):
        return False
    store.write_manifest(index_dir, new)
    return True


def drop_unreferenced(
    stores: Sequence[VectorStore], touched: set[str], new: Manifest, *, everything: bool
) -> None:
    """After the commit: delete the journaled vectors the new manifest does not reference from
    every collection (with `everything`, a rebuild, every unreferenced vector in it)."""
    referenced = new.chunk_ids(dense_only=True)
    for vectors in stores:
        stale = touched - referenced
        if everything:
            stale |= vectors.all_ids() - referenced
        if stale:
            vectors.delete(stale)


def finish(index_dir: Path, new: Manifest, previous_generation: str) -> None:
    """The run is complete: drop the journal, then old generations and unreferenced texts."""
    runstate.clear_journal(index_dir)
    store.collect_garbage(index_dir, new, keep_previous=previous_generation)
