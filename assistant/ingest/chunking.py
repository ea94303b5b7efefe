"""Turn a parser's structural blocks into chunks sized for both retrievers.

MiniLM reads at most 256 word pieces (about 180 words): text past that is invisible to the dense
side. So a block longer than `max_words` is split at sentence boundaries into overlapping windows,
and short neighbouring blocks of the same group (a lead-in and its bullet list, the paragraphs of
one short article) are merged so that a passage is not a lone fragment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.domain import Chunk, chunk_id
from assistant.ingest.base import DocumentInfo
from assistant.textutil import footnote_marks, split_sentences, word_count

MAX_WORDS = 150
MERGE_WORDS = 130


@dataclass
class Block:
    text: str
    start: int
    end: int
    section: str = ""
    label: str = ""
    page: int | None = None
    footnotes: tuple[int, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    keep_whole: bool = False  # tables: never split, never merged
    group: str = ""  # blocks with the same non-empty group may be merged
    group_label: str = ""  # label of a merged chunk (defaults to the first block's label)


def build_chunks(
    blocks: list[Block],
    info: DocumentInfo,
    doc_hash: str,
    *,
    max_words: int = MAX_WORDS,
    merge_words: int = MERGE_WORDS,
    context: str | None = None,
) -> list[Chunk]:
    """Merge small blocks, split big ones, and number the result deterministically."""
    pieces: list[Block] = []
    for block in _merge_small(blocks, merge_words):
        if block.keep_whole or word_count(block.text) <= max_words:
            pieces.append(block)
        else:
            pieces.extend(_split_long(block, max_words))

    chunks = []
    for position, b in enumerate(pieces):
        ctx = context if context is not None else _default_context(info, b)
        chunks.append(
            Chunk(
                id=chunk_id(doc_hash, position, b.text),
                document_id=info.id,
                title=info.title,
                kind=info.kind,
                text=b.text,
                position=position,
                start=b.start,
                end=b.end,
                section=b.section,
                label=b.label,
                page=b.page,
                footnotes=tuple(sorted(set(b.footnotes))),
                url=info.url,
                context=ctx,
                meta=b.meta,
            )
        )
    return chunks


def _default_context(info: DocumentInfo, b: Block) -> str:
    parts = [info.title]
    if b.label and b.label not in info.title:
        parts.append(b.label)
    if b.section and b.section not in b.label:
        parts.append(b.section)
    return " — ".join(p for p in parts if p)


def _merge_small(blocks: list[Block], merge_words: int) -> list[Block]:
    out: list[Block] = []
    for b in blocks:
        prev = out[-1] if out else None
        if (
            prev is not None
            and b.group
            and prev.group == b.group
            and not prev.keep_whole
            and not b.keep_whole
            and word_count(prev.text) + word_count(b.text) <= merge_words
        ):
            merged_meta = _merge_meta(prev.meta, b.meta)
            labels = merged_meta.setdefault("labels", [prev.label] if prev.label else [])
            if b.label and b.label not in labels:
                labels.append(b.label)
            out[-1] = Block(
                text=prev.text + "\n" + b.text,
                start=prev.start,
                end=b.end,
                section=prev.section,
                label=prev.group_label or prev.label,
                page=prev.page,
                footnotes=prev.footnotes + b.footnotes,
                meta=merged_meta,
                group=prev.group,
                group_label=prev.group_label,
            )
        else:
            out.append(b)
    return out


def _merge_meta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Lists are combined (cross-references of both blocks); differing single values are dropped
    because they no longer describe the merged passage."""
    out: dict[str, Any] = {}
    for k in dict.fromkeys([*a, *b]):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, list) or isinstance(vb, list):
            out[k] = list(dict.fromkeys([*(va or []), *(vb or [])]))
        elif k not in b or k not in a or va == vb:
            out[k] = va if k in a else vb
    return out


def _split_long(block: Block, max_words: int) -> list[Block]:
    """Sentence windows of at most `max_words`, each overlapping the previous by one sentence."""
    spans = split_sentences(block.text)
    if len(spans) <= 1:
        return _split_words(block, max_words)
    windows: list[tuple[int, int]] = []  # indexes into spans, inclusive
    i = 0
    while i < len(spans):
        j = i
        total = word_count(block.text[spans[i][0] : spans[i][1]])
        while j + 1 < len(spans):
            nxt = word_count(block.text[spans[j + 1][0] : spans[j + 1][1]])
            if total + nxt > max_words:
                break
            total += nxt
            j += 1
        windows.append((i, j))
        if j + 1 >= len(spans):
            break
        i = j if j > i else j + 1  # overlap one sentence unless a single sentence fills the window
    out = []
    for a, b in windows:
        s, e = spans[a][0], spans[b][1]
        text = block.text[s:e]
        out.append(_sub_block(block, text, s, e))
    return out


def _split_words(block: Block, max_words: int) -> list[Block]:
    tokens = block.text.split(" ")
    out, pos = [], 0
    step = max(1, max_words - 20)
    for i in range(0, len(tokens), step):
        text = " ".join(tokens[i : i + max_words])
        s = block.text.find(text[:30], pos) if text else pos
        s = max(s, 0)
        out.append(_sub_block(block, text, s, s + len(text)))
        pos = s
        if i + max_words >= len(tokens):
            break
    return out


def _sub_block(block: Block, text: str, s: int, e: int) -> Block:
    # Offsets of a piece are proportional inside the block's source span: exact when the block's
    # text is a contiguous copy of the source, the enclosing span otherwise.
    if block.end - block.start == len(block.text):
        start, end = block.start + s, block.start + e
    else:
        start, end = block.start, block.end
    return Block(
        text=text,
        start=start,
        end=end,
        section=block.section,
        label=block.label,
        page=block.page,
        footnotes=tuple(n for n in block.footnotes if _cites(text, n)) or block.footnotes,
        meta=dict(block.meta),
    )


def _cites(text: str, n: int) -> bool:
    return n in footnote_marks(text)
