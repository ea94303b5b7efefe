"""Checking and saving uploaded files before they are indexed (no Streamlit here: unit-tested).

An upload is refused early, with a reason the user understands, when its name or content is not
what the indexer can read: unsupported extension, empty or too large, or content that does not
match the extension (a PDF named .txt, an HTML page named .pdf, a binary file named .md). Corrupt
files that look right (a PDF header with a broken body) are left to the indexer, whose loader
names the problem; the UI shows that error next to the file.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from assistant.domain import content_hash
from assistant.ingest.loaders import SUPPORTED

MAX_NAME_CHARS = 120
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._ -]+")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_HTML_HINT = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|meta|title|div|p|h[1-6]|table|article|section)\b", re.I)


class UploadRejected(ValueError):
    """The file is refused before indexing; the message is shown to the user as is."""


@dataclass(frozen=True)
class SavedUpload:
    original_name: str
    path: Path
    replaced: bool  # a file of the same name was already there (its new content is re-indexed)
    backup: Path | None = None  # the previous file, restored if the new one fails to index


def sanitize_filename(name: str) -> str:
    """A safe base name: no folders (`../`), no control or shell characters, no leading dots,
    length capped, extension lower-cased. Raises UploadRejected when nothing usable remains."""
    base = str(name).replace("\\", "/").split("/")[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = _UNSAFE_CHARS.sub("_", base).strip(" ._-")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"_+", "_", stem).strip(" ._-")
    ext = ext.lower()
    if not stem or stem.lower() in _RESERVED:
        stem = f"upload_{stem}" if stem else "upload"
    stem = stem[: MAX_NAME_CHARS - len(ext) - 1]
    if not ext:
        raise UploadRejected(f"'{name}' has no file extension (supported: {supported_list()})")
    return f"{stem}.{ext}"


def supported_list() -> str:
    return ", ".join(sorted(SUPPORTED))


def sniff_format(data: bytes) -> str:
    """What the content looks like: pdf | html | text | binary."""
    head = data[:4096]
    if head.lstrip()[:5].startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "text"  # UTF-16 with BOM: the loader decodes it
    if b"\x00" in head or _looks_binary(head):
        return "binary"
    if _HTML_HINT.search(head.lstrip()[:1024]) and head.lstrip()[:1] == b"<":
        return "html"
    return "text"


def _looks_binary(sample: bytes) -> bool:
    bad = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    return bool(sample) and bad / len(sample) > 0.05


def check_upload(name: str, data: bytes, max_mb: float) -> str:
    """The sanitized file name if the upload may be indexed, else UploadRejected with the reason."""
    safe = sanitize_filename(name)
    ext = "." + safe.rsplit(".", 1)[1]
    fmt = SUPPORTED.get(ext)
    if fmt is None:
        raise UploadRejected(f"'{name}': unsupported file type '{ext}' (supported: {supported_list()})")
    if not data:
        raise UploadRejected(f"'{name}': the file is empty")
    limit = int(max_mb * 1024 * 1024)
    if len(data) > limit:
        raise UploadRejected(
            f"'{name}': the file is too large ({len(data) / 1e6:.1f} MB; the limit is {max_mb:g} MB, "
            "see ASSISTANT_MAX_FILE_MB)"
        )
    seen = sniff_format(data)
    if fmt == "pdf" and seen != "pdf":
        raise UploadRejected(f"'{name}': the name says PDF but the content is not a PDF (no %PDF header)")
    if fmt != "pdf" and seen == "pdf":
        raise UploadRejected(f"'{name}': the content is a PDF; rename the file to .pdf")
    if seen == "binary":
        raise UploadRejected(f"'{name}': the content is binary, not {fmt.upper()} text")
    return safe


def save_upload(name: str, data: bytes, folder: Path, max_mb: float) -> SavedUpload:
    """Check the upload and write it into `folder` under its sanitized name. A file of the same name
    is moved aside (see `restore`) so a failed re-upload does not lose the indexed version."""
    safe = check_upload(name, data, max_mb)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe
    if path.resolve().parent != folder.resolve():  # defence in depth; sanitize_filename drops folders
        raise UploadRejected(f"'{name}': invalid file name")
    backup = None
    replaced = path.exists()
    if replaced:
        backup = folder / f".{safe}.previous"
        path.replace(backup)
    tmp = folder / f".{safe}.uploading"
    tmp.write_bytes(data)
    tmp.replace(path)
    return SavedUpload(name, path, replaced, backup)


def restore(saved: SavedUpload) -> None:
    """Undo `save_upload` after the indexer refused the file: put back the previous version, or
    remove the new file so a later full re-index does not trip over it again."""
    if saved.backup is not None and saved.backup.exists():
        saved.backup.replace(saved.path)
    else:
        saved.path.unlink(missing_ok=True)


def discard_backup(saved: SavedUpload) -> None:
    if saved.backup is not None:
        saved.backup.unlink(missing_ok=True)


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path` lies in `folder` (only files there are deleted when a document is removed)."""
    try:
        Path(path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return False
    return True


def duplicate_of(data: bytes, documents: dict[str, dict]) -> str | None:
    """The id of an indexed document with exactly this content (indexing it again adds nothing)."""
    digest = content_hash(data)
    for doc_id, d in documents.items():
        if d.get("sha256") == digest:
            return doc_id
    return None
