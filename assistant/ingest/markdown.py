"""Markdown and plain-text documents: paragraphs under their heading path.

Also the markdown-to-plain-text cleaning that every Markdown parser (the brief included) shares, so
that quoted passages read as prose: no `**`, no escapes, footnote markers as superscripts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument
from assistant.ingest.chunking import Block, build_chunks
from assistant.textutil import superscript

_SUP = re.compile(r"<sup>\s*(\d+)\s*</sup>")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_ANGLE_URL = re.compile(r"<(https?://[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
_EMPH = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$|<>~])")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def clean_inline(md: str) -> str:
    """Markdown inline syntax to plain text; line breaks inside a paragraph become spaces."""
    t = _SUP.sub(lambda m: superscript(int(m.group(1))), md)
    t = _LINK.sub(lambda m: m.group(1), t)
    t = _ANGLE_URL.sub(lambda m: m.group(1), t)
    t = _HTML_TAG.sub("", t)
    for _ in range(2):
        t = _EMPH.sub(lambda m: m.group(2) or m.group(3) or "", t)
    t = _ESCAPE.sub(lambda m: m.group(1), t)
    t = re.sub(r"[ \t]*\n[ \t]*", " ", t) if "\t" not in t else t
    return re.sub(r"[ \u00a0]{2,}", " ", t).strip()


@dataclass
class Paragraph:
    text: str  # raw markdown of the paragraph
    start: int
    end: int


def paragraphs(md: str) -> Iterator[Paragraph]:
    """Blank-line separated paragraphs with their offsets; a heading line is its own paragraph."""
    pos = 0
    start: int | None = None
    end = 0
    for line in md.splitlines(keepends=True):
        stripped = line.strip()
        line_end = pos + len(line.rstrip("\r\n"))
        if not stripped or HEADING.match(stripped):
            if start is not None:
                yield Paragraph(md[start:end], start, end)
                start = None
            if stripped:
                yield Paragraph(md[pos:line_end], pos, line_end)
        else:
            if start is None:
                start = pos
            end = line_end
        pos += len(line)
    if start is not None:
        yield Paragraph(md[start:end], start, end)


def heading_text(md_line: str) -> tuple[int, str] | None:
    m = HEADING.match(md_line.strip())
    if not m:
        return None
    return len(m.group(1)), clean_inline(m.group(2))


def parse_markdown(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """Any Markdown file: section path from headings; paragraphs merged within a section."""
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    title = info.title
    for p in paragraphs(raw.text):
        h = heading_text(p.text)
        if h:
            level, text = h
            path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, text)]
            if level == 1 and not title:
                title = text
            continue
        text = clean_inline(p.text)
        if not text:
            continue
        section = " > ".join(t for _, t in path)
        blocks.append(Block(text, p.start, p.end, section=section, label=section, group=section or "body"))
    if title and not info.title:
        info.title = title
    return ParsedDocument(info, raw.text, build_chunks(blocks, info, raw.sha256), raw.sha256, list(raw.warnings))


def parse_text(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """Plain text: blank-line paragraphs; a PDF's form feeds give page numbers."""
    blocks = []
    for m in re.finditer(r"(?:[^\n\f]*\S[^\n\f]*(?:\n|$))+", raw.text):
        text = re.sub(r"-\n(?=[a-z])", "", m.group(0))
        text = re.sub(r"\s*\n\s*", " ", text).strip()
        if text:
            blocks.append(Block(text, m.start(), m.end(), page=raw.page_at(m.start()), group="body"))
    if not info.title:
        first = next((b.text for b in blocks), raw.path.stem)
        info.title = first[:80] if len(first) < 120 else raw.path.stem
    for b in blocks:
        if b.page is not None:
            b.label = f"p. {b.page}"
            b.group = f"p{b.page}"
    return ParsedDocument(info, raw.text, build_chunks(blocks, info, raw.sha256), raw.sha256, list(raw.warnings))
