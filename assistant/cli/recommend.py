"""`recommend [TOPIC]`: the brief's recommendations, all or on one topic, one cited line each — the
same lines as the chat's answer (`assistant.answer.recommend_line.render_line`), with every line."""

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
        str | None,
        typer.Argument(help="A topic or mechanism (energy, labor, rules of origin ...); all if omitted"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """What the brief recommends, one line each: what, why and the mechanism it uses, cited."""
    from assistant.answer import recommend as rec
    from assistant.answer.recommend_subject import subject_analysis
    from assistant.answer.verify import verify
    from assistant.index.store import IndexReader

    settings = get_settings()
    snap = IndexReader(settings.index_dir).snapshot()
    if snap.empty:
        err.print("[red]error:[/] the index is empty; run `usmca-assistant index` first")
        raise typer.Exit(EXIT_PARTIAL)
    analysis = subject_analysis(topic or "all")
    draft = rec.draft_answer(analysis, snap, _lazy_embed(settings), every=True)
    answer = rec.finish_answer(
        draft, [verify(line, draft.chunks, verbatim=True) for line in draft.texts], snap
    )
    selected = [] if answer.abstained else draft.match.selected
    if as_json:
        payload = {
            "topic": topic or "all",
            "answer": answer.text,
            "abstained": answer.abstained,
            "not_covered": answer.not_covered,
            "citations": [c.to_dict() for c in answer.citations],
            "recommendations": [_record(r, snap) for r in selected],
        }
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        return
    console.print(escape(answer.text), highlight=False, soft_wrap=True)
    if answer.citations:
        console.print()
        for c in answer.citations:
            console.print(f"[dim]\\[{c.number}][/] {escape(c.location)}", highlight=False, soft_wrap=True)


def _record(r, snap) -> dict:
    """A record as `--json` shows it: its fields, its one line (numbered by its own passages) and
    its passages with their document and URL."""
    from assistant.answer.recommend_line import by_passage, one_line, render_line

    d = r.to_dict()
    d["line"] = render_line(one_line(r, snap), by_passage(r))
    for c in d["citations"]:
        chunk = snap.chunks.get(c["chunk_id"])
        c["url"] = chunk.url if chunk is not None else ""
        c["document_id"] = chunk.document_id if chunk is not None else ""
    return d


def _lazy_embed(settings):
    """The embedding model, loaded only if a topic's words match no recommendation."""
    model = []

    def embed(texts: list[str]):
        import numpy as np

        from assistant.index.embeddings import get_embedder

        if not model:
            model.append(get_embedder(settings.embedding_model, settings.embedding_batch_size))
        return np.vstack([model[0].embed_query(t) for t in texts])

    return embed
