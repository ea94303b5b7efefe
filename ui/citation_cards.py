"""Citations a person can check: one card per `[n]` under an answer.

A card gives the document and kind, the precise location (brief section and page, treaty article,
U.S. Code section), the passage with the quoted sentences in bold, the brief footnote's original
source with its link, linked passages, the verifier's support badge, and a "view in document"
panel with the passage in its surrounding text. Everything from a document goes through
`ui.safety` before Streamlit sees it. The plain functions (spans, context, support) are unit-tested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from assistant.domain import Answer, Citation, ScoredChunk, SentenceSupport
from assistant.index.store import Snapshot, read_text
from assistant.textutil import collapse, sentences, superscript
from ui.safety import md_escape, md_highlight, md_link

CONTEXT_CHARS = 1500  # shown on each side of a passage in "view in document"
KIND_LABELS = {
    "brief": "Quincy brief",
    "treaty": "USMCA text",
    "tariff": "tariff schedule",
    "law": "U.S. law",
    "source": "cited source",
    "user": "uploaded document",
}


# -- plain functions ---------------------------------------------------------------------------
def find_span(text: str, fragment: str, start: int = 0) -> tuple[int, int] | None:
    """Where `fragment` occurs in `text`, tolerant of differences in whitespace."""
    fragment = fragment.strip()
    if not fragment:
        return None
    i = text.find(fragment, start)
    if i >= 0:
        return i, i + len(fragment)
    words = fragment.split()
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.compile(pattern).search(text, start)
    return (m.start(), m.end()) if m else None


def quote_spans(passage: str, quote: str) -> list[tuple[int, int]]:
    """The spans of `passage` that the quote consists of (its sentences, found one by one so a
    quote of two non-adjacent sentences highlights both)."""
    whole = find_span(passage, quote)
    if whole:
        return [whole]
    spans = []
    for sentence in sentences(quote) or [quote]:
        span = find_span(passage, sentence)
        if span:
            spans.append(span)
    return spans


@dataclass(frozen=True)
class Table:
    """A passage that is a table (tab-separated rows, as the parsers keep figures and tables)."""

    before: str  # title lines
    header: list[str]
    rows: list[list[str]]
    after: str  # units, source lines

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.header, row, strict=True)) for row in self.rows]


def split_table(text: str) -> Table | None:
    lines = text.split("\n")
    idx = [i for i, line in enumerate(lines) if "\t" in line]
    if len(idx) < 2 or idx != list(range(idx[0], idx[-1] + 1)):
        return None
    cells = [lines[i].split("\t") for i in idx]
    width = max(len(r) for r in cells)
    header = [""] * (width - len(cells[0])) + [c.strip() for c in cells[0]]  # no label over the row names
    seen: dict[str, int] = {}
    unique = []
    for h in header:
        seen[h] = seen.get(h, 0) + 1
        unique.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    rows = [[c.strip() for c in r] + [""] * (width - len(r)) for r in cells[1:]]
    return Table("\n".join(lines[: idx[0]]), unique, rows, "\n".join(lines[idx[-1] + 1 :]))


_SUP_TAG = re.compile(r"<sup>\s*(\d+)\s*</sup>", re.I)
_MD_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$|<>])")
_MD_HEADING = re.compile(r"(?m)^#{1,6}\s+")


def readable(source: str) -> str:
    """A document's stored source text as a reader sees it: Markdown sources (the brief) keep their
    `<sup>n</sup>` footnote marks and backslash escapes, shown here as ¹ and plain characters.
    This only ever removes markup; the result is still escaped before display."""
    text = _SUP_TAG.sub(lambda m: superscript(int(m.group(1))), source)
    text = _MD_ESCAPED.sub(r"\1", text)
    return _MD_HEADING.sub("", text)


@dataclass(frozen=True)
class DocumentContext:
    text: str  # a window of the document's text around the passage
    passage: tuple[int, int]  # the passage's span inside `text`
    starts_at_beginning: bool
    ends_at_end: bool


def document_context(index_dir: Path, snap: Snapshot, chunk_id: str, chars: int = CONTEXT_CHARS) -> DocumentContext | None:
    """The passage in its surrounding text, cut at line breaks near `chars` on each side. None when
    the chunk or the document's text is no longer in the index (removed since the answer)."""
    chunk = snap.chunks.get(chunk_id)
    if chunk is None:
        return None
    doc = snap.documents.get(chunk.document_id)
    if not doc:
        return None
    full = read_text(index_dir, doc.get("sha256", ""))
    if full is None:
        return None
    # texts are stored under their content hash, so a chunk's offsets always refer to this text;
    # a parser that reformats a passage (tables) still points at its source span
    start, end = chunk.start, chunk.end
    if not (0 <= start < end <= len(full)):
        span = find_span(full, chunk.text)
        if span is None:
            return None
        start, end = span
    lo = max(0, start - chars)
    hi = min(len(full), end + chars)
    if lo > 0:
        nl = full.find("\n", lo, start)
        lo = nl + 1 if nl >= 0 else lo
    if hi < len(full):
        nl = full.rfind("\n", end, hi)
        hi = nl if nl >= 0 else hi
    show = readable if str(doc.get("path", "")).lower().endswith((".md", ".markdown")) else str
    before, passage, after = show(full[lo:start]), show(full[start:end]), show(full[end:hi])
    return DocumentContext(before + passage + after, (len(before), len(before) + len(passage)), lo == 0,
                           hi == len(full))


@dataclass(frozen=True)
class Support:
    status: str  # supported | weak | unchecked
    score: float | None
    reasons: tuple[str, ...] = ()


def citation_support(number: int, support: list[SentenceSupport]) -> Support:
    """The verifier's verdict on the answer sentences that cite `number`: supported only when all
    of them are; "unchecked" when the verifier did not judge any."""
    judged = [s for s in support if number in s.citations]
    if not judged:
        return Support("unchecked", None)
    worst = min(s.score for s in judged)
    if all(s.supported for s in judged):
        return Support("supported", worst)
    return Support("weak", worst, tuple(s.reason for s in judged if not s.supported and s.reason))


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind or "document")


# -- rendering ---------------------------------------------------------------------------------
def _badge(sup: Support) -> None:
    if sup.status == "supported":
        st.badge(f"supported ({sup.score:.2f})", icon=":material/check_circle:", color="green")
    elif sup.status == "weak":
        st.badge(f"weak support ({sup.score:.2f})", icon=":material/warning:", color="orange")
    else:
        st.badge("not verified", icon=":material/help:", color="gray")


def render_citation(c: Citation, support: list[SentenceSupport] | None, snap: Snapshot, index_dir: Path, key: str,
                    *, nested: bool = False) -> None:
    """One card. `support` is the verifier's verdicts on the answer (None: not an answer, no badge).
    `nested=True` inside an expander, where Streamlit forbids another expander: the document view
    then opens with a toggle."""
    with st.container(border=True):
        head, badge = st.columns([5, 1])
        head.markdown(f"**\\[{c.number}\\] {md_escape(c.title)}**  \n{md_escape(kind_label(c.kind))} · {md_escape(c.location)}")
        sup = citation_support(c.number, support or [])
        if support is not None:
            with badge:
                _badge(sup)
        details = []
        if c.section and c.section not in c.location:
            details.append(f"Section: {md_escape(c.section)}")
        if c.page and f"p. {c.page}" not in c.location:
            details.append(f"Page {c.page}")
        if details:
            st.caption(" · ".join(details))
        _render_passage(c.passage, c.quote)
        for reason in sup.reasons:
            st.caption(f"Verifier: {md_escape(reason)}")
        for ref in c.footnotes:
            source = ", ".join(x for x in (ref.title, ref.author, ref.publisher, ref.date) if x) or ref.text
            where = f" ({md_escape(ref.page if not ref.page.isdigit() else 'p. ' + ref.page)})" if ref.page else ""
            link = f" · {md_link(ref.url, ref.url)}" if ref.url else ""
            indexed = " · indexed" if ref.document_id else ""
            st.markdown(f"Brief footnote {ref.footnote}: {md_escape(source)}{where}{link}{indexed}")
        if c.url and all(c.url != ref.url for ref in c.footnotes):
            st.markdown(f"Source: {md_link(c.url, c.url)}")
        for rel in c.related:
            label = rel.get("location") or rel.get("label") or rel.get("title") or rel.get("document_id") or ""
            text = rel.get("quote") or rel.get("text") or ""
            line = f"Related: **{md_escape(label)}**" if label else "Related:"
            if text:
                line += f" — {md_escape(collapse(text))}"
            if rel.get("url"):
                line += f" · {md_link(rel['url'], rel['url'])}"
            st.markdown(line)
        if nested:
            if st.toggle("View in document", key=f"view-{key}"):
                _render_context(c, snap, index_dir)
        else:
            with st.expander("View in document"):
                _render_context(c, snap, index_dir)


def _render_passage(passage: str, quote: str) -> None:
    table = split_table(passage)
    if table is None:
        st.markdown(md_highlight(passage, quote_spans(passage, quote)))
        return
    if table.before.strip():
        st.markdown(f"**{md_escape(table.before.strip())}**")
    st.dataframe(table.records(), hide_index=True, width="stretch")
    if table.after.strip():
        st.caption(md_highlight(table.after.strip(), []))
    if collapse(quote) != collapse(passage):
        st.caption(f"Quoted: {md_escape(collapse(quote))}")


def _render_context(c: Citation, snap: Snapshot, index_dir: Path) -> None:
    ctx = document_context(index_dir, snap, c.chunk_id)
    if ctx is None:
        st.info("The document's text is no longer in the index (it was removed or changed since this answer).")
        return
    st.caption(f"{md_escape(c.title)}: the cited passage in bold, with the text around it.")
    if not ctx.starts_at_beginning:
        st.markdown("…")
    st.markdown(md_highlight(ctx.text, [ctx.passage]))
    if not ctx.ends_at_end:
        st.markdown("…")


def render_nearest(retrieved: list[ScoredChunk], limit: int = 3) -> None:
    """For an abstention: the passages that came closest, so the user can judge for themselves."""
    if not retrieved:
        return
    st.markdown("**Related passages (not an answer)**")
    for sc in retrieved[:limit]:
        ch = sc.chunk
        with st.container(border=True):
            st.markdown(f"**{md_escape(ch.title)}** · {md_escape(kind_label(ch.kind))} · {md_escape(ch.label or ch.section)}")
            text = ch.text if len(ch.text) <= 700 else ch.text[:700].rsplit(" ", 1)[0] + " …"
            st.markdown(md_escape(text))


def render_details(answer: Answer, question: str, snap: Snapshot, index_dir: Path, key: str) -> None:
    """Everything under the answer text: who answered, warnings, cards (on a refusal, the nearest
    passages as related reading). What the question was understood as is shown above the answer."""
    facts = [f"Answered by **{md_escape(answer.backend)}**"]
    if answer.timings_ms.get("total"):
        facts.append(f"{answer.timings_ms['total'] / 1000:.1f} s")
    st.caption(" · ".join(facts))
    for w in answer.warnings:
        st.warning(md_escape(w), icon=":material/warning:")
    unsupported = [s for s in answer.support if not s.supported]
    if unsupported:
        st.warning(
            "The verifier could not confirm these sentences against their passages:  \n"
            + "  \n".join(f"- {md_escape(s.sentence)}" for s in unsupported),
            icon=":material/report:",
        )
    if answer.abstained:
        render_nearest(answer.retrieved)
        return
    for c in answer.citations:
        render_citation(c, answer.support, snap, index_dir, key=f"{key}-{c.number}")
