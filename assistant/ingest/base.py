"""The ingest contract: a loaded file in, a parsed document with its chunks out.

Every structure parser (brief, treaty, tariff schedule, U.S. Code, Federal Register, generic) is a
function `parse(raw: RawDocument, info: DocumentInfo) -> ParsedDocument`. Parsers never touch the
index; they only turn text into `Chunk`s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.domain import Chunk


class IngestError(Exception):
    """A file that cannot be ingested. The message always names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass
class DocumentInfo:
    """A registry entry (or the facts derived for an unregistered file)."""

    id: str
    title: str
    kind: str
    publisher: str = ""
    date: str = ""
    url: str = ""
    path: str = ""  # local path relative to the project's corpus folder, when present
    sha256: str = ""
    parser: str = ""  # brief | treaty_html | treaty_pdf | tariff_html | uscode_md | fedreg_html | generic
    footnotes: list[int] = field(default_factory=list)  # brief footnotes that cite this document
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The registry.json shape: `extra` keys sit beside the known fields."""
        d = {k: v for k, v in self.__dict__.items() if k != "extra" and v not in ("", [], {}, None)}
        d.update(self.extra)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentInfo:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        extra = {k: v for k, v in d.items() if k not in cls.__dataclass_fields__}
        if extra:
            known.setdefault("extra", {}).update(extra)
        return cls(**known)


@dataclass
class RawDocument:
    """A file read from disk. `text` is the decoded text (for PDFs: the extracted text with a form
    feed between pages); `page_starts[i]` is the offset in `text` where page i+1 begins."""

    path: Path
    data: bytes
    fmt: str  # pdf | html | md | txt
    text: str
    sha256: str
    page_starts: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        if not self.page_starts:
            return None
        page = 1
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i + 1
            else:
                break
        return page


@dataclass
class ParsedDocument:
    info: DocumentInfo
    text: str  # the text that chunk offsets refer to (shown in "view in document")
    chunks: list[Chunk]
    sha256: str
    warnings: list[str] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)  # SourceRef list for documents with footnotes


_SCHEDULE_OF = re.compile(r"\bschedule of (?:the )?(Canada|Mexico|United States)\b", re.I)


def schedule_party(title: str) -> str:
    """The party whose tariff schedule a title names ("Annex 2-B: Tariff Schedule of Canada" ->
    "Canada"), or ""."""
    m = _SCHEDULE_OF.search(title)
    return m.group(1) if m else ""
