"""`usmca-assistant`: the command-line contract other tools rely on.

Exit codes: 0 success; 1 partial failure (some files failed, the rest were indexed); 2 usage error;
3 the index is busy (another writer holds the lock).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assistant.settings import get_settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="USMCA Review Assistant")
corpus_app = typer.Typer(no_args_is_help=True, help="Get the registry's documents (download or mirror).")
app.add_typer(corpus_app, name="corpus")
console = Console()
err = Console(stderr=True)

EXIT_PARTIAL, EXIT_USAGE, EXIT_BUSY = 1, 2, 3


class RichProgress:
    """Adapts the indexer's progress callbacks to a Rich progress bar."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task = None

    def stage(self, name: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total or 0)
        self.task = self.progress.add_task(name, total=max(total, 1))

    def advance(self, n: int = 1) -> None:
        if self.task is not None:
            self.progress.advance(self.task, n)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


@app.command()
def index(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the corpus folders)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing")] = False,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and build it again")] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for another writer to finish")] = 0.0,
) -> None:
    """Index new and changed documents; drop removed ones (incremental, crash-safe)."""
    from assistant.index.indexer import IndexBusy, Indexer

    settings = get_settings()
    for p in paths or []:
        if not p.exists():
            err.print(f"[red]error:[/] {escape(str(p))}: no such file or folder")
            raise typer.Exit(EXIT_USAGE)
    if dry_run:
        plan = Indexer(settings).plan(paths or None)
        table = Table("action", "document", "path")
        for t in plan.tasks:
            if t.action != "unchanged":
                table.add_row(t.action, escape(t.doc_id), escape(str(t.path)))
        for d in plan.remove:
            table.add_row("remove", escape(d), "")
        for path, reason in plan.errors.items():
            table.add_row("error", "", escape(f"{path}: {reason}"))
        console.print(table)
        console.print(plan.summary())
        return
    with _progress() as progress:
        indexer = Indexer(settings, RichProgress(progress))
        try:
            report = indexer.run(paths or None, rebuild=rebuild, lock_timeout=wait)
        except IndexBusy as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(EXIT_BUSY) from e
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    for path, reason in report.errors.items():
        err.print(f"[red]error:[/] {escape(path)}: {escape(reason)}")
    s = report.plan.summary()
    console.print(
        f"indexed {len(report.indexed)} document(s), removed {len(report.removed)}, unchanged {s['unchanged']}, "
        f"failed {len(report.errors)}; {report.chunks_total} passages "
        f"({report.chunks_embedded} embedded) in {report.seconds['total']:.1f}s"
    )
    if report.errors:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    k: Annotated[int | None, typer.Option(help="Passages to retrieve")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Restrict to document kinds")] = None,
    document: Annotated[list[str] | None, typer.Option(help="Restrict to document ids")] = None,
) -> None:
    """Answer a question with citations (or say the documents do not answer it)."""
    from assistant.pipeline import Assistant

    if not question.strip():
        err.print("[red]error:[/] empty question")
        raise typer.Exit(EXIT_USAGE)
    assistant = Assistant(get_settings())
    if assistant.reader.snapshot().empty:
        err.print("[red]error:[/] the index is empty; run `usmca-assistant index` first")
        raise typer.Exit(EXIT_PARTIAL)
    answer = assistant.ask(question, k=k, kinds=set(kind or []) or None, documents=set(document or []) or None)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), ensure_ascii=False, indent=2) + "\n")
        return
    console.print(escape(answer.text), highlight=False)
    if answer.abstained and answer.retrieved:
        console.print("\n[bold]Closest passages:[/]")
        for sc in answer.retrieved[:3]:
            console.print(f"- {escape(sc.chunk.label or sc.chunk.title)}: {escape(sc.chunk.text[:200])}…")
    for c in answer.citations:
        console.print(f"\n[bold][{c.number}][/] {escape(c.title)} — {escape(c.location)}")
        console.print(f"    “{escape(c.quote)}”", highlight=False)
        if c.url:
            console.print(f"    {escape(c.url)}")
        for ref in c.footnotes:
            console.print(f"    footnote {ref.footnote}: {escape(ref.title or ref.text[:120])} {escape(ref.url)}")
    for w in answer.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")


@app.command()
def sources(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
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
        sys.stdout.write(json.dumps(docs, ensure_ascii=False, indent=2) + "\n")
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
) -> None:
    """Download registry documents that are not local yet, or copy them from a mirror."""
    from assistant.ingest.fetch import fetch_documents
    from assistant.ingest.registry import load_registry

    settings = get_settings()
    if mirror is not None and not mirror.is_dir():
        err.print(f"[red]error:[/] mirror folder {escape(str(mirror))} does not exist")
        raise typer.Exit(EXIT_USAGE)
    registry = load_registry(settings.registry_file)
    dest = Path(settings.corpus_dirs[0])
    with _progress() as progress:
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
        )
    table = Table("document", "status", "detail")
    failed = 0
    for r in results:
        failed += r.status == "failed"
        colour = {"failed": "red", "copied": "green", "downloaded": "green"}.get(r.status, "")
        status = f"[{colour}]{r.status}[/]" if colour else r.status
        table.add_row(escape(r.document_id), status, escape(r.reason or str(r.path or "")))
    console.print(table)
    if failed and mirror is None:
        raise typer.Exit(EXIT_PARTIAL)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
