"""U.S. Code chapters in Markdown (`## 19 U.S.C. § N. Heading`, `### (a) Heading`, `#` subchapter and
part headings), as in the corpus's 19 U.S.C. chapter 29.

Statutes are cited by section and subsection ("19 U.S.C. § 4611(b)"), so each chunk carries that
citation as its label and the section number as `meta["key"]`. A subsection that fits in a chunk is
one chunk (small subsections of one section may merge into a section-level chunk); a longer one is
cut at its paragraphs (1), (2) ..., and those at their subparagraphs (A), (B) ... when needed.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from assistant.domain import Chunk
from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument
from assistant.ingest.chunking import MAX_WORDS, Block, build_chunks
from assistant.ingest.html import with_defaults
from assistant.textutil import word_count

_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_SECTION = re.compile(r"^(?:(\d+)\s+U\.S\.C\.\s+)?§+\s*(\d+[a-z]?(?:-\d+)?)\.?\s*(.*)$")
_SUBSECTION = re.compile(r"^\(([a-z]{1,2})\)\s*(.*)$")
_MARKER = re.compile(r"^\((\d{1,3}|[A-Z]{1,4}|[a-z]{1,4})\)(?=\s|$)")
_EDITORIAL = re.compile(r"^\*\[.*\]\*$", re.S)
_NOTE_IN_TEXT = re.compile(r"\n*^\*\[[^\n]*\]\*$\n*", re.M)
_LOWER_ROMAN = re.compile(r"^[ivxl]+$")
_UPPER_ROMAN = re.compile(r"^[IVXL]+$")


@dataclass
class _Para:
    """A blank-line separated paragraph of statutory text, with its outline level (0 = plain text,
    1 = paragraph (1), 2 = subparagraph (A), 3 = clause (i), 4 = subclause (I), 5 = item (aa))."""

    text: str
    start: int
    end: int
    marker: str = ""
    level: int = 0


@dataclass
class _Unit:
    """A section's body or one of its subsections, with what cites it."""

    number: str
    heading: str
    sub: str  # "" for a section's own body, else "a", "b" ...
    sub_heading: str
    path: list[str]
    start: int  # where the cited text begins (the subsection's "(b) Heading" line, or the body)
    paras: list[_Para]
    notes: list[str]


def parse(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """Sections and subsections of a U.S. Code chapter in Markdown."""
    text = raw.text
    doc_title, title_no, units = _read_units(text)
    blocks: list[Block] = []
    for u in units:
        if u.paras:
            _mark_levels(u.paras)
            blocks.extend(_unit_blocks(u, title_no, text))
    info = with_defaults(info, title=doc_title or raw.path.stem, kind="law")
    chunks = _finish_meta(build_chunks(blocks, info, raw.sha256), blocks)
    warnings = list(raw.warnings)
    if not units:
        warnings.append(f"{raw.path}: no '## {title_no} U.S.C. § N. Heading' sections found")
    return ParsedDocument(info, text, chunks, raw.sha256, warnings)


def _read_units(text: str) -> tuple[str, str, list[_Unit]]:
    """The document title, the Code title number and the sections/subsections with their paragraphs.
    `#` headings are the chapter title, then subchapters and parts; other headings are not cited."""
    title_no = "19"
    doc_title = ""
    path: dict[str, str] = {}
    units: list[_Unit] = []
    unit: _Unit | None = None
    section: tuple[str, str] | None = None
    for para in _paragraphs(text):
        h = _HEADING.match(para.text) if "\n" not in para.text else None
        if h:
            level, head = len(h.group(1)), h.group(2).strip()
            if level == 1:
                if not doc_title:
                    doc_title = head
                    if m := re.search(r"(\d+)\s+U\.S\.C\.", head):
                        title_no = m.group(1)
                elif head.upper().startswith("SUBCHAPTER"):
                    path = {"subchapter": _dash(head)}
                elif head.lower().startswith("part"):
                    path = {**{k: v for k, v in path.items() if k == "subchapter"}, "part": _dash(head)}
                else:
                    path = {"heading": _dash(head)}
                unit = None
                continue
            if level == 2 and (m := _SECTION.match(head)):
                title_no = m.group(1) or title_no
                section = (m.group(2), m.group(3).strip())
                unit = _Unit(section[0], section[1], "", "", list(path.values()), -1, [], [])
                units.append(unit)
                continue
            if level >= 3 and section and (m := _SUBSECTION.match(head)):
                start = para.start + para.text.index(head)
                unit = _Unit(
                    section[0], section[1], m.group(1), m.group(2).strip(), list(path.values()), start, [], []
                )
                units.append(unit)
                continue
            continue  # another heading level: not part of the statutory text
        if unit is None or para.text.startswith(">"):
            continue  # front matter and provenance notes
        if _EDITORIAL.match(para.text):
            unit.notes.append(para.text.strip("*[] "))
            continue
        if unit.start < 0:
            unit.start = para.start
        unit.paras.append(para)

    return doc_title, title_no, units


def section_numbers(parsed: ParsedDocument) -> list[str]:
    """The section numbers present, in document order (for checks and listings)."""
    return list(dict.fromkeys(c.meta["key"] for c in parsed.chunks if c.meta.get("key")))


def _paragraphs(text: str) -> list[_Para]:
    """Blank-line separated paragraphs with offsets; a heading line is always its own paragraph."""
    out: list[_Para] = []
    start: int | None = None
    end = pos = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        line_end = pos + len(line.rstrip("\r\n"))
        if not stripped or _HEADING.match(stripped):
            if start is not None:
                out.append(_Para(text[start:end], start, end))
                start = None
            if stripped:
                lead = len(line) - len(line.lstrip())
                out.append(_Para(stripped, pos + lead, pos + lead + len(stripped)))
        else:
            if start is None:
                start = pos + len(line) - len(line.lstrip())
            end = line_end
        pos += len(line)
    if start is not None:
        out.append(_Para(text[start:end], start, end))
    return out


def _mark_levels(paras: list[_Para]) -> None:
    """Outline level of each paragraph from its marker. "(I)" right after "(H)" is a letter, not a
    roman numeral; likewise "(V)" after "(U)" and "(X)" after "(W)"."""
    last_upper = ""
    for p in paras:
        m = _MARKER.match(p.text)
        if not m:
            continue
        mk = m.group(1)
        p.marker = mk
        if mk.isdigit():
            p.level = 1
        elif mk.isupper():
            letter_next = len(mk) == 1 and last_upper and ord(mk) == ord(last_upper) + 1
            if _UPPER_ROMAN.match(mk) and not letter_next:
                p.level = 4
            else:
                p.level, last_upper = 2, mk
        elif _LOWER_ROMAN.match(mk):
            p.level = 3
        else:
            p.level = 5


def _unit_blocks(u: _Unit, title_no: str, text: str) -> list[Block]:
    section_label = f"{title_no} U.S.C. § {u.number}"
    label = section_label + (f"({u.sub})" if u.sub else "")
    sec_path = [*u.path, f"§ {u.number}. {u.heading}"] + ([f"({u.sub}) {u.sub_heading}"] if u.sub else [])
    meta = {"key": u.number, "section": u.number, "section_title": u.heading, "title": title_no}
    if u.sub:
        meta.update(subsection=f"({u.sub})", subsection_title=u.sub_heading)
    if u.path:
        meta["path"] = list(u.path)
    if u.notes:
        meta["notes"] = list(u.notes)
    end = u.paras[-1].end
    if word_count(text[u.start : end]) <= MAX_WORDS:
        return [
            _block(
                text,
                u.start,
                end,
                " > ".join(sec_path),
                label,
                meta,
                group=section_label,
                group_label=section_label,
            )
        ]
    return _split(text, u.paras, u.start, label, meta, " > ".join(sec_path), level=1)


def _split(
    text: str, paras: list[_Para], start: int, label: str, meta: dict, section: str, level: int
) -> list[Block]:
    """Cut a too-long unit at its outline markers of the next level; recurse where still too long.
    The pieces of one unit share a group, so small neighbours merge back under the unit's label."""
    cut_level = min((p.level for p in paras if p.level >= level), default=0)
    cuts = [i for i, p in enumerate(paras) if p.level == cut_level] if cut_level else []
    if not cuts:
        return [_block(text, start, paras[-1].end, section, label, meta, group=label, group_label=label)]
    out: list[Block] = []
    # A lead-in that is only a heading ("(4) Actions by Secretary of Labor") travels with the first
    # marked paragraph instead of becoming a passage of its own.
    short_lead = cuts[0] > 0 and word_count(text[start : paras[cuts[0] - 1].end]) < 20
    if cuts[0] > 0 and not short_lead:  # the lead-in before the first marker
        out.append(
            _block(text, start, paras[cuts[0] - 1].end, section, label, meta, group=label, group_label=label)
        )
    for k, i in enumerate(cuts):
        child = paras[i : cuts[k + 1] if k + 1 < len(cuts) else len(paras)]
        c_start = start if k == 0 and (cuts[0] == 0 or short_lead) else child[0].start  # keeps the heading
        child_label = f"{label}({child[0].marker})"
        child_meta = {**meta, "paragraph": _outline(child_label)}
        if word_count(text[c_start : child[-1].end]) <= MAX_WORDS:
            out.append(
                _block(
                    text,
                    c_start,
                    child[-1].end,
                    section,
                    child_label,
                    child_meta,
                    group=label,
                    group_label=label,
                )
            )
        else:
            out.extend(_split(text, child, c_start, child_label, child_meta, section, cut_level + 1))
    return out


def _outline(label: str) -> str:
    """ "19 U.S.C. § 4611(b)(1)" -> "(b)(1)"."""
    i = label.find("(")
    return label[i:] if i >= 0 else ""


def _block(
    text: str, start: int, end: int, section: str, label: str, meta: dict, *, group: str, group_label: str
) -> Block:
    passage = _NOTE_IN_TEXT.sub("\n\n", text[start:end])  # an editor's note is not statutory text
    return Block(
        passage,
        start,
        end,
        section=section,
        label=label,
        meta=dict(meta),
        group=group,
        group_label=group_label,
    )


def _finish_meta(chunks: list[Chunk], blocks: list[Block]) -> list[Chunk]:
    """A chunk merged from several subsections or paragraphs lists them instead of naming one."""
    by_label = {b.label: b.meta for b in blocks}
    out = []
    for c in chunks:
        labels = c.meta.get("labels")
        if not labels or len(labels) < 2:
            meta = {k: v for k, v in c.meta.items() if k != "labels"}
            out.append(dataclasses.replace(c, meta=meta) if "labels" in c.meta else c)
            continue
        metas = [by_label.get(lb, {}) for lb in labels]
        meta = {
            k: v
            for k, v in c.meta.items()
            if k not in ("labels", "paragraph", "subsection", "subsection_title")
        }
        subs = list(dict.fromkeys(m["subsection"] for m in metas if m.get("subsection")))
        paras = list(dict.fromkeys(m["paragraph"] for m in metas if m.get("paragraph")))
        if len(subs) == 1:
            meta["subsection"] = subs[0]
            meta["subsection_title"] = metas[0].get("subsection_title", "")
        elif subs:
            meta["subsections"] = subs
        if paras:
            meta["paragraphs"] = paras
        meta["cites"] = labels
        out.append(dataclasses.replace(c, meta=meta))
    return out


def _dash(heading: str) -> str:
    """ "SUBCHAPTER V— TRANSITION ..." -> "SUBCHAPTER V — TRANSITION ..."."""
    return re.sub(r"\s*—\s*", " — ", heading).strip()
