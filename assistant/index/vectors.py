"""Chroma as the dense store: an embedded folder by default, a shared server when configured.

Vectors are always computed by us and passed in; the collection is still created with our
embedding function so Chroma never instantiates its default one (which downloads a model).
Telemetry is off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index.embeddings import PackagedModelEmbeddingFunction

_BATCH = 2000


def make_client(index_dir: Path, host: str | None = None, port: int = 8000) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if host:
        return chromadb.HttpClient(host=host, port=port, settings=chroma_settings)
    path = Path(index_dir) / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def collection_name(model_name: str, namespace: str = "") -> str:
    """One collection per embedding model, so switching models never mixes vector spaces."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", Path(model_name).name).strip("-").lower()[:40] or "model"
    base = f"chunks-{slug}"
    return f"{base}-{namespace}" if namespace else base


class VectorStore:
    def __init__(self, client: Any, model_name: str, namespace: str = ""):
        self.client = client
        self.name = collection_name(model_name, namespace)
        self.collection = client.get_or_create_collection(
            name=self.name,
            embedding_function=PackagedModelEmbeddingFunction(model_name),
            metadata={"hnsw:space": "cosine"},
        )

    def count(self) -> int:
        return int(self.collection.count())

    def upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str], metadatas: list[dict]) -> None:
        for i in range(0, len(ids), _BATCH):
            self.collection.upsert(
                ids=ids[i : i + _BATCH],
                embeddings=vectors[i : i + _BATCH].tolist(),
                documents=texts[i : i + _BATCH],
                metadatas=metadatas[i : i + _BATCH],
            )

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), _BATCH):
            self.collection.delete(ids=ids[i : i + _BATCH])

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
        res = self.collection.query(
            query_embeddings=[vector.tolist()], n_results=n, where=where or None, include=["distances"]
        )
        ids = res["ids"][0] if res["ids"] else []
        dists = res["distances"][0] if res.get("distances") else [1.0] * len(ids)
        return [(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=False)]
