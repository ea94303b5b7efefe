"""The Quincy brief: sections, printed pages, footnotes, and the tables of Figures 1 and 3.

The Markdown is a PDF conversion. Each printed page ends with a `---` line and that page's
footnotes, so a paragraph interrupted by a page break arrives in two halves with footnotes between
them. This parser joins the halves (a body paragraph that does not end a sentence continues in the
next body paragraph), cuts the footnotes out of the body, counts pages from those breaks, and
records which footnotes each passage cites.

Page numbers are counted from the cover as page 1: a page ends where its footnote block ends, or
where a paragraph is split with no footnotes in between.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument
from assistant.ingest.chunking import Block, build_chunks
from assistant.ingest.footnotes import brief_sources, extract_footnotes, footnote_blocks
from assistant.ingest.markdown import clean_inline, heading_text, paragraphs
from assistant.textutil import footnote_marks, sentences, strip_footnote_marks, superscript

_FOOTNOTE = re.compile(r"^\s*<sup>\s*\d+\s*</sup>")
_URL_ONLY = re.compile(r"^\s*<?https?://\S+>?\.?\s*$")
_BARE_MARK = re.compile(r"^\s*(\d{1,2})\s*$")
_FIGURE_LABEL = re.compile(r"^\s*\*\*\s*Figure\s+(\d+)\s*\*\*\s*$")
_BOLD_LINE = re.compile(r"^\s*\*\*(.+)\*\*\s*$", re.S)
_SENTENCE_END = re.compile(r"""[.!?:;”"’)\]]\s*$|[⁰¹²³⁴⁵⁶⁷⁸⁹]\s*$""")

DOC_SHORT = "Quincy Brief No. 80"


@dataclass
class _Para:
    kind: str  # heading | body | list | table | figure | caption | footnote | hr | mark | rec
    text: str  # cleaned text (tables keep their tabs)
    start: int
    end: int
    level: int = 0
    page: int = 1
    footnotes: list[int] = field(default_factory=list)


def parse_brief(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    paras = _classify(raw.text)
    _assign_pages(paras)
    blocks = _blocks(paras)
    notes = _note_blocks(raw.text, blocks)
    chunks = build_chunks(blocks + [b for b, _ in notes], info, raw.sha256, context=None)
    cited_for = {b.meta["note"]: sentence for b, sentence in notes}
    chunks = [
        replace(c, context=_context(info, c, cited_for.get(c.meta.get("note")))) for c in chunks
    ]
    parsed = ParsedDocument(info, raw.text, chunks, raw.sha256, list(raw.warnings))
    parsed.sources = _sources(raw.text)
    return parsed


def _context(info: DocumentInfo, chunk, cited_sentence: str | None) -> str:
    if cited_sentence is not None:  # a note is found by the claim it supports, not only its own words
        return f"{DOC_SHORT}: source cited in note {chunk.meta['note']} for: {cited_sentence}"
    return f"{DOC_SHORT}: {info.title} — {chunk.section}"


def _note_blocks(md: str, body: list[Block]) -> list[tuple[Block, str]]:
    """One passage per footnote, so "which source backs X?" finds the citation itself. It is
    placed on the page of the passage that cites it, with the citing sentence kept for search."""
    texts = extract_footnotes(md)
    out = []
    for fb in footnote_blocks(md):
        n = fb.number
        citing = next((b for b in body if n in b.footnotes), None)
        sentence = ""
        if citing is not None:
            sentence = next((x for x in sentences(citing.text) if n in footnote_marks(x)), "")
        block = Block(
            text=f"Note {n}: {texts.get(n, '')}",
            start=fb.spans[0][0],
            end=fb.spans[-1][1],
            section="Notes",
            label=f"{DOC_SHORT}, note {n}" + (f", p. {citing.page}" if citing and citing.page else ""),
            page=citing.page if citing else None,
            footnotes=(n,),
            meta={"note": n},
            keep_whole=True,
        )
        out.append((block, strip_footnote_marks(sentence)))
    return out


def _sources(md: str) -> list:
    refs, _ = brief_sources(md)
    return refs


def _classify(md: str) -> list[_Para]:
    out: list[_Para] = []
    for p in paragraphs(md):
        raw = p.text
        stripped = raw.strip()
        h = heading_text(stripped)
        if h:
            out.append(_Para("heading", h[1], p.start, p.end, level=h[0]))
        elif stripped == "---":
            out.append(_Para("hr", "", p.start, p.end))
        elif _FOOTNOTE.match(stripped) or (_URL_ONLY.match(stripped) and out and out[-1].kind in ("hr", "footnote")):
            out.append(_Para("footnote", clean_inline(stripped), p.start, p.end))
        elif m := _BARE_MARK.match(stripped):
            out.append(_Para("mark", m.group(1), p.start, p.end))
        elif m := _FIGURE_LABEL.match(stripped):
            out.append(_Para("figure", f"Figure {m.group(1)}", p.start, p.end))
        elif "\t" in raw:
            out.append(_Para("table", _clean_table(raw), p.start, p.end))
        elif stripped.startswith(("Units:", "Source:")):
            out.append(_Para("caption", clean_inline(stripped), p.start, p.end))
        elif stripped.startswith(("- ", "* ")):
            items = [clean_inline(x) for x in re.split(r"\n\s*[-*]\s+", "\n" + stripped)[1:]]
            out.append(_Para("list", "\n".join(f"• {i}" for i in items if i), p.start, p.end))
        elif (m := _BOLD_LINE.match(stripped)) and len(stripped) < 400:
            out.append(_Para("rec", clean_inline(m.group(1)), p.start, p.end))
        else:
            text = clean_inline(stripped)
            if text:
                out.append(_Para("body", text, p.start, p.end))
    return out


def _clean_table(raw: str) -> str:
    rows = []
    for line in raw.splitlines():
        cells = [clean_inline(c) for c in line.split("\t")]
        if any(cells):
            rows.append("\t".join(cells).strip("\t "))
    return "\n".join(rows)


def _assign_pages(paras: list[_Para]) -> None:
    """Page 1 is the cover; the executive summary starts a page; a footnote block ends one; a
    paragraph split without footnotes in between marks a break too."""
    page = 1
    prev_kind = ""
    last_body: _Para | None = None
    for p in paras:
        if p.kind == "heading" and p.text.lower().startswith("executive summary") and page == 1:
            page = 2
        if prev_kind in ("footnote", "hr") and p.kind not in ("footnote", "hr"):
            page += 1
        elif (
            p.kind in ("body", "list")
            and last_body is not None
            and prev_kind in ("body", "list")
            and page >= 2
            and len(last_body.text.split()) >= 20
            and not _SENTENCE_END.search(last_body.text)
        ):
            page += 1  # a paragraph split by a page break with no footnotes on that page
        p.page = page
        if p.kind in ("body", "list"):
            last_body = p
        if p.kind != "mark":
            prev_kind = p.kind


def _blocks(paras: list[_Para]) -> list[Block]:
    """Join split paragraphs, attach bare footnote marks, keep tables whole with their caption."""
    blocks: list[Block] = []
    section = "Cover"
    consumed: set[int] = set()
    rec = ""
    for i, p in enumerate(paras):
        if i in consumed:
            continue
        if p.kind == "heading":
            if p.level >= 3 and _next_kind(paras, i) == "table":
                continue  # a figure title: taken by the table below
            if p.level == 1 and section == "Cover" and not p.text.lower().startswith("executive"):
                continue  # the document title
            section, rec = p.text, ""
            continue
        if p.kind in ("hr", "footnote", "figure", "caption"):
            continue
        if p.kind == "mark":
            if blocks:
                n = int(p.text)
                b = blocks[-1]
                b.text += superscript(n)
                b.footnotes = tuple(sorted(set(b.footnotes) | {n}))
                b.end = max(b.end, p.end)
            continue
        if p.kind == "table":
            blocks.append(_table_block(paras, i, section, consumed))
            continue
        if p.kind == "rec":
            rec = p.text
            blocks.append(_block(p, section, p.text, group=f"rec:{rec}"))
            continue
        # body or list: absorb following halves split by page breaks
        text, end, page = p.text, p.end, p.page
        j = i
        while not _SENTENCE_END.search(text):
            k = _next_body(paras, j)
            if k is None:
                break
            nxt = paras[k]
            joiner = "\n" if nxt.kind == "list" else " "
            text = text + joiner + nxt.text.lstrip("• ") if nxt.kind == "list" else text + joiner + nxt.text
            end = nxt.end
            consumed.add(k)
            j = k
        group = f"rec:{rec}" if rec else (f"list:{section}:{i}" if text.rstrip().endswith(":") else "")
        if p.kind == "list" and blocks and blocks[-1].group.startswith("list:"):
            group = blocks[-1].group
        b = _block(p, section, text, group=group)
        b.end = end
        b.page = page
        blocks.append(b)
    return blocks


def _block(p: _Para, section: str, text: str, group: str = "") -> Block:
    label = f"{DOC_SHORT}, {section}, p. {p.page}"
    return Block(
        text=text,
        start=p.start,
        end=p.end,
        section=section,
        label=label,
        page=p.page,
        footnotes=tuple(footnote_marks(text)),
        group=group,
    )


def _table_block(paras: list[_Para], i: int, section: str, consumed: set[int]) -> Block:
    p = paras[i]
    title, figure, captions = "", "", []
    start, end = p.start, p.end
    # look back for "**Figure N**" and a heading used as the figure title
    for k in (i - 1, i - 2):
        if k >= 0 and paras[k].kind == "heading" and paras[k].level >= 3 and not title:
            title, start = paras[k].text, min(start, paras[k].start)
        elif k >= 0 and paras[k].kind == "figure" and not figure:
            figure, start = paras[k].text, min(start, paras[k].start)
            consumed.add(k)
    k = i + 1
    while k < len(paras) and paras[k].kind in ("caption", "figure"):
        if paras[k].kind == "caption":
            captions.append(paras[k].text)
        elif not figure:
            figure = paras[k].text
        else:
            break
        end = paras[k].end
        consumed.add(k)
        k += 1
    table = p.text
    if not title:  # Figure 3 carries its title as the first, tab-free line of the table
        first, _, rest = table.partition("\n")
        if "\t" not in first:
            title, table = first, rest
    head = ": ".join(x for x in (figure, title) if x)
    text = "\n".join(x for x in (head, table, *captions) if x)
    return Block(
        text=text,
        start=start,
        end=end,
        section=section,
        label=f"{DOC_SHORT}, {figure or 'table'}{' — ' + title if title else ''}, p. {p.page}",
        page=p.page,
        footnotes=tuple(footnote_marks(text)),
        meta={"figure": figure, "table": True},
        keep_whole=True,
    )


def _next_kind(paras: list[_Para], i: int) -> str:
    return paras[i + 1].kind if i + 1 < len(paras) else ""


def _next_body(paras: list[_Para], i: int) -> int | None:
    """The next body/list paragraph after i, skipping footnotes, page rules, marks and figure labels;
    None if a heading or table comes first."""
    for k in range(i + 1, len(paras)):
        kind = paras[k].kind
        if kind in ("body", "list"):
            return k
        if kind in ("heading", "table", "rec"):
            return None
    return None
