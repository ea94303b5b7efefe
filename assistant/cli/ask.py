"""`ask`: one question, a cited answer (text or the JSON contract), optionally in a conversation.

`ask` starts a conversation of this index; `ask --continue` asks the next turn of the last one (a
follow-up such as "and for Canada?" is understood against it), `ask --new` clears it. The
conversation is kept in the index folder (`conversation.json`, written atomically): each turn's
question, the standalone question it was understood as, and the answer.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from assistant.cli.common import (
    EXIT_PARTIAL,
    EXIT_USAGE,
    app,
    console,
    err,
    quiet_third_party,
)
from assistant.settings import get_settings

CONVERSATION_FILE = "conversation.json"
MAX_STORED_TURNS = 20  # older turns are dropped: a follow-up only needs the recent ones
RELATED_SHOWN = 3


def conversation_path(index_dir: Path) -> Path:
    return Path(index_dir) / CONVERSATION_FILE


def load_conversation(index_dir: Path) -> list[dict[str, Any]]:
    """The stored turns of the last conversation ([] when none, or unreadable)."""
    path = conversation_path(index_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as e:
        err.print(f"[yellow]warning:[/] ignoring the stored conversation {escape(str(path))}: {escape(str(e))}")
        return []
    turns = data.get("turns") if isinstance(data, dict) else None
    return [t for t in turns or [] if isinstance(t, dict) and isinstance(t.get("question"), str)]


def save_conversation(index_dir: Path, turns: list[dict[str, Any]]) -> None:
    """Write the conversation atomically (a crash leaves the old file or the new one, never half)."""
    from assistant.index.store import atomic_write_text

    body = {"version": 1, "turns": turns[-MAX_STORED_TURNS:]}
    atomic_write_text(conversation_path(index_dir), json.dumps(body, ensure_ascii=False, indent=1) + "\n")


def clear_conversation(index_dir: Path) -> None:
    conversation_path(index_dir).unlink(missing_ok=True)


def history_of(turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (role, text) history the pipeline reads: each user turn, the question it was understood
    as, and the answer."""
    out: list[tuple[str, str]] = []
    for t in turns:
        out.append(("user", t["question"]))
        if t.get("understood"):
            out.append(("understood", t["understood"]))
        out.append(("assistant", t.get("answer", "")))
    return out


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="The question")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    k: Annotated[int | None, typer.Option(help="Passages to retrieve")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Restrict to document kinds")] = None,
    document: Annotated[list[str] | None, typer.Option(help="Restrict to document ids")] = None,
    backend: Annotated[
        str | None, typer.Option(help="Answer backend: extractive (default), ollama, openai, llamacpp")
    ] = None,
    detail: Annotated[bool, typer.Option("--detail", help="The longer answer instead of the short one")] = False,
    cont: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue the last conversation of this index (follow-ups)")
    ] = False,
    new: Annotated[bool, typer.Option("--new", help="Clear the stored conversation (and start a new one)")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show third-party progress and logs")] = False,
) -> None:
    """Answer a question with citations (or say the documents do not answer it).

    Without --continue the question starts a new conversation; --continue asks it as the next turn
    of the last one, so "and for Canada?" is understood against the previous question."""
    quiet_third_party(verbose)
    settings = get_settings()
    if cont and new:
        err.print("[red]error:[/] --continue and --new exclude each other")
        raise typer.Exit(EXIT_USAGE)
    if new and not (question or "").strip():
        clear_conversation(settings.index_dir)
        err.print("conversation cleared")
        return
    if not (question or "").strip():
        err.print("[red]error:[/] empty question")
        raise typer.Exit(EXIT_USAGE)
    assert question is not None
    from assistant.index.query_encoder import query_embedder
    from assistant.index.vectors import VectorStoreUnavailable
    from assistant.pipeline import Assistant

    # one short question needs no torch: the packaged model's forward pass in numpy (same vector)
    assistant = Assistant(settings, embedder=query_embedder(settings.embedding_model, settings.embedding_batch_size))
    if assistant.reader.snapshot().empty:
        err.print("[red]error:[/] the index is empty; run `usmca-assistant index` first")
        raise typer.Exit(EXIT_PARTIAL)
    turns = load_conversation(settings.index_dir) if cont else []
    try:
        answer = assistant.ask(
            question, history=history_of(turns) or None, k=k, kinds=set(kind or []) or None,
            documents=set(document or []) or None, backend=backend, detail=detail,
        )
    except VectorStoreUnavailable as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(EXIT_USAGE) from e
    turns.append({
        "question": answer.question,
        "understood": answer.standalone_question or answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "asked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    try:
        save_conversation(settings.index_dir, turns)
    except OSError as e:  # a read-only index still answers
        answer.warnings.append(f"could not store the conversation in {settings.index_dir}: {e}")
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), ensure_ascii=False, indent=2) + "\n")
        return
    _print_answer(answer)


def _print_answer(answer: Any) -> None:
    if answer.standalone_question and answer.standalone_question != answer.question:
        console.print(f"[dim]Understood as: {escape(answer.standalone_question)}[/]", highlight=False)
    text = answer.text
    covered_line = ""
    if answer.not_covered:
        marker = "\n\nNot covered by the indexed documents:"
        text, _, _ = text.partition(marker)
        covered_line = "; ".join(answer.not_covered)
    console.print(escape(text.strip()), highlight=False)
    if covered_line:
        console.print(f"\n[bold]Not covered by the documents:[/] {escape(covered_line)}", highlight=False)
    if answer.abstained and answer.retrieved:
        console.print("\n[bold]Related passages (not an answer):[/]")
        for sc in answer.retrieved[:RELATED_SHOWN]:
            snippet = " ".join(sc.chunk.text.split())
            snippet = snippet if len(snippet) <= 240 else snippet[:240].rsplit(" ", 1)[0] + " …"
            console.print(f"- {escape(sc.chunk.label or sc.chunk.title)}: {escape(snippet)}", highlight=False)
    for c in answer.citations:
        console.print(f"\n[bold][{c.number}][/] {escape(c.title)} — {escape(c.location)}", highlight=False)
        console.print(f"    “{escape(c.quote)}”", highlight=False)
        if c.url:
            console.print(f"    {escape(c.url)}", highlight=False)
        for ref in c.footnotes:
            console.print(f"    footnote {ref.footnote}: {escape(ref.title or ref.text[:120])} {escape(ref.url)}",
                          highlight=False)
    for w in answer.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
