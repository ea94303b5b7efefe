"""Shared pieces of the command line: the Typer apps, consoles, exit codes, progress bars."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(add_completion=False, no_args_is_help=True, help="USMCA Review Assistant")
corpus_app = typer.Typer(no_args_is_help=True, help="Get the registry's documents (download or mirror).")
app.add_typer(corpus_app, name="corpus")
console = Console()
err = Console(stderr=True)

# Exit codes: 0 success; 1 partial failure (some files failed, the rest were indexed);
# 2 usage error; 3 the index is busy (another writer holds the lock).
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


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
