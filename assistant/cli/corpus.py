"""`sources` and `corpus fetch`: what is indexed, and getting the registry's documents."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from assistant.cli.common import (
    EXIT_PARTIAL,
    EXIT_USAGE,
    RichProgress,
    app,
    console,
    corpus_app,
    err,
    progress_bar,
)
from assistant.settings import get_settings


@app.command()
def sources(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    footnotes_only: Annotated[
        bool, typer.Option("--footnotes", help="List the brief's footnote sources (indexed or reference only)")
    ] = False,
) -> None:
    """List indexed documents (and the brief's footnote sources with their indexed status)."""
    from assistant.index.store import IndexReader

    snap = IndexReader(get_settings().index_dir).snapshot()
    docs = [
        {
            "document_id": d["id"],
            "title": d.get("title", ""),
            "kind": d.get("kind", ""),
            "path": d.get("path", ""),
            "chunks": d.get("chunks", 0),
            "indexed_at": d.get("indexed_at", ""),
            "url": d.get("url", ""),
            "cited_by_footnotes": d.get("footnotes", []),
        }
        for d in sorted(snap.documents.values(), key=lambda d: (d.get("kind", ""), d["id"]))
    ]
    footnotes = [
        {
            "footnote": s.footnote,
            "title": s.title,
            "publisher": s.publisher,
            "url": s.url,
            "status": "indexed" if s.document_id else "reference only",
            "document_id": s.document_id,
        }
        for s in sorted(snap.sources.values(), key=lambda s: s.footnote)
    ]
    if as_json:
        sys.stdout.write(json.dumps(footnotes if footnotes_only else docs, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table("document", "kind", "passages", "indexed at", "title")
    for d in docs:
        table.add_row(escape(d["document_id"]), d["kind"], str(d["chunks"]), d["indexed_at"], escape(d["title"]))
    console.print(table)
    if footnotes:
        ft = Table("fn", "status", "source", "url")
        for f in footnotes:
            ft.add_row(str(f["footnote"]), f["status"], escape(f["title"] or ""), escape(f["url"] or ""))
        console.print(ft)


@corpus_app.command("fetch")
def corpus_fetch(
    mirror: Annotated[Path | None, typer.Option(help="Copy from this local folder instead of downloading")] = None,
    only: Annotated[list[str] | None, typer.Option(help="Only these document ids")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per request")] = 30.0,
    retries: Annotated[int, typer.Option(help="Retries on timeouts and server errors")] = 3,
    offline_ok: Annotated[
        bool,
        typer.Option(
            "--offline-ok",
            help="When no connection can be made, say so in one line, try nothing more and exit 0 (make run)",
        ),
    ] = False,
) -> None:
    """Download registry documents that are not local yet, or copy them from a mirror.

    A USMCA chapter comes from the Government of Canada's consolidated page, or from the USTR PDF
    when that page cannot be fetched."""
    from assistant.ingest.fetch import OFFLINE, fetch_documents
    from assistant.ingest.registry import load_registry

    settings = get_settings()
    if mirror is not None and not mirror.is_dir():
        err.print(f"[red]error:[/] mirror folder {escape(str(mirror))} does not exist")
        raise typer.Exit(EXIT_USAGE)
    registry = load_registry(settings.registry_file)
    dest = Path(settings.corpus_dirs[0])
    # transient: the table (or the offline line) below is the lasting record
    quiet = not err.is_terminal
    with Progress(*progress_bar().columns, console=err, transient=True, disable=quiet) as progress:
        bar = RichProgress(progress)
        bar.stage("Fetching", len(registry.documents))
        results = fetch_documents(
            registry,
            dest,
            mirror=mirror,
            only=only,
            timeout=timeout,
            retries=retries,
            max_bytes=int(settings.max_file_mb * 1024 * 1024),
            progress=lambda *_: bar.advance(),
            stop_when_offline=offline_ok and mirror is None,
        )
    offline = [r for r in results if r.status == OFFLINE]
    if offline and not any(r.status in ("downloaded", "copied") for r in results):
        # nothing reached: one line, and what is already here is used
        missing = [r for r in results if r.status == OFFLINE or r.unreachable]
        host = urlsplit(next(r for r in results if r.unreachable).url).hostname or "the document sites"
        console.print(
            f"corpus fetch: offline (no connection to {escape(host)}); "
            f"{len(missing)} document(s) not fetched, using the ones already here",
            soft_wrap=True,
        )
        return
    table = Table("document", "status", "detail")
    failed = 0
    skipped = [r for r in results if r.status in ("skipped", OFFLINE)]
    for r in results:
        failed += r.status == "failed" and not (offline and r.unreachable)
        if r.status in ("skipped", OFFLINE):
            continue
        colour = {"failed": "red", "copied": "green", "downloaded": "green"}.get(r.status, "")
        status = f"[{colour}]{r.status}[/]" if colour else r.status
        detail = r.reason or str(r.path or "")
        if r.status == "downloaded" and r.reason:  # a fallback source served it
            detail = f"{r.path} from {r.url} (before: {r.reason})"
        table.add_row(escape(r.document_id), status, escape(detail))
    console.print(table)
    if skipped:
        console.print(
            f"{len(skipped)} registry document(s) skipped: not in the mirror or not downloadable "
            "(run without --mirror when online to download them)"
        )
    if failed and mirror is None:
        raise typer.Exit(EXIT_PARTIAL)


