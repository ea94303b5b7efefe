"""Citations: from a retrieved chunk and the sentences quoted from it to a `Citation` a person checks.

A brief passage that cites footnotes carries the footnotes' sources (title, URL); when the cited
source is itself indexed, the citation also offers that source's best-matching passage.
"""

from __future__ import annotations

import re

from assistant.domain import Chunk, Citation, SourceRef
from assistant.index.store import Snapshot
from assistant.textutil import footnote_marks


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
        location=chunk.location,
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


class MarkerMapper:
    """Rewrites an LLM's passage ids ("[P3]", "[P1, P4]", "[2]") into answer citation numbers while
    the text streams in: passages are numbered 1..n in order of first citation, and a marker
    naming no passage of the prompt is dropped. Text that may be the start of a marker is held back
    until it is complete, so every piece handed out is final."""

    _MARKER = re.compile(r"\[\s*P?\s*\d+(?:\s*[,;]\s*P?\s*\d+)*\s*\]", re.I)
    _PARTIAL = re.compile(r"\[[\sPp\d,;]*$")

    def __init__(self, n_passages: int):
        self.n_passages = n_passages
        self.numbers: dict[int, int] = {}  # prompt passage (1-based) -> citation number
        self.dropped: list[str] = []
        self._pending = ""

    def feed(self, piece: str) -> str:
        text = self._pending + piece
        partial = self._PARTIAL.search(text)
        if partial and len(text) - partial.start() <= 24:
            text, self._pending = text[: partial.start()], text[partial.start():]
        else:
            self._pending = ""
        return self._MARKER.sub(self._replace, text)

    def flush(self) -> str:
        """The held-back end of the text; an unfinished marker ("... [P") is dropped."""
        text, self._pending = self._pending, ""
        return "" if self._PARTIAL.fullmatch(text) else self._MARKER.sub(self._replace, text)

    def _replace(self, m: re.Match[str]) -> str:
        out = []
        for raw in re.findall(r"\d+", m.group(0)):
            p = int(raw)
            if not 1 <= p <= self.n_passages:
                self.dropped.append(f"P{p}")
                continue
            out.append(self.numbers.setdefault(p, len(self.numbers) + 1))
        return "".join(f"[{n}]" for n in dict.fromkeys(out))


def cited_sources(chunk: Chunk, snap: Snapshot) -> str:
    """The sources a passage's footnotes cite, as one line ("13: Fact Sheet ..., USTR, 2024")."""
    refs = [snap.sources[n] for n in chunk.footnotes if n in snap.sources]
    return "; ".join(f"{r.footnote}: {' '.join(r.text.split())}" for r in refs)
