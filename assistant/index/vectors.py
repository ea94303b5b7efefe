"""Chroma as the dense store: an embedded folder by default, a shared server when configured.

Vectors are always computed by us and passed in; the collection is still created with our
embedding function so Chroma never instantiates its default one (which downloads a model).
Telemetry is off.

Several processes on one embedded folder (the UI answering while `index` runs): chromadb keeps one
`System` per folder per process, and its in-memory HNSW index never sees vectors that another
process added later (`get`/`count` do, `query` does not; observed with chromadb 1.5.9). So every
`make_client` call gets a fresh System, and a `VectorStore` on an embedded folder reopens itself
when the index manifest next to it changes, i.e. after a writer committed and finished. Writers
always start from a fresh System too: a stale in-memory index that writes can persist its outdated
view over newer files. Two writers at once corrupt the HNSW files, which the index's write lock
prevents. A Chroma server has none of these problems: it is the only process touching the files.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index import runstate, store
from assistant.index.embeddings import PackagedModelEmbeddingFunction

_BATCH = 2000
DEFAULT_TIMEOUT_S = 30.0
MULTILINGUAL_NAMESPACE = "multilingual"  # the second dense channel's collection: chunks-<model>-multilingual


class VectorStoreUnavailable(RuntimeError):
    """The configured Chroma server cannot be reached."""


def make_client(index_dir: Path, host: str | None = None, port: int = 8000, timeout_s: float = DEFAULT_TIMEOUT_S) -> Any:
    """An HTTP client when a server is configured, else an embedded client with its own System."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if host:
        try:
            client = chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
        except ValueError as e:  # chromadb's "Could not connect to a Chroma server"
            raise VectorStoreUnavailable(
                f"cannot reach the Chroma server at {host}:{port} ({e}); start it, or fix or unset "
                "ASSISTANT_CHROMA_HOST / ASSISTANT_CHROMA_PORT"
            ) from e
        _set_http_timeout(client, timeout_s)
        return client
    path = Path(index_dir) / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    _forget_cached_system(str(path))
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _forget_cached_system(identifier: str) -> None:
    """Make the next client for this folder build a new System (and so load the HNSW index from
    disk). Clients already open keep theirs; nothing is stopped under their feet."""
    from chromadb.api.shared_system_client import SharedSystemClient as Shared

    with Shared._refcount_lock:
        Shared._identifier_to_system.pop(identifier, None)
        Shared._identifier_to_refcount.pop(identifier, None)


def _set_http_timeout(client: Any, timeout_s: float) -> None:
    """chromadb's HTTP session waits forever by default; a stuck server must not hang the UI."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client) and timeout_s > 0:
        session.timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0))


def client_location(client: Any) -> str:
    """Where the vectors live: `embedded:<folder>` or `http://host:port` (recorded in the manifest)."""
    s = client.get_settings()
    if getattr(s, "is_persistent", False):
        return f"embedded:{Path(s.persist_directory).resolve()}"
    return f"http://{s.chroma_server_host}:{s.chroma_server_http_port}"


def collection_name(model_name: str, namespace: str = "") -> str:
    """One collection per embedding model, so switching models never mixes vector spaces."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", Path(model_name).name).strip("-").lower()[:40] or "model"
    base = f"chunks-{slug}"
    return f"{base}-{namespace}" if namespace else base


def multilingual_store(client: Any, model_name: str) -> VectorStore:
    """The multilingual channel's collection (its own namespace, so it never shares a collection
    with the MiniLM one even for the same model name)."""
    return VectorStore(client, model_name, namespace=MULTILINGUAL_NAMESPACE)


class VectorStore:
    def __init__(self, client: Any, model_name: str, namespace: str = ""):
        self.client = client
        self.model_name = model_name
        self.name = collection_name(model_name, namespace)
        self.location = client_location(client)
        self.collection = self._open(client)
        self._lock = threading.Lock()
        settings = client.get_settings()
        # An embedded folder sits inside the index folder (make_client's layout): watch its manifest.
        self._index_dir = Path(settings.persist_directory).parent if settings.is_persistent else None
        self._stamp = self._manifest_stamp()

    def _open(self, client: Any) -> Any:
        from chromadb.errors import NotFoundError

        ef = PackagedModelEmbeddingFunction(self.model_name)
        try:  # readers only read: no write transaction when the collection exists
            return client.get_collection(name=self.name, embedding_function=ef)
        except (NotFoundError, ValueError):
            return client.get_or_create_collection(
                name=self.name, embedding_function=ef, metadata={"hnsw:space": "cosine"}
            )

    # -- staying current with other processes ------------------------------------------------
    def _manifest_stamp(self) -> tuple[int, int, int] | None:
        if self._index_dir is None:
            return None
        try:
            st = (self._index_dir / store.MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def refresh(self) -> bool:
        """Reopen an embedded store after another writer committed; True when it did.

        While a writer is still running (its record names a live process) the old view stays:
        it lacks only the newest vectors, which BM25 already finds, and reopening while the
        writer deletes and flushes is what we avoid."""
        if self._index_dir is None:
            return False
        stamp = self._manifest_stamp()
        if stamp == self._stamp:
            return False
        if runstate.writer_alive(runstate.read_writer_record(self._index_dir)):
            return False
        self.reopen(stamp)
        return True

    def reopen(self, stamp: tuple[int, int, int] | None = None) -> None:
        """A new client and collection handle; queries in flight finish on the old one."""
        with self._lock:
            if stamp is not None and stamp == self._stamp:
                return  # another thread reopened for this commit already
            if self._index_dir is not None:
                client = make_client(self._index_dir)
                self.client, self.collection = client, self._open(client)
            else:
                self.collection = self._open(self.client)
            self._stamp = stamp if stamp is not None else self._manifest_stamp()

    # -- reads and writes ------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.collection.count())

    def upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str], metadatas: list[dict]) -> None:
        self.refresh()  # never write through a view older than the last commit
        for i in range(0, len(ids), _BATCH):
            self.collection.upsert(
                ids=ids[i : i + _BATCH],
                embeddings=vectors[i : i + _BATCH].tolist(),
                documents=texts[i : i + _BATCH],
                metadatas=metadatas[i : i + _BATCH],
            )

    def update_metadata(self, ids: list[str], metadatas: list[dict]) -> None:
        """Change what a vector says about its chunk (a renamed document) without re-embedding."""
        self.refresh()
        for i in range(0, len(ids), _BATCH):
            self.collection.update(ids=ids[i : i + _BATCH], metadatas=metadatas[i : i + _BATCH])

    def delete(self, ids: Iterable[str]) -> None:
        ids = sorted(ids)
        self.refresh()
        for i in range(0, len(ids), _BATCH):
            self.collection.delete(ids=ids[i : i + _BATCH])

    def clear(self) -> None:
        """Delete every vector of the collection (it is filled again from scratch)."""
        self.delete(self.all_ids())

    def present(self, ids: Iterable[str]) -> set[str]:
        """Which of these ids have a vector."""
        ids = list(ids)
        out: set[str] = set()
        for i in range(0, len(ids), _BATCH):
            out.update(self.collection.get(ids=ids[i : i + _BATCH], include=[])["ids"])
        return out

    def vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these ids (ids without one are left out)."""
        ids = list(dict.fromkeys(ids))
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(ids), _BATCH):
            got = self.collection.get(ids=ids[i : i + _BATCH], include=["embeddings"])
            if not got["ids"]:
                continue
            # Chroma returns them in its own order: each id with its own row
            rows = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), -1)
            out.update(zip(got["ids"], rows, strict=True))
        return out

    def all_ids(self) -> set[str]:
        out: set[str] = set()
        offset = 0
        while True:
            got = self.collection.get(include=[], limit=5000, offset=offset)
            ids = got["ids"]
            out.update(ids)
            if len(ids) < 5000:
                return out
            offset += len(ids)

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) best first."""
        if n <= 0:
            return []
        self.refresh()
        res = self.collection.query(
            query_embeddings=[vector.tolist()], n_results=n, where=where or None, include=["distances"]
        )
        ids = res["ids"][0] if res["ids"] else []
        dists = res["distances"][0] if res.get("distances") else [1.0] * len(ids)
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=False)]
