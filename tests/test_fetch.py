"""fetch_documents against a real local HTTP server, and mirror copies from the shared corpus."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.ingest.base import DocumentInfo
from assistant.ingest.fetch import COPIED, DOWNLOADED, FAILED, PRESENT, SKIPPED, fetch_documents
from assistant.ingest.registry import Registry, load_registry, mirror_path
from assistant.settings import PROJECT_ROOT

MIRROR = PROJECT_ROOT.parent / "shared" / "corpus"
PDF = b"%PDF-1.4\n% test document\n" + b"x" * 1000 + b"\n%%EOF\n"
HTML = b"<!doctype html><html><body><h1>Chapter</h1></body></html>"
BIG = 300_000
LIMIT = 100_000
SLOW_S = 1.0


class _Handler(BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def _send(self, code: int, ctype: str, body: bytes, *, length: bool = True) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        with contextlib.suppress(ConnectionError):  # the client gave up (size cap, timeout): expected
            self._route(self.path)

    def _route(self, path: str) -> None:
        self.hits[path] += 1
        if path == "/good.pdf":
            self._send(200, "application/pdf", PDF)
        elif path == "/good.html":
            self._send(200, "text/html; charset=utf-8", HTML)
        elif path == "/slow.pdf":
            time.sleep(SLOW_S)
            self._send(200, "application/pdf", PDF)
        elif path == "/big.pdf":  # no Content-Length: the cap must hold while streaming
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            self.wfile.write(b"%PDF-1.4\n")
            for _ in range(BIG // 10_000):
                self.wfile.write(b"y" * 10_000)
        elif path == "/declared-big.pdf":
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            self.wfile.write(b"%PDF-1.4\n" + b"z" * (BIG - 9))
        elif path == "/wrong-type.pdf":
            self._send(200, "text/html", HTML)
        elif path == "/not-really.pdf":
            self._send(200, "application/octet-stream", HTML)
        elif path == "/flaky.pdf" and self.hits[path] == 1:
            self._send(503, "text/plain", b"try later")
        elif path == "/flaky.pdf":
            self._send(200, "application/pdf", PDF)
        elif path == "/error.pdf":
            self._send(500, "text/plain", b"broken")
        else:
            self._send(404, "text/plain", b"not found")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _doc(name: str, url: str, sha256: str = "") -> DocumentInfo:
    return DocumentInfo(
        id=name, title=name, kind="treaty", url=url, sha256=sha256, extra={"mirror": f"t/{name}"}
    )


def _fetch(docs: list[DocumentInfo], dest: Path, **kw):
    kw = {"timeout": 0.3, "retries": 2, "backoff": 0.01, "max_bytes": LIMIT, **kw}
    return {r.document_id: r for r in fetch_documents(Registry(docs), dest, **kw)}


def _leftovers(dest: Path) -> list[Path]:
    return [p for p in dest.rglob("*") if p.is_file() and p.name.endswith(".part")]


def test_downloads_good_files(server, tmp_path):
    docs = [
        _doc("a.pdf", f"{server}/good.pdf", hashlib.sha256(PDF).hexdigest()),
        _doc("b.html", f"{server}/good.html"),
    ]
    seen = []
    res = _fetch(docs, tmp_path, progress=seen.append)
    assert res["a.pdf"].status == DOWNLOADED and res["b.html"].status == DOWNLOADED
    assert (tmp_path / "t" / "a.pdf").read_bytes() == PDF
    assert res["a.pdf"].bytes == len(PDF) and res["a.pdf"].path == tmp_path / "t" / "a.pdf"
    assert [r.document_id for r in seen] == ["a.pdf", "b.html"]
    again = _fetch(docs, tmp_path)
    assert {r.status for r in again.values()} == {PRESENT}


def test_failures_are_reported_and_leave_nothing(server, tmp_path):
    docs = [
        _doc("missing.pdf", f"{server}/missing.pdf"),
        _doc("big.pdf", f"{server}/big.pdf"),
        _doc("declared-big.pdf", f"{server}/declared-big.pdf"),
        _doc("wrong-type.pdf", f"{server}/wrong-type.pdf"),
        _doc("not-really.pdf", f"{server}/not-really.pdf"),
        _doc("checksum.pdf", f"{server}/good.pdf", "0" * 64),
        _doc("good.pdf", f"{server}/good.pdf"),
    ]
    res = _fetch(docs, tmp_path)
    assert res["missing.pdf"].status == FAILED and "HTTP 404" in res["missing.pdf"].reason
    assert res["big.pdf"].status == FAILED and "too large" in res["big.pdf"].reason
    assert res["declared-big.pdf"].status == FAILED and "too large" in res["declared-big.pdf"].reason
    assert res["wrong-type.pdf"].status == FAILED and "content type" in res["wrong-type.pdf"].reason
    assert res["not-really.pdf"].status == FAILED and "not a PDF" in res["not-really.pdf"].reason
    assert res["checksum.pdf"].status == FAILED and "checksum" in res["checksum.pdf"].reason
    assert res["good.pdf"].status == DOWNLOADED  # one bad document never stops the others
    for name in (
        "missing.pdf",
        "big.pdf",
        "declared-big.pdf",
        "wrong-type.pdf",
        "not-really.pdf",
        "checksum.pdf",
    ):
        assert not (tmp_path / "t" / name).exists(), name
    assert _leftovers(tmp_path) == []
    assert _Handler.hits["/missing.pdf"] == 1  # a 404 is not retried


def test_timeout_fails_after_retries(server, tmp_path):
    _Handler.hits["/slow.pdf"] = 0
    start = time.monotonic()
    res = _fetch([_doc("slow.pdf", f"{server}/slow.pdf")], tmp_path, timeout=0.2, retries=2)
    assert res["slow.pdf"].status == FAILED
    assert "timed out" in res["slow.pdf"].reason and "3 attempts" in res["slow.pdf"].reason
    assert _Handler.hits["/slow.pdf"] == 3
    assert time.monotonic() - start < 3 * SLOW_S
    assert not (tmp_path / "t" / "slow.pdf").exists() and _leftovers(tmp_path) == []


def test_5xx_is_retried(server, tmp_path):
    _Handler.hits["/flaky.pdf"] = 0
    res = _fetch(
        [_doc("flaky.pdf", f"{server}/flaky.pdf"), _doc("error.pdf", f"{server}/error.pdf")], tmp_path
    )
    assert res["flaky.pdf"].status == DOWNLOADED and _Handler.hits["/flaky.pdf"] == 2
    assert res["error.pdf"].status == FAILED and "HTTP 500" in res["error.pdf"].reason


def test_connection_refused_is_a_failure(tmp_path):
    res = _fetch([_doc("x.pdf", "http://127.0.0.1:9/x.pdf")], tmp_path, retries=1)
    assert res["x.pdf"].status == FAILED and "2 attempts" in res["x.pdf"].reason


def test_unknown_id_and_undownloadable(tmp_path):
    docs = [
        DocumentInfo(
            id="conv.md", title="c", kind="law", url="https://example.org", extra={"download": False}
        )
    ]
    res = _fetch(docs, tmp_path, only=["conv.md", "nope.pdf"])
    assert res["conv.md"].status == SKIPPED and "mirror" in res["conv.md"].reason
    assert res["nope.pdf"].status == FAILED and "not in the registry" in res["nope.pdf"].reason


needs_mirror = pytest.mark.skipif(
    not MIRROR.is_dir(), reason="the shared corpus mirror is not on this machine"
)


def _mirror_ids(registry: Registry) -> list[str]:
    return [d.id for d in registry.documents if d.sha256 and d.kind != "brief"]


@needs_mirror
def test_mirror_copy_then_present(tmp_path):
    registry = load_registry(PROJECT_ROOT / "corpus" / "registry.json")
    ids = _mirror_ids(registry)
    assert len(ids) == 5
    first = fetch_documents(registry, tmp_path, mirror=MIRROR, only=ids)
    assert [r.status for r in first] == [COPIED] * 5
    for r in first:
        doc = registry.by_id(r.document_id)
        assert r.path == tmp_path / mirror_path(doc)
        assert hashlib.sha256(r.path.read_bytes()).hexdigest() == doc.sha256
    second = fetch_documents(registry, tmp_path, mirror=MIRROR, only=ids)
    assert [r.status for r in second] == [PRESENT] * 5


@needs_mirror
def test_missing_mirror_file_fails_clearly_and_the_rest_continue(tmp_path):
    registry = load_registry(PROJECT_ROOT / "corpus" / "registry.json")
    ids = _mirror_ids(registry)
    partial = tmp_path / "mirror"
    for doc_id in ids[1:]:
        rel = mirror_path(registry.by_id(doc_id))
        (partial / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(MIRROR / rel, partial / rel)
    res = {r.document_id: r for r in fetch_documents(registry, tmp_path / "out", mirror=partial)}
    assert res[ids[0]].status == FAILED and "not found in the mirror" in res[ids[0]].reason
    assert all(res[i].status == COPIED for i in ids[1:])
    pdfs = [d.id for d in registry.documents if d.parser == "treaty_pdf"]
    assert all(res[i].status == SKIPPED for i in pdfs)  # fetchable PDFs are not expected in a mirror


@needs_mirror
def test_corrupt_mirror_file_is_rejected(tmp_path):
    registry = load_registry(PROJECT_ROOT / "corpus" / "registry.json")
    doc = registry.by_id(_mirror_ids(registry)[0])
    bad = tmp_path / "mirror" / mirror_path(doc)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"tampered")
    res = fetch_documents(registry, tmp_path / "out", mirror=tmp_path / "mirror", only=[doc.id])
    assert res[0].status == FAILED and "checksum" in res[0].reason
    assert not (tmp_path / "out" / mirror_path(doc)).exists() and _leftovers(tmp_path / "out") == []
