"""Tariff schedules published as one HTML table (USMCA Annex 2-B, Tariff Schedule of Canada).

A tariff question names a tariff item ("what is Canada's rate on 2709.00.00?"), so every tariff line
is its own chunk, found by `meta["key"]`. Its text is the row as it reads plus one self-contained
sentence, so that the dense retriever can match the description and the answer can quote the rate
without the table around it. The columns are read from the table's header, not assumed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from assistant.ingest.base import DocumentInfo, ParsedDocument, RawDocument, schedule_party
from assistant.ingest.chunking import Block, build_chunks
from assistant.ingest.html import (
    Element,
    extract,
    main_content,
    make_soup,
    page_title,
    table_blocks,
    with_defaults,
)
from assistant.ingest.nomenclature import hs_names

_ITEM = re.compile(r"^\d{4}\.\d{2}(?:\.\d{2}){0,2}$")
_GENERIC = re.compile(r"^(?:other\b[\s:;,.-]*)+$", re.I)
_DASHES = re.compile(r"^((?:[-–—]\s*)+)")
_PARTIES = ("Canada", "Mexico", "United States")
# Question forms: "0101.21.00", "0101.21", "0101.2100"; bare digits only as 6, 8 or 10 digits.
_DOTTED = re.compile(r"(?<![\d.])(\d{4})\.(\d{2})(?:\.?(\d{2}))?(?:\.?(\d{2}))?(?![\d])")
_BARE = re.compile(r"(?<![\d.,])(\d{4})(\d{2})(\d{2})?(\d{2})?(?![\d,])")

# The row already carries the whole description; the sentence repeats only its start, so that a
# line with a 200-word description still fits the embedding model's window.
_SENTENCE_DESC_WORDS = 30
_PARTY_NAMES = {"United States": "the United States"}
# What the rate codes of Annex 2-B mean (Annex 2-B, paragraphs 2 and 3 of the chapter text).
_RATE_MEANING = {
    "0": "duty-free from the date of entry into force of the Agreement",
    "*": "marked with an asterisk: the tariff treatment set out in Appendix 1 to the Schedule applies",
}


@dataclass
class _Columns:
    item: int
    description: int | None = None
    base_rate: int | None = None
    staging: int | None = None
    parties: dict[str, int] = field(default_factory=dict)  # party -> column of its rate
    names: tuple[str, ...] = ()


def normalize_tariff_item(s: str) -> str | None:
    """The first tariff item or subheading named in `s`, dotted: "0101.21.00" from "0101.21.00",
    "01012100" or "0101.2100"; "0101.21" from "0101.21" or "010121". Years, money and 4-digit
    headings are not tariff items; 10-digit statistical numbers give their 8-digit tariff item."""
    for pattern in (_DOTTED, _BARE):
        for m in pattern.finditer(s):
            heading, sub, item = m.group(1), m.group(2), m.group(3)
            if not 1 <= int(heading[:2]) <= 97:
                continue
            return f"{heading}.{sub}.{item}" if item else f"{heading}.{sub}"
    return None


def parse(raw: RawDocument, info: DocumentInfo) -> ParsedDocument:
    """One chunk per tariff line of every table that has a tariff-item column."""
    soup = make_soup(raw.text)
    title = page_title(soup)
    doc = extract(main_content(soup))
    info = with_defaults(info, title=title or raw.path.stem, kind="tariff")
    schedule = schedule_party(f"{title} {info.title}")
    blocks: list[Block] = []
    warnings = list(raw.warnings)
    for el in doc.elements:
        if el.kind != "table":
            continue
        cols = _columns(el)
        if cols is None:
            blocks.extend(table_blocks(doc.text, el, section=title, label=el.caption or title))
            continue
        blocks.extend(_line_blocks(el, cols, schedule))
    if not any(b.meta.get("tariff_item") for b in blocks):
        warnings.append(f"{raw.path}: no table with tariff item numbers found")
    chunks = build_chunks(blocks, info, raw.sha256)
    for i, c in enumerate(chunks):
        if names := hs_names(c.meta.get("tariff_item", "")):
            chunks[i] = replace(c, meta={**c.meta, "search_only": names})
    return ParsedDocument(info, doc.text, chunks, raw.sha256, warnings)


def _columns(table: Element) -> _Columns | None:
    """Which column holds what, from the header row; the item column is also recognised by content."""
    header = tuple(c.lower() for c in table.rows[0]) if table.header_rows else ()
    body = table.rows[table.header_rows :]
    if not body:
        return None
    width = max(len(r) for r in body)
    item_col = next(
        (i for i, h in enumerate(header) if "tariff" in h or "hs code" in h or "heading" in h), None
    )
    if item_col is None or not _mostly_items(body, item_col):
        item_col = next((i for i in range(width) if _mostly_items(body, i)), None)
    if item_col is None:
        return None
    cols = _Columns(item_col, names=tuple(table.rows[0]) if table.header_rows else ())
    for i, h in enumerate(header):
        if i == item_col:
            continue
        if "description" in h:
            cols.description = i
        elif "base" in h:
            cols.base_rate = i
        elif "staging" in h:
            cols.staging = i
        else:
            party = next(
                (p for p in _PARTIES if p.lower() in h or (p == "United States" and "u.s." in h)), None
            )
            if party:
                cols.parties[party] = i
    if cols.description is None and width > item_col + 1:
        cols.description = item_col + 1
    return cols


def _mostly_items(rows: tuple[tuple[str, ...], ...], col: int) -> bool:
    values = [r[col] for r in rows if len(r) > col and r[col]]
    return bool(values) and sum(1 for v in values if _ITEM.match(v)) >= 0.5 * len(values)


def _cell(row: tuple[str, ...], col: int | None) -> str:
    return row[col] if col is not None and col < len(row) else ""


def _line_blocks(table: Element, cols: _Columns, schedule: str) -> list[Block]:
    """Blocks of the tariff lines; rows without an item number are headings of the lines below."""
    headings: list[str] = []  # description of the heading rows, by indent depth
    siblings: dict[str, list[str]] = {}  # item-number prefix -> specific descriptions seen so far
    out: list[Block] = []
    for row, (start, end) in zip(
        table.rows[table.header_rows :], table.row_spans[table.header_rows :], strict=True
    ):
        item = _cell(row, cols.item)
        raw_desc = _cell(row, cols.description)
        dash = _DASHES.match(raw_desc)
        depth = dash.group(1).count("-") + dash.group(1).count("–") + dash.group(1).count("—") if dash else 0
        own = raw_desc[dash.end() :].strip() if dash else raw_desc
        if not _ITEM.match(item):
            if own:
                headings[depth:] = [own]
            continue
        full, excluded = _resolve(item, own, headings[:depth], siblings)
        if not _GENERIC.match(own):
            for prefix in {item[:7], item[:6], item[:4]}:
                siblings.setdefault(prefix, []).append(own)
        rates = {p: _cell(row, c) for p, c in cols.parties.items()}
        base = _cell(row, cols.base_rate) or None
        staging = _cell(row, cols.staging) or None
        row_text = " ".join(c for c in row if c)
        sentence = _sentence(schedule, item, full, rates, base, staging)
        searched = f"{row_text}\n{_sentence(schedule, item, own, rates, base, staging)}" if excluded else None
        label = f"USMCA Annex 2-B ({schedule}) tariff item {item}" if schedule else f"Tariff item {item}"
        meta = {
            "key": item,
            "tariff_item": item,
            "description": own,
            "description_full": full,
            "base_rate": base,
            "staging": staging,
            "rates": rates,
            "schedule": schedule,
            "hs_heading": item[:4],
            "hs_subheading": item[:7],
            "columns": list(cols.names),
        }
        if searched:
            meta["searched_as"] = searched
        section = f"Tariff Schedule of {schedule}" if schedule else "Tariff schedule"
        out.append(
            Block(
                f"{row_text}\n{sentence}",
                start,
                end,
                section=f"{section}, heading {item[:4]}",
                label=label,
                meta=meta,
                keep_whole=True,
            )
        )
    return out


def _resolve(item: str, own: str, parents: list[str], siblings: dict[str, list[str]]) -> tuple[str, bool]:
    """A line whose own text is only "Other" gets its context: the heading rows above it when the
    table has them, else the specific lines it is the residue of (same subheading, then heading).
    Returns the description and whether it names those lines ("Other (other than: Oranges; ...)"):
    such a line is searched without them (`meta["searched_as"]`), since a question naming oranges
    asks for the oranges line, not for the line that excludes them. The Harmonized System's own
    names (`meta["search_only"]`) keep their exclusions ("Horses; live, other than pure-bred
    breeding animals"): where such a clause ends is not marked, so it is left as written."""
    if not _GENERIC.match(own):
        return own, False
    if parents:
        return ": ".join([*(p.rstrip(" .:;") for p in parents), own]), False
    prefixes = [item[:6], item[:4]] if item.endswith(".00") else [item[:7], item[:6], item[:4]]
    for prefix in prefixes:
        sibs = list(dict.fromkeys(siblings.get(prefix, [])))
        if sibs:
            shown = "; ".join(s if len(s) <= 80 else s[:77] + "..." for s in sibs[:4])
            more = "; ..." if len(sibs) > 4 else ""
            return f"{own} (other than: {shown}{more})", True
    return own, False


def _sentence(
    schedule: str, item: str, description: str, rates: dict[str, str], base: str | None, staging: str | None
) -> str:
    where = (
        f"Under {schedule}'s USMCA tariff schedule (Annex 2-B)"
        if schedule
        else "Under this USMCA tariff schedule"
    )
    words = description.rstrip(".").split()
    short = (
        " ".join(words)
        if len(words) <= _SENTENCE_DESC_WORDS
        else " ".join(words[:_SENTENCE_DESC_WORDS]) + " …"
    )
    parts = [f"{where}, tariff item {item} ({short})"]
    facts = []
    if base:
        facts.append(f"a base rate of {base}")
    if staging:
        facts.append(f"staging category {staging}")
    values = set(rates.values())
    if rates and len(values) == 1:
        value = next(iter(values))
        facts.append(
            f"the rate {value}{_meaning(value)} for originating goods of {_and([_name(p) for p in rates])}"
        )
    else:
        facts += [f"the rate {v}{_meaning(v)} for originating goods of {_name(p)}" for p, v in rates.items()]
    parts.append(" has " + _and(facts) if facts else " is listed")
    return "".join(parts) + "."


def _name(party: str) -> str:
    return _PARTY_NAMES.get(party, party)


def _meaning(value: str) -> str:
    meaning = _RATE_MEANING.get(value)
    return f" ({meaning})" if meaning else ""


def _and(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
