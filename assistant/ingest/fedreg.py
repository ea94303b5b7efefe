"""Presidential documents as published on federalregister.gov (proclamations, executive orders).

Negotiators cite these by document and clause ("Proclamation 10925, clause 2"), and by FR citation,
so each chunk carries the proclamation (or order) number, the FR document number and citation, and
its clause: recitals of the preamble are chunks of their own ("preamble ¶ 3"); the operative clauses
("(1)", "(a)", "(i)" in proclamations, "Sec. 2." in executive orders) are chunked under their clause
number, short subclauses of one clause merging into a clause-level chunk.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime

from bs4 import BeautifulSoup, Tag

from assistant.domain import Chunk
from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument
from assistant.ingest.chunking import Block, build_chunks
from assistant.ingest.html import HtmlText, extract, main_content, make_soup, with_defaults
from assistant.textutil import collapse

_HEADER = re.compile(
    r"^(Proclamation|Executive Order|Memorandum|Determination)\s+(?:No\.\s*)?(\d{3,6})?\s*(?:of\s+)?"
    r"((?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"\s+\d{1,2},\s+\d{4})?",
    re.I,
)
_RECITAL = re.compile(r"^(\d{1,2})\.\s+")
_CLAUSE = re.compile(r"^(?:Sec(?:tion)?\.?\s+(\d{1,3})\.|\((\d{1,3})\))\s*")
_SUB_LETTER = re.compile(r"^\(([a-z])\)\s*")
_SUB_ROMAN = re.compile(r"^\(([ivx]+)\)\s*")
_ENACTING = re.compile(r"^NOW,\s+THEREFORE\b|\bdo hereby (?:proclaim|order)\b|\bit is hereby ordered\b", re.I)
_CLOSING = re.compile(r"^(?:IN WITNESS WHEREOF|THE WHITE HOUSE)\b")
_FR_DOC = re.compile(r"\bFR Doc\.?\s*(\d{4}-\d{4,6})")
_FR_CITE = re.compile(r"\b(\d{1,3}) FR (\d{1,6})\b")


@dataclass
class _Facts:
    """What identifies the document, from the page's metadata box and the proclamation's own header."""

    kind: str = ""  # Proclamation | Executive Order
    number: str = ""  # 10925
    signed: str = ""  # ISO date of signature
    title: str = ""
    fr_doc: str = ""  # 2025-07833
    citation: str = ""  # 90 FR 18899
    published: str = ""  # ISO date of publication
    pages: str = ""
    url: str = ""

    @property
    def name(self) -> str:
        if self.kind and self.number:
            return f"{self.kind} {self.number}"
        return f"FR Doc. {self.fr_doc}" if self.fr_doc else self.title

    def meta(self) -> dict:
        m = {
            "fr_doc": self.fr_doc,
            "citation": self.citation,
            "doc_title": self.title,
            "signed": self.signed,
            "published": self.published,
        }
        if self.kind == "Proclamation":
            m["proclamation"] = self.number
        elif self.kind == "Executive Order":
            m["executive_order"] = self.number
        return {k: v for k, v in m.items() if v}


def parse(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """Recitals, enacting clause, numbered clauses and closing of a federalregister.gov document page."""
    soup = make_soup(raw.text)
    facts = _page_facts(soup)
    root = soup.find(id="fulltext_content_area")
    doc = extract(root if isinstance(root, Tag) else main_content(soup))
    for el in doc.elements[:4]:  # "Proclamation 10925 of April 29, 2025" above the <h1> title
        if (m := _HEADER.match(el.text)) and m.group(2):
            facts.kind, facts.number = _kind(m.group(1)), m.group(2)
            facts.signed = _iso(m.group(3) or "")
            break
    if not facts.fr_doc and (m := _FR_DOC.search(doc.text)):
        facts.fr_doc = m.group(1)
    title = f"{facts.name}: {facts.title}" if facts.title and facts.name != facts.title else facts.name
    info = with_defaults(
        info, title=title or raw.path.stem, kind="source", date=facts.published, url=facts.url
    )

    blocks = _blocks(doc, facts)
    chunks = _finish_meta(build_chunks(blocks, info, raw.sha256), blocks)
    warnings = list(raw.warnings)
    if not any(b.meta.get("clause") for b in blocks):
        warnings.append(
            f"{raw.path}: no numbered clauses found; is this a federalregister.gov document page?"
        )
    return ParsedDocument(info, doc.text, chunks, raw.sha256, warnings)


def _blocks(doc: HtmlText, facts: _Facts) -> list[Block]:
    """Walk the text's paragraphs: header, preamble (recitals), enacting clause, clauses, closing."""
    blocks: list[Block] = []
    base = facts.meta()
    name = facts.name
    key_prefix = facts.number or facts.fr_doc
    part = "header"
    recital = 0
    clause = sub = ""
    for el in doc.elements:
        text = el.text
        page = el.node.get("data-page") if el.node is not None and el.node.name == "p" else None
        meta = dict(base)
        if page:
            meta["fr_page"] = str(page)
            if facts.citation:
                meta["fr_cite"] = f"{facts.citation.split(' FR ')[0]} FR {page}"
        if el.kind == "heading" or (part == "header" and (_HEADER.match(text) or len(text.split()) <= 4)):
            continue  # title lines: they are in the chunk context already
        if _FR_DOC.search(text) or text.startswith("Billing code") or text.startswith("Filed "):
            continue  # end matter
        if _CLOSING.match(text):
            part = "closing"
            meta.update(part="closing", key=f"{key_prefix} closing")
            blocks.append(_block(el.start, el.end, text, f"{name}, closing (signature)", "Closing", meta))
            continue
        if part in ("header", "preamble") and _ENACTING.search(text) and not _CLAUSE.match(text):
            part = "clauses"
            meta.update(part="enacting clause", key=f"{key_prefix} enacting clause")
            blocks.append(_block(el.start, el.end, text, f"{name}, enacting clause", "Preamble", meta))
            continue
        m = _CLAUSE.match(text)
        if m and (part == "clauses" or facts.kind == "Executive Order" or part == "header" and m.group(1)):
            part = "clauses"
            clause, sub = m.group(1) or m.group(2), ""
            rest = text[m.end() :]
            if sm := _SUB_LETTER.match(rest):
                sub = f"({sm.group(1)})"
        elif part == "clauses" and (_SUB_LETTER.match(text) or _SUB_ROMAN.match(text)):
            sub = _subclause(text, sub)
        elif part in ("header", "preamble"):
            part = "preamble"
            rm = _RECITAL.match(text)
            recital = int(rm.group(1)) if rm else recital + 1
            meta.update(part="preamble", recital=str(recital), key=f"{key_prefix} preamble ¶ {recital}")
            blocks.append(_block(el.start, el.end, text, f"{name}, preamble ¶ {recital}", "Preamble", meta))
            continue
        if part != "clauses" or not clause:
            continue
        clause_label = f"{name}, cl. {clause}"
        meta.update(part="clause", clause=clause, key=f"{key_prefix} cl. {clause}")
        if sub:
            meta["subclause"] = sub
        blocks.append(
            _block(
                el.start,
                el.end,
                text,
                clause_label + sub,
                f"Clause {clause}",
                meta,
                group=f"cl{clause}",
                group_label=clause_label,
            )
        )
    return blocks


def _subclause(text: str, current: str) -> str:
    """The subclause a paragraph starts: "(b)" after "(a)"; "(a)(ii)" after "(a)(i)". A roman "(i)",
    "(v)" or "(x)" is a letter when it follows "(h)", "(u)" or "(w)"."""
    letter = current[1:2] if current else ""
    roman = _SUB_ROMAN.match(text)
    if roman and letter:
        mark = roman.group(1)
        follows_letter = len(mark) == 1 and ord(mark) == ord(letter) + 1
        if not follows_letter:
            return f"({letter})({mark})"
    m = _SUB_LETTER.match(text) or roman
    return f"({m.group(1)})" if m else current


def _block(
    start: int,
    end: int,
    text: str,
    label: str,
    section: str,
    meta: dict,
    *,
    group: str = "",
    group_label: str = "",
) -> Block:
    return Block(
        text, start, end, section=section, label=label, meta=meta, group=group, group_label=group_label
    )


def _finish_meta(chunks: list[Chunk], blocks: list[Block]) -> list[Chunk]:
    """A chunk merged from several subclauses lists them instead of naming the first one."""
    by_label = {b.label: b.meta for b in blocks}
    out = []
    for c in chunks:
        labels = c.meta.get("labels")
        if not labels:
            out.append(c)
            continue
        meta = {k: v for k, v in c.meta.items() if k not in ("labels", "subclause")}
        subs = [by_label.get(lb, {}).get("subclause", "") for lb in labels]
        if any(subs):
            meta["subclauses"] = [s for s in subs if s]
        meta["cites"] = labels
        out.append(dataclasses.replace(c, meta=meta))
    return out


def _page_facts(soup: BeautifulSoup) -> _Facts:
    facts = _Facts()
    details: dict[str, str] = {}
    for dl in soup.select("dl.metadata_list"):
        for dt in dl.find_all("dt"):
            dd = dt.find_next_sibling("dd")
            if isinstance(dd, Tag):
                details.setdefault(collapse(dt.get_text(" ")).lower(), collapse(dd.get_text(" ")))
    facts.fr_doc = details.get("document number", "")
    if m := _FR_CITE.search(details.get("document citation", "")):
        facts.citation = f"{m.group(1)} FR {m.group(2)}"
    facts.pages = details.get("pages", "")
    facts.published = _iso(details.get("publication date", ""))
    for prop in ("article:published_time",):
        tag = soup.find("meta", attrs={"property": prop})
        if not facts.published and isinstance(tag, Tag):
            facts.published = str(tag.get("content") or "")
    og_url = soup.find("meta", attrs={"property": "og:url"})
    if isinstance(og_url, Tag):
        facts.url = str(og_url.get("content") or "")
    h1 = (
        soup.select_one("#fulltext_content_area h1")
        or soup.select_one("#metadata_content_area h1")
        or soup.h1
    )
    if isinstance(h1, Tag):
        facts.title = collapse(h1.get_text(" "))
    if not facts.citation:
        header = soup.select_one(".fr-seal-block-header")
        if isinstance(header, Tag) and (m := _FR_CITE.search(header.get_text(" "))):
            facts.citation = f"{m.group(1)} FR {m.group(2)}"
    return facts


def _kind(word: str) -> str:
    return " ".join(w.capitalize() for w in word.split())


def _iso(date: str) -> str:
    """ "April 29, 2025" or "04/29/2025" as "2025-04-29"; "" when it is neither."""
    for fmt in ("%B %d, %Y", "%m/%d/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(date.strip(), fmt).date().isoformat()
        except ValueError:
            continue
    return ""
