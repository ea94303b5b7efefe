"""Paired runs of one question file: each question against its twin asked another way.

Two bench scripts measure a gap this way: bench/conversations.py (a follow-up asked in its
conversation against its `standalone` twin asked alone) and bench/spanish_pairs.py (a Spanish
question against its English `twin`). The twin is an extra field of the question file (unknown
fields are ignored by `load_questions`, so the file still evaluates normally); both sides are
scored over the same question ids so the gap compares like with like.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.evaluate.compare import format_difference, format_metric
from assistant.evaluate.metrics import QuestionRecord, summarize
from assistant.evaluate.questions import Question

# The figures a paired comparison reports (question count first, then the compared metrics).
PAIR_KEYS = ("n", "hit_at_5", "mrr_at_10", "must_mention", "abstain_accuracy", "false_abstain_rate")


def pair_table(rows: dict[str, dict[str, Any]], gap: dict[str, float | None], width: int = 16) -> str:
    """Both sides of a paired run and their gap, one metric a line, for a terminal."""
    names = list(rows)
    lines = [f"{'metric':<20}" + "".join(f"{n:>{width}}" for n in names) + f"{'gap':>12}"]
    for k in PAIR_KEYS:
        cells = "".join(f"{format_metric(k, rows[n].get(k)):>{width}}" for n in names)
        lines.append(f"{k:<20}{cells}{format_difference(k, gap.get(k)) if k != 'n' else '':>12}")
    return "\n".join(lines)


def twin_field(path: str | Path, name: str) -> dict[str, str]:
    """id -> the string in field `name` for every line of a question file that has one. Lines the
    loader rejects are skipped here too (`load_questions` reports them)."""
    out: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").lstrip("\ufeff").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        value = row.get(name) if isinstance(row, dict) else None
        if isinstance(value, str) and value.strip() and isinstance(row.get("id"), str):
            out.setdefault(row["id"].strip(), value.strip())
    return out


def as_twins(questions: Sequence[Question], twins: dict[str, str], *, drop_history: bool) -> list[Question]:
    """The questions that have a twin, each asked as its twin (alone when `drop_history`); the
    expected answer, evidence and kind are the original's."""
    return [
        replace(q, question=twins[q.id], history=() if drop_history else q.history)
        for q in questions
        if q.id in twins
    ]


def read_results(out_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(out_dir) / "results.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary_of(rows: Iterable[dict[str, Any]], ids: set[str] | None = None) -> dict[str, Any]:
    """The summary.json metrics over the results rows whose id is in `ids` (all rows when None)."""
    records = [QuestionRecord.from_dict(r["metrics"]) for r in rows if ids is None or r["id"] in ids]
    return summarize(records)


def gaps(this: dict[str, Any], other: dict[str, Any], keys: Sequence[str]) -> dict[str, float | None]:
    """this - other per key (None where either side is missing)."""
    out: dict[str, float | None] = {}
    for k in keys:
        a, b = this.get(k), other.get(k)
        out[k] = a - b if isinstance(a, int | float) and isinstance(b, int | float) else None
    return out


_PUNCT = re.compile(r"[^\w\s]")


def same_question(a: str, b: str) -> bool:
    """Whether two questions are the same text up to case, punctuation and spacing: a follow-up
    "understood as" exactly the previous question was copied, not understood."""
    def norm(s: str) -> str:
        return " ".join(_PUNCT.sub(" ", s.casefold()).split())

    return bool(norm(a)) and norm(a) == norm(b)


def copied_followups(rows: Iterable[dict[str, Any]]) -> list[str]:
    """Ids of follow-ups whose understood question equals the previous turn's understood question."""
    out = []
    for r in rows:
        turns = r.get("history") or []
        if not turns or r.get("standalone_question") is None:
            continue
        previous = turns[-1].get("standalone_question") or turns[-1].get("question") or ""
        if same_question(r["standalone_question"], previous):
            out.append(r["id"])
    return out
