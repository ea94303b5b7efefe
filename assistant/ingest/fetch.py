"""Bring registry documents into a local folder, from a mirror (offline) or from their URLs.

Every document ends at `dest_dir / <its mirror path>`. A file is only ever created by renaming a
fully written and checked temporary file next to it, so an interrupted or rejected download never
leaves a partial file behind. One bad document never stops the others: each gets a `FetchResult`.
A registry entry with fallbacks (`Registry.variants`: the Government of Canada chapter page, then
the USTR PDF) is fetched from the first source that works, and counts as present when any of its
sources' files is there, so a chapter is never fetched twice in two formats.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from assistant.ingest.base import DocumentInfo
from assistant.ingest.registry import Registry, downloadable, mirror_path

COPIED, DOWNLOADED, PRESENT, FAILED, SKIPPED = "copied", "downloaded", "present", "failed", "skipped"
OFFLINE = "offline"  # not tried: the network was unreachable for the documents before it

# Content types accepted for a file extension; a PDF sent as octet-stream passes on its magic bytes.
EXPECTED_TYPES: dict[str, tuple[str, ...]] = {
    ".pdf": ("application/pdf", "application/x-pdf"),
    ".html": ("text/html", "application/xhtml+xml"),
    ".htm": ("text/html", "application/xhtml+xml"),
    ".md": ("text/markdown", "text/x-markdown", "text/plain"),
    ".txt": ("text/plain",),
}
_CHUNK = 64 * 1024
USER_AGENT = "usmca-review-assistant/0.1 (corpus fetch)"


@dataclass(frozen=True)
class FetchResult:
    document_id: str  # the registry entry
    status: str  # copied | downloaded | present | failed | skipped | offline
    reason: str = ""  # why it failed or was skipped (a fallback's download: why the sources before it failed)
    path: Path | None = None  # where the file is, or would have been for a failure
    bytes: int = 0
    url: str = ""  # the URL that served a download (for a failed download: the first one tried)
    unreachable: bool = False  # failed because no source could be connected to (offline?)


class _Rejected(Exception):
    """The response is final and unusable (4xx, wrong type, too large, bad checksum)."""


class _Unreachable(_Rejected):
    """No connection could be made (name resolution or connect failed): the machine may be offline."""


class _Retryable(Exception):
    """The server may do better next time (5xx)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def destination(dest_dir: Path, doc: DocumentInfo) -> Path:
    """`dest_dir / mirror path`, refusing paths that would leave `dest_dir`."""
    rel = PurePosixPath(mirror_path(doc))
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"unsafe mirror path {rel}")
    return dest_dir / Path(*rel.parts)


def _is_present(path: Path, sha256: str) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    return not sha256 or sha256_file(path) == sha256


def _temp_beside(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    return Path(name)


def _copy(src: Path, dest: Path, sha256: str) -> int:
    """Copy via a temp file; verify the checksum when known. Returns the size."""
    tmp = _temp_beside(dest)
    try:
        shutil.copyfile(src, tmp)
        if sha256 and (got := sha256_file(tmp)) != sha256:
            raise _Rejected(f"checksum mismatch: mirror file has sha256 {got[:12]}…, registry {sha256[:12]}…")
        size = tmp.stat().st_size
        os.replace(tmp, dest)
        return size
    finally:
        tmp.unlink(missing_ok=True)


def _check_type(content_type: str, suffix: str) -> None:
    expected = EXPECTED_TYPES.get(suffix)
    media = content_type.split(";", 1)[0].strip().lower()
    if expected and media not in expected and not (suffix == ".pdf" and media == "application/octet-stream"):
        raise _Rejected(
            f"wrong content type {media or 'none'!r} for a {suffix} file (expected {expected[0]})"
        )


def _download_once(
    client: httpx.Client, url: str, dest: Path, *, timeout: float, max_bytes: int, sha256: str
) -> int:
    suffix = dest.suffix.lower()
    with client.stream("GET", url, timeout=timeout, follow_redirects=True) as resp:
        if resp.status_code >= 500:
            raise _Retryable(f"HTTP {resp.status_code}")
        if resp.status_code != 200:
            raise _Rejected(f"HTTP {resp.status_code}")
        _check_type(resp.headers.get("content-type", ""), suffix)
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise _Rejected(f"too large: {int(declared)} bytes declared, limit {max_bytes}")
        tmp = _temp_beside(dest)
        try:
            h, size = hashlib.sha256(), 0
            with tmp.open("wb") as fh:
                for block in resp.iter_bytes(_CHUNK):
                    size += len(block)
                    if size > max_bytes:
                        raise _Rejected(f"too large: more than {max_bytes} bytes, download aborted")
                    h.update(block)
                    fh.write(block)
            if size == 0:
                raise _Rejected("empty response")
            if sha256 and h.hexdigest() != sha256:
                raise _Rejected(
                    f"checksum mismatch: got sha256 {h.hexdigest()[:12]}…, registry {sha256[:12]}…"
                )
            if suffix == ".pdf":
                with tmp.open("rb") as fh:
                    if not fh.read(5).startswith(b"%PDF-"):
                        raise _Rejected("not a PDF (no %PDF- header)")
            os.replace(tmp, dest)
            return size
        finally:
            tmp.unlink(missing_ok=True)


def _download(
    client: httpx.Client,
    url: str,
    dest: Path,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    max_bytes: int,
    sha256: str,
) -> int:
    """Download with retries and exponential backoff, only for timeouts, network errors and 5xx."""
    attempts = max(0, retries) + 1
    for attempt in range(attempts):
        try:
            return _download_once(client, url, dest, timeout=timeout, max_bytes=max_bytes, sha256=sha256)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, _Retryable) as exc:
            if isinstance(exc, httpx.TimeoutException):
                reason = "timed out"
            elif isinstance(exc, _Retryable):
                reason = str(exc)
            else:
                reason = f"{type(exc).__name__}: {exc}"
            if attempt + 1 >= attempts:
                plural = "s" if attempts > 1 else ""
                final = _Unreachable if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) else _Rejected
                raise final(f"{reason} (after {attempts} attempt{plural})") from exc
            time.sleep(backoff * (2**attempt))
        except httpx.HTTPError as exc:  # bad URL, unsupported protocol, too many redirects ...
            raise _Rejected(f"{type(exc).__name__}: {exc}") from exc
    raise AssertionError("unreachable")


def _select(registry: Registry, only: Iterable[str] | None) -> list[DocumentInfo | str]:
    if only is None:
        return list(registry.documents)
    return [registry.by_id(i) or i for i in only]


def fetch_documents(
    registry: Registry,
    dest_dir: Path,
    *,
    mirror: Path | None = None,
    only: list[str] | None = None,
    timeout: float = 30.0,
    retries: int = 2,
    max_bytes: int = 60 * 1024 * 1024,
    backoff: float = 0.5,
    client: httpx.Client | None = None,
    progress: Callable[[FetchResult], None] | None = None,
    stop_when_offline: bool = False,
) -> list[FetchResult]:
    """Put each registry document (or those in `only`) at `dest_dir / <mirror path>`.

    A file already there with the registry's sha256 (or any non-empty file when none is known) is
    `present`. With `mirror`, files are copied from `mirror / <mirror path>`; an entry with a known
    sha256 that the mirror lacks is `failed`, one without (a fetchable-only PDF) is `skipped`.
    Without `mirror`, files are downloaded from their URL (timeouts per network operation,
    `retries` extra attempts with backoff `backoff * 2**n` for timeouts, network errors and 5xx,
    `max_bytes` cap, content type checked against the extension, checksum when known); entries
    whose URL does not serve the file itself (`download: false`) are `skipped`. An entry's sources
    (`Registry.variants`) are tried in order; each failure is named in the result.

    `stop_when_offline`: when no connection can be made for any source of a document and nothing
    was downloaded before it, the machine is taken to be offline and the remaining documents are
    `offline` without being tried (so `make run` never waits on dozens of timeouts).
    """
    dest_dir = Path(dest_dir)
    own_client = client is None and mirror is None
    http = client or (httpx.Client(headers={"User-Agent": USER_AGENT}) if own_client else None)
    results: list[FetchResult] = []
    offline = ""
    try:
        for item in _select(registry, only):
            if isinstance(item, str):
                result = FetchResult(item, FAILED, "not in the registry")
            elif offline:
                result = FetchResult(item.id, OFFLINE, offline)
            else:
                result = _fetch_entry(
                    registry.variants(item),
                    dest_dir,
                    mirror=mirror,
                    client=http,
                    timeout=timeout,
                    retries=retries,
                    backoff=backoff,
                    max_bytes=max_bytes,
                )
                reached = any(r.status == DOWNLOADED for r in results)
                if stop_when_offline and result.unreachable and not reached:
                    offline = f"not tried: no connection for {item.id} ({result.reason})"
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        if own_client and http is not None:
            http.close()
    return results


def _fetch_entry(
    variants: list[DocumentInfo],
    dest_dir: Path,
    *,
    mirror: Path | None,
    client: httpx.Client | None,
    timeout: float,
    retries: int,
    backoff: float,
    max_bytes: int,
) -> FetchResult:
    """One registry entry from the first of its sources that works (the entry first, then its
    fallbacks); present when any source's file is already there."""
    entry = variants[0]
    try:
        dests = [destination(dest_dir, v) for v in variants]
    except ValueError as exc:
        return FetchResult(entry.id, FAILED, str(exc))
    try:
        for v, dest in zip(variants, dests, strict=True):
            if _is_present(dest, v.sha256):
                return FetchResult(entry.id, PRESENT, "", dest, dest.stat().st_size)
        if mirror is not None:
            for v, dest in zip(variants, dests, strict=True):
                src = destination(Path(mirror), v)
                if src.is_file():
                    return FetchResult(entry.id, COPIED, "", dest, _copy(src, dest, v.sha256))
            src = destination(Path(mirror), entry)
            if entry.sha256:
                return FetchResult(entry.id, FAILED, f"not found in the mirror: {src}", dests[0])
            return FetchResult(entry.id, SKIPPED, f"not in the mirror ({src}); fetch it without --mirror")
    except _Rejected as exc:
        return FetchResult(entry.id, FAILED, str(exc), dests[0])
    except OSError as exc:  # disk full, permissions, unreadable mirror file ...
        return FetchResult(entry.id, FAILED, f"{type(exc).__name__}: {exc}", dests[0])
    sources = [(v, dest) for v, dest in zip(variants, dests, strict=True) if downloadable(v)]
    if not sources:
        return FetchResult(entry.id, SKIPPED, "no download source for this file; copy it from a mirror")
    assert client is not None
    failures: list[str] = []
    unreachable = True
    for v, dest in sources:
        try:
            size = _download(
                client, v.url, dest, timeout=timeout, retries=retries, backoff=backoff, max_bytes=max_bytes,
                sha256=v.sha256,
            )
            return FetchResult(entry.id, DOWNLOADED, "; ".join(failures), dest, size, v.url)
        except (_Rejected, OSError) as exc:  # OSError: disk full, permissions ...
            unreachable &= isinstance(exc, _Unreachable)
            reason = str(exc) if isinstance(exc, _Rejected) else f"{type(exc).__name__}: {exc}"
            failures.append(f"{v.url}: {reason}" if len(sources) > 1 else reason)
    return FetchResult(
        entry.id, FAILED, "; ".join(failures), sources[0][1], url=sources[0][0].url, unreachable=unreachable
    )
