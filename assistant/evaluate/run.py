"""Run a question set through the product and write the run's files.

`run_eval` calls `answer_fn` once per question, times it, scores it (`metrics.score_question`) and
writes into `out_dir`:

- `summary.json`: the README keys (`metrics.summarize`) plus `meta` (retriever, k, backend, question
  file, date, error and malformed-line counts, the hit@k curve for k = 1..10, latency max).
- `results.jsonl`: one object per question (see `result_row`).
- `results.csv`: one row per question with the main per-question metrics.
- `report.md`, `report.html`, `hit_at_k.png`, `latency.png` (`report.write_report`).

Latency is warm: `answer_fn` is called once on a throwaway question before any timing, so model
loading and index opening are not charged to the first question. The warm-up's own result is
discarded (a failure there is recorded in `meta.warmup_error`, and the run goes on).

A question with `history` is played as a conversation, as the chat plays it: each earlier user turn
is asked in order with the conversation so far (`("user", question)`, `("understood", the
standalone question it was answered as)` and `("assistant", answer text)`, oldest first, the shape
`Assistant.ask(history=...)` takes and ui/chat.py passes),
then the question itself is asked as the next turn. Only that last turn is timed and scored; its
retrieval is the one the retrieval metrics see. `answer_fn(question)` is called without `history`
for a question that has none, so a one-argument answer function still serves a file of single
questions.
"""

from __future__ import annotations

import csv
import json
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.answer.conversation import UNDERSTOOD
from assistant.domain import Answer
from assistant.evaluate.metrics import (
    EVIDENCE_DEPTH,
    QuestionRecord,
    hit_at_k_curve,
    score_question,
    summarize,
)
from assistant.evaluate.questions import LineError, Question
from assistant.evaluate.report import (  # noqa: F401 - compare helpers are part of this module's API
    CompareRow,
    RunData,
    compare,
    compare_markdown,
    write_report,
)

WARMUP_QUESTION = "What does the agreement cover?"
SNIPPET_CHARS = 300

History = list[tuple[str, str]]  # (role, text) pairs, role "user", "understood" or "assistant", oldest first
AnswerFn = Callable[..., Answer]  # answer_fn(question) or answer_fn(question, history=History)
Progress = Callable[[int, int], None]

CSV_COLUMNS = (
    "id",
    "kind",
    "answerable",
    "abstained",
    "error",
    "latency_ms",
    "first_hit_rank",
    "hit_at_1",
    "hit_at_5",
    "hit_at_10",
    "evidence_recall_at_10",
    "reciprocal_rank",
    "must_mention",
    "answer_words",
    "evidence_citation_share",
    "citation_precision",
    "cited_sentence_rate",
    "n_citations",
    "n_sentences",
    "history_turns",
)


def result_row(
    q: Question, answer: Answer | None, rec: QuestionRecord, turns: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The results.jsonl object for one question: what was asked and expected, the earlier turns
    played (`history`: each turn's question, the question as understood, the answer), what came back
    (ranked chunks with document ids, labels and a text snippet; the answer, its word count and the
    parts it says the documents do not cover; its citations, each flagged correct and quoting the
    evidence or not when it could be judged), the per-question metrics and any error."""
    retrieved, citations, support = [], [], []
    text, backend, timings = "", "", {}
    standalone: str | None = None
    not_covered: list[str] = []
    if answer is not None:
        retrieved = [
            {
                "rank": i,
                "chunk_id": s.chunk.id,
                "document_id": s.chunk.document_id,
                "label": s.chunk.label,
                "score": round(float(s.score), 6),
                "snippet": " ".join(s.chunk.text.split())[:SNIPPET_CHARS],
            }
            for i, s in enumerate(answer.retrieved, 1)
        ]
        for i, c in enumerate(answer.citations):
            citations.append(
                {
                    "number": c.number,
                    "chunk_id": c.chunk_id,
                    "document_id": c.document_id,
                    "location": c.location,
                    "quote": c.quote,
                    "correct": rec.citations_correct[i] if i < len(rec.citations_correct) else None,
                    "quotes_evidence": (
                        rec.citations_quote_evidence[i] if i < len(rec.citations_quote_evidence) else None
                    ),
                }
            )
        support = [asdict(s) for s in answer.support]
        text, backend = answer.text, answer.backend
        standalone = answer.standalone_question or q.question
        # `Answer.not_covered` is being added to the answer package; older answers have none
        not_covered = [str(x) for x in (getattr(answer, "not_covered", None) or [])]
        timings = {k: round(float(v), 2) for k, v in answer.timings_ms.items()}
    return {
        "id": q.id,
        "question": q.question,
        "history": list(turns),
        "standalone_question": standalone,
        "kind": q.kind,
        "answerable": q.answerable,
        "must_mention": list(q.must_mention),
        "evidence": list(q.evidence),
        "reference_answer": q.answer,
        "retrieved": retrieved,
        "answer": text,
        "answer_words": rec.answer_words,
        "not_covered": not_covered,
        "abstained": rec.abstained,
        "backend": backend,
        "citations": citations,
        "support": support,
        "metrics": rec.to_dict(),
        "latency_ms": rec.latency_ms,
        "timings_ms": timings,
        "error": rec.error,
    }


def _csv_row(rec: QuestionRecord) -> dict[str, Any]:
    d = rec.to_dict()
    row = {k: d.get(k) for k in CSV_COLUMNS}
    return {k: "" if v is None else v for k, v in row.items()}


def _call(
    answer_fn: AnswerFn, question: str, clock: Callable[[], float], history: History | None = None
) -> tuple[Answer | None, float, str]:
    """(answer, elapsed ms, error). Errors are recorded, never raised: one bad question must not end
    a batch run. KeyboardInterrupt still stops the run. `history` is passed only when there is one."""
    start = clock()
    try:
        answer = answer_fn(question, history=list(history)) if history else answer_fn(question)
    except Exception as e:
        tb = traceback.extract_tb(e.__traceback__)
        where = f" at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else ""
        return None, (clock() - start) * 1000.0, f"{type(e).__name__}: {e}{where}"
    elapsed = (clock() - start) * 1000.0
    if not isinstance(answer, Answer):
        return None, elapsed, f"answer_fn returned {type(answer).__name__}, expected Answer"
    return answer, elapsed, ""


def play_conversation(
    q: Question, answer_fn: AnswerFn, clock: Callable[[], float]
) -> tuple[Answer | None, float, str, list[dict[str, Any]]]:
    """Ask `q.history`'s turns in order, each with the conversation so far, then `q.question` as
    the next turn. Returns the last turn's (answer, elapsed ms, error) and the earlier turns played.
    An earlier turn that fails ends the conversation: the question is recorded as failed."""
    history: History = []
    played: list[dict[str, Any]] = []
    for n, turn in enumerate(q.history, 1):
        answer, _, error = _call(answer_fn, turn, clock, history)
        if answer is None:
            return None, 0.0, f"earlier turn {n} of {len(q.history)} failed: {error}", played
        played.append(
            {
                "question": turn,
                "standalone_question": answer.standalone_question or turn,
                "answer": answer.text,
                "abstained": bool(answer.abstained),
            }
        )
        history += [
            ("user", turn),
            (UNDERSTOOD, answer.standalone_question or turn),
            ("assistant", answer.text),
        ]
    answer, ms, error = _call(answer_fn, q.question, clock, history)
    return answer, ms, error, played


def run_eval(
    questions: Sequence[Question],
    answer_fn: AnswerFn,
    out_dir: str | Path,
    *,
    retriever: str,
    k: int,
    progress: Progress | None = None,
    question_file: str | Path = "",
    line_errors: Sequence[LineError] = (),
    backend: str | None = None,
    warmup: str | None = WARMUP_QUESTION,
    compare_with: Sequence[RunData] = (),
    differences: Sequence[RunData] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Evaluate `questions` and write the run's files into `out_dir`; returns the summary dict.

    `retriever` and `k` are recorded (and label the run in reports); retrieval itself happens inside
    `answer_fn`. `progress(done, total)` is called before the first and after every question.
    `line_errors` (from `load_questions`) are counted and listed in meta and the report.
    `backend` overrides the backend name otherwise taken from the answers. `compare_with` adds other
    runs to the report's headline table and hit@k chart; each run in `differences` gets a table of
    differences against this one (`eval --compare`). `warmup=None` skips the warm-up call.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    total = len(questions)
    started = clock()
    warmup_error = ""
    if warmup is not None and questions:
        _, _, warmup_error = _call(answer_fn, warmup, clock)

    records: list[QuestionRecord] = []
    rows: list[dict[str, Any]] = []
    backends: Counter[str] = Counter()
    if progress:
        progress(0, total)
    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for i, q in enumerate(questions, 1):
            answer, ms, error, turns = play_conversation(q, answer_fn, clock)
            ms = round(ms, 3)
            try:
                rec = score_question(q, answer, latency_ms=ms, error=error)
            except Exception as e:  # a malformed Answer must not end the run either
                answer, error = None, f"scoring failed: {type(e).__name__}: {e}"
                rec = score_question(q, None, error=error)
            if answer is not None and answer.backend:
                backends[answer.backend] += 1
            row = result_row(q, answer, rec, turns)
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            fh.flush()
            records.append(rec)
            rows.append(row)
            if progress:
                progress(i, total)

    summary = summarize(records)
    latencies = [r.latency_ms for r in records if not r.error and r.latency_ms is not None]
    summary["meta"] = {
        "retriever": retriever,
        "k": k,
        "backend": backend or ", ".join(b for b, _ in backends.most_common()) or "",
        "question_file": str(question_file),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_errors": sum(bool(r.error) for r in records),
        "n_malformed_lines": len(line_errors),
        "malformed_lines": [asdict(e) for e in line_errors],
        "hit_at_k_curve": hit_at_k_curve(records, EVIDENCE_DEPTH),
        "latency_ms_max": max(latencies) if latencies else None,
        "latency_note": "warm: one untimed warm-up call first; questions that raised are excluded",
        "warmup_error": warmup_error,
        "duration_s": round(clock() - started, 3),
        "compared_with": [d.name for d in differences],
    }
    (out / "summary.json").write_text(
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    with (out / "results.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(_csv_row(r) for r in records)
    write_report(out, [RunData(summary, rows)] + list(compare_with), differences)
    return summary


def load_run(out_dir: str | Path, label: str = "") -> RunData:
    """Read a finished run back (summary.json, and results.jsonl when present) for comparison."""
    d = Path(out_dir)
    summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
    results: list[dict[str, Any]] = []
    path = d / "results.jsonl"
    if path.exists():
        results = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return RunData(summary, results, label)
