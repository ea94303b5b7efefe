"""fetch_documents against a real local HTTP server, and mirror copies from the shared corpus.

The treaty's registry entries are fetched from the server too: the real Chapter 2 page of the
Government of Canada served under several chapter addresses, and a chapter whose page fails and
whose USTR PDF (fallback) is served; every fetched file is parsed into articles."""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from assistant.ingest.base import DocumentInfo
from assistant.ingest.fetch import COPIED, DOWNLOADED, FAILED, OFFLINE, PRESENT, SKIPPED, fetch_documents
from assistant.ingest.parse import parse_file
from assistant.ingest.registry import Registry, load_registry, mirror_path
from assistant.settings import PROJECT_ROOT
from tests.test_parse_treaty import CH34_P1, CH34_P1_NOTES, CH34_P2, _page, _pdf

MIRROR = PROJECT_ROOT.parent / "shared" / "corpus"
PDF = b"%PDF-1.4\n% test document\n" + b"x" * 1000 + b"\n%%EOF\n"
HTML = b"<!doctype html><html><body><h1>Chapter</h1></body></html>"
BIG = 300_000
LIMIT = 100_000
SLOW_S = 1.0


class _Handler(BaseHTTPRequestHandler):
    hits: Counter[str] = Counter()
    pages: dict[str, tuple[str, bytes]] = {}  # path (with query) -> (content type, body)

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
        if path in self.pages:
            self._send(200, *self.pages[path])
        elif path == "/good.pdf":
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
    fetchable = [d.id for d in registry.documents if not d.sha256]
    assert len(fetchable) > 34  # the chapter pages and PDFs are downloaded, not expected in a mirror
    assert all(res[i].status == SKIPPED for i in fetchable)


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


# ---- fallbacks and offline ------------------------------------------------------------------------


def _with_fallback(name: str, primary: str, fallback: str, **fb) -> DocumentInfo:
    return DocumentInfo(
        id=f"{name}.html", title=name, kind="treaty", url=primary,
        extra={"mirror": f"t/{name}.html", "fallbacks": [{"url": fallback, "mirror": f"t/{name}.pdf", **fb}]},
    )


def test_a_failing_source_falls_back_to_the_next(server, tmp_path):
    _Handler.hits.clear()
    docs = [
        _with_fallback("fb", f"{server}/missing.html", f"{server}/good.pdf"),
        _with_fallback("primary", f"{server}/good.html", f"{server}/good.pdf"),
        _with_fallback("neither", f"{server}/missing.html", f"{server}/error.pdf"),
    ]
    res = _fetch(docs, tmp_path, retries=0)
    fb = res["fb.html"]
    assert fb.status == DOWNLOADED and fb.url == f"{server}/good.pdf" and fb.path == tmp_path / "t" / "fb.pdf"
    assert "HTTP 404" in fb.reason and fb.path.read_bytes() == PDF
    assert not (tmp_path / "t" / "fb.html").exists()
    assert res["primary.html"].path == tmp_path / "t" / "primary.html" and _Handler.hits["/good.pdf"] == 1
    neither = res["neither.html"]
    assert neither.status == FAILED and "HTTP 404" in neither.reason and "HTTP 500" in neither.reason
    assert not neither.unreachable and _leftovers(tmp_path) == []
    again = _fetch(docs, tmp_path, retries=0)  # a chapter fetched as PDF is present: never fetched twice
    assert again["fb.html"].status == PRESENT and again["fb.html"].path == tmp_path / "t" / "fb.pdf"
    assert _Handler.hits["/missing.html"] == 3 and _Handler.hits["/good.pdf"] == 1


def test_offline_stops_after_the_first_unreachable_document(server, tmp_path):
    dead = "http://127.0.0.1:9"  # nothing listens: connection refused, as without a network
    docs = [
        _with_fallback("a", f"{dead}/a.html", f"{dead}/a.pdf"),
        _doc("b.pdf", f"{dead}/b.pdf"),
        _doc("c.html", f"{server}/good.html"),
    ]
    res = _fetch(docs, tmp_path, retries=0, stop_when_offline=True)
    a = res["a.html"]
    assert a.status == FAILED and a.unreachable and a.url == f"{dead}/a.html"
    assert [res["b.pdf"].status, res["c.html"].status] == [OFFLINE, OFFLINE]
    assert "no connection for a.html" in res["b.pdf"].reason
    assert not (tmp_path / "t" / "c.html").exists()
    res = _fetch(docs, tmp_path, retries=0)  # without the flag every document is tried
    assert [r.status for r in res.values()] == [FAILED, FAILED, DOWNLOADED]
    assert res["b.pdf"].unreachable and not res["c.html"].unreachable
    (tmp_path / "t" / "c.html").unlink()
    online_first = [docs[2], *docs[:2]]  # something came through: an unreachable host is not "offline"
    res = _fetch(online_first, tmp_path, retries=0, stop_when_offline=True)
    assert [r.status for r in res.values()] == [DOWNLOADED, FAILED, FAILED]


def test_cli_offline_is_one_line_and_not_an_error(tmp_path, monkeypatch):
    """What `make run` calls without a mirror: offline, it says so in one line and exits 0."""
    from typer.testing import CliRunner

    from assistant.cli import app
    from assistant.settings import get_settings

    dead = "http://127.0.0.1:9"
    registry = [
        _with_fallback("a", f"{dead}/a.html", f"{dead}/a.pdf").to_dict(),
        _doc("b.pdf", f"{dead}/b.pdf").to_dict(),
    ]
    (tmp_path / "registry.json").write_text(json.dumps(registry))
    monkeypatch.setenv("ASSISTANT_REGISTRY_FILE", str(tmp_path / "registry.json"))
    monkeypatch.setenv("ASSISTANT_CORPUS_DIRS", str(tmp_path / "corpus"))
    get_settings.cache_clear()
    try:
        args = ["corpus", "fetch", "--retries", "0", "--timeout", "2"]
        quick = CliRunner().invoke(app, [*args, "--offline-ok"])
        strict = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert quick.exit_code == 0, quick.output
    (line,) = quick.stdout.strip().splitlines()
    assert "offline (no connection to 127.0.0.1)" in line and "2 document(s) not fetched" in line
    assert strict.exit_code == 1 and "a.html" in strict.stdout and "b.pdf" in strict.stdout


# ---- the treaty: Government of Canada chapter pages first, USTR PDFs as fallback ------------------


SERVED_CHAPTERS = (2, 5, 14)  # the Chapter 2 page stands in for each: the parser reads the page's own text
FAILING_CHAPTER = 34  # its page fails; its USTR PDF (an excerpt in the USTR layout) is served


def _local(url: str, server: str) -> str:
    parts = urlsplit(url)
    return f"{server}{parts.path}" + (f"?{parts.query}" if parts.query else "")


@needs_mirror
def test_treaty_chapters_fetch_and_parse_into_articles(server, tmp_path):
    registry = load_registry(PROJECT_ROOT / "corpus" / "registry.json")
    chapters = {d.extra["chapter"]: d for d in registry.documents if d.parser == "treaty_html"}
    page = (MIRROR / mirror_path(chapters[2])).read_bytes()
    ch34_pdf = _pdf([_page(CH34_P1, "34-4", CH34_P1_NOTES), _page(CH34_P2, "34-5", [])])
    entries = []
    for n in (*SERVED_CHAPTERS, FAILING_CHAPTER):
        d = chapters[n].to_dict()
        d["url"] = _local(d["url"], server)
        d["fallbacks"] = [{**fb, "url": _local(fb["url"], server)} for fb in d["fallbacks"]]
        d.pop("sha256", None)  # the stand-in page is not the chapter's own file
        entries.append(DocumentInfo.from_dict(d))
        if n in SERVED_CHAPTERS:
            _Handler.pages[urlsplit(d["url"]).path + "?lang=eng"] = ("text/html; charset=utf-8", page)
        else:
            _Handler.pages[urlsplit(d["fallbacks"][0]["url"]).path] = ("application/pdf", ch34_pdf)
    local = Registry(entries, root=tmp_path)
    results = fetch_documents(local, tmp_path, timeout=5, retries=0)
    assert [r.status for r in results] == [DOWNLOADED] * 4, results
    for r, n in zip(results, (*SERVED_CHAPTERS, FAILING_CHAPTER), strict=True):
        assert r.url.endswith(".pdf" if n == FAILING_CHAPTER else f"/text-texte/{n:02d}.aspx?lang=eng")
        assert r.path == tmp_path / "usmca" / Path(r.document_id).with_suffix(r.path.suffix).name
        info = local.match_path(r.path)  # what the indexer does: the registry names the parser
        assert info.parser == ("treaty_pdf" if n == FAILING_CHAPTER else "treaty_html")
        parsed = parse_file(r.path, info, max_bytes=LIMIT * 100, max_pages=100, max_chunks=5000)
        articles = {c.meta.get("article") for c in parsed.chunks if c.meta.get("article")}
        if n == FAILING_CHAPTER:
            assert {"34.6", "34.7"} <= articles and parsed.info.id == "usmca-ch34-final-provisions.pdf"
            assert "HTTP 404" in r.reason, "the failing page is named"
        else:
            assert {f"2.{i}" for i in range(1, 18)} <= articles, sorted(articles)
            assert parsed.info.id == r.document_id and parsed.info.kind == "treaty"
