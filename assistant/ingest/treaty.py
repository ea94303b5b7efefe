"""USMCA treaty text: the Government of Canada HTML chapter pages and USTR chapter PDFs.

Negotiators cite the treaty by article and paragraph ("Article 2.4.2", "Annex 2-C, paragraph 5"), so
every chunk carries that address: `label` for display, `meta["key"]` for exact lookup (the article
number or annex id), and the cross-references found in its text (`meta["xrefs"]`) for linking.

Both layouts are first reduced to the same sequence of elements (headings, numbered paragraphs,
lettered items, tables, footnotes) with offsets into a clean text; one outline walker then turns
them into blocks. Paragraphs that fit in a chunk stay whole (short ones of one article may merge);
a longer paragraph is cut between its lettered items, never inside a sentence.
"""

from __future__ import annotations

import bisect
import dataclasses
import re
from dataclasses import dataclass, field

from assistant.domain import Chunk
from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument
from assistant.ingest.chunking import MAX_WORDS, Block, build_chunks
from assistant.ingest.html import Element, extract, main_content, make_soup, table_blocks, with_defaults
from assistant.textutil import collapse, footnote_marks, superscript, word_count

_ARTICLE = re.compile(
    r"^Article\s+(\d{1,2}\.[A-Z]\.\d{1,2}|\d{1,2}-[A-Z]\.\d{1,2}|\d{1,2}\.\d{1,2})\s*:\s*(.+)$"
)
_ANNEX = re.compile(r"^ANNEX\s+(\d{1,2}-[A-Z])\b[\s:.–—-]*(.*)$", re.I)
_APPENDIX = re.compile(r"^APPENDIX\b\s*(\d{1,2}(?!\d)|[A-Z](?![A-Za-z]))?\s*[:.–—-]*\s*(.*)$", re.I)
_SECTION = re.compile(r"^Section\s+([A-Z])\s*[:.–—-]\s*(.+)$")
_NOTES = re.compile(r"^TARIFF SCHEDULE OF (?:THE )?(.+?) GENERAL NOTES$", re.I)
_CHAPTER = re.compile(r"\bChapter\s+(\d{1,2})\s*[-–—:]\s*(.+)$", re.I)
_PARTY = re.compile(r"\bof (?:the )?(Canada|Mexico|United States)\b", re.I)
_PARA_NUM = re.compile(r"^(\d{1,2})(\.)?\s+(?=\S)")
_ITEM_MARK = re.compile(r"^\(([a-z]{1,3}|[A-Z]|\d{1,2})\)\s")
_ROMAN = re.compile(r"^[ivxlc]+$")
# A numbered paragraph that opens with a line this short is titled by it ("16. TRQ-CA12: Products
# Consisting of Natural Milk Constituents"); a table inside it carries the title. Set once.
_TITLE_WORDS = 15

_ART_ID = r"(?:\d{1,2}(?:\.[A-Z])?\.\d{1,2}(?:\.\d{1,2})?|\d{1,2}-[A-Z]\.\d{1,2})"
_XREF_ARTICLES = re.compile(rf"\bArticles?\s+({_ART_ID}(?:\s*(?:,|and|or|through|to)\s*{_ART_ID})*)")
# "Article 5.2 of the Import Licensing Agreement", "Article 1.4(a) of that agreement": not USMCA articles.
_OTHER_AGREEMENT = re.compile(r"(?:\([a-z0-9]{1,4}\))*\s+of\s+(?:the|that)\s+(?!USMCA\b|Agreement\b)")
_XREF_ID = re.compile(r"\d{1,2}-[A-Z]\.\d{1,2}|\d{1,2}\.[A-Z]\.\d{1,2}|\d{1,2}\.\d{1,2}(?:\.\d{1,2})?")
_XREF_ANNEX = re.compile(r"\bAnnex(?:es)?\s+(\d{1,2}-[A-Z])\b")
_XREF_CHAPTER = re.compile(r"\bChapters?\s+(\d{1,2})\s+\([A-Z]")
_XREF_APPENDIX = re.compile(r"\bAppendix\s+(\d{1,2})\b")

_SMALL_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "as",
        "at",
        "between",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
    }
)


@dataclass
class _Elem:
    """A structural element of either layout, with its span in the clean text."""

    kind: str  # heading | para | item | term | table
    text: str
    start: int
    end: int
    level: int = 0
    page: int | None = None
    table: Element | None = None
    terms: tuple[str, ...] = ()  # terms this paragraph defines (bold at its start, GAC layout)


@dataclass
class _Unit:
    """An article, annex, schedule's general notes or appendix: what a paragraph number belongs to."""

    key: str
    label: str  # label of the whole unit, e.g. "USMCA Art. 2.4"
    para_label: str  # format with the paragraph number, e.g. "USMCA Art. 2.4.{}"
    section: str
    meta: dict
    elems: list[_Elem] = field(default_factory=list)


# ---- entry points -------------------------------------------------------------------------------


def parse(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """Either layout, chosen by the file format."""
    return parse_html(raw, info) if raw.fmt == "html" else parse_pdf(raw, info)


def parse_html(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """A Government of Canada chapter page (CUSMA text, `<main>` with h2 articles and a footnote aside)."""
    doc = extract(main_content(make_soup(raw.text)))
    elems = [_from_html(e) for e in doc.elements]
    return _build(raw, info, doc.text, elems)


def parse_pdf(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """A USTR chapter PDF as pypdf extracts it (pages separated by form feeds)."""
    text, elems = _pdf_layout(raw)
    return _build(raw, info, text, elems)


# ---- HTML layout --------------------------------------------------------------------------------


def _from_html(e: Element) -> _Elem:
    kind = {"heading": "heading", "paragraph": "para", "item": "item", "term": "term", "table": "table"}[
        e.kind
    ]
    terms: tuple[str, ...] = ()
    if e.kind == "paragraph" and e.node is not None:
        bold = e.node.find(["b", "strong"])
        if bold is not None:
            term = collapse(bold.get_text(" "))
            if term and e.text.startswith(term) and f"{term} means" in e.text:
                terms = (term,)
    if kind == "para" and _ITEM_MARK.match(e.text):
        kind = "item"  # a lettered subparagraph set as a <p> (the page does this a few times)
    return _Elem(
        kind, e.text, e.start, e.end, level=e.level, table=e if e.kind == "table" else None, terms=terms
    )


# ---- PDF layout ---------------------------------------------------------------------------------

# Page footers: "34-5", "31-A-3", "Preamble-1", "Page 3", "- 3 -", "3".
_PAGE_NUMBER = re.compile(
    r"^(?:(?:[A-Z][A-Za-z]{0,11}-)?(?:\d{1,2}(?:-[A-Z])?-)?\d{1,3}|Page\s+\d{1,4}|-\s*\d{1,4}\s*-)$", re.I
)
_PDF_CHAPTER = re.compile(r"^CHAPTER\s+(\d{1,2})$")
_PDF_HEAD = re.compile(r"^(?:ANNEX\s+\d{1,2}-[A-Z]|APPENDIX(?:\s+\d{1,2}|\s+[A-Z])?)\b.*$")
_PDF_PARA = re.compile(r"^\d{1,2}\.\s+\S")
_PDF_FOOTNOTE = re.compile(r"^(\d{1,3})\s+(\S.*)$")
_MARK_BEFORE = r"(?:(?<=[A-Za-z)\]”’\"])|(?<=[A-Za-z)][.,;:”’]))"


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.elems: list[_Elem] = []

    def add(self, kind: str, text: str, level: int = 0, page: int | None = None) -> None:
        text = text.strip()
        if not text:
            return
        sep = "" if not self.elems else ("\n" if kind == "item" and self.elems[-1].kind == "item" else "\n\n")
        start = self.length + len(sep)
        self.parts.append(sep + text)
        self.length = start + len(text)
        self.elems.append(_Elem(kind, text, start, self.length, level=level, page=page))

    @property
    def text(self) -> str:
        return "".join(self.parts)


def _pdf_layout(raw: RawDocument) -> tuple[str, list[_Elem]]:
    """Lines to elements: page numbers dropped, bottom-of-page footnotes moved to the end (their
    markers kept as superscripts), wrapped lines joined back into paragraphs."""
    body, footnotes = _pdf_lines(raw.text)
    return _pdf_elements(body, footnotes)


def _pdf_lines(text: str) -> tuple[list[tuple[str, int]], list[tuple[int, str, int]]]:
    """Body lines with their page, and the footnotes (number, text, page) found at page bottoms: a
    line "N text" is footnote N when N follows the previous footnote and its mark is on the page."""
    body: list[tuple[str, int]] = []  # (line, page)
    footnotes: list[tuple[int, str, int]] = []  # (number, text, page)
    next_fn: int | None = None  # footnotes run on through the chapter; an excerpt may start anywhere
    for page_no, page in enumerate(text.split("\f"), start=1):
        lines = [ln.strip() for ln in page.split("\n")]
        lines = [ln for ln in lines if ln and not _PAGE_NUMBER.match(ln)]
        page_body: list[str] = []
        here: list[int] = []  # footnotes printed at the bottom of this page
        for line in lines:
            m = _PDF_FOOTNOTE.match(line)
            n = int(m.group(1)) if m else -1
            if m and n == (next_fn or n) and _has_marker(" ".join(page_body), n):
                footnotes.append((n, m.group(2), page_no))
                here.append(n)
                next_fn = n + 1
            elif here:
                n0, t, p = footnotes[-1]
                footnotes[-1] = (n0, _join_lines(t, line), p)
            else:
                page_body.append(line)
        for i, line in enumerate(page_body):
            for n in here:
                line = _marker(n).sub(superscript(n), line)
            page_body[i] = line
        body.extend((ln, page_no) for ln in page_body)
    return body, footnotes


def _pdf_elements(
    body: list[tuple[str, int]], footnotes: list[tuple[int, str, int]]
) -> tuple[str, list[_Elem]]:
    """Headings, numbered paragraphs and lettered items from the lines; footnotes at the end."""
    out = _TextBuilder()
    cur: list[str] = []  # lines of the element being read
    cur_kind, cur_level, cur_page = "", 0, None
    last_letter = ""

    def close() -> None:
        nonlocal cur
        if cur:
            text = cur[0]
            for ln in cur[1:]:
                text = _join_lines(text, ln)
            out.add(cur_kind, text, cur_level, cur_page)
        cur = []

    i = 0
    while i < len(body):
        line, page = body[i]
        if m := _PDF_CHAPTER.match(line):
            close()
            title_lines = []
            while i + 1 < len(body) and body[i + 1][0].isupper() and not _starts_element(body[i + 1][0]):
                i += 1
                title_lines.append(body[i][0])
            title = _title_case(" ".join(title_lines))
            out.add(
                "heading", f"Chapter {m.group(1)} - {title}" if title else f"Chapter {m.group(1)}", 1, page
            )
        elif _PDF_HEAD.match(line) or _ARTICLE.match(line) or _SECTION.match(line):
            close()
            head = line
            if _PDF_HEAD.match(line):
                while i + 1 < len(body) and body[i + 1][0].isupper() and not _starts_element(body[i + 1][0]):
                    i += 1
                    head += " " + body[i][0]
            elif i + 1 < len(body) and _continues_title(line, body[i + 1][0]):
                i += 1
                head += " " + body[i][0]
            out.add("heading", head, 2, page)
        elif _PDF_PARA.match(line) and _may_start(cur):
            close()
            cur, cur_kind, cur_level, cur_page = [line], "para", 0, page
        elif (m := _ITEM_MARK.match(line)) and _may_start(cur):
            close()
            mark = m.group(1)
            if mark.isdigit() or mark.isupper():
                level = 2
            elif _ROMAN.match(mark) and not (mark == "i" and last_letter == "h"):
                level = 1
            else:
                level, last_letter = 0, mark
            cur, cur_kind, cur_level, cur_page = [line], "item", level, page
        elif not cur:
            cur, cur_kind, cur_level, cur_page = [line], "para", 0, page
        elif re.search(r"[;:]$", cur[-1]) and line[:1].islower() and " means " in line:
            close()  # a definition: "term means ..." after the lead-in or the previous definition
            cur, cur_kind, cur_level, cur_page = [line], "para", 0, page
        else:
            cur.append(line)
        i += 1
    close()
    if footnotes:
        out.add("heading", "Footnotes", 2, footnotes[0][2])
        for n, t, p in footnotes:
            out.add("term", f"Footnote {n}", 0, p)
            out.add("para", t, 0, p)
    return out.text, out.elems


def _may_start(cur: list[str]) -> bool:
    """A numbered line starts a paragraph or item only after a line that ends one (a wrapped
    "... under subparagraph" + "(b) of ..." is a continuation)."""
    return not cur or bool(re.search(r"[.:;,]$|\b(?:and|or)$", cur[-1]))


def _marker(n: int) -> re.Pattern[str]:
    """Footnote `n`'s mark in a body line: glued to a word ("Agreement.1") or, as pypdf sometimes
    spaces a raised number, one space after a word's closing punctuation ("Agreement. 1")."""
    return re.compile(rf"{_MARK_BEFORE}{n}(?=\s|$|[,.;:])|(?<=[A-Za-z)][.,;:]) {n}(?=\s|$)")


def _has_marker(text: str, n: int) -> bool:
    return _marker(n).search(text) is not None


def _join_lines(text: str, line: str) -> str:
    return text + line if text.endswith("-") and not text.endswith(" -") else f"{text} {line}"


def _starts_element(line: str) -> bool:
    return bool(
        _PDF_PARA.match(line)
        or _ITEM_MARK.match(line)
        or _ARTICLE.match(line)
        or _PDF_HEAD.match(line)
        or _SECTION.match(line)
        or _PDF_CHAPTER.match(line)
    )


def _continues_title(head: str, nxt: str) -> bool:
    """A long article heading wraps onto a second short line that is not a sentence."""
    return len(head) > 60 and not _starts_element(nxt) and len(nxt) < 70 and not nxt.rstrip().endswith(".")


# ---- outline walker -----------------------------------------------------------------------------


class _Outline:
    """Walks the elements, tracking chapter / annex / article / appendix / section, and emits blocks."""

    def __init__(self, text: str, doc_label: str) -> None:
        self.text = text
        self.doc_label = doc_label  # for text outside any article/annex (preamble, protocol, side letter)
        self.front: list[_Elem] = []
        self.chapter = ""
        self.chapter_title = ""
        self.annex = ""
        self.annex_title = ""
        self.unit: _Unit | None = None
        self.subhead = ""
        self.blocks: list[Block] = []
        self.footnotes: dict[int, str] = {}
        self._fn_blocks: list[Block] = []
        self._fn_current: int | None = None
        self._fn_start = self._fn_end = 0
        self._fn_page: int | None = None
        self._in_footnotes = False

    # -- headings --
    def heading(self, el: _Elem) -> None:
        t = el.text
        if t.lower() == "footnotes":
            self.flush()
            self.unit, self._in_footnotes = None, True
            return
        if (m := _CHAPTER.search(t)) and not _ARTICLE.match(t):
            self.flush()
            self.chapter, self.chapter_title = m.group(1), _title_case(m.group(2).strip())
            self.unit = None
            return
        if m := _ARTICLE.match(t):
            self.flush()
            art, title = m.group(1), m.group(2).strip()
            if not re.search(r"[A-Z]", art):
                self.annex = ""
            meta = {"chapter": self.chapter, "article": art, "article_title": title}
            if self.annex:
                meta["annex"] = self.annex
            self.subhead = ""
            section = self._path(self._annex_heading(), f"Article {art}: {title}")
            self.unit = _Unit(art, f"USMCA Art. {art}", f"USMCA Art. {art}.{{}}", section, meta)
        elif m := _ANNEX.match(t):
            self.flush()
            self.subhead = ""
            self.annex, self.annex_title = m.group(1), _title_case(m.group(2).strip())
            label = f"USMCA Annex {self.annex}"
            section = self._path(self._annex_heading())
            self.unit = _Unit(
                f"Annex {self.annex}",
                label,
                label + ", para. {}",
                section,
                {"chapter": self.chapter, "annex": self.annex},
            )
        elif m := _NOTES.match(t):
            self.flush()
            self.subhead = ""
            party = _title_case(m.group(1))
            label = (
                f"USMCA Annex {self.annex} ({party}) General Notes"
                if self.annex
                else f"{party} General Notes"
            )
            meta = {"chapter": self.chapter, "annex": self.annex, "schedule": party}
            section = self._path(f"Annex {self.annex}", f"Tariff Schedule of {party}: General Notes")
            self.unit = _Unit(f"Annex {self.annex}", label, label + ", para. {}", section, meta)
        elif m := _APPENDIX.match(t):
            self.flush()
            self.subhead = ""
            self.unit = self._appendix(m.group(1) or "", m.group(2).strip(" -–—"))
        elif m := _SECTION.match(t):
            self.flush()
            if self.unit is not None:
                self.unit.meta = {**self.unit.meta, "section": m.group(1)}
                self.unit.section = re.sub(r" — Section [A-Z]:.*$", "", self.unit.section) + f" — {t}"
        else:
            self.flush()
            self.subhead = t

    def _appendix(self, num: str, title: str) -> _Unit:
        party_m = _PARTY.search(title)
        party = party_m.group(1) if party_m else ""
        trq = "tariff rate quota" in title.lower() or "(trq" in title.lower()
        if num:
            key = f"Appendix {num}"
            extra = ", ".join(p for p in ("TRQs" if trq else "", party) if p)
            label = f"USMCA Appendix {num}" + (f" ({extra})" if extra else "")
        else:
            key = f"Annex {self.annex} Appendix" if self.annex else "Appendix"
            label = f"USMCA {key}" + (f" ({title})" if title else "")
        meta = {"chapter": self.chapter, "appendix": num or title}
        if self.annex:
            meta["annex"] = self.annex
        if party:
            meta["schedule"] = party
        heading = f"Appendix {num}: {title}" if num else f"Appendix: {title}" if title else "Appendix"
        section = self._path(f"Annex {self.annex}" if self.annex else "", heading)
        return _Unit(key, label, label + ", para. {}", section, meta)

    def _annex_heading(self) -> str:
        if not self.annex:
            return ""
        return f"Annex {self.annex}: {self.annex_title}" if self.annex_title else f"Annex {self.annex}"

    def _path(self, *parts: str) -> str:
        chapter = f"Chapter {self.chapter}" if self.chapter else ""
        return " — ".join(p for p in (chapter, *parts) if p)

    # -- body --
    def body(self, el: _Elem) -> None:
        if self._in_footnotes:
            self._footnote(el)
        elif self.unit is not None:
            self.unit.elems.append(el)
        else:
            self.front.append(el)

    def _footnote(self, el: _Elem) -> None:
        m = re.match(r"^Footnote\s+(\d+)$", el.text)
        if el.kind == "term" and m:
            self._close_footnote()
            self._fn_current, self._fn_start = int(m.group(1)), el.start
            self._fn_end = el.end
            self._fn_page = el.page
        elif self._fn_current is not None:
            self._fn_end = el.end
            n = self._fn_current
            self.footnotes[n] = f"{self.footnotes[n]} {el.text}" if n in self.footnotes else el.text

    def _close_footnote(self) -> None:
        n = self._fn_current
        if n is None or n not in self.footnotes:
            return
        label = f"USMCA Ch. {self.chapter}, footnote {n}" if self.chapter else f"USMCA footnote {n}"
        meta = {"chapter": self.chapter, "footnote": n, "key": f"Chapter {self.chapter} footnote {n}"}
        self._fn_blocks.append(
            Block(
                self.text[self._fn_start : self._fn_end],
                self._fn_start,
                self._fn_end,
                section=self._path("Footnotes"),
                label=label,
                page=self._fn_page,
                meta=meta,
            )
        )
        self._fn_current = None

    def finish(self) -> list[Block]:
        """The blocks in document order, footnotes last. A document without any article, annex or
        appendix heading (the Preamble, a protocol, a side letter) is chunked as one unit; otherwise
        text before the first heading is page front matter (GAC's disclaimer) and is left out."""
        self.flush()
        if not self.blocks and self.front:
            label = self.doc_label
            self.unit = _Unit(
                label, label, label + ", para. {}", self._path(label), {"chapter": self.chapter}
            )
            self.unit.elems = self.front
            self.flush()
        self._close_footnote()
        return self.blocks + self._fn_blocks

    # -- paragraphs of a unit to blocks --
    def flush(self) -> None:
        unit = self.unit
        if unit is None or not unit.elems:
            return
        titles: dict[str, str] = {}
        paras = _paragraphs(unit.elems)
        with_table = {num for num, elems in paras if num and elems[0].table is not None}
        for num, elems in paras:
            first = elems[0]
            if num and num not in titles and first.kind == "para":
                titles[num] = first.text if word_count(first.text) <= _TITLE_WORDS else ""
            title = titles.get(num, "") if num in with_table else ""
            self.blocks.extend(self._para_blocks(unit, num, elems, title))
        unit.elems = []

    def _para_blocks(self, unit: _Unit, num: str | None, elems: list[_Elem], title: str = "") -> list[Block]:
        """`title`: the short opening line of a titled numbered paragraph that holds a table ("5.
        TRQ-CA1: Milk"). Such a paragraph is one item of a list (a quota), so its pieces merge with
        no other paragraph's; its table (the quota's year-by-year quantities) carries the title in
        its heading and label, to be found and cited by the name of what it counts, and is quoted
        row by row (the asked quota year), like the brief's tables."""
        label = unit.para_label.format(num) if num else unit.label
        meta = {**unit.meta, "key": unit.key}
        if num:
            meta["paragraph"] = num
        section = unit.section + (
            f" — {self.subhead}" if self.subhead and self.subhead not in unit.section else ""
        )
        if title:
            section = f"{section} — {title}"
        table = elems[0].table
        if table is not None:
            name = table.caption or "table"
            if title:
                short = _PARA_NUM.sub("", title).strip()
                label = f"{label} ({short})" if short else label
                meta["table"] = True
            return table_blocks(self.text, table, section=section, label=f"{label}, {name}", meta=meta)
        start, end = elems[0].start, elems[-1].end
        if word_count(self.text[start:end]) <= MAX_WORDS:
            # whole paragraphs of one unit (and one section of it) may merge into a unit-level chunk;
            # a titled paragraph's pieces only with each other
            group = f"{section}#{num}" if title else section
            return [self._block(start, end, section, label, meta, elems, group=group, group_label=unit.label)]
        out = []
        letter = ""
        for piece in _pieces(elems):
            first = piece[0]
            mark = _mark(first.text)
            if first.kind == "item" and first.level == 0 and mark:
                letter = mark
            p_start, p_end = piece[0].start, piece[-1].end
            if word_count(self.text[p_start:p_end]) <= MAX_WORDS:
                sub = f"({mark})" if first.kind == "item" and mark else ""
                out.append(
                    self._block(
                        p_start,
                        p_end,
                        section,
                        label + sub,
                        meta,
                        piece,
                        group=f"{section}#{num}",
                        group_label=label,
                    )
                )
                continue
            for el in piece:
                m = _mark(el.text)
                sub = "" if el.kind != "item" or not m else f"({m})" if el.level == 0 else f"({letter})({m})"
                out.append(
                    self._block(
                        el.start,
                        el.end,
                        section,
                        label + sub,
                        meta,
                        [el],
                        group=f"{section}#{num}",
                        group_label=label,
                    )
                )
        return out

    def _block(
        self,
        start: int,
        end: int,
        section: str,
        label: str,
        meta: dict,
        elems: list[_Elem],
        *,
        group: str,
        group_label: str,
    ) -> Block:
        text = self.text[start:end]
        m = dict(meta)
        terms = [t for e in elems for t in e.terms]
        if terms:
            m["terms"] = terms
        return Block(
            text,
            start,
            end,
            section=section,
            label=label,
            page=elems[0].page,
            footnotes=tuple(footnote_marks(text)),
            meta=m,
            group=group,
            group_label=group_label,
        )


def _paragraphs(elems: list[_Elem]) -> list[tuple[str | None, list[_Elem]]]:
    """Group a unit's elements by numbered paragraph. Unnumbered text that starts in lower case
    continues the paragraph before it ("in an amount that exceeds ..." after a list); a table is a
    paragraph of its own, and items after a table continue the table's paragraph number."""
    paras: list[tuple[str | None, list[_Elem]]] = []
    last_num = 0
    for el in elems:
        cur_num = paras[-1][0] if paras else None
        if el.kind == "table":
            paras.append((cur_num, [el]))
            continue
        if el.kind == "para":
            m = _PARA_NUM.match(el.text)
            if m and (m.group(2) or int(m.group(1)) == last_num + 1) and int(m.group(1)) <= 99:
                last_num = int(m.group(1))
                paras.append((m.group(1), [el]))
                continue
            if el.text[:1].islower() and paras and paras[-1][1][-1].kind != "table":
                paras[-1][1].append(el)
                continue
            # unnumbered text right after a table continues the table's paragraph ("Starting in
            # quota year 19, the quantity shall remain at ..." after a quota's table)
            after_table = bool(paras) and paras[-1][1][-1].kind == "table"
            paras.append((cur_num if after_table else None, [el]))
            continue
        # items and anything else continue the current paragraph
        if not paras or paras[-1][1][-1].kind == "table":
            paras.append((cur_num, [el]))
        else:
            paras[-1][1].append(el)
    return paras


def _pieces(elems: list[_Elem]) -> list[list[_Elem]]:
    """A long paragraph's parts: its lead-in, each top-level item with its sub-items, each continuation."""
    pieces: list[list[_Elem]] = []
    for el in elems:
        if el.kind == "item" and el.level > 0 and pieces:
            pieces[-1].append(el)
        else:
            pieces.append([el])
    return pieces


def _mark(text: str) -> str:
    m = _ITEM_MARK.match(text)
    return m.group(1) if m else ""


# ---- build --------------------------------------------------------------------------------------


def _build(raw: RawDocument, info: DocumentInfo, text: str, elems: list[_Elem]) -> ParsedDocument:
    outline = _Outline(text, info.title or raw.path.stem)
    for el in elems:
        if el.kind == "heading":
            outline.heading(el)
        else:
            outline.body(el)
    blocks = outline.finish()
    title = f"USMCA Chapter {outline.chapter}" + (
        f": {outline.chapter_title}" if outline.chapter_title else ""
    )
    info = with_defaults(info, title=title if outline.chapter else raw.path.stem, kind="treaty")
    chunks = build_chunks(blocks, info, raw.sha256)
    chunks = _finish_meta(chunks, blocks, outline.footnotes)
    warnings = list(raw.warnings)
    if not any(b.meta.get("article") for b in blocks):
        warnings.append(f"{raw.path}: no 'Article N.N:' headings; chunked as plain numbered paragraphs")
    return ParsedDocument(info, text, chunks, raw.sha256, warnings)


def _finish_meta(chunks: list[Chunk], blocks: list[Block], footnotes: dict[int, str]) -> list[Chunk]:
    """Meta that depends on the final chunk: the paragraphs and terms it covers after merging, the
    cross-references and footnote texts in its text, and where each footnote is cited."""
    starts = [b.start for b in blocks]
    out: list[Chunk] = []
    cited_in: dict[int, str] = {}
    for c in chunks:
        meta = dict(c.meta)
        meta.pop("labels", None)
        covered = _covered(blocks, starts, c)
        paras = list(dict.fromkeys(b.meta["paragraph"] for b in covered if b.meta.get("paragraph")))
        if len(paras) > 1:
            meta.pop("paragraph", None)
            meta["paragraphs"] = paras
        terms = list(dict.fromkeys(t for b in covered for t in b.meta.get("terms", ())))
        if terms:
            meta["terms"] = terms
        meta["xrefs"] = [x for x in xrefs(c.text) if x != meta.get("key")]
        if "footnote" not in meta:
            fns = [n for n in c.footnotes if n in footnotes]
            if fns:
                meta["footnotes_text"] = "\n".join(f"{superscript(n)} {footnotes[n]}" for n in fns)
            for n in fns:
                cited_in.setdefault(n, c.label)
        out.append(dataclasses.replace(c, meta=meta))
    return [
        dataclasses.replace(c, meta={**c.meta, "cited_in": cited_in[c.meta["footnote"]]})
        if c.meta.get("footnote") in cited_in
        else c
        for c in out
    ]


def _covered(blocks: list[Block], starts: list[int], c: Chunk) -> list[Block]:
    """The blocks a chunk was made from: those inside its span, or the one block it was split from."""
    i = bisect.bisect_left(starts, c.start)
    inside = []
    while i < len(blocks) and blocks[i].start < c.end:
        if blocks[i].end <= c.end:
            inside.append(blocks[i])
        i += 1
    if inside:
        return inside
    j = bisect.bisect_right(starts, c.start) - 1
    return [blocks[j]] if j >= 0 and blocks[j].end >= c.end else []


def xrefs(text: str) -> list[str]:
    """Articles, annexes, chapters and appendices a passage refers to, as lookup keys ("2.11",
    "Annex 2-B", "Chapter 4", "Appendix 2"), in order of first mention. A paragraph reference
    ("Article 2.11.1") points to its article; articles of other agreements ("Article 5.2 of the
    Import Licensing Agreement") and Harmonized System chapters are left out."""
    found: list[tuple[int, str]] = []
    for m in _XREF_ARTICLES.finditer(text):
        if _OTHER_AGREEMENT.match(text, m.end()):
            continue
        for idm in _XREF_ID.finditer(m.group(1)):
            ident = idm.group(0)
            if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{1,2}", ident):
                ident = ident.rsplit(".", 1)[0]
            found.append((m.start(1) + idm.start(), ident))
    found += [(m.start(), f"Annex {m.group(1)}") for m in _XREF_ANNEX.finditer(text)]
    found += [(m.start(), f"Chapter {m.group(1)}") for m in _XREF_CHAPTER.finditer(text)]
    found += [(m.start(), f"Appendix {m.group(1)}") for m in _XREF_APPENDIX.finditer(text)]
    return list(dict.fromkeys(k for _, k in sorted(found)))


def _title_case(s: str) -> str:
    """ALL-CAPS treaty headings read as titles; mixed-case text is left alone."""
    if not s or not s.isupper():
        return s
    words = []
    for i, w in enumerate(s.lower().split()):
        if i and w in _SMALL_WORDS:
            words.append(w)
            continue
        words.append(re.sub(r"(^|[-–(/])([a-z])", lambda m: m.group(1) + m.group(2).upper(), w))
    return " ".join(words)
