"""A small deterministic embedder for the fast test tier: hashed word and character n-grams.

It has the methods of the real `assistant.index.embeddings.Embedder` that the index, retrieval and
answering call (`embed`, `embed_passages`, `embed_query`, `embed_queries`, `embed_with_sentences`, `dimension`,
`max_tokens`, `model_name`, `clear_cache`), so the same code paths run in milliseconds and without
the model. `ToyMultilingualEmbedder` stands in for the multilingual model the same way.
Texts that share words (or word stems, through character trigrams) get a high cosine; unrelated
texts get a cosine near zero. Hashing uses blake2b, never Python's salted `hash()`, so vectors are
the same in every process.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

import numpy as np

DIMENSION = 384
MODEL_NAME = "hashed-ngrams-384"
_WORD = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*")
_STOP = frozenset(re.findall(r"\w+", """a an the of to in on and or for is are was were be been by with
    as at from that this it its what how which who whom does do did under per any all"""))
TRIGRAM_WEIGHT = 0.35  # stems ("tonne"/"tonnes") count, but less than the whole word


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()


def _slot(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % DIMENSION, (1.0 if (value >> 40) & 1 else -1.0)


class HashEmbedder:
    """Normalized 384-d vectors of hashed words and character trigrams."""

    def __init__(self, model_name: str = MODEL_NAME, batch_size: int = 32):
        self.model_name = model_name
        self.batch_size = batch_size
        self.dimension = DIMENSION
        self.max_tokens = 256
        self.calls = 0  # texts embedded, for tests that check caching
        self._cache: dict[str, np.ndarray] = {}

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(DIMENSION, dtype=np.float32)
        for word in _WORD.findall(_fold(text)):
            if word in _STOP:
                continue
            i, sign = _slot("w:" + word)
            vec[i] += sign
            padded = f"#{word}#"
            for k in range(len(padded) - 2):
                i, sign = _slot("c:" + padded[k : k + 3])
                vec[i] += sign * TRIGRAM_WEIGHT
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed(self, texts: list[str], progress: Any = None) -> np.ndarray:
        self.calls += len(texts)
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        out = np.vstack([self._vector(t) for t in texts]).astype(np.float32)
        if progress:
            progress(len(texts))
        return out

    def embed_passages(self, texts: list[str], progress: Any = None) -> np.ndarray:
        return self.embed(texts, progress)

    def embed_with_sentences(
        self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Any = None
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors plus one vector per sentence span (the span's own text embedded)."""
        self.calls += len(texts)
        passages = np.vstack([self._vector(t) for t in texts]).astype(np.float32) if texts else np.zeros(
            (0, DIMENSION), dtype=np.float32
        )
        sentences = []
        for text, pv, sp in zip(texts, passages, spans, strict=True):
            rows = [self._vector(text[s:e]) if text[s:e].strip() else pv for s, e in sp]
            sentences.append(np.vstack(rows).astype(np.float32) if rows else pv[None, :])
        if progress:
            progress(len(texts))
        return passages, sentences

    def embed_query(self, text: str) -> np.ndarray:
        hit = self._cache.get(text)
        if hit is None:
            self.calls += 1
            hit = self._cache[text] = self._vector(text)
        return hit

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return np.vstack([self.embed_query(t) for t in texts])

    def clear_cache(self) -> None:
        self._cache.clear()


ML_MODEL_NAME = "toy-multilingual-384"
# Spanish words of the toy corpus's subjects, read as their English translation: the toy's "vector
# space" puts "gasoductos" where "pipelines" is, as a multilingual model does. None of these words is
# in the Spanish glossary (assistant/retrieve/data/glossary_es.json), so only this channel links them.
TOY_TRANSLATIONS = {
    "gasoductos": "pipelines", "gasoducto": "pipeline", "cruzan": "crosses", "cruza": "crosses",
    "quesos": "cheese", "toneladas": "tonnes", "puntos": "points",
}


class ToyMultilingualEmbedder(HashEmbedder):
    """The fast tier's multilingual channel: hashed n-grams of the text with a few Spanish words
    (`TOY_TRANSLATIONS`) replaced by their English translation, so a Spanish question about the
    toy corpus lands near its English passage."""

    def __init__(self, model_name: str = ML_MODEL_NAME, batch_size: int = 32):
        super().__init__(model_name, batch_size)

    def _vector(self, text: str) -> np.ndarray:
        words = [TOY_TRANSLATIONS.get(w, w) for w in _WORD.findall(_fold(text))]
        return super()._vector(" ".join(words))
