"""One entry point from a file on disk to a `ParsedDocument`: load, pick the parser, parse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from assistant.ingest.base import DocumentInfo, IngestError, ParsedDocument, RawDocument
from assistant.ingest.brief import parse_brief
from assistant.ingest.loaders import load
from assistant.ingest.markdown import parse_markdown, parse_text

Parser = Callable[[RawDocument, DocumentInfo], ParsedDocument]


def _parsers() -> dict[str, Parser]:
    from assistant.ingest import detect

    table: dict[str, Parser] = dict(detect.PARSERS)
    table.update({"brief": parse_brief, "markdown": parse_markdown, "text": parse_text, "pdf": parse_text})
    return table


def choose_parser(raw: RawDocument, info: DocumentInfo) -> str:
    from assistant.ingest import detect

    return detect.choose_parser(raw, info)


def parse_file(
    path: Path, info: DocumentInfo, *, max_bytes: int, max_pages: int, max_chunks: int
) -> ParsedDocument:
    """Raises IngestError (naming the file) for anything that cannot become chunks."""
    raw = load(path, max_bytes=max_bytes, max_pages=max_pages)
    name = choose_parser(raw, info)
    parser = _parsers().get(name)
    if parser is None:
        raise IngestError(path, f"no parser named '{name}'")
    try:
        parsed = parser(raw, info)
    except IngestError:
        raise
    except Exception as e:  # noqa: BLE001 - a parser bug on one file must not stop the corpus
        raise IngestError(path, f"could not parse as {name} ({type(e).__name__}: {e})") from e
    if not parsed.chunks:
        raise IngestError(path, "no text passages found")
    if len(parsed.chunks) > max_chunks:
        raise IngestError(
            path, f"{len(parsed.chunks)} passages exceed the limit of {max_chunks} (ASSISTANT_MAX_CHUNKS_PER_DOCUMENT)"
        )
    parsed.info.parser = parsed.info.parser or name
    return parsed
