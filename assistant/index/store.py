"""The on-disk index layout, and the read-only snapshot that retrieval works from.

    index/
      documents.json        the manifest: current generation + every indexed document (atomic)
      gen/<generation>/     immutable once written: chunks.jsonl (the doc store), bm25/, sentence
                            vectors, sources.json, recommendations.json (the brief's
                            recommendation records), files.json (size and sha256 of each file)
      texts/<sha256>.txt    each document's text, for "view in document"
      chroma/               the embedded Chroma folder (unless a Chroma server is configured)
      write.lock            one writer at a time (an flock: the OS releases it when the writer dies)
      writer.json           who holds the lock (pid, host, start time), for messages and `doctor`
      pending.json          the write-ahead journal: vector ids a run may add or drop before its
                            commit is known to be complete

A writer journals the ids it will touch, upserts vectors, builds a new generation folder, and only
then replaces documents.json in one atomic rename. Readers follow documents.json, so a crash at any
moment leaves either the old or the new state; vectors in Chroma that no manifest references are
ignored by readers, and the next writer deletes the journalled ones that the manifest does not
reference.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.domain import Chunk, SourceRef
from assistant.index.lexical import LexicalIndex, tokenize
from assistant.index.manifest import Manifest
from assistant.index.recommendation_set import RecommendationSet, extract_set
from assistant.ingest.base import schedule_party
from assistant.ingest.recommendations import Recommendation
from assistant.ingest.provisions import named_keys
from assistant.textutil import acronym_definitions, name_initials

MANIFEST = "documents.json"
RECOMMENDATIONS = "recommendations.json"
# A name abbreviated by its initials must recur: three uses, a judgment (not fitted), so that a
# one-off run of capitalised words ("Mexico City on December") is not taken for an agency.
NAME_MIN_USES = 3
COMMON_WORD_ZIPF = 3.0  # as for Spanish cognates (retrieve/translate.py): a common English word
WRITER = "writer.json"
JOURNAL = "pending.json"
GENERATION_FILES = "files.json"

log = logging.getLogger(__name__)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temp file in the same folder, fsync, rename over the target, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; readers may run as another user
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


class CorruptIndex(RuntimeError):
    """A committed index file cannot be read; `usmca-assistant doctor --repair` rebuilds it."""


def read_manifest(index_dir: Path) -> dict[str, Any]:
    """documents.json as plain JSON (readers); the writer uses the typed `load_manifest`."""
    path = Path(index_dir) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Manifest().to_dict()
    try:
        manifest = json.loads(text)
    except ValueError as e:
        raise CorruptIndex(f"{path} is not valid JSON ({e}); run `usmca-assistant doctor --repair`") from e
    if not isinstance(manifest, dict) or not isinstance(manifest.get("documents"), dict):
        raise CorruptIndex(f"{path} is not an index manifest; run `usmca-assistant doctor --repair`")
    return manifest


def load_manifest(index_dir: Path) -> Manifest:
    return Manifest.from_dict(read_manifest(index_dir))


def manifest_chunk_ids(manifest: dict[str, Any] | Manifest, *, dense_only: bool = False) -> set[str]:
    """Chunk ids the manifest references (see `Manifest.chunk_ids`)."""
    typed = manifest if isinstance(manifest, Manifest) else Manifest.from_dict(manifest)
    return typed.chunk_ids(dense_only=dense_only)


def write_manifest(index_dir: Path, manifest: dict[str, Any] | Manifest) -> None:
    data = manifest.to_dict() if isinstance(manifest, Manifest) else manifest
    atomic_write_text(Path(index_dir) / MANIFEST, json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True))


def generation_dir(index_dir: Path, generation: str) -> Path:
    return Path(index_dir) / "gen" / generation


def write_generation(
    index_dir: Path,
    generation: str,
    chunks: list[Chunk],
    sources: dict[int, SourceRef],
    sentences: dict[str, tuple[list[tuple[int, int]], np.ndarray]],
    recommendations: RecommendationSet | None = None,
) -> Path:
    """Write the doc store, BM25, sentence vectors, sources and recommendation records of a new
    generation (fsynced)."""
    final = generation_dir(index_dir, generation)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as f:
        for c in chunks:
            f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
    LexicalIndex.build([c.id for c in chunks], [c.lexical_text for c in chunks]).save(tmp / "bm25")
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
    if recommendations is not None:
        (tmp / RECOMMENDATIONS).write_text(json.dumps(recommendations.to_json(), ensure_ascii=False), encoding="utf-8")
    (tmp / GENERATION_FILES).write_text(json.dumps(_file_digests(tmp), indent=1), encoding="utf-8")
    fsync_tree(tmp)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    fsync_dir(final.parent)
    return final


def _file_digests(folder: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != GENERATION_FILES:
            h = hashlib.sha256()
            with open(p, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            out[p.relative_to(folder).as_posix()] = {"size": p.stat().st_size, "sha256": h.hexdigest()}
    return out


def verify_generation(index_dir: Path, generation: str) -> list[str]:
    """Problems with a generation folder's files (missing, truncated, altered); empty when intact."""
    folder = generation_dir(index_dir, generation)
    if not folder.is_dir():
        return [f"generation folder {folder} is missing"]
    listing = folder / GENERATION_FILES
    if not listing.exists():
        required = ["chunks.jsonl", "bm25/ids.json", "sentences.npy", "sentences.json"]
        return [f"{folder / name} is missing" for name in required if not (folder / name).exists()]
    try:
        expected = json.loads(listing.read_text(encoding="utf-8"))
    except ValueError:
        return [f"{listing} is corrupt"]
    actual = _file_digests(folder)
    problems = []
    for name, want in expected.items():
        got = actual.get(name)
        if got is None:
            problems.append(f"{folder / name} is missing")
        elif got != want:
            problems.append(f"{folder / name} is corrupt (size or checksum differs from when it was written)")
    return problems


def write_text(index_dir: Path, sha256: str, text: str, *, overwrite: bool = False) -> None:
    path = Path(index_dir) / "texts" / f"{sha256}.txt"
    if overwrite or not path.exists():
        atomic_write_text(path, text)


def has_text(index_dir: Path, sha256: str) -> bool:
    return (Path(index_dir) / "texts" / f"{sha256}.txt").is_file()


def read_text(index_dir: Path, sha256: str) -> str | None:
    path = Path(index_dir) / "texts" / f"{sha256}.txt"
    return path.read_text(encoding="utf-8") if path.exists() else None


def leftover_temp_files(index_dir: Path) -> list[Path]:
    """Temp files and folders an interrupted writer left behind (never read by anyone)."""
    root = Path(index_dir)
    found = [p for p in root.glob(".*.tmp")]
    found += [p for p in (root / "texts").glob(".*.tmp")]
    found += [p for p in (root / "gen").glob("*.tmp")]
    return sorted(found)


def remove_leftovers(index_dir: Path) -> list[Path]:
    """Delete leftover temp files; call only while holding the write lock."""
    found = leftover_temp_files(index_dir)
    for p in found:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return found


def collect_garbage(index_dir: Path, manifest: Manifest, keep_previous: str = "") -> None:
    """Drop generations other than the current (and the one just replaced, which a reader may
    still be loading) and texts no document references."""
    gen_root = Path(index_dir) / "gen"
    keep = {manifest.generation, keep_previous}
    if gen_root.exists():
        for d in gen_root.iterdir():
            if d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)
    texts = Path(index_dir) / "texts"
    if texts.exists():
        wanted = {f"{d.sha256}.txt" for d in manifest.documents.values()}
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
    # exact lookup: article, section, tariff item; Table 1 provisions and the items their rows name
    by_key: dict[str, list[str]] = field(default_factory=dict)
    sentence_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float16))
    sentence_spans: dict[str, list] = field(default_factory=dict)  # chunk id -> [first row, [[s, e], ...]]
    # the Chroma collection holding every dense chunk's multilingual vector ("": none, e.g. an index
    # built before the channel existed or with it off; retrieval then leaves the channel out)
    multilingual_collection: str = ""
    _vocabularies: dict[frozenset[str], frozenset[str]] = field(default_factory=dict, repr=False)
    # extracted at index time (recommendations.json); None: a generation written before that
    stored_recommendations: RecommendationSet | None = field(default=None, repr=False)
    _extracted: list[RecommendationSet] = field(default_factory=list, repr=False)
    _acronyms: dict[str, tuple[str, ...]] | None = field(default=None, repr=False)
    _notes: dict[tuple[str, int], str] | None = field(default=None, repr=False)
    _led_in: dict[str, str] | None = field(default=None, repr=False)

    def note_passages(self) -> dict[tuple[str, int], str]:
        """(document id, footnote number) -> the id of the passage holding that footnote (the
        brief's notes are indexed as passages of their own); computed once per generation."""
        if self._notes is None:
            self._notes = {(c.document_id, c.meta["note"]): c.id for c in self.chunks.values() if "note" in c.meta}
        return self._notes

    def tables_led_in(self) -> dict[str, str]:
        """lead-in passage id -> the id of the table it introduces: a passage ending in a colon
        ("... shall be permitted to enter duty-free in each quota year under this TRQ is:") and the
        table that follows it in its document (a table is a passage of its own, never merged);
        computed once per generation."""
        if self._led_in is None:
            ordered = sorted(self.chunks.values(), key=lambda c: (c.document_id, c.position))
            self._led_in = {a.id: b.id for a, b in zip(ordered, ordered[1:])
                            if a.document_id == b.document_id and b.meta.get("table") and a.text.rstrip().endswith(":")}
        return self._led_in

    def sentences(self, chunk_id: str) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Sentence spans of a chunk's text and their vectors (computed at index time)."""
        row, spans = self.sentence_spans[chunk_id]
        vecs = self.sentence_vectors[row : row + len(spans)].astype(np.float32)
        return [tuple(x) for x in spans], vecs

    @property
    def empty(self) -> bool:
        return not self.chunks

    def scheduled_parties(self) -> frozenset[str]:
        """The parties whose tariff schedule is indexed line by line ("Canada", "Mexico", "the
        United States"), read from the titles of the tariff documents."""
        parties = {schedule_party(str(d.get("title") or "")) for d in self.documents.values()
                   if d.get("kind") == "tariff"} - {""}
        return frozenset("the United States" if p == "United States" else p for p in parties)

    def acronyms(self) -> dict[str, tuple[str, ...]]:
        """The acronyms the indexed documents define, as lexical tokens ("rrm" -> the tokens of
        "Rapid Response Mechanism"), so a sentence that says "the RRM" covers a question that
        names it in full; computed once per generation, the most frequent long form winning."""
        if self._acronyms is None:
            counts: Counter[tuple[str, tuple[str, ...]]] = Counter()
            for c in self.chunks.values():
                if c.kind != "tariff":
                    for short, long in acronym_definitions(c.text):
                        key, expansion = tokenize(short), tuple(tokenize(long))
                        if len(key) == 1 and len(expansion) >= 2:
                            counts[(key[0], expansion)] += 1
            found: dict[str, tuple[str, ...]] = {}
            for (key, expansion), _ in counts.most_common():
                found.setdefault(key, expansion)
            for key, expansion in self._abbreviable_names().items():
                found.setdefault(key, expansion)
            self._acronyms = found
        return self._acronyms

    def _abbreviable_names(self) -> dict[str, tuple[str, ...]]:
        """Initials -> tokens of the names the documents use at least `NAME_MIN_USES` times, for
        acronyms they never define ("ITC": "International Trade Commission"). Initials that spell
        a common English word ("TEA": Trade Expansion Act) are left out: they would read "tea"."""
        from wordfreq import zipf_frequency

        counts: Counter[tuple[str, tuple[str, ...]]] = Counter()
        for c in self.chunks.values():
            if c.kind != "tariff":
                for initials, name in name_initials(c.text):
                    key, expansion = tokenize(initials), tuple(tokenize(name))
                    if len(key) == 1 and len(initials) >= 3 and len(expansion) >= 2:
                        counts[(key[0], expansion)] += 1
        out: dict[str, tuple[str, ...]] = {}
        for (key, expansion), n in counts.most_common():
            if n >= NAME_MIN_USES and zipf_frequency(key, "en") < COMMON_WORD_ZIPF:
                out.setdefault(key, expansion)
        return out

    @property
    def recommendation_set(self) -> RecommendationSet:
        """The brief's recommendation records and vocabulary, as the indexer stored them with this
        generation (for a generation written before that: extracted here, once)."""
        if self.stored_recommendations is None and not self._extracted:
            lookup = lambda cid: self.sentences(cid) if cid in self.sentence_spans else None  # noqa: E731
            self._extracted.append(extract_set(self.chunks.values(), lookup))
        return self.stored_recommendations or self._extracted[0]

    @property
    def recommendations(self) -> list[Recommendation]:
        """The brief's recommendations (`assistant.ingest.recommendations`), in document order."""
        return self.recommendation_set.records

    def vocabulary(self, kinds: set[str]) -> frozenset[str]:
        """The search terms the passages of these kinds use (computed once per snapshot)."""
        key = frozenset(kinds)
        if key not in self._vocabularies:
            self._vocabularies[key] = frozenset(
                t for c in self.chunks.values() if c.kind in key for t in tokenize(c.lexical_text)
            )
        return self._vocabularies[key]

    def mask(self, kinds: set[str] | None = None, documents: set[str] | None = None) -> np.ndarray | None:
        if not kinds and not documents:
            return None
        m = np.ones(len(self.lexical.ids), dtype=bool)
        if kinds:
            m &= np.isin(self.kinds, list(kinds))
        if documents:
            m &= np.isin(self.doc_ids, list(documents))
        return m


def empty_snapshot() -> Snapshot:
    return Snapshot("", {}, {}, LexicalIndex.build([], []), {})


def load_snapshot(index_dir: Path) -> Snapshot:
    manifest = read_manifest(index_dir)
    generation = manifest.get("generation", "")
    if not generation:
        return empty_snapshot()
    folder = generation_dir(index_dir, generation)
    try:
        return _load_generation(folder, generation, manifest)
    except FileNotFoundError:
        raise
    except Exception as e:  # noqa: BLE001 - any unreadable file means a damaged generation
        raise CorruptIndex(
            f"index generation {folder} cannot be read ({type(e).__name__}: {e}); "
            "run `usmca-assistant doctor --repair`"
        ) from e


def _load_generation(folder: Path, generation: str, manifest: dict[str, Any]) -> Snapshot:
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
    recommendations = None
    rp = folder / RECOMMENDATIONS
    if rp.exists():
        recommendations = RecommendationSet.from_json(json.loads(rp.read_text(encoding="utf-8")))
    sentence_vectors = np.load(folder / "sentences.npy")
    sentence_spans = json.loads((folder / "sentences.json").read_text(encoding="utf-8"))
    order = [chunks[i] for i in lexical.ids]
    by_key: dict[str, list[str]] = {}
    for c in order:
        key = str(c.meta.get("key", "") or "")
        if key:
            by_key.setdefault(key.lower(), []).append(c.id)
    # a key a passage names but does not own, where no passage owns it: the U.S. TRQ appendix's
    # Table 1 row for "1806.20.77", not when that is also a line of Canada's schedule (13 of its
    # 170 rows), which a question on the number means more often
    named: dict[str, list[str]] = {}
    for c in order:
        if c.kind != "tariff":
            for k in named_keys(c.text, bool(c.meta.get("table"))):
                if k not in by_key:
                    named.setdefault(k, []).append(c.id)
    by_key.update(named)
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
        multilingual_collection=str(manifest.get("multilingual_collection") or ""),
        stored_recommendations=recommendations,
    )


class IndexReader:
    """Hands out the current snapshot and reloads it when another process commits a new one.

    A commit replaces documents.json by rename, so its (inode, mtime, size) changes; the check is
    one stat per call. If the new generation cannot be read (a writer's garbage collection raced
    us, or files were damaged) the previous snapshot keeps answering and `last_error` says why.
    """

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self._snapshot: Snapshot | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._lock = threading.Lock()
        self.last_error: str = ""

    def _manifest_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = (self.index_dir / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def snapshot(self) -> Snapshot:
        stamp = self._manifest_stamp()
        if self._snapshot is not None and stamp == self._stamp:
            return self._snapshot
        with self._lock:
            if self._snapshot is not None and stamp == self._stamp:
                return self._snapshot
            for attempt in range(3):
                try:
                    self._snapshot = load_snapshot(self.index_dir)
                    self.last_error = ""
                    break
                except (FileNotFoundError, CorruptIndex, ValueError, OSError) as e:
                    # FileNotFoundError: a writer replaced the generation while we read it; retry
                    self.last_error = f"{type(e).__name__}: {e}"
                    if attempt < 2 and isinstance(e, FileNotFoundError):
                        stamp = self._manifest_stamp()
                        continue
                    if self._snapshot is not None:
                        log.warning("keeping the previous index snapshot: %s", self.last_error)
                        break
                    raise
            self._stamp = stamp
            return self._snapshot
