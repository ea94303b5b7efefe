"""`index`: incremental, crash-safe indexing of the corpus folders or given paths."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assistant.cli.common import (
    EXIT_BUSY,
    EXIT_PARTIAL,
    EXIT_USAGE,
    RichProgress,
    app,
    console,
    err,
    progress_bar,
)
from assistant.settings import get_settings


@app.command()
def index(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files or folders (default: the corpus folders)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan, change nothing")] = False,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Parse and embed everything again (the old index answers until done)")
    ] = False,
    wait: Annotated[float, typer.Option(help="Seconds to wait for another writer to finish (default: fail at once)")] = 0.0,
) -> None:
    """Index new and changed documents; drop removed ones (incremental, crash-safe).

    The index mirrors what it is given: without PATHs, the corpus folders; with PATHs, documents
    whose file lay under a given folder (or was a given file) and is gone are removed, and
    documents elsewhere are left alone.

    Exit status: 0 done, 1 some files failed (the rest were indexed), 2 usage error,
    3 another process is writing the index."""
    from assistant.index.indexer import IndexBusy, Indexer
    from assistant.index.vectors import VectorStoreUnavailable

    settings = get_settings()
    for p in paths or []:
        if not p.exists():
            err.print(f"[red]error:[/] {escape(str(p))}: no such file or folder")
            raise typer.Exit(EXIT_USAGE)
    if wait < 0:
        err.print("[red]error:[/] --wait must be zero or more seconds")
        raise typer.Exit(EXIT_USAGE)
    if dry_run:
        _show_plan(Indexer(settings).plan(paths or None, rebuild=rebuild))
        return
    with progress_bar() as progress:
        indexer = Indexer(settings, RichProgress(progress))
        try:
            report = indexer.run(paths or None, rebuild=rebuild, lock_timeout=wait)
        except IndexBusy as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(EXIT_BUSY) from e
        except VectorStoreUnavailable as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(EXIT_USAGE) from e
    for note in report.recovered:
        err.print(f"[cyan]note:[/] {escape(note)}")
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    for path, reason in report.errors.items():
        err.print(f"[red]error:[/] {escape(path)}: {escape(reason)}")
    s = report.plan.summary()
    reused = f", {report.chunks_reused} kept their vectors" if report.chunks_reused else ""
    multilingual = (f", {report.chunks_embedded_multilingual} by the multilingual model"
                    if report.chunks_embedded_multilingual != report.chunks_embedded else "")
    console.print(
        f"indexed {len(report.indexed)} document(s), removed {len(report.removed)}, unchanged {s['unchanged']}, "
        f"failed {len(report.errors)}; {report.chunks_total} passages "
        f"({report.chunks_embedded} embedded{multilingual}{reused}) in {report.seconds['total']:.1f}s"
    )
    if report.errors:
        raise typer.Exit(EXIT_PARTIAL)


def _show_plan(plan) -> None:
    table = Table("action", "document", "path", "detail")
    for t in plan.tasks:
        if t.action == "unchanged":
            continue
        detail = f"was {t.replaces}" if t.replaces else (f"same content as {t.same_as}" if t.same_as else "")
        table.add_row(t.action, escape(t.doc_id), escape(str(t.path)), escape(detail))
    for d in plan.remove:
        table.add_row("remove", escape(d), "", "")
    for path, reason in plan.errors.items():
        table.add_row("error", "", escape(path), escape(reason))
    console.print(table)
    console.print(" ".join(f"{k}={v}" for k, v in plan.summary().items()))
