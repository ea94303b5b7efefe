"""Metric labels and formatting, and the comparison of two runs' summaries (`eval --compare`).

Shared by the report, the CLI's tables, the Evaluation page and the bench scripts, so a metric reads
the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from assistant.evaluate.metrics import METRIC_KEYS

METRIC_LABELS = {
    "n": "questions",
    "n_answerable": "answerable",
    "hit_at_1": "hit@1",
    "hit_at_5": "hit@5",
    "hit_at_10": "hit@10",
    "evidence_recall_at_10": "evidence recall@10",
    "mrr_at_10": "MRR@10",
    "must_mention": "must-mention",
    "answer_words_p50": "answer words p50",
    "evidence_citation_share": "evidence citation share",
    "citation_precision": "citation precision",
    "cited_sentence_rate": "cited sentence rate",
    "abstain_accuracy": "abstain accuracy",
    "false_abstain_rate": "false abstain rate",
    "latency_ms_p50": "latency p50 (ms)",
    "latency_ms_p95": "latency p95 (ms)",
}
TURN_LABELS = {"standalone": "standalone (no history)", "followup": "follow-up (after earlier turns)"}


def format_metric(key: str, value: Any) -> str:
    """Shares as percentages, latencies in whole ms, counts as integers, word counts as numbers
    (a median may end in .5), missing as an en dash."""
    if value is None:
        return "–"
    if key in ("n", "n_answerable") or key.startswith("n_"):
        return str(int(value))
    if key.startswith("latency"):
        return f"{float(value):,.0f}"
    if key.startswith("answer_words"):
        return f"{float(value):,.1f}".removesuffix(".0")
    return f"{100 * float(value):.1f}%"


# ---------------------------------------------------------------------------------------------
# Comparison with another run (`eval --compare`)


class CompareRow(NamedTuple):
    metric: str
    this: float | None
    other: float | None
    difference: float | None  # this - other; None when either side is missing


def compare(summary_a: dict[str, Any], summary_b: dict[str, Any]) -> list[CompareRow]:
    """One row per README metric: this run (a), the other run (b) and a - b."""
    rows = []
    for key in METRIC_KEYS:
        a, b = summary_a.get(key), summary_b.get(key)
        diff = a - b if isinstance(a, int | float) and isinstance(b, int | float) else None
        rows.append(CompareRow(key, a, b, diff))
    return rows


def format_difference(key: str, diff: float | None) -> str:
    """Counts, words and milliseconds as numbers; shares in percentage points."""
    if diff is None:
        return "–"
    if key.startswith(("latency", "n", "answer_words")):
        text = format_metric(key, abs(diff))
    else:
        text = f"{100 * abs(diff):.1f} pp"
    return ("+" if diff > 0 else "−" if diff < 0 else "±") + text


def compare_markdown(
    rows: Sequence[CompareRow], this_label: str = "this run", other_label: str = "other run"
) -> str:
    """The `--compare` table in Markdown. Share differences are in percentage points (pp); lower is
    better for latency, answer length and false abstain rate, higher for the rest."""
    lines = [
        f"| metric | {this_label} | {other_label} | difference |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.metric} | {format_metric(r.metric, r.this)} | {format_metric(r.metric, r.other)} "
            f"| {format_difference(r.metric, r.difference)} |"
        )
    return "\n".join(lines) + "\n"
