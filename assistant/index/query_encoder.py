"""Question embeddings without torch: the packaged BERT model's forward pass in numpy.

Importing torch, transformers and sentence-transformers takes most of a command-line question's
time (measured on this 2-core machine: ~15 s of 21 s under load; `bench/query_latency.py`), yet
one short question is a few dozen tokens through six small layers. `QueryEmbedder` reads the same
weights (safetensors) and tokenizer (tokenizer.json) and computes the same vector: BERT, mean
pooling over the tokens, L2 normalisation, as the model's modules.json declares. Anything else
(passages at index time, an LLM answer's verification) goes to the full `Embedder`, loaded only
then. A model that is not a mean-pooled, normalised BERT raises `Unsupported` so the caller keeps
the full embedder.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from assistant.index.embeddings import Embedder, get_embedder, resolve_model_dir

CACHE_SIZE = 512


class Unsupported(RuntimeError):
    pass


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz & Stegun 7.1.26): numpy has none, and BERT's GELU needs it."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class QueryEmbedder:
    """`embed_query` in numpy; `embed` and `embed_with_sentences` by the full model, on first use."""

    def __init__(self, model_name: str, batch_size: int = 32):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        self.model_name = model_name
        self.batch_size = batch_size
        self.model_dir = folder = Path(resolve_model_dir(model_name))
        modules = [m.get("type", "") for m in _json(folder / "modules.json")]
        pooling = _json(folder / "1_Pooling" / "config.json") if (folder / "1_Pooling").is_dir() else {}
        config = _json(folder / "config.json")
        if (modules[:1] != ["sentence_transformers.models.Transformer"] or not any(m.endswith("Normalize") for m in modules)
                or not pooling.get("pooling_mode_mean_tokens") or config.get("model_type") != "bert"
                or config.get("hidden_act") != "gelu" or not (folder / "model.safetensors").is_file()):
            raise Unsupported(f"{folder} is not a mean-pooled, normalised BERT model with safetensors weights")
        st_config = _json(folder / "sentence_bert_config.json") if (folder / "sentence_bert_config.json").is_file() else {}
        self.max_tokens = int(st_config.get("max_seq_length", 256))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        w = {k.removeprefix("bert."): v for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.layers = int(config["num_hidden_layers"])
        self.w = {k: v.astype(np.float32) for k, v in w.items() if v.dtype != np.int64}
        self.dimension = int(config["hidden_size"])
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def full(self) -> Embedder:
        """The sentence-transformers model (torch), for passages."""
        return get_embedder(self.model_name, self.batch_size)

    def embed(self, texts: list[str], progress: Any = None) -> np.ndarray:
        return self.full.embed(texts, progress)

    def embed_with_sentences(self, texts: list[str], spans: list[list[tuple[int, int]]], progress: Any = None) -> Any:
        return self.full.embed_with_sentences(texts, spans, progress)

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self._encode(text)
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return vec

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Several short texts, one at a time (the numpy forward pass takes one text; not measured
        batched)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self.embed_query(t) for t in texts])

    def _encode(self, text: str) -> np.ndarray:
        w, eps = self.w, self.eps
        enc = self.tokenizer.encode(text)
        ids = np.asarray(enc.ids, dtype=np.int64)
        types = np.asarray(enc.type_ids, dtype=np.int64)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        n, d = x.shape
        h = self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (dense(x, f"attention.self.{m}").reshape(n, h, d // h).transpose(1, 0, 2)
                       for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(d // h)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, d)
            x = _layer_norm(dense(context, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                            w[p + "attention.output.LayerNorm.bias"], eps)
            inner = dense(x, "intermediate.dense")
            inner = 0.5 * inner * (1.0 + _erf(inner / math.sqrt(2.0)))
            x = _layer_norm(dense(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], eps)
        pooled = x.mean(0)
        return (pooled / (np.linalg.norm(pooled) or 1.0)).astype(np.float32)


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def query_embedder(model_name: str, batch_size: int = 32) -> QueryEmbedder | Embedder:
    """The torch-free question embedder when the model allows it, else the full one."""
    try:
        return QueryEmbedder(model_name, batch_size)
    except Unsupported:
        return get_embedder(model_name, batch_size)
