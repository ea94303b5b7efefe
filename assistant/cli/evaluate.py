"""`eval`: run a question file through the assistant and write metrics and a report.

One run per `--retriever` (repeat the option to compare retrievers side by side). A question with a
`history` is played as a conversation and only its last turn is scored. Malformed lines of
the question file are reported by line number and skipped; a question that raises is recorded with
its error and the run goes on. Exit code 0 when every question was answered, 1 when some raised
(their errors are in results.jsonl and the report), 2 on a usage error.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from assistant.cli.common import EXIT_PARTIAL, EXIT_USAGE, app, console, err, progress_bar
from assistant.settings import get_settings


class RetrieverName(StrEnum):
    hybrid = "hybrid"
    dense = "dense"
    bm25 = "bm25"
    naive = "naive"


def load_other_run(path: Path) -> Any:
    """A run to compare against: a summary.json file or a run folder holding one."""
    from assistant.evaluate.report import RunData
    from assistant.evaluate.run import load_run

    if path.is_dir():
        run = load_run(path)
        folder = path
    else:
        summary = json.loads(path.read_text(encoding="utf-8"))
        folder = path.parent
        run = load_run(folder) if (folder / "summary.json") == path else RunData(summary)
    if not isinstance(run.summary, dict) or "hit_at_1" not in run.summary:
        raise ValueError("not an evaluation summary (no 'hit_at_1' key)")
    retriever = (run.summary.get("meta") or {}).get("retriever") or "run"
    folder = folder.resolve()
    where = folder.parent.name if folder.name == retriever else folder.name
    run.label = f"{retriever} @ {where or folder}"
    return run


def _summary_table(summaries: dict[str, dict[str, Any]]) -> Table:
    from assistant.evaluate.metrics import METRIC_KEYS
    from assistant.evaluate.report import METRIC_LABELS, format_metric

    table = Table("metric", *summaries, title="Evaluation")
    for key in METRIC_KEYS:
        table.add_row(METRIC_LABELS[key], *(format_metric(key, s.get(key)) for s in summaries.values()))
    if any(s.get("n_followups") for s in summaries.values()):
        table.add_row("follow-ups", *(format_metric("n", s.get("n_followups")) for s in summaries.values()))
        for key in ("hit_at_5", "must_mention"):
            values = ((s.get("by_turn") or {}).get("followup", {}).get(key) for s in summaries.values())
            table.add_row(f"{METRIC_LABELS[key]} (follow-ups)", *(format_metric(key, v) for v in values))
    return table


def _difference_table(name: str, summary: dict[str, Any], other: Any) -> Table:
    from assistant.evaluate.report import METRIC_LABELS, compare, format_difference, format_metric

    table = Table("metric", name, other.name, "difference", title=f"{name} vs {other.name}")
    for r in compare(summary, other.summary):
        table.add_row(
            METRIC_LABELS[r.metric],
            format_metric(r.metric, r.this),
            format_metric(r.metric, r.other),
            format_difference(r.metric, r.difference),
        )
    return table


@app.command("eval")
def evaluate(
    questions_file: Annotated[
        Path, typer.Argument(metavar="QUESTIONS.jsonl", help="Question file (JSON Lines; format in docs/evaluation.md)")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for summary.json, results and the report")],
    retriever: Annotated[
        list[RetrieverName] | None,
        typer.Option("--retriever", help="Retriever to evaluate; repeat to compare several (default hybrid)"),
    ] = None,
    k: Annotated[int | None, typer.Option(help="Passages retrieved per question (default: each retriever's)")] = None,
    backend: Annotated[str | None, typer.Option(help="Answer backend (default: ASSISTANT_ANSWER_BACKEND)")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions of the file")] = None,
    compare: Annotated[
        Path | None, typer.Option("--compare", help="Another run's summary.json (or folder) to show differences to")
    ] = None,
) -> None:
    """Evaluate retrieval and answers on a question file; write metrics and a report."""
    from assistant.evaluate.questions import load_questions

    if not questions_file.is_file():
        err.print(f"[red]error:[/] question file {escape(str(questions_file))} does not exist")
        raise typer.Exit(EXIT_USAGE)
    if k is not None and k < 1:
        err.print("[red]error:[/] --k must be at least 1")
        raise typer.Exit(EXIT_USAGE)
    if limit is not None and limit < 1:
        err.print("[red]error:[/] --limit must be at least 1")
        raise typer.Exit(EXIT_USAGE)
    others = []
    if compare is not None:
        try:
            others.append(load_other_run(compare))
        except (OSError, ValueError) as e:
            err.print(f"[red]error:[/] cannot read --compare {escape(str(compare))}: {escape(str(e))}")
            raise typer.Exit(EXIT_USAGE) from e

    questions, line_errors = load_questions(questions_file)
    for e in line_errors:
        err.print(
            f"[yellow]warning:[/] line {e.line}: {escape(e.reason)} (skipped; {escape(str(questions_file))})",
            soft_wrap=True,
        )
    if limit:
        questions = questions[:limit]
    if not questions:
        err.print("[red]error:[/] no valid question in the file")
        raise typer.Exit(EXIT_USAGE)

    from assistant.evaluate.batch import evaluate_retrievers
    from assistant.pipeline import Assistant

    names = [r.value for r in (retriever or [RetrieverName.hybrid])]
    assistant = Assistant(get_settings())
    if assistant.reader.snapshot().empty:
        err.print("[red]error:[/] the index is empty; run `usmca-assistant index` first")
        raise typer.Exit(EXIT_PARTIAL)

    with progress_bar() as progress:

        def progress_for(name: str, total: int):
            task = progress.add_task(name, total=max(total, 1))
            return lambda done, _total: progress.update(task, completed=done)

        result = evaluate_retrievers(
            questions,
            out,
            names,
            assistant,
            k=k,
            backend=backend,
            question_file=questions_file,
            line_errors=line_errors,
            differences=others,
            progress_for=progress_for,
        )

    console.print(_summary_table(result.summaries))
    for other in others:
        for name, summary in result.summaries.items():
            console.print(_difference_table(name, summary, other))
    failed = {n: s["meta"]["n_errors"] for n, s in result.summaries.items() if s["meta"]["n_errors"]}
    for name, n in failed.items():
        err.print(f"[red]error:[/] {name}: {n} question(s) raised; see results.jsonl")
    for name, folder in result.folders.items():
        console.print(f"{name}: {escape(str(folder))}")
    if result.report_dir is not None:
        console.print(f"report: {escape(str(result.report_dir / 'report.html'))}")
    if failed:
        raise typer.Exit(EXIT_PARTIAL)
