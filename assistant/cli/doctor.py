"""`doctor`: check that the manifest, the BM25/doc-store generation, the stored texts and Chroma
agree, and repair drift (`--repair`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from assistant.cli.common import EXIT_BUSY, EXIT_PARTIAL, app, console, err
from assistant.settings import get_settings


@app.command()
def doctor(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what is found (takes the write lock)")] = False,
    wait: Annotated[float, typer.Option(help="With --repair: seconds to wait for another writer")] = 0.0,
) -> None:
    """Consistency check of the index. Exit status: 0 healthy, 1 problems remain, 3 busy."""
    from assistant.index.indexer import IndexBusy, Indexer
    from assistant.index.vectors import VectorStoreUnavailable

    indexer = Indexer(get_settings())
    if repair:
        try:
            health = indexer.repair(lock_timeout=wait)
        except IndexBusy as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(EXIT_BUSY) from e
        except VectorStoreUnavailable as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(EXIT_PARTIAL) from e
        for note in health.repaired:
            console.print(f"[green]repaired:[/] {escape(note)}")
    else:
        health = indexer.check()
    stats = ", ".join(f"{k} {v}" for k, v in health.stats.items())
    console.print(f"index {escape(str(indexer.index_dir))}: {stats or 'empty'}")
    if health.problems:
        table = Table("severity", "problem", "detail", "--repair does")
        for p in health.problems:
            colour = "red" if p.severity == "error" else "yellow"
            table.add_row(f"[{colour}]{p.severity}[/]", p.code, escape(p.detail), escape(p.fix))
        console.print(table)
    if health.ok:
        console.print("[green]healthy[/]" + (" (warnings above)" if health.problems else ""))
        return
    if not repair:
        console.print("run `usmca-assistant doctor --repair` to fix the errors above")
    raise typer.Exit(EXIT_PARTIAL)
