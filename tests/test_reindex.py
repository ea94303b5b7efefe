"""Incremental, exact re-indexing on a small generated corpus, with the real model and real Chroma.

Also home of the helpers the other index tests share (corpus, PDF writer, index state, CLI runs).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.index import store
from assistant.index.indexer import Indexer
from assistant.index.vectors import VectorStore, make_client, multilingual_store
from assistant.pipeline import Assistant
from assistant.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

DAIRY = (
    "# Dairy market access\n\n"
    "Canada agreed to open tariff-rate quotas for dairy products to U.S. producers, covering about "
    "3.6 percent of its dairy market.\n\n"
    "## Milk classes\n\n"
    "Canada eliminated its Class 7 milk pricing program, which had undercut U.S. exports of "
    "ultrafiltered milk.\n"
)
LABOR = (
    "# Labor reform in Mexico\n\n"
    "Mexico reformed its federal labor law in 2019 so that workers can elect independent unions "
    "by secret ballot.\n\n"
    "## Rapid response\n\n"
    "The Rapid Response Labor Mechanism lets the United States request a review of a specific "
    "factory where workers are denied the right of free association.\n"
)
AUTOS = (
    "# Automotive rules of origin\n\n"
    "Passenger vehicles qualify for duty-free treatment only if 75 percent of their content "
    "originates in North America.\n\n"
    "## Labor value content\n\n"
    "Forty percent of a vehicle's content must be made by workers earning at least sixteen "
    "dollars an hour.\n"
)
PDF_PAGES = [
    ["Joint review of the agreement", "The parties meet in July 2026 for the joint review.",
     "Each party confirms in writing whether it wishes to extend the term of the agreement."],
    ["If a party does not confirm, annual joint reviews follow for up to ten years."],
]


def write_pdf(path: Path, pages: list[list[str]]) -> Path:
    """A real PDF with extractable text: one Helvetica text object per page (pypdf writes it)."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        font = DictionaryObject({
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        })
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        content = DecodedStreamObject()
        content.set_data("\n".join(ops).encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(content)
    buf = io.BytesIO()
    writer.write(buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dairy.md").write_text(DAIRY, encoding="utf-8")
    (folder / "labor.md").write_text(LABOR, encoding="utf-8")
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "autos.md").write_text(AUTOS, encoding="utf-8")
    write_pdf(folder / "review.pdf", PDF_PAGES)
    return folder


def index_settings(tmp: Path, corpus: Path, **kw) -> Settings:
    """Settings for a throwaway index of `corpus` (no registry: ids are paths under the corpus)."""
    return Settings(
        index_dir=tmp / "index",
        corpus_dirs=[corpus],
        registry_file=tmp / "no-registry.json",
        user_docs_dir=corpus / "user",
        feedback_file=tmp / "feedback.jsonl",
        **kw,
    )


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a `usmca-assistant` subprocess using these settings."""
    env = {**os.environ, **settings.environment(), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    for key in ("ASSISTANT_CHROMA_HOST", "ASSISTANT_CHROMA_PORT"):
        env.pop(key, None)
    if settings.chroma_host:
        env.update(ASSISTANT_CHROMA_HOST=settings.chroma_host, ASSISTANT_CHROMA_PORT=str(settings.chroma_port))
    if settings.max_file_mb != Settings.model_fields["max_file_mb"].default:
        env["ASSISTANT_MAX_FILE_MB"] = str(settings.max_file_mb)
    env.update(extra)
    return env


def run_cli(settings: Settings, *args: str, timeout: float = 600, **extra_env: str) -> subprocess.CompletedProcess:
    """`usmca-assistant <args>` in a separate process (what a second terminal would do)."""
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", *args],
        env=env_for(settings, **extra_env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def invoke(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str):
    """The CLI in this process (Typer's runner), configured through the environment like a user."""
    from assistant.cli import app
    from assistant.settings import get_settings

    for key, value in env_for(settings).items():
        if key.startswith("ASSISTANT_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("ASSISTANT_CHROMA_HOST", raising=False)
    if settings.chroma_host:
        monkeypatch.setenv("ASSISTANT_CHROMA_HOST", settings.chroma_host)
        monkeypatch.setenv("ASSISTANT_CHROMA_PORT", str(settings.chroma_port))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()


def vector_store(settings: Settings) -> VectorStore:
    client = make_client(settings.index_dir, settings.chroma_host, settings.chroma_port)
    return VectorStore(client, settings.embedding_model)


def multilingual_vector_store(settings: Settings) -> VectorStore | None:
    """The multilingual channel's collection (None when the channel is off)."""
    if not settings.multilingual_model:
        return None
    client = make_client(settings.index_dir, settings.chroma_host, settings.chroma_port)
    return multilingual_store(client, settings.multilingual_model)


def index_state(settings: Settings) -> dict:
    """What must agree after every run: manifest, doc store, BM25 and both Chroma collections' ids."""
    manifest = store.read_manifest(settings.index_dir)
    snap = store.load_snapshot(settings.index_dir)
    ml = multilingual_vector_store(settings)
    return {
        "documents": {d: (m["sha256"], tuple(m["chunk_ids"])) for d, m in manifest["documents"].items()},
        "manifest_ids": store.manifest_chunk_ids(manifest),
        "chunk_ids": set(snap.chunks),
        "bm25_ids": list(snap.lexical.ids),
        "chroma_ids": vector_store(settings).all_ids(),
        "multilingual_ids": ml.all_ids() if ml is not None else None,
        "multilingual_listed": bool(ml is not None and manifest.get("multilingual_collection") == ml.name),
        "generation": manifest["generation"],
    }


def assert_consistent(state: dict) -> None:
    ids = state["manifest_ids"]
    assert state["chunk_ids"] == ids
    assert sorted(state["bm25_ids"]) == sorted(ids), "BM25 must hold each chunk exactly once"
    assert state["chroma_ids"] == ids, "Chroma must hold exactly the indexed chunks"
    if state["multilingual_ids"] is not None:
        assert state["multilingual_listed"], "the manifest lists the multilingual collection"
        assert state["multilingual_ids"] == ids, "so does the multilingual collection"


def bm25_ids(settings: Settings, query: str) -> set[str]:
    return {cid for cid, _ in store.load_snapshot(settings.index_dir).lexical.search(query, 20)}


def chroma_texts_containing(settings: Settings, phrase: str) -> list[str]:
    got = vector_store(settings).collection.get(where_document={"$contains": phrase}, include=["documents"])
    return got["documents"]


@pytest.fixture
def corpus_index(tmp_path) -> Settings:
    settings = index_settings(tmp_path, make_corpus(tmp_path / "corpus"))
    report = Indexer(settings).run()
    assert report.ok, report.errors
    assert sorted(report.indexed) == ["dairy.md", "labor.md", "review.pdf", "sub/autos.md"]
    return settings


def test_index_twice_gives_identical_ids_and_counts(corpus_index):
    first = index_state(corpus_index)
    assert_consistent(first)
    report = Indexer(corpus_index).run()
    assert report.plan.summary()["unchanged"] == 4 and report.chunks_embedded == 0
    assert report.indexed == [] and not report.committed
    second = index_state(corpus_index)
    assert second == first
    assert len(second["chroma_ids"]) == vector_store(corpus_index).count() == len(first["bm25_ids"])


def test_edited_paragraph_replaces_old_chunks_everywhere(corpus_index):
    before = index_state(corpus_index)
    old_ids = set(before["documents"]["dairy.md"][1])
    assert chroma_texts_containing(corpus_index, "Class 7 milk pricing")
    assert bm25_ids(corpus_index, "Class 7 milk pricing") & old_ids

    dairy = Path(corpus_index.corpus_dirs[0]) / "dairy.md"
    dairy.write_text(
        DAIRY.replace(
            "Canada eliminated its Class 7 milk pricing program, which had undercut U.S. exports of "
            "ultrafiltered milk.",
            "Canada must publish its whey export volumes, and exports above a threshold pay a surcharge.",
        ),
        encoding="utf-8",
    )
    report = Indexer(corpus_index).run()
    assert report.indexed == ["dairy.md"] and report.ok
    after = index_state(corpus_index)
    assert_consistent(after)
    assert not old_ids & after["chroma_ids"], "every old chunk of the edited file leaves Chroma"
    assert not old_ids & set(after["bm25_ids"]), "and BM25"
    assert not chroma_texts_containing(corpus_index, "Class 7 milk pricing")
    assert not bm25_ids(corpus_index, "ultrafiltered undercut")
    for doc in ("labor.md", "sub/autos.md", "review.pdf"):  # untouched documents keep their chunks
        assert after["documents"][doc] == before["documents"][doc]

    assistant = Assistant(corpus_index)
    for mode in ("bm25", "dense", "hybrid"):
        hits = assistant.retrieve("whey export surcharge threshold", 3, mode=mode)
        assert hits and hits[0].chunk.document_id == "dairy.md" and "whey" in hits[0].chunk.text, mode


def test_deleted_file_loses_all_its_chunks(corpus_index):
    before = index_state(corpus_index)
    labor_ids = set(before["documents"]["labor.md"][1])
    (Path(corpus_index.corpus_dirs[0]) / "labor.md").unlink()
    report = Indexer(corpus_index).run()
    assert report.removed == ["labor.md"] and report.indexed == []
    after = index_state(corpus_index)
    assert_consistent(after)
    assert "labor.md" not in after["documents"]
    assert vector_store(corpus_index).count() == len(before["chroma_ids"]) - len(labor_ids)
    assert not labor_ids & set(after["bm25_ids"])
    assert not bm25_ids(corpus_index, "secret ballot mechanism")


def test_renamed_file_is_not_duplicated_and_keeps_its_vectors(corpus_index):
    before = index_state(corpus_index)
    corpus = Path(corpus_index.corpus_dirs[0])
    (corpus / "sub" / "autos.md").rename(corpus / "rules-of-origin.md")
    plan = Indexer(corpus_index).plan()
    assert [(t.action, t.doc_id, t.replaces) for t in plan.tasks if t.action != "unchanged"] == [
        ("rename", "rules-of-origin.md", "sub/autos.md")
    ]
    report = Indexer(corpus_index).run()
    assert report.chunks_embedded == 0 and report.chunks_reused == len(before["documents"]["sub/autos.md"][1])
    after = index_state(corpus_index)
    assert_consistent(after)
    assert "sub/autos.md" not in after["documents"]
    assert after["documents"]["rules-of-origin.md"] == before["documents"]["sub/autos.md"]
    assert after["manifest_ids"] == before["manifest_ids"]
    meta = vector_store(corpus_index).collection.get(ids=list(after["documents"]["rules-of-origin.md"][1]))
    assert {m["document_id"] for m in meta["metadatas"]} == {"rules-of-origin.md"}
    hits = Assistant(corpus_index).retrieve("regional value content of passenger vehicles", 3, mode="dense")
    assert hits[0].chunk.document_id == "rules-of-origin.md"


def test_rename_through_explicit_paths_drops_the_old_record(corpus_index):
    corpus = Path(corpus_index.corpus_dirs[0])
    moved = corpus / "moved" / "labor-law.md"
    moved.parent.mkdir()
    (corpus / "labor.md").rename(moved)
    report = Indexer(corpus_index).run([moved])
    assert report.removed == ["labor.md"] and report.indexed == ["moved/labor-law.md"]
    assert_consistent(index_state(corpus_index))


def test_copied_file_is_indexed_once(corpus_index):
    before = index_state(corpus_index)
    corpus = Path(corpus_index.corpus_dirs[0])
    shutil.copy(corpus / "labor.md", corpus / "aaa-copy-of-labor.md")  # sorts before the original
    report = Indexer(corpus_index).run()
    assert report.plan.count("duplicate") == 1 and report.indexed == []
    assert any("aaa-copy-of-labor.md" in w and "labor.md" in w for w in report.warnings)
    after = index_state(corpus_index)
    assert after["documents"] == before["documents"]
    assert_consistent(after)


def test_remove_api_and_missing_corpus_folder(corpus_index, tmp_path):
    report = Indexer(corpus_index).remove(["review.pdf"])
    assert report.removed == ["review.pdf"]
    state = index_state(corpus_index)
    assert_consistent(state)
    assert "review.pdf" not in state["documents"]
    # A mistyped corpus folder must not wipe the index.
    wrong = corpus_index.model_copy(update={"corpus_dirs": [tmp_path / "no-such-folder"]})
    report = Indexer(wrong).run()
    assert report.removed == [] and str(tmp_path / "no-such-folder") in report.errors
    assert index_state(corpus_index)["documents"] == state["documents"]


def test_dry_run_changes_nothing_and_rebuild_starts_over(corpus_index, monkeypatch):
    corpus = Path(corpus_index.corpus_dirs[0])
    (corpus / "labor.md").unlink()
    (corpus / "dairy.md").write_text(DAIRY + "\nA new closing paragraph on butter quotas.\n", encoding="utf-8")
    manifest_bytes = (corpus_index.index_dir / "documents.json").read_bytes()
    result = invoke(corpus_index, monkeypatch, "index", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "update" in result.output and "dairy.md" in result.output
    assert "remove" in result.output and "labor.md" in result.output
    assert "update=1" in result.output and "remove=1" in result.output
    assert (corpus_index.index_dir / "documents.json").read_bytes() == manifest_bytes

    result = invoke(corpus_index, monkeypatch, "index")
    assert result.exit_code == 0, result.output
    built = index_state(corpus_index)
    vs = vector_store(corpus_index)  # a vector nothing references, e.g. from an old chunker
    vs.upsert(["stray-vector"], vs.collection.get(ids=[next(iter(built["chroma_ids"]))], include=["embeddings"])
              ["embeddings"], ["stray"], [{"document_id": "gone"}])
    result = invoke(corpus_index, monkeypatch, "index", "--rebuild")
    assert result.exit_code == 0, result.output
    rebuilt = index_state(corpus_index)
    assert_consistent(rebuilt)
    assert rebuilt["documents"] == built["documents"] and rebuilt["generation"] != built["generation"]
    assert "stray-vector" not in rebuilt["chroma_ids"]


def test_manifest_and_generation_files_are_readable_by_others(corpus_index):
    manifest = corpus_index.index_dir / "documents.json"
    assert manifest.stat().st_mode & 0o044, "readers may run under another account"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    assert data["vectors"].startswith("embedded:") and data["collection"] == vector_store(corpus_index).name
    assert store.verify_generation(corpus_index.index_dir, data["generation"]) == []


def test_indexing_a_folder_mirrors_it(corpus_index, monkeypatch):
    """`index FOLDER` removes the documents whose files are gone from that folder, and only those."""
    corpus = Path(corpus_index.corpus_dirs[0])
    before = index_state(corpus_index)
    question = "How can Mexican workers elect independent unions?"
    cited = Assistant(corpus_index).ask(question).citations
    assert cited and cited[0].document_id == "labor.md"
    (corpus / "labor.md").unlink()
    (corpus / "sub" / "autos.md").unlink()
    monkeypatch.setenv("COLUMNS", "400")
    missing = [p for p in Indexer(corpus_index).check().problems if p.code == "missing-files"]
    assert missing and "labor.md" in missing[0].detail and "`usmca-assistant index FOLDER`" in missing[0].fix

    # A folder that never held labor.md leaves it alone: files outside the given paths are kept.
    result = invoke(corpus_index, monkeypatch, "index", "--dry-run", str(corpus / "sub"))
    assert result.exit_code == 0, result.output
    assert "remove=1" in result.output and "sub/autos.md" in result.output and "labor.md" not in result.output
    result = invoke(corpus_index, monkeypatch, "index", str(corpus / "sub"))
    assert result.exit_code == 0, result.output
    middle = index_state(corpus_index)
    assert_consistent(middle)
    assert "sub/autos.md" not in middle["documents"] and middle["documents"]["labor.md"] == before["documents"]["labor.md"]

    # The folder that held it: --dry-run says so, the run removes it everywhere.
    result = invoke(corpus_index, monkeypatch, "index", "--dry-run", str(corpus))
    assert "remove=1" in result.output and "labor.md" in result.output, result.output
    result = invoke(corpus_index, monkeypatch, "index", str(corpus))
    assert result.exit_code == 0 and "removed 1" in result.output, result.output
    after = index_state(corpus_index)
    assert_consistent(after)
    labor_ids = set(before["documents"]["labor.md"][1])
    assert "labor.md" not in after["documents"]
    assert not labor_ids & after["chunk_ids"], "gone from the snapshot"
    assert not labor_ids & set(after["bm25_ids"]), "and BM25"
    assert not labor_ids & after["chroma_ids"], "and Chroma"
    assert not bm25_ids(corpus_index, "secret ballot independent unions")
    for doc in ("dairy.md", "review.pdf"):
        assert after["documents"][doc] == before["documents"][doc]
    answer = Assistant(corpus_index).ask(question)
    assert all(c.document_id != "labor.md" for c in answer.citations)
    assert "missing-files" not in Indexer(corpus_index).check().codes()


def test_a_given_file_that_is_gone_is_removed_and_a_missing_folder_removes_nothing(corpus_index, tmp_path):
    corpus = Path(corpus_index.corpus_dirs[0])
    (corpus / "dairy.md").unlink()
    report = Indexer(corpus_index).run([corpus / "dairy.md"])
    assert report.removed == ["dairy.md"] and report.ok
    shutil.rmtree(corpus / "sub")  # an unmounted or mistyped folder must not wipe its documents
    plan = Indexer(corpus_index).plan([corpus / "sub"])
    assert plan.remove == [] and "does not exist" in plan.errors[str(corpus / "sub")]
    assert Indexer(corpus_index).plan([tmp_path / "nowhere"]).errors == {str(tmp_path / "nowhere"): "no such file or folder"}
    state = index_state(corpus_index)
    assert_consistent(state)
    assert set(state["documents"]) == {"labor.md", "review.pdf", "sub/autos.md"}


class CountingEmbedder:
    """A small deterministic embedder (hashed words), standing in for the model."""

    dimension = 16

    def __init__(self):
        self.texts: list[str] = []

    def vector(self, text: str):
        import hashlib

        import numpy as np

        v = np.zeros(self.dimension, dtype=np.float32)
        for w in text.lower().split():
            v[int(hashlib.sha1(w.encode()).hexdigest(), 16) % self.dimension] += 1.0
        return v / (np.linalg.norm(v) or 1.0)

    def embed_with_sentences(self, texts, spans, progress=None):
        import numpy as np

        self.texts += texts
        passages = np.vstack([self.vector(t) for t in texts])
        sentences = [np.vstack([self.vector(t[a:b]) for a, b in sp]) for t, sp in zip(texts, spans, strict=True)]
        return passages, sentences


def test_a_ready_made_embedder_is_used(tmp_path):
    settings = index_settings(tmp_path, make_corpus(tmp_path / "corpus"))
    embedder = CountingEmbedder()
    report = Indexer(settings, embedder=embedder).run()
    assert report.ok and report.chunks_embedded == len(embedder.texts) > 0
    state = index_state(settings)
    assert_consistent(state)
    got = vector_store(settings).collection.get(ids=sorted(state["chroma_ids"]), include=["embeddings", "documents"])
    for text, vec in zip(got["documents"], got["embeddings"], strict=True):
        search_text = next(t for t in embedder.texts if t.endswith(text))
        assert list(vec) == pytest.approx(list(embedder.vector(search_text)), abs=1e-6)
    snap = store.load_snapshot(settings.index_dir)
    assert snap.sentence_vectors.shape[1] == CountingEmbedder.dimension


def test_a_new_sentence_segmenter_gives_new_sentence_spans_on_upgrade(corpus_index, monkeypatch):
    """The code-version stamp makes the next run parse every document again; a passage whose text is
    unchanged but whose sentences are now cut differently gets the new spans and sentence vectors."""
    import assistant.index.indexer as indexer
    import assistant.index.upsert as upsert

    before = store.load_snapshot(corpus_index.index_dir)
    multi = [cid for cid in before.chunks if len(before.sentences(cid)[0]) > 1]
    assert multi
    monkeypatch.setattr(upsert, "split_sentences", lambda text: [(0, len(text))] if text else [])
    monkeypatch.setattr(indexer, "code_version", lambda: "another-segmenter")
    report = Indexer(corpus_index).run()
    assert report.ok and any("parsed again" in note for note in report.recovered)
    after = store.load_snapshot(corpus_index.index_dir)
    assert set(after.chunks) == set(before.chunks)  # same passages: only their sentences changed
    for cid in multi:
        spans, vecs = after.sentences(cid)
        assert spans == [(0, len(after.chunks[cid].text))] and len(vecs) == 1
    assert_consistent(index_state(corpus_index))
