"""`usmca-assistant eval`, the naive baseline and the LangChain retriever adapters, on real indexes.

The CLI runs in-process (Typer's CliRunner) against the session's real index of the brief, so the
model is loaded once; settings come from ASSISTANT_* variables exactly as in a shell.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter
from typer.testing import CliRunner

import assistant.cli.evaluate  # noqa: F401 - registers `eval` even before cli/__init__ imports it
from assistant.cli.common import app
from assistant.domain import Chunk
from assistant.evaluate.answerers import make_answer_fn, make_naive_retriever
from assistant.evaluate.metrics import SUMMARY_KEYS
from assistant.index.indexer import Indexer
from assistant.index.store import read_text
from assistant.pipeline import Assistant
from assistant.retrieve.langchain import HybridLangChainRetriever
from assistant.retrieve.naive import CHUNK_OVERLAP, CHUNK_SIZE, TOP_K, NaiveRetriever
from assistant.settings import Settings, get_settings
from tests.conftest import MIRROR, make_settings

TRADE_EVIDENCE = "Mexico is now the U.S.'s largest trading partner, accounting for $840 billion of bilateral trade"
QUESTIONS = [
    {
        "id": "t1",
        "question": "How much bilateral trade did the U.S. and Mexico have in 2024?",
        "kind": "number",
        "answerable": True,
        "must_mention": ["840"],
        "evidence": [TRADE_EVIDENCE],
        "reviewer": "an unknown field, ignored",
    },
    {
        "id": "t2",
        "question": "What is the boiling point of liquid nitrogen at sea level?",
        "kind": "unanswerable",
        "answerable": False,
    },
    {
        "id": "t3",
        "question": "What share of Mexican adults only finished secondary school?",
        "kind": "brand-new-kind",
        "evidence": ["60 percent of the population"],
    },
]
RUN_FILES = ("summary.json", "results.jsonl", "results.csv", "report.md", "report.html", "hit_at_k.png")


@pytest.fixture
def cli_env(brief_settings, monkeypatch):
    """The CLI's settings pointed at the session's brief index, as a shell user would set them."""
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(brief_settings.index_dir))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIRS", ",".join(str(p) for p in brief_settings.corpus_dirs))
    get_settings.cache_clear()
    yield brief_settings
    get_settings.cache_clear()


@pytest.fixture
def question_file(tmp_path: Path) -> Path:
    lines = [json.dumps(QUESTIONS[0]), json.dumps(QUESTIONS[1]), '{"id": "broken", "question": ', "",
             json.dumps(QUESTIONS[2])]
    path = tmp_path / "questions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args], catch_exceptions=False)


def test_eval_writes_the_readme_files_and_reports_malformed_lines(cli_env, question_file, tmp_path):
    out = tmp_path / "run"
    result = invoke(str(question_file), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "line 3" in result.stderr and "invalid JSON" in result.stderr
    for name in RUN_FILES:
        assert (out / name).is_file(), name

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) == set(SUMMARY_KEYS) | {"meta"}
    assert summary["n"] == 3 and summary["n_answerable"] == 2
    assert set(summary["by_kind"]) == {"number", "unanswerable", "brand-new-kind"}
    meta = summary["meta"]
    assert meta["retriever"] == "hybrid" and meta["k"] == cli_env.top_k
    assert [e["line"] for e in meta["malformed_lines"]] == [3]
    assert meta["n_errors"] == 0
    # the real index finds the trade figure and answers it; the off-topic question is declined
    assert summary["hit_at_10"] is not None and summary["hit_at_10"] > 0
    assert summary["abstain_accuracy"] == 1.0

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["t1", "t2", "t3"]
    t1 = rows[0]
    assert t1["metrics"]["first_hit_rank"] is not None
    assert [r["rank"] for r in t1["retrieved"]] == list(range(1, len(t1["retrieved"]) + 1))
    # the brief gives two totals for the year (Figure 1's $840 billion, the Texas passage's $795 billion)
    assert any(total in t1["answer"] for total in ("840", "795")) and t1["citations"]
    assert "reviewer" not in t1  # unknown question fields are ignored
    with (out / "results.csv").open(encoding="utf-8") as fh:
        assert [r["id"] for r in csv.DictReader(fh)] == ["t1", "t2", "t3"]
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "line 3" in report and "](hit_at_k.png)" in report


def test_eval_naive_several_retrievers_and_compare(cli_env, question_file, tmp_path):
    first = tmp_path / "naive"
    result = invoke(str(question_file), "--out", str(first), "--retriever", "naive", "--limit", "2")
    assert result.exit_code == 0, result.output
    naive_summary = json.loads((first / "summary.json").read_text(encoding="utf-8"))
    assert naive_summary["meta"]["retriever"] == "naive" and naive_summary["meta"]["k"] == TOP_K
    assert naive_summary["n"] == 2
    rows = [json.loads(line) for line in (first / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(len(r["retrieved"]) == TOP_K for r in rows)
    assert all(r["chunk_id"].startswith("naive-") for row in rows for r in row["retrieved"])
    assert not rows[0]["abstained"] and rows[0]["citations"]

    both = tmp_path / "both"
    result = invoke(
        str(question_file), "--out", str(both), "--retriever", "bm25", "--retriever", "naive",
        "--k", "5", "--compare", str(first / "summary.json"),
    )
    assert result.exit_code == 0, result.output
    for name in ("bm25", "naive"):
        summary = json.loads((both / name / "summary.json").read_text(encoding="utf-8"))
        assert summary["meta"]["retriever"] == name and summary["meta"]["k"] == 5
        (label,) = summary["meta"]["compared_with"]
        assert label.startswith("naive @ ")
        for f in RUN_FILES:
            assert (both / name / f).is_file()
    comparison = json.loads((both / "comparison.json").read_text(encoding="utf-8"))
    assert list(comparison) == ["bm25", "naive"]
    report = (both / "report.md").read_text(encoding="utf-8")
    assert "| metric | bm25 | naive |" in report  # headline table compares the runs
    assert "## Differences against naive @" in report
    assert "| difference |" in report and " pp |" in report
    assert "difference" in result.stdout and "bm25 vs naive @" in result.stdout


def test_eval_usage_errors(cli_env, tmp_path):
    missing = invoke(str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o"))
    assert missing.exit_code == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not json\n", encoding="utf-8")
    result = invoke(str(empty), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "line 1" in result.stderr
    bad = CliRunner().invoke(app, ["eval", str(empty), "--out", str(tmp_path / "o"), "--retriever", "magic"])
    assert bad.exit_code == 2


def test_naive_splits_1000_200_and_returns_top_4(brief_assistant):
    naive = make_naive_retriever(brief_assistant)
    naive.ensure_built()
    snap = brief_assistant.reader.snapshot()
    (doc,) = snap.documents.values()
    text = read_text(brief_assistant.reader.index_dir, doc["sha256"])
    pieces = sorted(naive.chunks.values(), key=lambda c: c.position)

    expected = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_text(text)
    assert [c.text for c in pieces] == expected
    assert (CHUNK_SIZE, CHUNK_OVERLAP) == (1000, 200)
    assert max(len(c.text) for c in pieces) <= 1000 and max(len(c.text) for c in pieces) > 800
    for c in pieces:
        assert text[c.start : c.end] == c.text and c.document_id == doc["id"] and c.kind == "brief"
    overlaps = [a.end - b.start for a, b in zip(pieces, pieces[1:], strict=False)]
    # the splitter overlaps pieces cut inside a long paragraph, never by more than 200 characters
    assert all(o <= 200 for o in overlaps) and any(100 < o <= 200 for o in overlaps)
    assert naive.vectors.count() == len(pieces)

    hits = naive.search("How much bilateral trade did the U.S. and Mexico have in 2024?")
    assert len(hits) == TOP_K == 4
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any("840" in h.chunk.text for h in hits)

    again = make_naive_retriever(brief_assistant)  # a new process finds the collection built
    again.ensure_built()
    assert again.last_build["embedded"] == 0 and again.last_build["pieces"] == len(pieces)

    docs = naive.as_langchain().invoke("Mexico's largest trading partner")
    assert len(docs) == 4 and all(isinstance(d, Document) for d in docs)
    assert Chunk.from_metadata(docs[0].id, docs[0].page_content, docs[0].metadata).text == docs[0].page_content


def test_naive_answers_come_from_naive_pieces_through_the_product_pipeline(brief_assistant):
    ask = make_answer_fn("naive", brief_assistant)
    answer = ask("How much bilateral trade did the U.S. and Mexico have in 2024?")
    assert len(answer.retrieved) == TOP_K and all(s.chunk.id.startswith("naive-") for s in answer.retrieved)
    assert answer.backend == "extractive" and not answer.abstained and answer.citations
    pieces = {s.chunk.id: s.chunk.text for s in answer.retrieved}
    for c in answer.citations:
        assert c.chunk_id in pieces and c.passage == pieces[c.chunk_id]
        assert c.quote and f"[{c.number}]" in answer.text
    # the brief's recommendation summary answers without retrieval: not available to the baseline
    rec = ask("What does the brief recommend on security cooperation?")
    assert rec.retrieved and all(s.chunk.id.startswith("naive-") for s in rec.retrieved)
    assert all(c.chunk_id.startswith("naive-") for c in rec.citations)
    assert ask("What is the boiling point of liquid nitrogen at sea level?").abstained


def test_hybrid_langchain_adapter_on_the_brief(brief_assistant):
    lc = HybridLangChainRetriever(retriever=brief_assistant.retriever, k=5)
    docs = lc.invoke("What share of Mexican adults only finished secondary school?")
    assert 0 < len(docs) <= 5
    ids = [d.metadata["id"] for d in docs]
    assert ids == [d.id for d in docs]
    direct = brief_assistant.retrieve("What share of Mexican adults only finished secondary school?", 5)
    assert ids == [s.chunk.id for s in direct]
    assert docs[0].page_content == direct[0].chunk.text and docs[0].metadata["kind"] == "brief"
    assert lc.invoke("secondary school", kinds={"treaty"}) == []
    assert HybridLangChainRetriever(retriever=brief_assistant.retriever, kinds={"law"}).invoke("trade") == []


# -- a small private index whose content changes: two kinds, and documents added and removed ----------

FR_10925 = "sources/fr-2025-07833-amendments-to-adjusting-imports-of-automobiles-and-automobile-parts.html"
NOTE_A = """# Negotiator note A

The working group on steel met in Monterrey and agreed to exchange monthly melt-and-pour data.
""" + "Steel import monitoring continues with a shared dashboard of melt and pour origins. " * 20
NOTE_B = """# Negotiator note B

The dairy working group asked Canada to publish tariff-rate quota fill rates every quarter.
""" + "Dairy quota administration remains the main irritant in the Canadian market. " * 20


@pytest.fixture(scope="module")
def small_settings(tmp_path_factory) -> Settings:
    src = MIRROR / FR_10925
    if not src.is_file():
        pytest.skip("the shared mirror is not present")
    tmp = tmp_path_factory.mktemp("small")
    corpus = tmp / "corpus"
    (corpus / "sources").mkdir(parents=True)
    (corpus / "user").mkdir()
    shutil.copy(src, corpus / FR_10925)
    (corpus / "user" / "note-a.md").write_text(NOTE_A, encoding="utf-8")
    settings = make_settings(tmp, corpus)
    assert Indexer(settings).run().ok
    return settings


def test_hybrid_adapter_honours_kind_and_document_filters(small_settings):
    a = Assistant(small_settings)
    lc = HybridLangChainRetriever(retriever=a.retriever, k=4)
    q = "monthly melt and pour data exchange on steel"
    assert {d.metadata["kind"] for d in lc.invoke(q)} >= {"user"}
    only_source = lc.invoke(q, kinds={"source"})
    assert only_source and {d.metadata["kind"] for d in only_source} == {"source"}
    only_user = lc.invoke(q, kinds=["user"])
    assert only_user and {d.metadata["kind"] for d in only_user} == {"user"}
    assert "melt-and-pour" in only_user[0].page_content
    by_doc = lc.invoke(q, documents={only_source[0].metadata["document_id"]})
    assert by_doc and {d.metadata["document_id"] for d in by_doc} == {only_source[0].metadata["document_id"]}
    for mode in ("dense", "bm25"):
        assert lc.invoke(q, mode=mode, kinds={"user"})[0].metadata["kind"] == "user"


def test_naive_collection_follows_the_index_generation(small_settings):
    a = Assistant(small_settings)
    naive = make_naive_retriever(a)
    assert isinstance(naive, NaiveRetriever)
    hits = naive.search("Which working group asked Canada to publish quota fill rates?")
    assert hits and not any(h.chunk.document_id.endswith("note-b.md") for h in hits)
    first_generation = naive.generation
    user = small_settings.corpus_dirs[0] / "user"
    (user / "note-b.md").write_text(NOTE_B, encoding="utf-8")
    (user / "note-a.md").unlink()
    assert Indexer(small_settings).run().ok

    hits = naive.search("Which working group asked Canada to publish quota fill rates?")
    assert naive.generation != first_generation
    assert hits[0].chunk.document_id.endswith("note-b.md")
    assert naive.last_build["embedded"] == sum(1 for c in naive.chunks.values() if c.document_id.endswith("note-b.md"))
    assert not any(c.document_id.endswith("note-a.md") for c in naive.chunks.values())
    assert naive.vectors.all_ids() == set(naive.chunks)  # the removed note's pieces left Chroma too
    filtered = naive.as_langchain(kinds={"source"}).invoke("quota fill rates")
    assert filtered and {d.metadata["kind"] for d in filtered} == {"source"}
