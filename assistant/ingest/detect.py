"""Which structure parser reads a document.

The registry names a parser for the corpus's own documents; anything else (a user upload) is
recognised by its content: a Government of Canada treaty page, a one-table tariff schedule, a U.S.
Code chapter in Markdown, a federalregister.gov document page, USMCA text extracted from a USTR PDF,
the Quincy brief. Whatever is not recognised goes to the generic parser of its format.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from assistant.ingest import fedreg, html, tariff, treaty, uscode
from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument

Parser = Callable[[RawDocument, DocumentInfo], ParsedDocument]

# The parsers this module implements; the lead engineer adds "brief", "markdown", "pdf" and "text".
PARSERS: dict[str, Parser] = {
    "treaty_html": treaty.parse_html,
    "treaty_pdf": treaty.parse_pdf,
    "tariff_html": tariff.parse,
    "uscode_md": uscode.parse,
    "fedreg_html": fedreg.parse,
    "html": html.parse,
}

_GENERIC_BY_FORMAT = {"html": "html", "md": "markdown", "pdf": "pdf", "txt": "text"}
_ARTICLE_HEAD = re.compile(r"(?m)^\s*Article\s+\d{1,2}\.\d{1,2}\s*:\s*\S")
_ARTICLE_H_TAG = re.compile(r"<h[1-4][^>]*>\s*Article\s+\d{1,2}\.\d{1,2}\s*:", re.I)
_TREATY_NAME = re.compile(
    r"\b(?:USMCA|CUSMA|T-MEC|United States-Mexico-Canada Agreement)\b|Canada-United States-Mexico", re.I
)
_PDF_TREATY_HEAD = re.compile(r"(?m)^\s*(?:CHAPTER\s+\d{1,2}|ANNEX\s+\d{1,2}-[A-Z])\s*$")
_TARIFF_CELL = re.compile(r"<td[^>]*>\s*\d{4}\.\d{2}\.\d{2}\s*</td>", re.I)
_USC_SECTION = re.compile(r"(?m)^##\s+\d+\s+U\.S\.C\.\s+§")
_FEDREG = re.compile(r"federalregister\.gov|fulltext_content_area|\bFR Doc\.", re.I)
_SUP_TAG = re.compile(r"<sup>\s*\d+\s*</sup>", re.I)


def choose_parser(raw: RawDocument, info: DocumentInfo) -> str:
    """The parser name for a document: `info.parser` when the registry sets one ("generic" means the
    format's generic parser), else what the content looks like."""
    if info.parser:
        return _GENERIC_BY_FORMAT.get(raw.fmt, "text") if info.parser == "generic" else info.parser
    text = raw.text
    if raw.fmt == "html":
        if len(_TARIFF_CELL.findall(text[:2_000_000])) >= 50:
            return "tariff_html"
        if _FEDREG.search(text) and "fulltext_content_area" in text:
            return "fedreg_html"
        if len(_ARTICLE_H_TAG.findall(text)) >= 2 and _TREATY_NAME.search(text):
            return "treaty_html"
        return "html"
    if "QUINCY BRIEF" in text.upper() and _SUP_TAG.search(text):
        return "brief"
    if raw.fmt == "md" and _USC_SECTION.search(text):
        return "uscode_md"
    if (
        raw.fmt in ("pdf", "txt")
        and len(_ARTICLE_HEAD.findall(text)) >= 2
        and (_PDF_TREATY_HEAD.search(text) or _TREATY_NAME.search(text))
    ):
        return "treaty_pdf"
    return _GENERIC_BY_FORMAT.get(raw.fmt, "text")


def parse(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """Parse with the chosen parser among those implemented here (KeyError for the others)."""
    return PARSERS[choose_parser(raw, info)](raw, info)
