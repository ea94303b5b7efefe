"""HTML to plain text with structure, shared by every HTML parser.

Web pages carry site chrome (menus, banners, scripts, share buttons) around the document. Parsers
want only the document, as plain text with paragraph breaks, plus the sequence of its structural
elements (headings, paragraphs, list items, tables) with offsets into that text, so a chunk can be
shown in its surrounding text. `extract` gives both; the structure parsers (treaty, tariff, Federal
Register) read the elements, and `parse` handles any other page a user uploads.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, CData, NavigableString, Tag

from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument
from assistant.ingest.chunking import MAX_WORDS, Block, build_chunks
from assistant.textutil import collapse, superscript, word_count

# fmt: off
# Never document text. <header>, <footer> and <aside> are handled separately (see `strip_chrome`).
_DROP_TAGS = [
    "script", "style", "noscript", "template", "nav", "form", "iframe", "svg", "button", "select", "input",
    "textarea", "object", "embed", "canvas", "map", "audio", "video", "link", "meta",
]
# Class tokens of visually hidden or navigational elements (GAC, federalregister.gov, Bootstrap, WordPress).
_CHROME_CLASSES = frozenset({
    "wb-inv", "sr-only", "visually-hidden", "screen-reader-text", "hidden", "d-none", "fn-rtn", "pagedetails",
    "breadcrumb", "breadcrumbs", "skip-link", "skiplink", "unprinted-element", "printed-page-inline",
    "printed-page-details", "btn", "share", "social", "modal", "cookie-banner",
})
_DROP_SET = frozenset(_DROP_TAGS)
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "dialog", "button", "menubar"})
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_LISTS = {"ul", "ol", "menu"}
# Elements whose content is one paragraph of text (unless they hold block elements themselves).
_TEXT_BLOCKS = {"p", "pre", "address", "blockquote", "figcaption", "caption", "summary", "legend", "dt", "dd"}
_BLOCK_TAGS = _HEADINGS.keys() | _LISTS | _TEXT_BLOCKS | {
    "div", "section", "article", "main", "aside", "header", "footer", "dl", "li", "table", "figure",
    "details", "center", "fieldset", "hr", "body", "html", "tbody", "thead", "tfoot", "tr", "td", "th",
}
# fmt: on
_BLOCK_NAMES = sorted(_BLOCK_TAGS - {"hr"})
_SUP_DIGITS = re.compile(r"\d+(?:\s*,\s*\d+)*")
_SPACE_BEFORE_MARK = re.compile(r"\s+([⁰¹²³⁴⁵⁶⁷⁸⁹]+)")
_FOOTNOTE_ID = re.compile(r"^(?:fn|footnote|note|endnote)[-_]?\d+$", re.I)


@dataclass(frozen=True)
class Element:
    """One structural element of a page, with its span in `HtmlText.text`."""

    kind: str  # heading | paragraph | item | term | table
    text: str
    start: int
    end: int
    level: int = 0  # heading level 1-6; nesting depth of a list item (0 = top level)
    tag: str = ""
    node: Tag | None = field(default=None, compare=False, repr=False)  # for parser-specific attributes
    rows: tuple[tuple[str, ...], ...] = ()  # tables: every row's cells as they read (empty cells kept)
    row_spans: tuple[tuple[int, int], ...] = ()  # tables: each row's span in the text (same order as rows)
    header_rows: int = 0  # tables: how many of `rows` are header rows
    caption: str = ""


@dataclass
class HtmlText:
    text: str
    elements: list[Element]
    title: str = ""


def make_soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def page_title(soup: BeautifulSoup) -> str:
    """The page's <h1>, else its <title>: the <title> often carries the site name too."""
    h1 = soup.find("h1")
    if isinstance(h1, Tag) and collapse(h1.get_text(" ")):
        return collapse(h1.get_text(" "))
    if soup.title and soup.title.string:
        return collapse(soup.title.string)
    return ""


def main_content(soup: BeautifulSoup) -> Tag:
    """`<main>` (or role=main), else the largest `<article>`, else a #main/#content container, else <body>."""
    for cand in (soup.find("main"), soup.find(attrs={"role": "main"})):
        if isinstance(cand, Tag) and len(cand.get_text(strip=True)) >= 200:
            return cand
    articles = [a for a in soup.find_all("article") if isinstance(a, Tag)]
    if articles:
        best = max(articles, key=lambda a: len(a.get_text(strip=True)))
        if len(best.get_text(strip=True)) >= 200:
            return best
    for ident in ("main", "content", "main-content", "maincontent"):
        cand = soup.find(id=ident)
        if isinstance(cand, Tag) and len(cand.get_text(strip=True)) >= 200:
            return cand
    return soup.body or soup


def strip_chrome(root: Tag) -> Tag:
    """Remove, in place, everything under `root` that is not document text.

    Footnote asides are kept: they are part of the document. A <header> is kept when it holds the
    document's own heading (article pages put their <h1> there). One pass over the tree: a removed
    element's subtree is not visited."""
    for child in list(root.children):
        if isinstance(child, Tag):
            if _is_chrome(child):
                child.decompose()
            else:
                strip_chrome(child)
    return root


def _is_chrome(tag: Tag) -> bool:
    name = tag.name
    if name in _DROP_SET:
        return True
    if name == "aside":
        return not _is_footnotes(tag)
    if name == "header":
        return tag.find(["h1", "h2", "h3"]) is None
    if name == "footer":
        return True
    attrs = tag.attrs
    if not attrs:
        return False
    classes = attrs.get("class") or ()
    if any(c in _CHROME_CLASSES for c in classes):
        return True
    if attrs.get("role") in _CHROME_ROLES or "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return True
    return "display:none" in str(attrs.get("style") or "").replace(" ", "").lower()


def _is_footnotes(tag: Tag) -> bool:
    classes = " ".join(tag.get("class") or ()).lower()
    if tag.get("role") == "note" or any(w in classes for w in ("fnote", "footnote", "endnote")):
        return True
    return tag.find(id=_FOOTNOTE_ID) is not None


def extract(root: Tag) -> HtmlText:
    """Plain text of `root` with chrome removed, and its structural elements in reading order."""
    strip_chrome(root)
    builder = _Builder()
    builder.walk(root, depth=-1, kind="paragraph")
    builder.flush("paragraph", -1)
    return HtmlText("".join(builder.parts), builder.elements)


def html_text(html: str) -> HtmlText:
    """The main content of a web page as text and elements; the title from its <h1> or <title>."""
    soup = make_soup(html)
    title = page_title(soup)
    doc = extract(main_content(soup))
    doc.title = title
    return doc


def inline_text(node: Tag) -> str:
    """Text of an element as it reads: inline markup dropped, footnote numbers as superscripts."""
    out: list[str] = []
    _inline(node, out)
    return _SPACE_BEFORE_MARK.sub(r"\1", collapse("".join(out)))


def _inline(node: Tag, out: list[str]) -> None:
    for child in node.children:
        _inline_node(child, out)


def _inline_node(node: object, out: list[str]) -> None:
    if isinstance(node, NavigableString):
        if type(node) in (NavigableString, CData):
            out.append(str(node))
        return
    if not isinstance(node, Tag) or node.name == "img":
        return
    if node.name == "br":
        out.append(" ")
    elif node.name == "sup":
        t = collapse(node.get_text(""))
        if _SUP_DIGITS.fullmatch(t):
            out.append("".join(superscript(int(n)) for n in re.findall(r"\d+", t)))
        else:
            out.append(t)
    else:
        spaced = node.name in _BLOCK_TAGS  # block content read inline (a table cell's <p>) keeps a space
        if spaced:
            out.append(" ")
        _inline(node, out)
        if spaced:
            out.append(" ")


def _has_block(tag: Tag) -> bool:
    return tag.find(_BLOCK_NAMES) is not None


class _Builder:
    """Accumulates the text and its elements while walking the tree in document order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.elements: list[Element] = []
        self.pending: list[str] = []  # inline content not yet closed by a block element

    # ---- tree walk -----------------------------------------------------------------------------
    def walk(self, node: Tag, depth: int, kind: str) -> None:
        for child in node.children:
            if not isinstance(child, Tag):
                _inline_node(child, self.pending)
                continue
            name = child.name
            if name not in _BLOCK_TAGS and not _has_block(child):
                _inline_node(child, self.pending)
                continue
            self.flush(kind, depth, node)
            if name in _HEADINGS:
                self.add("heading", inline_text(child), level=_HEADINGS[name], tag=name, node=child)
            elif name == "table":
                self.table(child)
            elif name in _LISTS:
                self.walk(child, depth + 1, "item")
            elif name == "li":
                self.walk(child, max(depth, 0), "item")
                self.flush("item", max(depth, 0), child)
            elif name == "dt":
                self.add("term", inline_text(child), tag=name, node=child)
            elif name in _TEXT_BLOCKS and not _has_block(child):
                self.add(
                    "item" if kind == "item" else "paragraph",
                    inline_text(child),
                    level=max(depth, 0),
                    tag=name,
                    node=child,
                )
            else:
                self.walk(child, depth, kind)
                self.flush(kind, depth, child)

    def flush(self, kind: str, depth: int, node: Tag | None = None) -> None:
        if not self.pending:
            return
        text = _SPACE_BEFORE_MARK.sub(r"\1", collapse("".join(self.pending)))
        self.pending = []
        if text:
            tag = node.name if node is not None else ""
            self.add(kind, text, level=max(depth, 0), tag=tag, node=node)

    # ---- output --------------------------------------------------------------------------------
    def _sep(self, kind: str) -> str:
        if not self.elements:
            return ""
        prev = self.elements[-1].kind
        return "\n" if kind == "item" and prev == "item" else "\n\n"

    def add(self, kind: str, text: str, **kw) -> Element | None:
        if not text:
            return None
        sep = self._sep(kind)
        start = self.length + len(sep)
        self.parts.append(sep + text)
        self.length = start + len(text)
        el = Element(kind, text, start, self.length, **kw)
        self.elements.append(el)
        return el

    def table(self, table: Tag) -> None:
        caption_tag = table.find("caption")
        caption = inline_text(caption_tag) if isinstance(caption_tag, Tag) else ""
        rows: list[tuple[str, ...]] = []
        header = 0
        for tr, in_head in _table_rows(table):
            cells = [c for c in tr.children if isinstance(c, Tag) and c.name in ("td", "th")]
            values = tuple(inline_text(c) for c in cells)
            if not any(values):
                continue
            if (in_head or all(c.name == "th" for c in cells)) and header == len(rows) and len(cells) > 1:
                header += 1
            rows.append(values)
        if not rows and not caption:
            return
        lines = ([caption] if caption else []) + ["\t".join(v for v in r if v) for r in rows]
        text = "\n".join(lines)
        sep = self._sep("table")
        start = self.length + len(sep)
        spans, pos = [], start + (len(caption) + 1 if caption else 0)
        for line in lines[1 if caption else 0 :]:
            spans.append((pos, pos + len(line)))
            pos += len(line) + 1
        self.parts.append(sep + text)
        self.length = start + len(text)
        self.elements.append(
            Element(
                "table",
                text,
                start,
                self.length,
                tag="table",
                node=table,
                rows=tuple(rows),
                row_spans=tuple(spans),
                header_rows=header,
                caption=caption,
            )
        )


def _table_rows(table: Tag) -> list[tuple[Tag, bool]]:
    """The table's own rows (not a nested table's), each with whether it sits in <thead>."""
    rows: list[tuple[Tag, bool]] = []
    for child in table.children:
        if not isinstance(child, Tag):
            continue
        if child.name == "tr":
            rows.append((child, False))
        elif child.name in ("thead", "tbody", "tfoot"):
            rows.extend(
                (tr, child.name == "thead")
                for tr in child.children
                if isinstance(tr, Tag) and tr.name == "tr"
            )
    return rows


# ---- generic pages ------------------------------------------------------------------------------


def generic_blocks(doc: HtmlText, *, title: str = "", max_level: int = 4) -> list[Block]:
    """Blocks of any page: each paragraph/item under the section path of its h1..h`max_level`
    headings; paragraphs of one section may merge; tables stay whole, or in row windows if long."""
    path: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for el in doc.elements:
        if el.kind == "heading" and el.level <= max_level:
            path = [(lvl, t) for lvl, t in path if lvl < el.level] + [(el.level, el.text)]
            continue
        section = " > ".join(t for _, t in path)
        label = path[-1][1] if path else title
        if el.kind == "table":
            blocks.extend(table_blocks(doc.text, el, section=section, label=label))
        else:
            blocks.append(
                Block(el.text, el.start, el.end, section=section, label=label, group=section or "body")
            )
    return blocks


def table_blocks(
    text: str, el: Element, *, section: str, label: str, meta: dict | None = None, max_words: int = MAX_WORDS
) -> list[Block]:
    """A table as one whole block, or as windows of consecutive rows when it is long. Each window is
    a contiguous span of the text; the caption and header row go into the section (chunk context)."""
    meta = dict(meta or {})
    if word_count(el.text) <= max_words or not el.row_spans:
        return [
            Block(
                text[el.start : el.end],
                el.start,
                el.end,
                section=section,
                label=label,
                meta=meta,
                keep_whole=True,
            )
        ]
    head = " | ".join(c for c in el.rows[0] if c) if el.header_rows else ""
    ctx = " — ".join(p for p in (section, el.caption, head) if p)
    # a later window's rows are read under the table's header, which only the first window's text has
    later = {**meta, "header_rows": ["\t".join(v for v in r if v) for r in el.rows[: el.header_rows]]} \
        if el.header_rows else meta  # as the table's text joins a row: its filled cells
    out: list[Block] = []
    win_start: int | None = None
    words = 0
    last_end = el.start
    for s, e in el.row_spans[el.header_rows :]:
        n = word_count(text[s:e])
        if win_start is not None and words + n > max_words:
            out.append(
                Block(
                    text[win_start:last_end],
                    win_start,
                    last_end,
                    section=ctx,
                    label=label,
                    meta=dict(meta if win_start == el.start else later),
                    keep_whole=True,
                )
            )
            win_start, words = None, 0
        if win_start is None:
            win_start = el.start if not out else s  # the first window keeps the caption and header
        words += n
        last_end = e
    if win_start is not None:
        out.append(
            Block(
                text[win_start:last_end],
                win_start,
                last_end,
                section=ctx,
                label=label,
                meta=dict(meta if win_start == el.start else later),
                keep_whole=True,
            )
        )
    return out


def parse(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """Any web page: main content only, chunked under its headings."""
    doc = html_text(raw.text)
    info = with_defaults(info, title=doc.title or raw.path.stem, kind="user")
    blocks = generic_blocks(doc, title=info.title)
    chunks = build_chunks(blocks, info, raw.sha256)
    warnings = list(raw.warnings)
    if not chunks:
        warnings.append(f"{raw.path}: no text found in the page's main content")
    return ParsedDocument(info, doc.text, chunks, raw.sha256, warnings)


def with_defaults(
    info: DocumentInfo, *, title: str = "", kind: str = "", date: str = "", url: str = ""
) -> DocumentInfo:
    """A copy of `info` with empty fields filled in from the document (the caller's record is not
    mutated); fields the registry already set are kept."""
    given = {"title": title, "kind": kind, "date": date, "url": url}
    changes = {k: v for k, v in given.items() if v and not getattr(info, k)}
    return dataclasses.replace(info, **changes) if changes else info
