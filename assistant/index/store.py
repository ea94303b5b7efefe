"""The on-disk index layout, and the read-only snapshot that retrieval works from.

    index/
      documents.json        the manifest: current generation + every indexed document (atomic)
      gen/<generation>/     immutable once written: chunks.jsonl (the doc store), bm25/, sources.json
      texts/<sha256>.txt    each document's text, for "view in document"
      chroma/               the embedded Chroma folder (unless a Chroma server is configured)
      write.lock            one writer at a time

A writer builds a new generation folder, upserts vectors, and only then replaces documents.json
in one atomic rename. Readers follow documents.json, so a crash at any moment leaves either the old
or the new state; vectors in Chroma that no manifest references are ignored and cleaned later.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.domain import Chunk, SourceRef
from assistant.index.lexical import LexicalIndex

MANIFEST = "documents.json"
MANIFEST_VERSION = 1


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, fsync, rename over the target, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    for d in [folder, *[p for p in folder.rglob("*") if p.is_dir()]]:
        fsync_dir(d)


def read_manifest(index_dir: Path) -> dict[str, Any]:
    path = Path(index_dir) / MANIFEST
    if not path.exists():
        return {"version": MANIFEST_VERSION, "generation": "", "documents": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def write_manifest(index_dir: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(Path(index_dir) / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True))


def generation_dir(index_dir: Path, generation: str) -> Path:
    return Path(index_dir) / "gen" / generation


def write_generation(
    index_dir: Path,
    generation: str,
    chunks: list[Chunk],
    sources: dict[int, SourceRef],
    sentences: dict[str, tuple[list[tuple[int, int]], np.ndarray]],
) -> Path:
    """Write the doc store, BM25, sentence vectors and sources of a new generation (fsynced)."""
    final = generation_dir(index_dir, generation)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    LexicalIndex.build([c.id for c in chunks], [c.search_text for c in chunks]).save(tmp / "bm25")
    spans: dict[str, list] = {}
    rows: list[np.ndarray] = []
    n = 0
    for c in chunks:
        sp, vecs = sentences[c.id]
        spans[c.id] = [n, [list(x) for x in sp]]
        rows.append(vecs)
        n += len(vecs)
    matrix = np.vstack(rows).astype(np.float16) if rows else np.zeros((0, 0), dtype=np.float16)
    np.save(tmp / "sentences.npy", matrix)
    (tmp / "sentences.json").write_text(json.dumps(spans), encoding="utf-8")
    (tmp / "sources.json").write_text(
        json.dumps([s.__dict__ for s in sorted(sources.values(), key=lambda s: s.footnote)], ensure_ascii=False),
        encoding="utf-8",
    )
    fsync_tree(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final


def write_text(index_dir: Path, sha256: str, text: str) -> None:
    path = Path(index_dir) / "texts" / f"{sha256}.txt"
    if not path.exists():
        atomic_write_text(path, text)


def read_text(index_dir: Path, sha256: str) -> str | None:
    path = Path(index_dir) / "texts" / f"{sha256}.txt"
    return path.read_text(encoding="utf-8") if path.exists() else None


def collect_garbage(index_dir: Path, manifest: dict[str, Any], keep_previous: str = "") -> None:
    """Drop generations other than the current (and the one just replaced, which a reader may
    still be loading) and texts no document references."""
    gen_root = Path(index_dir) / "gen"
    keep = {manifest.get("generation", ""), keep_previous}
    if gen_root.exists():
        for d in gen_root.iterdir():
            if d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)
    texts = Path(index_dir) / "texts"
    if texts.exists():
        wanted = {f"{d['sha256']}.txt" for d in manifest.get("documents", {}).values()}
        for f in texts.iterdir():
            if f.name not in wanted and not f.name.startswith("."):
                f.unlink(missing_ok=True)


@dataclass
class Snapshot:
    """Everything retrieval needs from one committed generation, in memory."""

    generation: str
    documents: dict[str, dict[str, Any]]
    chunks: dict[str, Chunk]
    lexical: LexicalIndex
    sources: dict[int, SourceRef]
    kinds: np.ndarray = field(default_factory=lambda: np.array([]))
    doc_ids: np.ndarray = field(default_factory=lambda: np.array([]))
    by_key: dict[str, list[str]] = field(default_factory=dict)  # exact lookup: article, section, tariff item
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float16))
    sentence_spans: dict[str, list] = field(default_factory=dict)  # chunk id -> [first row, [[s, e], ...]]

    def sentences(self, chunk_id: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Sentence spans of a chunk's text and their vectors (computed at index time)."""
        row, spans = self.sentence_spans[chunk_id]
        vecs = self.sentence_vectors[row : row + len(spans)].astype(np.float32)
        return [tuple(x) for x in spans], vecs

    @property
    def empty(self) -> bool:
        return not self.chunks

    def mask(self, kinds: set[str] | None = None, documents: set[str] | None = None) -> np.ndarray | None:
        if not kinds and not documents:
            return None
        m = np.ones(len(self.lexical.ids), dtype=bool)
        if kinds:
            m &= np.isin(self.kinds, list(kinds))
        if documents:
            m &= np.isin(self.doc_ids, list(documents))
        return m


def load_snapshot(index_dir: Path) -> Snapshot:
    manifest = read_manifest(index_dir)
    generation = manifest.get("generation", "")
    if not generation:
        return Snapshot("", {}, {}, LexicalIndex.build([], []), {})
    folder = generation_dir(index_dir, generation)
    chunks: dict[str, Chunk] = {}
    with open(folder / "chunks.jsonl", encoding="utf-8") as f:
        for line in f:
            c = Chunk.from_dict(json.loads(line))
            chunks[c.id] = c
    lexical = LexicalIndex.load(folder / "bm25")
    sources = {}
    sp = folder / "sources.json"
    if sp.exists():
        for d in json.loads(sp.read_text(encoding="utf-8")):
            sources[int(d["footnote"])] = SourceRef(**d)
    sentence_vectors = np.load(folder / "sentences.npy")
    sentence_spans = json.loads((folder / "sentences.json").read_text(encoding="utf-8"))
    order = [chunks[i] for i in lexical.ids]
    by_key: dict[str, list[str]] = {}
    for c in order:
        key = str(c.meta.get("key", "") or "")
        if key:
            by_key.setdefault(key.lower(), []).append(c.id)
    return Snapshot(
        generation=generation,
        documents=manifest.get("documents", {}),
        chunks=chunks,
        lexical=lexical,
        sources=sources,
        kinds=np.array([c.kind for c in order]),
        doc_ids=np.array([c.document_id for c in order]),
        by_key=by_key,
        sentence_vectors=sentence_vectors,
        sentence_spans=sentence_spans,
    )


class IndexReader:
    """Hands out the current snapshot and reloads it when another process commits a new one."""

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self._snapshot: Snapshot | None = None
        self._stamp: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def _manifest_stamp(self) -> tuple[float, int] | None:
        try:
            st = (self.index_dir / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime, st.st_size)

    def snapshot(self) -> Snapshot:
        stamp = self._manifest_stamp()
        with self._lock:
            if self._snapshot is None or stamp != self._stamp:
                for attempt in range(3):
                    try:
                        self._snapshot = load_snapshot(self.index_dir)
                        break
                    except FileNotFoundError:
                        # a writer replaced the generation while we were reading: read the new one
                        if attempt == 2 and self._snapshot is not None:
                            return self._snapshot
                        if attempt == 2:
                            raise
                        stamp = self._manifest_stamp()
                self._stamp = stamp
            return self._snapshot
