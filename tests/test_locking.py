"""One writer, many readers: a second writer fails fast (exit 3) or waits (--wait); a reader in
another process keeps answering while `index` runs and picks up the new index without a restart,
dense search included (a long-lived embedded Chroma client would never see the new vectors)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant.index import runstate, store
from assistant.index.indexer import IndexBusy, Indexer
from assistant.pipeline import Assistant
from tests.test_reindex import (
    ROOT,
    assert_consistent,
    env_for,
    index_settings,
    index_state,
    invoke,
    make_corpus,
)

SUGAR = "# Sugar\n\nSugar from Mexico enters the United States under a suspension agreement with export limits.\n"


@pytest.fixture
def indexed(tmp_path):
    settings = index_settings(tmp_path, make_corpus(tmp_path / "corpus"))
    assert Indexer(settings).run().ok
    return settings


def start_writer(settings, faults: str, stages: Path) -> subprocess.Popen:
    """An indexing run in another process, held at a stage by its fault hook (tests/faulty_index.py)."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "faulty_index.py")],
        env=env_for(settings, INDEX_FAULTS=faults, INDEX_STAGES=str(stages)), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_writer_record(settings, proc: subprocess.Popen, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = runstate.read_writer_record(settings.index_dir)
        if record and record["pid"] == proc.pid:
            return record
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("the writer never took the lock")


def test_second_writer_fails_fast_with_exit_3_or_waits(indexed, monkeypatch, tmp_path):
    corpus = Path(indexed.corpus_dirs[0])
    (corpus / "sugar.md").write_text(SUGAR, encoding="utf-8")
    release, stages = tmp_path / "release", tmp_path / "stages.log"
    writer = start_writer(indexed, f"wait@locked={release}", stages)  # holds the lock until released
    try:
        wait_for_writer_record(indexed, writer)
        monkeypatch.setenv("COLUMNS", "400")
        result = invoke(indexed, monkeypatch, "index")
        assert writer.poll() is None, "the second writer returned while the first still held the lock"
        assert result.exit_code == 3, result.output
        assert "busy" in result.output and f"process {writer.pid}" in result.output and "--wait" in result.output
        with pytest.raises(IndexBusy):
            Indexer(indexed).run()
        assert invoke(indexed, monkeypatch, "doctor", "--repair").exit_code == 3

        # release the first writer only once the second is waiting for the lock
        threading.Timer(2.0, release.touch).start()
        result = invoke(indexed, monkeypatch, "index", "--wait", "600")
        assert result.exit_code == 0, result.output
        # --wait returned only after the first writer had finished its run
        assert stages.read_text(encoding="utf-8").split()[-1] == "cleaned"
        assert writer.wait(timeout=600) == 0
    finally:
        release.touch()
        if writer.poll() is None:
            writer.kill()
        writer.communicate()
    state = index_state(indexed)
    assert_consistent(state)
    assert "sugar.md" in state["documents"]


READER = textwrap.dedent("""
    import json, sys, time
    from assistant.pipeline import Assistant
    from assistant.settings import get_settings

    assistant = Assistant(get_settings())
    deadline = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < deadline:
        rec = {}
        try:
            answer = assistant.ask("When do the parties meet for the joint review?")
            rec["answered"] = not answer.abstained and bool(answer.citations)
            dense = assistant.retrieve("sugar suspension agreement export limits", 3, mode="dense")
            lexical = assistant.retrieve("sugar suspension agreement export limits", 3, mode="bm25")
            rec["dense_new"] = any(h.chunk.document_id == "sugar.md" for h in dense)
            rec["bm25_new"] = any(h.chunk.document_id == "sugar.md" for h in lexical)
            rec["generation"] = assistant.reader.snapshot().generation
        except Exception as e:
            rec["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(rec), flush=True)
        if rec.get("dense_new"):
            break
        time.sleep(0.2)
""")


def test_reader_process_keeps_answering_while_another_process_indexes(indexed, tmp_path):
    old_generation = store.read_manifest(indexed.index_dir)["generation"]
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, "400"], env=env_for(indexed), cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    writer = None
    try:
        first = json.loads(reader.stdout.readline())
        assert first.get("answered") and not first.get("dense_new"), first
        (Path(indexed.corpus_dirs[0]) / "sugar.md").write_text(SUGAR, encoding="utf-8")
        # Pause after the vectors are in Chroma but before the commit: readers must ignore them.
        writer = start_writer(indexed, "sleep@upserted=4", tmp_path / "stages.log")
        out, err = writer.communicate(timeout=600)
        assert writer.returncode == 0, err[-2000:]
        rest, reader_err = reader.communicate(timeout=600)
    finally:
        for proc in (reader, writer):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert reader.returncode == 0, reader_err[-2000:]
    records = [first] + [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert not [r for r in records if "error" in r], records
    assert all(r["answered"] for r in records), "the reader answered every question during the write"
    before = [r for r in records if r["generation"] == old_generation]
    after = [r for r in records if r["generation"] != old_generation]
    assert before and not any(r["dense_new"] or r["bm25_new"] for r in before)
    assert after and after[-1]["dense_new"] and after[-1]["bm25_new"], "new index picked up without a restart"


def test_in_process_reader_sees_an_in_process_writer(indexed):
    """The UI's upload path: the writer runs in the process that answers questions."""
    assistant = Assistant(indexed)
    assert not any(h.chunk.document_id == "sugar.md" for h in assistant.retrieve("sugar suspension", 3, mode="dense"))
    (Path(indexed.corpus_dirs[0]) / "sugar.md").write_text(SUGAR, encoding="utf-8")
    assert Indexer(indexed).run().indexed == ["sugar.md"]
    hits = assistant.retrieve("sugar suspension agreement export limits", 3, mode="dense")
    assert hits and hits[0].chunk.document_id == "sugar.md"
