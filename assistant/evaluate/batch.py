"""Evaluate one question set with several retrievers: one run each, then a report comparing them.

Layout of the output folder:
- one retriever: the run's files directly in it (summary.json, results.jsonl, results.csv,
  report.md, report.html, hit_at_k.png, latency.png);
- several: one such run folder per retriever (`<out>/<retriever>/`), each report comparing it with
  the others, plus `<out>/report.md`, `report.html` and `hit_at_k.png` (one line per retriever)
  and `<out>/comparison.json` (every run's summary by retriever).

The CLI (`usmca-assistant eval`) and `bench/quality.py` both go through `evaluate_retrievers`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.evaluate.answerers import RETRIEVERS, effective_k, make_answer_fn
from assistant.evaluate.questions import LineError, Question
from assistant.evaluate.report import RunData, write_report
from assistant.evaluate.run import load_run, run_eval
from assistant.pipeline import Assistant

COMPARISON_FILE = "comparison.json"

# progress_for(retriever, total) -> callback(done, total), or None for no progress display
ProgressFactory = Callable[[str, int], Callable[[int, int], None] | None]


@dataclass
class BatchResult:
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # by retriever, in run order
    folders: dict[str, Path] = field(default_factory=dict)
    report_dir: Path | None = None  # where the report comparing every run is


def forget_cached_queries(assistant: Assistant) -> None:
    """Empty the embedder's query cache so a run is not timed on query vectors an earlier run of
    the same questions computed."""
    assistant.embedder.clear_cache()


def run_folder(out_dir: Path, name: str, several: bool) -> Path:
    return out_dir / name if several else out_dir


def evaluate_retrievers(
    questions: Sequence[Question],
    out_dir: str | Path,
    retrievers: Sequence[str],
    assistant: Assistant,
    *,
    k: int | None = None,
    backend: str | None = None,
    question_file: str | Path = "",
    line_errors: Sequence[LineError] = (),
    differences: Sequence[RunData] = (),
    progress_for: ProgressFactory | None = None,
) -> BatchResult:
    """Run `questions` once per retriever (duplicates dropped, order kept) and write the files
    described in the module docstring. `differences` are other runs (e.g. a saved summary) that
    every run's report is compared against. `backend` (None: the settings') is the answer backend
    asked for; the backend recorded in each summary is the one the answers report (a backend that
    cannot be reached falls back to the extractive answer, with a warning in each answer)."""
    names = list(dict.fromkeys(retrievers))
    unknown = [n for n in names if n not in RETRIEVERS]
    if unknown or not names:
        raise ValueError(f"unknown retriever(s) {unknown} (choose from {', '.join(RETRIEVERS)})")
    out = Path(out_dir)
    several = len(names) > 1
    result = BatchResult()
    for name in names:
        forget_cached_queries(assistant)
        folder = run_folder(out, name, several)
        answer_fn = make_answer_fn(name, assistant, k=k, backend=backend)
        progress = progress_for(name, len(questions)) if progress_for else None
        result.summaries[name] = run_eval(
            questions,
            answer_fn,
            folder,
            retriever=name,
            k=effective_k(name, assistant, k),
            progress=progress,
            question_file=question_file,
            line_errors=line_errors,
            differences=differences,
        )
        result.folders[name] = folder
    if several:
        runs = {n: load_run(f) for n, f in result.folders.items()}
        for n, folder in result.folders.items():  # every run's report shows all the others
            write_report(folder, [runs[n]] + [r for m, r in runs.items() if m != n], differences)
        write_report(out, list(runs.values()), differences)
        (out / COMPARISON_FILE).write_text(
            json.dumps(result.summaries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        result.report_dir = out
    else:
        result.report_dir = result.folders[names[0]]
    return result
