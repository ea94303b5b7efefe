"""Crash safety: `index` killed with SIGKILL at every stage leaves an index that answers and is the
old or the new state; the next run converges to a clean build. `doctor` finds and repairs drift.

The kills are real: `usmca-assistant index` runs in a subprocess and SIGKILLs itself at a named
checkpoint (ASSISTANT_TEST_CRASH_AT), or is killed from outside after a delay.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.index import store
from assistant.index.indexer import Indexer
from assistant.pipeline import Assistant
from tests.test_reindex import (
    DAIRY,
    ROOT,
    assert_consistent,
    env_for,
    index_settings,
    index_state,
    invoke,
    make_corpus,
    run_cli,
    vector_store,
)

TARIFF_SECTIONS = 40  # with ASSISTANT_EMBEDDING_BATCH_SIZE=2 the new file takes 3 upsert steps


def to_v2(corpus: Path) -> None:
    """One run's worth of change: an edit, a deletion and a new multi-section file."""
    (corpus / "dairy.md").write_text(DAIRY.replace("3.6 percent", "3.59 percent"), encoding="utf-8")
    (corpus / "labor.md").unlink()
    sections = [
        f"## Heading {n:02d}\n\nTariff line {n:02d} covers product group {n} and is eliminated in stage {n % 5}."
        for n in range(TARIFF_SECTIONS)
    ]
    (corpus / "tariffs.md").write_text("# Tariff elimination\n\n" + "\n\n".join(sections) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def clean_v2(tmp_path_factory) -> dict:
    """The state a clean build of the changed corpus has."""
    tmp = tmp_path_factory.mktemp("clean")
    corpus = make_corpus(tmp / "corpus")
    to_v2(corpus)
    settings = index_settings(tmp, corpus)
    assert Indexer(settings).run().ok
    return index_state(settings)


@pytest.fixture
def v1_index(tmp_path):
    settings = index_settings(tmp_path, make_corpus(tmp_path / "corpus"))
    assert Indexer(settings).run().ok
    return settings, index_state(settings)


def assert_old_or_new_and_answering(settings, v1: dict, v2: dict) -> None:
    """After a kill: the committed state is exactly the old or exactly the new one, its files and
    BM25 agree, every chunk it lists has a vector, and questions get cited answers."""
    state = index_state(settings)
    assert state["documents"] in (v1["documents"], v2["documents"])
    assert state["chunk_ids"] == state["manifest_ids"]
    assert sorted(state["bm25_ids"]) == sorted(state["manifest_ids"])
    assert state["manifest_ids"] <= state["chroma_ids"], "no committed chunk may lose its vector"
    answer = Assistant(settings).ask("When do the parties meet for the joint review?")
    assert not answer.abstained and answer.citations
    assert answer.citations[0].document_id == "review.pdf"
    return state


def converge_and_compare(settings, clean: dict) -> None:
    report = Indexer(settings).run()
    assert report.ok, report.errors
    state = index_state(settings)
    assert_consistent(state)
    for key in ("documents", "manifest_ids", "chroma_ids"):
        assert state[key] == clean[key], key
    assert sorted(state["bm25_ids"]) == sorted(clean["bm25_ids"])
    health = Indexer(settings).check()
    assert health.ok and not health.codes() & {"orphan-vectors", "interrupted-run", "stale-writer", "temp-files"}
    assert not (settings.index_dir / store.JOURNAL).exists()
    assert not (settings.index_dir / store.WRITER).exists()


@pytest.mark.parametrize("point", ["journaled", "upsert_batch", "upserted", "generation", "committed", "cleaned"])
def test_sigkill_at_each_stage_then_converge(point, v1_index, clean_v2):
    settings, v1 = v1_index
    to_v2(Path(settings.corpus_dirs[0]))
    proc = run_cli(settings, "index", ASSISTANT_TEST_CRASH_AT=point, ASSISTANT_EMBEDDING_BATCH_SIZE="2")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    state = assert_old_or_new_and_answering(settings, v1, clean_v2)
    committed = point in ("committed", "cleaned")
    assert state["documents"] == (clean_v2 if committed else v1)["documents"]

    health = Indexer(settings).check()
    assert "stale-writer" in health.codes() and "interrupted-run" in health.codes()
    if point == "upsert_batch":  # killed after the first of several upsert steps
        assert 0 < len(state["chroma_ids"] - v1["chroma_ids"]) < TARIFF_SECTIONS
        assert "orphan-vectors" in health.codes()

    converge_and_compare(settings, clean_v2)


def test_sigkill_from_outside_at_arbitrary_moments(v1_index, clean_v2):
    settings, v1 = v1_index
    to_v2(Path(settings.corpus_dirs[0]))
    env = env_for(settings, ASSISTANT_EMBEDDING_BATCH_SIZE="2")
    outcomes = []
    for delay in (3.0, 7.0, 11.0):
        proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli", "index"], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        outcomes.append(proc.wait(timeout=60))
        state = assert_old_or_new_and_answering(settings, v1, clean_v2)
        if state["documents"] == clean_v2["documents"]:
            break
    converge_and_compare(settings, clean_v2)
    assert outcomes  # each attempt either died (-9) or finished (0)
    assert set(outcomes) <= {-signal.SIGKILL, 0}


def test_doctor_repairs_missing_and_orphan_vectors(v1_index, monkeypatch):
    settings, v1 = v1_index
    vs = vector_store(settings)
    victim = sorted(v1["documents"]["labor.md"][1])[0]
    row = vs.collection.get(ids=[victim], include=["embeddings", "documents", "metadatas"])
    vs.delete([victim])
    vs.upsert(["orphan-1"], row["embeddings"], row["documents"], row["metadatas"])

    result = invoke(settings, monkeypatch, "doctor")
    assert result.exit_code == 1, result.output
    assert "missing-vectors" in result.output and "orphan-vectors" in result.output

    result = invoke(settings, monkeypatch, "doctor", "--repair")
    assert result.exit_code == 0, result.output
    assert "embedded 1 chunk" in result.output and "deleted 1 orphan" in result.output
    state = index_state(settings)
    assert_consistent(state)
    assert state["chroma_ids"] == v1["chroma_ids"]
    hits = Assistant(settings).retrieve("independent unions secret ballot", 2, mode="dense")
    assert hits[0].chunk.id == victim


def test_corrupt_generation_keeps_old_snapshot_and_is_rebuilt(v1_index, monkeypatch):
    settings, v1 = v1_index
    assistant = Assistant(settings)
    assert not assistant.ask("When do the parties meet for the joint review?").abstained
    generation = store.read_manifest(settings.index_dir)["generation"]
    chunks_file = store.generation_dir(settings.index_dir, generation) / "chunks.jsonl"
    chunks_file.write_bytes(chunks_file.read_bytes()[:100])  # torn by a disk fault
    manifest = settings.index_dir / "documents.json"
    manifest.write_text(manifest.read_text(encoding="utf-8"), encoding="utf-8")  # readers reload

    # A reader that had the index loaded keeps answering from its snapshot.
    assert not assistant.ask("When do the parties meet for the joint review?").abstained
    assert "cannot be read" in assistant.reader.last_error
    with pytest.raises(store.CorruptIndex, match="doctor --repair"):
        store.load_snapshot(settings.index_dir)

    result = invoke(settings, monkeypatch, "doctor")
    assert result.exit_code == 1 and "generation" in result.output and "corrupt" in result.output
    result = invoke(settings, monkeypatch, "doctor", "--repair")
    assert result.exit_code == 0, result.output
    state = index_state(settings)
    assert_consistent(state)
    assert state["documents"] == v1["documents"] and state["generation"] != generation
    assert not Assistant(settings).ask("When do the parties meet for the joint review?").abstained


def test_corrupt_manifest_is_rebuilt_by_doctor_or_index(v1_index, monkeypatch):
    settings, v1 = v1_index
    manifest = settings.index_dir / "documents.json"
    manifest.write_text('{"version": 1, "generation": "g1", "documents": {"a": ', encoding="utf-8")
    result = invoke(settings, monkeypatch, "doctor")
    assert result.exit_code == 1 and "manifest" in result.output
    result = invoke(settings, monkeypatch, "doctor", "--repair")
    assert result.exit_code == 0, result.output
    assert index_state(settings)["documents"] == v1["documents"]

    manifest.write_text("not json", encoding="utf-8")
    report = Indexer(settings).run()  # a plain `index` heals too, and says so
    assert report.ok and any("rebuilding the index" in n for n in report.recovered)
    state = index_state(settings)
    assert_consistent(state)
    assert state["documents"] == v1["documents"]


def test_doctor_clears_what_a_dead_writer_left(v1_index, monkeypatch):
    settings, v1 = v1_index
    index_dir = settings.index_dir
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    record = {"pid": int(dead.stdout), "host": __import__("socket").gethostname(), "started": "x", "command": "index"}
    (index_dir / store.WRITER).write_text(json.dumps(record), encoding="utf-8")
    (index_dir / ".documents.json.abc123.tmp").write_text("{", encoding="utf-8")
    (index_dir / "gen" / "g-interrupted.tmp").mkdir()
    vs = vector_store(settings)
    row = vs.collection.get(ids=[next(iter(v1["chroma_ids"]))], include=["embeddings"])
    vs.upsert(["uncommitted-1"], row["embeddings"], ["x"], [{"document_id": "new.md"}])
    store.write_journal(index_dir, {"uncommitted-1", next(iter(v1["manifest_ids"]))})

    result = invoke(settings, monkeypatch, "doctor")
    for code in ("stale-writer", "interrupted-run", "temp-files", "orphan-vectors"):
        assert code in result.output
    assert result.exit_code == 1
    result = invoke(settings, monkeypatch, "doctor", "--repair")
    assert result.exit_code == 0, result.output
    assert not (index_dir / store.WRITER).exists() and not (index_dir / store.JOURNAL).exists()
    assert store.leftover_temp_files(index_dir) == []
    state = index_state(settings)
    assert_consistent(state)
    assert state["chroma_ids"] == v1["chroma_ids"]


def test_doctor_re_embeds_a_lost_vector_store(v1_index):
    """An index whose vectors are gone (copied without its Chroma folder) is detected, keeps
    answering from BM25, and `doctor --repair` embeds the chunks again from the doc store."""
    settings, v1 = v1_index
    shutil.rmtree(settings.index_dir / "chroma")
    health = Indexer(settings).check()
    assert "missing-vectors" in health.codes() and not health.ok
    assert not Assistant(settings).ask("When do the parties meet for the joint review?").abstained  # BM25 still answers
    health = Indexer(settings).repair()
    assert health.ok and any("embedded" in note for note in health.repaired)
    state = index_state(settings)
    assert_consistent(state)
    assert state["chroma_ids"] == v1["chroma_ids"]


def test_partial_index_run_over_a_corrupt_generation_keeps_every_document(v1_index):
    settings, v1 = v1_index
    generation = store.read_manifest(settings.index_dir)["generation"]
    (store.generation_dir(settings.index_dir, generation) / "sentences.npy").write_bytes(b"\x93NUMPY garbage")
    note = Path(settings.corpus_dirs[0]) / "note.md"
    note.write_text("# Note\n\nA short note on sugar quotas.\n", encoding="utf-8")
    report = Indexer(settings).run([note])
    assert report.ok and any("re-parsing every document" in n for n in report.recovered)
    state = index_state(settings)
    assert_consistent(state)
    assert set(state["documents"]) == set(v1["documents"]) | {"note.md"}
    for doc, entry in v1["documents"].items():
        assert state["documents"][doc] == entry
