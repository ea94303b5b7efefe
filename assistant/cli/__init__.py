"""`usmca-assistant`: the command-line contract other tools rely on.

Each command lives in its own module and registers itself on the shared Typer app.
"""

from assistant.cli import ask, corpus, doctor, evaluate, index, recommend  # noqa: F401 - registers the commands
from assistant.cli.common import app


def main() -> None:  # pragma: no cover - console entry point
    app()
