"""The torch-free question embedder computes the packaged model's own vectors (so the CLI can answer
without importing torch), and refuses models it cannot reproduce."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from assistant.index.embeddings import get_embedder, resolve_model_dir
from assistant.index.query_encoder import QueryEmbedder, Unsupported
from assistant.settings import Settings

TEXTS = [
    "How much did U.S.-Mexico trade total in 2024?",
    "¿Cuánto exportó Texas a México en 2024?",
    "What does USMCA Article 2.4 require under 19 U.S.C. § 4513(c)(4)?",
    "",
    "The Rapid Response Mechanism benefited about 36,000 workers at 31 facilities. " * 30,  # past 256 tokens
]


@pytest.mark.full  # loads the model twice, both ways
def test_question_vectors_equal_the_sentence_transformers_model():
    name = Settings().embedding_model
    fast = QueryEmbedder(name)
    full = get_embedder(name)
    ref = full.model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    for text, want in zip(TEXTS, ref, strict=True):
        got = fast.embed_query(text)
        assert got.dtype == np.float32 and got.shape == want.shape
        assert np.abs(got - want).max() < 1e-5, text[:40]
    assert fast.embed_query(TEXTS[0]) is fast.embed_query(TEXTS[0])  # cached
    assert fast.dimension == full.dimension
    # passages go to the full model
    assert np.allclose(fast.embed(TEXTS[:2]), full.embed(TEXTS[:2]))


def test_a_model_that_is_not_a_mean_pooled_bert_is_refused(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(resolve_model_dir(Settings().embedding_model), folder)
    pooling = folder / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    with pytest.raises(Unsupported):
        QueryEmbedder(str(folder))


@pytest.mark.full
def test_a_batch_of_short_texts_is_embedded_as_each_one_alone():
    """Tariff lines and a question's concepts go through `embed_queries` together: one padded
    batch, cached per text, the same vectors as one call each, in both question embedders."""
    name = Settings().embedding_model
    texts = ["Brewing or distilling dregs and waste", "Potato harvesters", TEXTS[2], "Potato harvesters"]
    full = get_embedder(name)
    full.clear_cache()
    batch = full.embed_queries(texts)
    assert batch.shape == (4, full.dimension) and batch.dtype == np.float32
    assert set(texts) <= set(full._cache)  # each text cached by the batch
    full.clear_cache()
    alone = np.vstack([full.embed_query(t) for t in texts])
    assert np.abs(batch - alone).max() < 1e-5
    assert np.abs(QueryEmbedder(name).embed_queries(texts) - alone).max() < 1e-5
    assert full.embed_queries([]).shape == (0, full.dimension)
