"""A shared index on a real Chroma server (`chroma run`, started and stopped here): indexing,
re-indexing and questions, from this process and from another one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from assistant.index import store
from assistant.index.indexer import Indexer
from assistant.pipeline import Assistant
from tests.test_reindex import (
    DAIRY,
    assert_consistent,
    index_settings,
    index_state,
    invoke,
    make_corpus,
    run_cli,
    vector_store,
)

pytestmark = pytest.mark.server

CHROMA = Path(sys.executable).parent / "chroma"
QUESTION = "When do the parties meet for the joint review?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    """A Chroma server on a free port with its own data folder; always stopped afterwards."""
    port = free_port()
    log = open(tmp_path / "chroma-server.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(tmp_path / "chroma-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (tmp_path / "chroma-server.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the Chroma server did not answer its heartbeat"
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def test_index_and_ask_through_a_chroma_server(chroma_server, tmp_path, monkeypatch):
    host, port = chroma_server
    settings = index_settings(tmp_path, make_corpus(tmp_path / "corpus"), chroma_host=host, chroma_port=port)
    report = Indexer(settings).run()
    assert report.ok, report.errors
    assert not (settings.index_dir / "chroma").exists(), "no embedded Chroma folder next to the index"
    manifest = store.read_manifest(settings.index_dir)
    assert manifest["vectors"] == f"http://{host}:{port}"
    before = index_state(settings)
    assert_consistent(before)

    analyst = Assistant(settings)  # a reader that stays open across the re-index below
    answer = analyst.ask(QUESTION)
    assert not answer.abstained and answer.citations[0].document_id == "review.pdf"

    # A second process (another analyst's terminal) answers from the same server.
    proc = run_cli(settings, "ask", "--json", QUESTION)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["citations"]

    corpus = Path(settings.corpus_dirs[0])
    (corpus / "labor.md").unlink()
    (corpus / "dairy.md").write_text(
        DAIRY.replace("Canada eliminated its Class 7 milk pricing program", "Canada keeps a whey export surcharge"),
        encoding="utf-8",
    )
    report = Indexer(settings).run()
    assert report.indexed == ["dairy.md"] and report.removed == ["labor.md"]
    after = index_state(settings)
    assert_consistent(after)
    gone = set(before["documents"]["labor.md"][1]) | set(before["documents"]["dairy.md"][1])
    assert not gone & after["chroma_ids"]
    assert not vector_store(settings).collection.get(where_document={"$contains": "Class 7"})["ids"]
    hits = analyst.retrieve("whey export surcharge", 3, mode="dense")  # the server is always current
    assert hits[0].chunk.document_id == "dairy.md" and "whey" in hits[0].chunk.text

    result = invoke(settings, monkeypatch, "doctor")
    assert result.exit_code == 0 and "healthy" in result.output, result.output


def test_embedded_index_moved_to_a_server_is_embedded_there(chroma_server, tmp_path):
    host, port = chroma_server
    embedded = index_settings(tmp_path, make_corpus(tmp_path / "corpus"))
    assert Indexer(embedded).run().ok
    shared = embedded.model_copy(update={"chroma_host": host, "chroma_port": port})
    health = Indexer(shared).check()
    assert {"vectors-elsewhere", "missing-vectors"} <= health.codes()
    report = Indexer(shared).run()
    assert report.ok and any("embedding every document again" in n for n in report.recovered)
    state = index_state(shared)
    assert_consistent(state)
    assert state["documents"] == index_state(embedded)["documents"]
    assert Indexer(shared).check().ok
    assert not Assistant(shared).ask(QUESTION).abstained
