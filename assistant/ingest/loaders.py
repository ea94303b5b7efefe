"""Read a file from disk into a `RawDocument`, or fail with an `IngestError` naming file and reason.

Bad input is expected (corrupt, truncated, encrypted or empty PDFs, binary files with a text
extension, non-UTF-8 text, huge files): every case gets a clear reason so the rest of the corpus
still indexes. Text that reads like instructions to an AI assistant gets a warning: it is indexed
as what it is, document text, and never followed.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from assistant.domain import content_hash
from assistant.ingest.base import IngestError, RawDocument

SUPPORTED = {".pdf": "pdf", ".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".txt": "txt"}

# pypdf logs every malformed object at WARNING; the loader reports problems itself.
logging.getLogger("pypdf").setLevel(logging.ERROR)


# Phrases that address an AI model rather than a human reader (prompt injection).
_INSTRUCTION_LIKE = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
    r"(?:previous|prior|above|earlier|preceding|system)\s+(?:instructions|prompts?|directions|rules|messages)"
    r"|\byou are now (?:a|an|in)\b|\b(?:reveal|print|show) (?:your|the) system prompt\b"
    r"|\bnew instructions\s*:|<\s*/?\s*(?:system|im_start|im_end)\s*>|\[/?INST\]",
    re.I,
)


def instruction_warning(path: Path, text: str) -> str | None:
    """A warning naming the file when its text contains what looks like a prompt injection."""
    m = _INSTRUCTION_LIKE.search(text)
    if not m:
        return None
    snippet = " ".join(text[max(0, m.start() - 20) : m.end() + 40].split())
    return (
        f"{path}: contains text that reads like instructions to an AI assistant (\u201c\u2026{snippet}\u2026\u201d); "
        "it is indexed as document text only and never followed"
    )


def file_format(path: Path) -> str | None:
    return SUPPORTED.get(path.suffix.lower())


def load(path: Path, *, max_bytes: int = 60 * 1024 * 1024, max_pages: int = 2000) -> RawDocument:
    path = Path(path)
    fmt = file_format(path)
    if fmt is None:
        raise IngestError(path, f"unsupported file type '{path.suffix}' (supported: PDF, HTML, Markdown, text)")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise IngestError(path, f"cannot read file ({e.strerror or e})") from e
    if size == 0:
        raise IngestError(path, "file is empty (0 bytes)")
    if size > max_bytes:
        raise IngestError(
            path, f"file is too large ({size / 1e6:.1f} MB; limit {max_bytes / 1e6:.0f} MB, see ASSISTANT_MAX_FILE_MB)"
        )
    data = path.read_bytes()
    digest = content_hash(data)
    if fmt == "pdf":
        text, page_starts, warnings = _pdf_text(path, data, max_pages)
    else:
        text, warnings = decode_text(path, data)
        page_starts = []
        if not text.strip():
            raise IngestError(path, "file contains no text")
    injection = instruction_warning(path, text)
    if injection:
        warnings.append(injection)
    return RawDocument(path, data, fmt, text, digest, page_starts, warnings)


def decode_text(path: Path, data: bytes) -> tuple[str, list[str]]:
    """UTF-8 (with or without BOM), else UTF-16 with BOM, else cp1252/latin-1 with a warning.
    Binary content with a text extension is refused rather than indexed as garbage."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), []
    sample = data[:65536]
    if b"\x00" in sample or _control_ratio(sample) > 0.05:
        raise IngestError(path, "file looks binary, not text (wrong extension?)")
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        enc = "cp1252"
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        enc = "latin-1"
    return text, [f"{path}: not valid UTF-8; decoded as {enc}"]


def _control_ratio(sample: bytes) -> float:
    if not sample:
        return 0.0
    bad = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return bad / len(sample)


def _pdf_text(path: Path, data: bytes, max_pages: int) -> tuple[str, list[int], list[str]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    warnings: list[str] = []
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise IngestError(path, "not a PDF file (missing %PDF header; corrupt or wrong extension)")
    truncated = b"%%EOF" not in data[-2048:]
    if truncated:
        warnings.append(f"{path}: PDF has no end-of-file marker (truncated download?); its text may be incomplete")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as e:  # pypdf raises various errors for unsupported crypto
                raise IngestError(path, f"PDF is encrypted and cannot be opened ({e})") from e
            if not ok:
                raise IngestError(path, "PDF is encrypted with a password; cannot extract text")
            warnings.append(f"{path}: PDF was encrypted with an empty password; opened it")
        n_pages = len(reader.pages)
    except IngestError:
        raise
    except (PdfReadError, Exception) as e:  # noqa: BLE001 - any parser failure means a corrupt file
        what = "truncated PDF (no end-of-file marker)" if truncated else "corrupt or unreadable PDF"
        raise IngestError(path, f"{what} ({type(e).__name__}: {e})") from e
    if n_pages == 0:
        raise IngestError(path, "PDF has no pages")
    if n_pages > max_pages:
        raise IngestError(path, f"PDF has {n_pages} pages (limit {max_pages}, see ASSISTANT_MAX_PDF_PAGES)")
    parts: list[str] = []
    page_starts: list[int] = []
    offset = 0
    failed_pages = []
    for i, page in enumerate(reader.pages):
        try:
            t = page.extract_text() or ""
        except Exception:  # noqa: BLE001 - one bad page must not lose the document
            t = ""
            failed_pages.append(i + 1)
        page_starts.append(offset)
        parts.append(t)
        offset += len(t) + 1  # the form feed separating pages
    text = "\f".join(parts)
    if failed_pages:
        warnings.append(f"{path}: could not extract text from pages {failed_pages}")
    if not text.replace("\f", "").strip():
        raise IngestError(path, "PDF has no extractable text (scanned images only? OCR is not supported)")
    return text, page_starts, warnings
