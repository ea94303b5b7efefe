"""Shared pieces of the command line: the Typer apps, consoles, exit codes, progress bars, and
quiet third-party output.

Importing this module (and every command module) stays cheap: torch, sentence-transformers,
Chroma, LangChain and Streamlit are imported inside the commands that use them, so `--help`,
`sources` or `doctor` never pay for the model.
"""

from __future__ import annotations

import logging
import os

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(add_completion=False, no_args_is_help=True, help="USMCA Review Assistant")

# Libraries that print progress bars or chatter on stderr while loading ("Loading weights ...").
_NOISY_LOGGERS = ("transformers", "sentence_transformers", "huggingface_hub", "chromadb", "httpx", "urllib3")
_QUIET_ENV = {
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TQDM_DISABLE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def quiet_third_party(verbose: bool = False) -> None:
    """Keep third-party progress bars and info logs off stderr unless `verbose`. Must run before
    the libraries are imported (they read the environment once); our own warnings still print."""
    if verbose:
        for key, value in _QUIET_ENV.items():
            if os.environ.get(key) == value:
                del os.environ[key]
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


@app.callback()
def _options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show third-party progress bars and logs"),
) -> None:
    """USMCA Review Assistant: cited answers from the brief, the USMCA text and the U.S. law."""
    quiet_third_party(verbose)

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
