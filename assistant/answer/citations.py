"""Citations: from a retrieved chunk and the sentences quoted from it to a `Citation` a person checks.

A brief passage that cites footnotes carries the footnotes' sources (title, URL); when the cited
source is itself indexed, the citation also offers that source's best-matching passage.
"""

from __future__ import annotations

from assistant.domain import Chunk, Citation, SourceRef
from assistant.textutil import footnote_marks


def location(chunk: Chunk) -> str:
    """The label a negotiator pastes into a memo: "USMCA Art. 2.4", "19 U.S.C. § 4611(b)", ..."""
    if chunk.label:
        return chunk.label
    parts = [chunk.section] if chunk.section else []
    if chunk.page:
        parts.append(f"p. {chunk.page}")
    return ", ".join(parts) or chunk.title


def build_citation(
    number: int, chunk: Chunk, quote_sentences: list[str], sources: dict[int, SourceRef]
) -> Citation:
    quote = " ".join(quote_sentences).strip() or chunk.text
    cited = footnote_marks(quote) or list(chunk.footnotes)
    refs = [sources[n] for n in dict.fromkeys(cited) if n in sources]
    return Citation(
        number=number,
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        title=chunk.title,
        kind=chunk.kind,
        location=location(chunk),
        quote=quote,
        passage=chunk.text,
        url=_url(chunk, refs),
        page=chunk.page,
        section=chunk.section,
        footnotes=refs,
    )


def _url(chunk: Chunk, refs: list[SourceRef]) -> str:
    """The document's own URL, else the URL of the first source the passage cites."""
    return chunk.url or (refs[0].url if refs else "")
