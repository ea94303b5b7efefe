"""The multilingual channel on the toy corpus (fast tier: real Chroma, the two deterministic toy models).

- The index keeps a second collection (the multilingual model's passage vectors) in step with the
  MiniLM one: the same dense chunks through adding, changing, renaming and removing documents, an
  index built without the channel filled when it is switched on, a run that fails midway converging,
  and `doctor` checking and repairing both.
- Retrieval fuses BM25, MiniLM and the multilingual channel for English questions; for a question in
  another language MiniLM is off, BM25 searches the English gloss and the multilingual channel the
  question as typed; the MiniLM vector and scores stay MiniLM's (refusal reads them).
- A Spanish question is answered from the English passages with "The sources are in English."
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from assistant.answer.language_note import SOURCES_IN_ENGLISH, with_sources_language
from assistant.index import store
from assistant.index.indexer import Indexer
from assistant.index.lexical import tokenize
from assistant.index.vectors import MULTILINGUAL_NAMESPACE, VectorStore, make_client, multilingual_store
from assistant.retrieve import translate
from assistant.retrieve.analysis import analyze
from assistant.retrieve.hybrid import EXPANDED, Query, _Fused
from tests.conftest import TOY_CORPUS, build_index, fast_tier_settings, make_assistant
from tests.fast.embedder import ML_MODEL_NAME

pytestmark = pytest.mark.fast

ENERGY, ENERGY_FILE = "toy-energy-brief.txt", "sources/toy-energy-brief.txt"  # registry id, file
DAIRY, DAIRY_FILE = "toy-dairy-access-act.md", "law/toy-dairy-access-act.md"


@pytest.fixture
def toy(tmp_path, fast_embedder, fast_multilingual):
    """A private toy index (this module changes it), with the indexer and assistant factories."""
    shutil.copytree(TOY_CORPUS, tmp_path / "corpus")
    settings = fast_tier_settings(tmp_path, tmp_path / "corpus")
    assert build_index(settings, fast_embedder, multilingual=fast_multilingual).ok
    return settings


def indexer(settings, fast_embedder, fast_multilingual, **kw) -> Indexer:
    return Indexer(settings, embedder=fast_embedder, multilingual_embedder=fast_multilingual, **kw)


def stores(settings) -> tuple[VectorStore, VectorStore]:
    client = make_client(settings.index_dir)
    return VectorStore(client, settings.embedding_model), multilingual_store(client, ML_MODEL_NAME)


def state(settings) -> dict:
    manifest = store.load_manifest(settings.index_dir)
    minilm, ml = stores(settings)
    return {
        "dense_ids": manifest.chunk_ids(dense_only=True),
        "minilm_ids": minilm.all_ids(),
        "ml_ids": ml.all_ids(),
        "listed": manifest.multilingual_collection,
        "docs": {d: tuple(e.chunk_ids) for d, e in manifest.documents.items()},
    }


def assert_in_step(settings) -> dict:
    s = state(settings)
    assert s["listed"] == stores(settings)[1].name
    assert s["ml_ids"] == s["minilm_ids"] == s["dense_ids"] and s["dense_ids"]
    return s


# ---- the second collection's lifecycle --------------------------------------------------------------


def test_the_second_collection_is_its_own_and_holds_every_dense_chunk(toy, fast_multilingual):
    s = assert_in_step(toy)
    minilm, ml = stores(toy)
    assert ml.name != minilm.name and ml.name.endswith(MULTILINGUAL_NAMESPACE)
    tariff_free = {cid for d, ids in s["docs"].items() for cid in ids}
    assert s["ml_ids"] <= tariff_free
    got = ml.collection.get(ids=sorted(s["ml_ids"])[:3], include=["embeddings", "documents", "metadatas"])
    snap = store.load_snapshot(toy.index_dir)
    for cid, vec, meta in zip(got["ids"], got["embeddings"], got["metadatas"], strict=True):
        # the multilingual model's passage vector of the chunk's search text, with the chunk's metadata
        expected = fast_multilingual.embed_passages([snap.chunks[cid].search_text])[0]
        np.testing.assert_allclose(vec, expected, atol=1e-6)
        assert meta["document_id"] == snap.chunks[cid].document_id


def test_add_change_rename_remove_keep_both_collections_in_step(toy, fast_embedder, fast_multilingual):
    run = lambda: indexer(toy, fast_embedder, fast_multilingual).run()  # noqa: E731
    corpus = Path(toy.corpus_dirs[0])
    before = assert_in_step(toy)

    # unchanged: nothing embedded by either model
    report = run()
    assert report.chunks_embedded == report.chunks_embedded_multilingual == 0
    assert state(toy) == before

    # added
    (corpus / "sources" / "toy-sugar-note.md").write_text(
        "# Toy sugar note\n\nThe toy sugar quota is 9,900 tonnes and is filled every October.\n", encoding="utf-8")
    report = run()
    assert report.indexed == ["sources/toy-sugar-note.md"] and report.chunks_embedded_multilingual == 1
    added = assert_in_step(toy)

    # changed: the edited chunk's vector is replaced in the multilingual collection too
    dairy = corpus / DAIRY_FILE
    dairy.write_text(dairy.read_text(encoding="utf-8").replace("55,000 tonnes", "56,000 tonnes"), encoding="utf-8")
    report = run()
    assert report.indexed == [DAIRY] and report.chunks_embedded_multilingual >= 1
    after = assert_in_step(toy)
    _, ml = stores(toy)
    texts = ml.collection.get(ids=list(after["docs"][DAIRY]), include=["documents"])["documents"]
    assert any("56,000 tonnes" in t for t in texts) and not any("55,000 tonnes" in t for t in texts)
    assert report.chunks_embedded_multilingual == report.chunks_embedded  # the same chunks, both models

    # renamed: no model runs, the metadata follows the new document id
    (corpus / ENERGY_FILE).rename(corpus / "sources" / "energy.txt")
    report = run()
    assert report.chunks_embedded == report.chunks_embedded_multilingual == 0 and report.chunks_reused
    renamed = assert_in_step(toy)
    meta = ml.collection.get(ids=list(renamed["docs"]["sources/energy.txt"]), include=["metadatas"])["metadatas"]
    assert {m["document_id"] for m in meta} == {"sources/energy.txt"}

    # removed: gone from both
    (corpus / "sources" / "toy-sugar-note.md").unlink()
    report = run()
    assert report.removed == ["sources/toy-sugar-note.md"]
    removed = assert_in_step(toy)
    assert not set(added["docs"]["sources/toy-sugar-note.md"]) & (removed["ml_ids"] | removed["minilm_ids"])


def test_a_run_failing_in_the_multilingual_upsert_leaves_the_old_index_and_converges(toy, fast_embedder,
                                                                                    fast_multilingual):
    before = assert_in_step(toy)
    corpus = Path(toy.corpus_dirs[0])
    dairy = corpus / DAIRY_FILE
    dairy.write_text(dairy.read_text(encoding="utf-8").replace("12,500", "13,000"), encoding="utf-8")
    reached = []

    def fail(stage: str) -> None:
        reached.append(stage)
        if stage == "multilingual_batch":
            raise RuntimeError("injected fault")

    with pytest.raises(RuntimeError, match="injected fault"):
        indexer(toy, fast_embedder, fast_multilingual, faults=fail).run()
    assert "upsert_batch" in reached and reached[-1] == "multilingual_batch"
    assert state(toy)["docs"] == before["docs"]  # nothing committed
    health = indexer(toy, fast_embedder, fast_multilingual).check()
    assert "interrupted-run" in health.codes()
    # the old index still answers from its committed chunks through every channel
    a = make_assistant(toy, fast_embedder, fast_multilingual)
    assert "12,500 tonnes" in a.ask("What is the cheese quota under the Toy Dairy Access Act?").text

    report = indexer(toy, fast_embedder, fast_multilingual).run()
    assert report.ok and report.indexed == [DAIRY]
    after = assert_in_step(toy)
    assert after["docs"][DAIRY] != before["docs"][DAIRY]
    assert indexer(toy, fast_embedder, fast_multilingual).check().ok


def test_switching_the_channel_on_fills_the_collection_and_off_leaves_it_unused(tmp_path, fast_embedder,
                                                                               fast_multilingual):
    shutil.copytree(TOY_CORPUS, tmp_path / "corpus")
    off = fast_tier_settings(tmp_path, tmp_path / "corpus", multilingual_model="")
    report = Indexer(off, embedder=fast_embedder).run()
    assert report.ok and report.chunks_embedded_multilingual == 0
    assert store.load_manifest(off.index_dir).multilingual_collection == ""
    a = make_assistant(off, fast_embedder)
    ret = a.retrieve_analysed(a.analyze("¿Cuántos puntos cruzan los gasoductos?"), 3)
    assert set(ret.weights) == {"bm25", "dense"} and ret.multilingual_vector is None  # two channels

    on = fast_tier_settings(tmp_path, tmp_path / "corpus")
    health = indexer(on, fast_embedder, fast_multilingual).check()
    assert not health.ok and any("multilingual" in p.detail for p in health.problems if p.code == "missing-vectors")
    # readers do not use the collection before it is complete
    b = make_assistant(on, fast_embedder, fast_multilingual)
    assert set(b.retrieve_analysed(b.analyze("cheese quota"), 3).weights) == {"bm25", "dense"}

    report = indexer(on, fast_embedder, fast_multilingual).run()  # no document changed
    assert report.indexed == [] and report.chunks_embedded == 0
    assert report.chunks_embedded_multilingual == len(state(on)["dense_ids"])
    assert_in_step(on)
    three = {"bm25", "dense", "multilingual"} | ({EXPANDED} if b.settings.feedback_weight > 0 else set())
    assert set(b.retrieve_analysed(b.analyze("cheese quota"), 3).weights) == three

    # off again: the manifest stops listing it, retrieval is two-channel; on again refills it from scratch
    assert Indexer(off, embedder=fast_embedder).run().ok
    assert store.load_manifest(off.index_dir).multilingual_collection == ""
    report = indexer(on, fast_embedder, fast_multilingual).run()
    assert report.chunks_embedded_multilingual == len(state(on)["dense_ids"])
    assert_in_step(on)


def test_doctor_checks_and_repairs_the_multilingual_collection(toy, fast_embedder, fast_multilingual):
    s = assert_in_step(toy)
    _, ml = stores(toy)
    lost = sorted(s["ml_ids"])[:2]
    ml.delete(lost)
    ml.upsert(["orphan-ml-id"], np.ones((1, 384), dtype=np.float32) / np.sqrt(384), ["orphan"],
              [{"document_id": "nowhere", "kind": "user"}])
    ix = indexer(toy, fast_embedder, fast_multilingual)
    health = ix.check()
    details = {p.code: p.detail for p in health.problems}
    assert not health.ok and "multilingual" in details["missing-vectors"] and "multilingual" in details["orphan-vectors"]
    assert health.stats["multilingual_vectors"] == len(s["ml_ids"]) - 1
    repaired = ix.repair()
    assert repaired.ok and any("multilingual" in r for r in repaired.repaired), repaired.repaired
    assert_in_step(toy)


# ---- retrieval: three channels, routed by language ----------------------------------------------------


def test_english_questions_fuse_three_channels(fast_assistant):
    a = fast_assistant.analyze("How many points does the pipeline network cross the border at?")
    assert a.language == "en"
    ret = fast_assistant.retrieve_analysed(a, 5)
    s = fast_assistant.settings
    fused = {"bm25": s.lexical_weight, "dense": s.dense_weight, "multilingual": s.multilingual_weight,
             EXPANDED: s.feedback_weight}
    assert ret.weights == {k: w for k, w in fused.items() if w > 0}
    assert ret.chunks[0].chunk.document_id == ENERGY
    top = ret.chunks[0]
    assert top.dense is not None and top.multilingual is not None and top.lexical is not None
    # each channel's own score: MiniLM's cosine in `dense`, the multilingual model's in `multilingual`
    minilm_vec = fast_assistant.embedder.embed_query(a.search_text)
    np.testing.assert_allclose(ret.query_vector, minilm_vec)
    chunk_vec = fast_assistant.embedder.embed([top.chunk.search_text])[0]
    assert top.dense == pytest.approx(float(chunk_vec @ minilm_vec), abs=1e-4)
    ml_vec = fast_assistant.multilingual_embedder.embed_passages([top.chunk.search_text])[0]
    assert top.multilingual == pytest.approx(float(ml_vec @ ret.multilingual_vector), abs=1e-4)


def test_the_two_question_embeddings_overlap(fast_settings, fast_embedder, fast_multilingual, monkeypatch):
    """The multilingual question vector is computed on the retriever's worker thread while MiniLM
    embeds on the caller's: MiniLM's call below returns only once the multilingual one has started
    (sequential calls would wait out the timeout and fail), and the results are those of each model."""
    started = threading.Event()
    seen: dict[str, str] = {}
    ml_embed, minilm_embed = fast_multilingual.embed_query, fast_embedder.embed_query

    def multilingual(text):
        seen["multilingual"] = threading.current_thread().name
        started.set()
        return ml_embed(text)

    def minilm(text):
        seen["minilm"] = threading.current_thread().name
        assert started.wait(timeout=10), "the multilingual question vector did not start alongside MiniLM"
        return minilm_embed(text)

    assistant = make_assistant(fast_settings, fast_embedder, fast_multilingual)
    a = assistant.analyze("How many points does the pipeline network cross the border at?")
    for model in (fast_multilingual, fast_embedder):
        model.clear_cache()
    monkeypatch.setattr(fast_multilingual, "embed_query", multilingual)
    monkeypatch.setattr(fast_embedder, "embed_query", minilm)
    ret = assistant.retrieve_analysed(a, 5)
    assert seen["multilingual"].startswith("multilingual-query") and seen["minilm"] == threading.current_thread().name
    np.testing.assert_allclose(ret.multilingual_vector, ml_embed(a.search_text))
    np.testing.assert_allclose(ret.query_vector, minilm_embed(a.search_text))
    assert ret.chunks[0].chunk.document_id == ENERGY


def test_a_spanish_question_is_routed_to_bm25_on_the_gloss_and_the_multilingual_channel(fast_assistant):
    question = "¿En cuántos puntos cruzan la frontera los gasoductos?"
    a = fast_assistant.analyze(question)
    assert a.language == "es" and a.translated and "border" in a.search_text  # the glossary's gloss
    ret = fast_assistant.retrieve_analysed(a, 5)
    s = fast_assistant.settings
    routed = {"bm25": s.other_language_lexical_weight, "multilingual": s.other_language_multilingual_weight,
              EXPANDED: s.other_language_feedback_weight}
    assert ret.weights == {k: w for k, w in routed.items() if w > 0} and "multilingual" in ret.weights
    assert ret.chunks[0].chunk.document_id == ENERGY
    assert all(sc.dense is None for sc in ret.chunks)  # MiniLM did not search: no MiniLM score
    # the multilingual channel embedded the question as typed; MiniLM the English gloss (refusal and
    # composition compare it with the MiniLM sentence vectors)
    np.testing.assert_allclose(ret.multilingual_vector, fast_assistant.multilingual_embedder.embed_query(question))
    np.testing.assert_allclose(ret.query_vector, fast_assistant.embedder.embed_query(a.search_text))


@pytest.fixture
def no_translator(monkeypatch):
    """Glossary only: as on a machine without Apertium (which knows "gasoductos")."""
    monkeypatch.setattr(translate, "machine_translator", lambda: None)
    translate._gloss.cache_clear()
    yield
    translate._gloss.cache_clear()


def test_only_the_multilingual_channel_links_words_the_glossary_lacks(fast_assistant, no_translator):
    """"gasoductos" and "cruzan" are in no glossary (and no translator here): BM25 on the gloss
    cannot find the pipeline passage; the multilingual channel does, and fusion keeps it first."""
    question = "¿Dónde cruzan los gasoductos?"
    a = fast_assistant.analyze(question)
    bm25 = fast_assistant.retrieve_analysed(a, 5, mode="bm25").chunks
    assert not any("pipeline" in sc.chunk.text for sc in bm25)
    ml = fast_assistant.retrieve_analysed(a, 5, mode="multilingual").chunks
    assert "pipeline network crosses" in ml[0].chunk.text
    fused = fast_assistant.retrieve_analysed(a, 5).chunks
    assert "pipeline network crosses" in fused[0].chunk.text


def test_feedback_bm25_finds_the_passage_the_gloss_cannot(fast_assistant, no_translator):
    """BM25 on the question plus the distinctive words of the passages found first reaches the
    pipeline passage that BM25 on the gloss alone misses (the words come from the passage the
    multilingual channel ranked first)."""
    a = fast_assistant.analyze("¿Dónde cruzan los gasoductos?")
    r, snap = fast_assistant.retriever, fast_assistant.retriever.snapshot()
    ml = fast_assistant.retrieve_analysed(a, 5, mode="multilingual").chunks
    hits = r._expanded(Query.of(a), snap, None, {sc.chunk.id: _Fused(sc.score) for sc in ml})
    assert "pipeline network crosses" in snap.chunks[hits[0][0]].text
    # the expanded search is BM25 itself: on the question's own tokens it is `search`
    assert snap.lexical.search_tokens(tokenize(a.search_text), 5) == snap.lexical.search(a.search_text, 5)


def test_the_same_question_in_english_and_spanish_is_routed_differently(fast_assistant):
    en = fast_assistant.retrieve_analysed(fast_assistant.analyze("Where do the pipelines cross?"), 3)
    es = fast_assistant.retrieve_analysed(fast_assistant.analyze("¿Dónde cruzan los gasoductos?"), 3)
    assert "dense" in en.weights and "dense" not in es.weights
    assert en.chunks[0].chunk.id == es.chunks[0].chunk.id


def test_the_multilingual_mode_needs_the_channel(tmp_path, fast_embedder):
    shutil.copytree(TOY_CORPUS, tmp_path / "corpus")
    off = fast_tier_settings(tmp_path, tmp_path / "corpus", multilingual_model="")
    assert Indexer(off, embedder=fast_embedder).run().ok
    a = make_assistant(off, fast_embedder)
    with pytest.raises(ValueError, match="multilingual channel is off"):
        a.retrieve("cheese quota", 3, mode="multilingual")


# ---- the answer says its sources are in English ---------------------------------------------------------


def test_a_spanish_question_is_answered_from_english_passages_saying_so(fast_assistant):
    answer = fast_assistant.ask("¿Cuál es la cuota de queso de la Toy Dairy Access Act?")
    assert not answer.abstained and answer.citations
    assert answer.citations[0].document_id == DAIRY and "12,500 tonnes" in answer.text
    assert answer.text.rstrip().endswith(SOURCES_IN_ENGLISH)
    english = fast_assistant.ask("What is the cheese quota under the Toy Dairy Access Act?")
    assert not english.abstained and SOURCES_IN_ENGLISH not in english.text


def test_the_sources_line_is_added_once_and_only_for_other_languages():
    es, en = analyze("¿Qué?", language="es"), analyze("What?")
    assert with_sources_language("Texto [1].", es) == f"Texto [1].\n\n{SOURCES_IN_ENGLISH}"
    assert with_sources_language(with_sources_language("Texto [1].", es), es).count(SOURCES_IN_ENGLISH) == 1
    assert with_sources_language("Text [1].", en) == "Text [1]."
    assert with_sources_language("", es) == ""


def test_warm_up_loads_both_models_and_the_language_detector(fast_corpus):
    from assistant.retrieve import language

    a = fast_corpus.assistant()
    language._detector.cache_clear()
    a.warm_up()
    assert "retriever" in vars(a) and a.retriever.multilingual_embedder is fast_corpus.multilingual
    assert language._detector.cache_info().currsize == 1


class _FakeTranslator:
    """Machine translation as Apertium gives it, for the words the glossary lacks."""

    def translate(self, text: str, words: list[str]) -> tuple[str, dict[str, str | None]]:
        known = {"gasoductos": "gas pipelines", "cruzan": "cross"}
        return "Where do the gas pipelines cross?", {w: known.get(w) for w in words}


def test_answer_sentences_are_scored_on_the_words_retrieval_searched(fast_assistant, monkeypatch):
    """The glossary lacks "gasoductos": its gloss keeps the word as typed, no English sentence holds
    it and, as the rarest term, it would outweigh every other word. The sentence scorer reads the
    search text instead, where machine translation gave "pipelines"."""
    monkeypatch.setattr(translate, "machine_translator", lambda: _FakeTranslator())
    translate._gloss.cache_clear()
    try:
        a = fast_assistant.analyze("¿Dónde cruzan los gasoductos?")
        assert "gasoductos" in a.english and "pipelines" in a.search_text
        ret = fast_assistant.retrieve_analysed(a, 5)
        weights, _ = fast_assistant._sentence_query(a, ret)
        assert set(tokenize("pipelines")) <= set(weights)
        assert not set(tokenize("gasoductos")) & set(weights)
        english = fast_assistant.analyze("Where do the gas pipelines cross?")  # scored on its own words
        assert set(fast_assistant._sentence_query(english, ret)[0]) == set(tokenize(english.english))
    finally:
        translate._gloss.cache_clear()


def test_a_premise_question_carries_the_multilingual_cosine_of_what_it_asks(fast_assistant):
    """Refusal reads how close the passages are to what is asked, not to a premise that may
    paraphrase one of them: retrieval scores the question from its first asking sentence on against
    the stored vectors of the passages the multilingual channel found. A question without a premise,
    or with a sentence after the question ("I need the count."), carries nothing extra."""
    for question in ("How many points does the pipeline network cross the border at?",
                     "How many points does the pipeline network cross the border at? I need the count."):
        plain = fast_assistant.retrieve_analysed(fast_assistant.analyze(question), 5)
        assert plain.chunks and plain.asked_multilingual == {}
    a = fast_assistant.analyze("The brief describes pipelines crossing the border. How many points do they "
                               "cross it at? I need the count.")
    ret = fast_assistant.retrieve_analysed(a, 5)
    found = {sc.chunk.id: sc.multilingual for sc in ret.chunks if sc.multilingual is not None}
    stored = fast_assistant.multilingual_vectors.vectors(found)
    assert found and set(ret.asked_multilingual) == set(found) == set(stored)
    asked = fast_assistant.multilingual_embedder.embed_query("How many points do they cross it at? I need the count.")
    for cid, cos in ret.asked_multilingual.items():
        assert found[cid] == pytest.approx(float(stored[cid] @ ret.multilingual_vector), abs=1e-5)  # one scale
        assert cos == pytest.approx(float(stored[cid] @ asked), abs=1e-5)
    assert any(abs(found[c] - ret.asked_multilingual[c]) > 1e-4 for c in found)


def test_refusal_reads_the_premise_free_cosine(fast_assistant, monkeypatch):
    """The decision's multilingual feature is the best cosine of what is asked over the top
    passages, shifted by `PREMISE_SHIFT` (the toy model stands in for the fitted one here)."""
    from assistant.answer import abstain, evidence

    monkeypatch.setattr(abstain, "MULTILINGUAL_FITTED_ON", ML_MODEL_NAME)
    question = "The brief describes pipelines crossing the border. How many points do they cross it at?"
    ret = fast_assistant.retrieve_analysed(fast_assistant.analyze(question), fast_assistant.settings.top_k)
    top = {sc.chunk.id for sc in ret.chunks[:evidence.EVIDENCE_PASSAGES]}
    want = max(c for cid, c in ret.asked_multilingual.items() if cid in top) + evidence.PREMISE_SHIFT
    d = fast_assistant.decision(question)
    assert d.details["premise"] and d.details["multilingual"] == pytest.approx(want, abs=1e-3)
