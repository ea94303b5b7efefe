"""`ask`: one question, a cited answer (text or the JSON contract)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from assistant.cli.common import (
    EXIT_PARTIAL,
    EXIT_USAGE,
    app,
    console,
    err,
)
from assistant.settings import get_settings


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    k: Annotated[int | None, typer.Option(help="Passages to retrieve")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Restrict to document kinds")] = None,
    document: Annotated[list[str] | None, typer.Option(help="Restrict to document ids")] = None,
    backend: Annotated[
        str | None, typer.Option(help="Answer backend: extractive (default), ollama, openai, llamacpp")
    ] = None,
) -> None:
    """Answer a question with citations (or say the documents do not answer it)."""
    from assistant.index.vectors import VectorStoreUnavailable
    from assistant.pipeline import Assistant

    if not question.strip():
        err.print("[red]error:[/] empty question")
        raise typer.Exit(EXIT_USAGE)
    assistant = Assistant(get_settings())
    if assistant.reader.snapshot().empty:
        err.print("[red]error:[/] the index is empty; run `usmca-assistant index` first")
        raise typer.Exit(EXIT_PARTIAL)
    try:
        answer = assistant.ask(
            question, k=k, kinds=set(kind or []) or None, documents=set(document or []) or None, backend=backend
        )
    except VectorStoreUnavailable as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(EXIT_USAGE) from e
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), ensure_ascii=False, indent=2) + "\n")
        return
    console.print(escape(answer.text), highlight=False)
    if answer.standalone_question and answer.standalone_question != answer.question:
        console.print(f"[dim]searched: {escape(answer.standalone_question)}[/]")
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


