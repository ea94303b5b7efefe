"""`recommend`: the brief's recommendations, all or on one topic, each with its cited passages."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.markup import escape

from assistant.cli.common import EXIT_PARTIAL, app, console, err
from assistant.settings import get_settings


@app.command()
def recommend(
    topic: Annotated[
        str | None, typer.Argument(help="A topic or mechanism (energy, labor, rules of origin ...); all if omitted")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Summarize what the brief recommends, with the passages that state and argue each point."""
    from assistant.answer.recommend import recommendations_for
    from assistant.index.store import IndexReader

    snap = IndexReader(get_settings().index_dir).snapshot()
    if snap.empty:
        err.print("[red]error:[/] the index is empty; run `usmca-assistant index` first")
        raise typer.Exit(EXIT_PARTIAL)
    recs = recommendations_for(topic or "", snap)
    if as_json:
        payload = {"topic": topic or "all", "recommendations": [_with_urls(r.to_dict(), snap) for r in recs]}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    if not recs:
        console.print(f"The brief makes no recommendation on {escape(topic or 'any topic')}.")
        return
    heading = f"on {topic}" if topic else "(all)"
    console.print(f"[bold]The brief's recommendations {escape(heading)}[/]: {len(recs)}\n")
    for n, r in enumerate(recs, start=1):
        where = " + ".join(r.sources)
        console.print(f"[bold]{n}. {escape(r.title)}[/]  [dim]({escape(where)})[/]", highlight=False)
        if r.topics or r.mechanisms:
            console.print(
                f"   topics: {escape(', '.join(r.topics) or '-')}; mechanisms: {escape(', '.join(r.mechanisms) or '-')}",
                highlight=False,
            )
        for p in r.passages:
            console.print(f"   {escape('[' + p.role + ']')} {escape(p.location)}", highlight=False)
            console.print(f"      “{escape(_one_line(p.quote))}”", highlight=False)
        console.print()


def _with_urls(d: dict, snap) -> dict:
    for c in d["citations"]:
        chunk = snap.chunks.get(c["chunk_id"])
        c["url"] = chunk.url if chunk is not None else ""
        c["document_id"] = chunk.document_id if chunk is not None else ""
    return d


def _one_line(text: str) -> str:
    return " ".join(text.split())
