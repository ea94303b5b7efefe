"""Crash safety: `index` killed with SIGKILL at every stage leaves an index that answers and is the
old or the new state; the next run converges to a clean build. `doctor` finds and repairs drift.

The kills are real: an indexing run in a child process (tests/faulty_index.py) SIGKILLs itself
when its fault hook is called at a named stage, or is killed from outside while it runs. Every
kill is proven: the child's exit status is -SIGKILL and its stage log shows where it was.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.index import runstate, store
from assistant.index.hooks import STAGES
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
    vector_store,
)

CHILD = ROOT / "tests" / "faulty_index.py"

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
    assert state["manifest_ids"] <= state["multilingual_ids"], "nor its multilingual vector"
    answer = Assistant(settings).ask("When do the parties meet for the joint review?")
    assert not answer.abstained and answer.citations
    assert answer.citations[0].document_id == "review.pdf"
    return state


def converge_and_compare(settings, clean: dict) -> None:
    report = Indexer(settings).run()
    assert report.ok, report.errors
    state = index_state(settings)
    assert_consistent(state)
    for key in ("documents", "manifest_ids", "chroma_ids", "multilingual_ids"):
        assert state[key] == clean[key], key
    assert sorted(state["bm25_ids"]) == sorted(clean["bm25_ids"])
    health = Indexer(settings).check()
    assert health.ok and not health.codes() & {"orphan-vectors", "interrupted-run", "stale-writer", "temp-files"}
    assert not (settings.index_dir / store.JOURNAL).exists()
    assert not (settings.index_dir / store.WRITER).exists()


def start_child(settings, faults: str, stages: Path, **env: str) -> subprocess.Popen:
    """An indexing run in a child process with a fault hook (tests/faulty_index.py)."""
    return subprocess.Popen(
        [sys.executable, str(CHILD)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env_for(settings, INDEX_FAULTS=faults, INDEX_STAGES=str(stages), **env),
    )


def stages_reached(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").split() if log.exists() else []


def test_a_run_that_fails_midway_in_process_leaves_the_old_index(v1_index, clean_v2):
    """The hook in process: an exception at the generation stage (after the vectors were upserted)
    unwinds the run; the old index answers, the lock is free, and the next run converges."""
    settings, v1 = v1_index
    to_v2(Path(settings.corpus_dirs[0]))
    reached = []

    def fail_at_generation(stage: str) -> None:
        reached.append(stage)
        if stage == "generation":
            raise RuntimeError("injected fault")

    with pytest.raises(RuntimeError, match="injected fault"):
        Indexer(settings, faults=fail_at_generation).run()
    assert reached[0] == "locked" and reached[-1] == "generation" and "upserted" in reached
    state = assert_old_or_new_and_answering(settings, v1, clean_v2)
    assert state["documents"] == v1["documents"]
    assert "interrupted-run" in Indexer(settings).check().codes()
    converge_and_compare(settings, clean_v2)


@pytest.mark.parametrize(
    "point", ["journaled", "upsert_batch", "multilingual_batch", "upserted", "generation", "committed", "cleaned"]
)
def test_sigkill_at_each_stage_then_converge(point, v1_index, clean_v2, tmp_path):
    settings, v1 = v1_index
    to_v2(Path(settings.corpus_dirs[0]))
    log = tmp_path / "stages.log"
    proc = start_child(settings, f"kill@{point}", log, ASSISTANT_EMBEDDING_BATCH_SIZE="2")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL, err[-2000:]
    reached = stages_reached(log)
    # it went through the stages in order and died the first time it reached `point`
    assert list(dict.fromkeys(reached)) == list(STAGES[: STAGES.index(point) + 1]), reached
    assert reached[-1] == point and reached.count(point) == 1, reached
    state = assert_old_or_new_and_answering(settings, v1, clean_v2)
    committed = point in ("committed", "cleaned")
    assert state["documents"] == (clean_v2 if committed else v1)["documents"]

    health = Indexer(settings).check()
    assert "stale-writer" in health.codes() and "interrupted-run" in health.codes()
    if point == "upsert_batch":  # killed after the first of several upsert steps
        assert 0 < len(state["chroma_ids"] - v1["chroma_ids"]) < TARIFF_SECTIONS
        assert "orphan-vectors" in health.codes()
    if point == "multilingual_batch":  # MiniLM's vectors all written, the multilingual ones in part
        assert len(state["chroma_ids"] - v1["chroma_ids"]) >= TARIFF_SECTIONS
        assert 0 < len(state["multilingual_ids"] - v1["multilingual_ids"]) < TARIFF_SECTIONS

    converge_and_compare(settings, clean_v2)


def test_sigkill_from_outside_at_arbitrary_moments(v1_index, clean_v2, tmp_path):
    """Killed from outside at moments that fall between the stages (while parsing, embedding,
    writing to Chroma or writing files). The child cannot finish before the kill: its hook holds
    it at the last stage, so every attempt is a real kill, somewhere in the run."""
    settings, v1 = v1_index
    to_v2(Path(settings.corpus_dirs[0]))
    never = tmp_path / "never-created"
    for attempt, delay in enumerate((0.2, 2.0, 6.0)):
        log = tmp_path / f"stages-{attempt}.log"
        proc = start_child(settings, f"wait@cleaned={never}", log, ASSISTANT_EMBEDDING_BATCH_SIZE="2")
        try:
            deadline = time.monotonic() + 300
            while "locked" not in stages_reached(log):  # the run has started (it holds the lock)
                assert proc.poll() is None, proc.communicate()[1][-2000:]
                assert time.monotonic() < deadline, "the child never took the lock"
                time.sleep(0.05)
            time.sleep(delay)  # a moment inside the run; the hook keeps it from finishing
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL, err[-2000:]
        assert "locked" in stages_reached(log)
        assert_old_or_new_and_answering(settings, v1, clean_v2)
    converge_and_compare(settings, clean_v2)


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
    runstate.write_journal(index_dir, {"uncommitted-1", next(iter(v1["manifest_ids"]))})

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
    assert any("multilingual" in note for note in health.repaired)
    state = index_state(settings)
    assert_consistent(state)
    assert state["chroma_ids"] == v1["chroma_ids"] and state["multilingual_ids"] == v1["multilingual_ids"]


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
