"""The human-readable evaluation report: `report.md` and `report.html` from one or more runs.

The report's content is gathered once into plain view objects (`ReportView`: facts, tables of
formatted strings, the weakest questions, charts) and rendered by two Jinja2 templates shipped in
`templates/`, so Markdown and HTML always say the same thing. Every string from a question, a
document or an answer is data: the HTML environment autoescapes everything, and the Markdown
environment escapes every printed value (`finalize`), table pipes and angle brackets included
(many Markdown viewers pass raw HTML through); only file names the code chooses are marked raw.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from assistant.evaluate.charts import hit_at_k_chart, latency_chart
from assistant.evaluate.compare import (  # noqa: F401 - compare_markdown and CompareRow are re-exported
    METRIC_LABELS,
    TURN_LABELS,
    CompareRow,
    compare,
    compare_markdown,
    format_difference,
    format_metric,
)
from assistant.evaluate.metrics import EVIDENCE_DEPTH, METRIC_KEYS, TURNS, percentile

HIT_CHART = "hit_at_k.png"
LATENCY_CHART = "latency.png"
WEAKEST_SHOWN = 15  # questions shown in detail; the full table lists all of them
SNIPPET_CHARS = 220
ANSWER_CHARS = 600


@dataclass
class RunData:
    """One evaluation run as written by `run_eval`: its summary.json and results.jsonl rows."""

    summary: dict[str, Any]
    results: list[dict[str, Any]] = field(default_factory=list)
    label: str = ""

    @property
    def name(self) -> str:
        meta = self.summary.get("meta") or {}
        return self.label or str(meta.get("retriever") or "run")

    def curve(self) -> list[float | None]:
        meta = self.summary.get("meta") or {}
        return list(meta.get("hit_at_k_curve") or [])

    def latencies(self) -> list[float]:
        return [
            float(r["metrics"]["latency_ms"])
            for r in self.results
            if not r.get("error") and (r.get("metrics") or {}).get("latency_ms") is not None
        ]


# ---------------------------------------------------------------------------------------------
# Weakest questions


def weakness_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key, weakest first: errors, then evidence missed in the top 10, then lower evidence
    recall, then lower must-mention, then a wrong abstention decision, then id."""
    m = row.get("metrics") or {}
    answerable = bool(row.get("answerable", True))
    eligible = answerable and (m.get("n_evidence") or 0) > 0
    missed = eligible and m.get("first_hit_rank") is None
    recall = m.get("evidence_recall_at_10")
    mention = m.get("must_mention")
    wrong_abstain = bool(row.get("abstained")) == answerable and not row.get("error")
    return (
        0 if row.get("error") else 1,
        0 if missed else 1,
        1.0 if recall is None else recall,
        1.0 if mention is None else mention,
        0 if wrong_abstain else 1,
        str(row.get("id", "")),
    )


def problems(row: dict[str, Any]) -> str:
    """What went wrong with one question, in a few words ("ok" when nothing did)."""
    m = row.get("metrics") or {}
    if row.get("error"):
        return f"error: {row['error']}"
    out = []
    if row.get("answerable", True):
        if (m.get("n_evidence") or 0) and m.get("first_hit_rank") is None:
            out.append("no evidence quote in the top 10")
        elif m.get("evidence_recall_at_10") is not None and m["evidence_recall_at_10"] < 1:
            out.append(f"evidence recall@10 {format_metric('r', m['evidence_recall_at_10'])}")
        if m.get("mentions_missing"):
            out.append("missing: " + ", ".join(m["mentions_missing"]))
        if row.get("abstained"):
            out.append("abstained on an answerable question")
        if m.get("citation_precision") is not None and m["citation_precision"] < 1:
            out.append(f"citation precision {format_metric('r', m['citation_precision'])}")
    elif not row.get("abstained"):
        out.append("answered an unanswerable question")
    return "; ".join(out) or "ok"


def snippet(text: str, n: int) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1].rstrip() + "…"


# ---------------------------------------------------------------------------------------------
# The view the templates render: only strings, lists and these small records


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Image:
    alt: str
    filename: str
    png: bytes

    @property
    def base64(self) -> str:
        return base64.b64encode(self.png).decode("ascii")


@dataclass
class Section:
    """A titled table with notes (a comparison against another run)."""

    title: str
    table: Table
    notes: list[str] = field(default_factory=list)


@dataclass
class WeakQuestion:
    heading: str
    question: str
    conversation: list[tuple[str, str]]  # earlier turns: (label, what was asked and understood)
    understood_as: str  # the question as the product understood it, when it differs
    evidence: list[tuple[str, str]]  # (rank or "not in top 10", quote)
    must_mention: str
    length: str  # answer words, evidence citation share, citation precision
    retrieved: list[tuple[str, str]]  # top 3: (rank, label and document, snippet)
    answer_label: str  # "" when the product raised (no answer to show)
    answer: str
    not_covered: str


@dataclass
class ReportView:
    title: str
    facts: list[tuple[str, str]]
    notes: list[str]  # muted remarks under the facts
    malformed: list[tuple[str, str]]
    warmup_error: str
    headline: Table
    differences: list[Section]
    by_turn: Table | None
    by_kind: Table
    hit_chart: Image
    curves: Table
    latency: Table
    latency_chart: Image | None
    weak: list[WeakQuestion]
    questions: Table


def _group_table(label: str, groups: dict[str, dict[str, Any]], names: dict[str, str] | None = None) -> Table:
    keys = [k for k in METRIC_KEYS if k != "latency_ms_p95"]
    rows = [
        [(names or {}).get(g, g)] + [format_metric(k, vals.get(k)) for k in keys] for g, vals in groups.items()
    ]
    return Table([label] + [METRIC_LABELS[k] for k in keys], rows)


def _evidence_share(m: dict[str, Any]) -> str:
    return format_metric("r", m.get("evidence_citation_share"))


def _weak_question(row: dict[str, Any], index: int) -> WeakQuestion:
    m = row.get("metrics") or {}
    evidence = list(row.get("evidence") or [])
    ranks = list(m.get("evidence_ranks") or [])
    ranks += [None] * (len(evidence) - len(ranks))
    conversation = []
    for n, turn in enumerate(row.get("history") or [], 1):
        asked = str(turn.get("question", ""))
        understood = str(turn.get("standalone_question") or asked)
        text = asked if understood == asked else f"{asked} (understood as: {understood})"
        conversation.append((f"turn {n}:", text + " → " + snippet(turn.get("answer", ""), SNIPPET_CHARS)))
    standalone = str(row.get("standalone_question") or "")
    error = bool(row.get("error"))
    length = ""
    if not error:
        length = (
            f"{format_metric('answer_words', row.get('answer_words'))} words; evidence citation share "
            f"{_evidence_share(m)}; citation precision {format_metric('r', m.get('citation_precision'))}"
        )
    return WeakQuestion(
        heading=f"{index}. {row.get('id')} ({row.get('kind')}) — {problems(row)}",
        question=str(row.get("question", "")),
        conversation=conversation,
        understood_as=standalone if standalone and standalone != row.get("question") else "",
        evidence=[
            (f"rank {r}" if r else "not in top 10", snippet(q, 400)) for q, r in zip(evidence, ranks, strict=False)
        ],
        must_mention=", ".join(row.get("must_mention") or []),
        length=length,
        retrieved=[
            (
                f"{r.get('rank')}. {r.get('label') or r.get('chunk_id')} [{r.get('document_id')}]",
                snippet(r.get("snippet", ""), SNIPPET_CHARS),
            )
            for r in (row.get("retrieved") or [])[:3]
        ],
        answer_label="" if error else ("Answer (abstained):" if row.get("abstained") else "Answer:"),
        answer=snippet(row.get("answer", ""), ANSWER_CHARS),
        not_covered="; ".join(row.get("not_covered") or []),
    )


def _question_table(rows: Sequence[dict[str, Any]]) -> Table:
    conversations = any(r.get("history") for r in rows)
    body = []
    for r in rows:
        m = r.get("metrics") or {}
        rank = m.get("first_hit_rank")
        eligible = r.get("answerable", True) and (m.get("n_evidence") or 0) > 0
        cells = [str(r.get("id")), str(r.get("kind"))]
        if conversations:
            cells.append(str(len(r.get("history") or []) + 1))
        cells += [
            "yes" if r.get("answerable", True) else "no",
            str(rank) if rank else ("–" if not eligible else "miss"),
            format_metric("r", m.get("evidence_recall_at_10")),
            format_metric("r", m.get("must_mention")),
            format_metric("answer_words", r.get("answer_words")),
            _evidence_share(m),
            format_metric("r", m.get("citation_precision")),
            "yes" if r.get("abstained") else "no",
            format_metric("latency", m.get("latency_ms")),
            snippet(problems(r), 120),
        ]
        body.append(cells)
    headers = ["id", "kind"] + (["turn"] if conversations else [])
    headers += ["answerable", "first hit", "recall@10", "must-mention", "words", "evidence share",
                "cite prec", "abstained", "ms", "status"]
    return Table(headers, body)


def difference_section(this: RunData, other: RunData) -> Section:
    other_meta = other.summary.get("meta") or {}
    table = Table(
        ["metric", this.name, other.name, "difference"],
        [
            [METRIC_LABELS[r.metric], format_metric(r.metric, r.this), format_metric(r.metric, r.other),
             format_difference(r.metric, r.difference)]
            for r in compare(this.summary, other.summary)
        ],
    )
    return Section(
        f"Differences against {other.name}",
        table,
        [
            f"{other.name}: retriever {other_meta.get('retriever') or '–'}, k {other_meta.get('k', '–')}, "
            f"question file {other_meta.get('question_file') or '–'}, date {other_meta.get('date') or '–'}.",
            "Difference = this run minus the other; shares in percentage points (pp). Higher is better "
            "except for latency, answer words and false abstain rate.",
        ],
    )


def _latency_table(runs: Sequence[RunData]) -> Table:
    rows = []
    for r in runs:
        lats = r.latencies()
        p50 = percentile(lats, 50) if lats else r.summary.get("latency_ms_p50")
        p95 = percentile(lats, 95) if lats else r.summary.get("latency_ms_p95")
        mx = max(lats) if lats else (r.summary.get("meta") or {}).get("latency_ms_max")
        mean = sum(lats) / len(lats) if lats else None
        rows.append([r.name] + [format_metric("latency", v) for v in (p50, p95, mx, mean)])
    return Table(["run", "p50 (ms)", "p95 (ms)", "max (ms)", "mean (ms)"], rows)


def build_view(runs: Sequence[RunData], differences: Sequence[RunData] = ()) -> ReportView:
    """Report content for `runs` (the first is the run reported on; the others are compared in the
    headline table and the hit@k chart). Each run in `differences` gets a table of differences
    against the first run (`eval --compare`)."""
    if not runs:
        raise ValueError("write_report needs at least one run")
    main = runs[0]
    s, meta = main.summary, main.summary.get("meta") or {}
    followups = s.get("n_followups") or 0
    questions = f"{s.get('n', 0)} ({s.get('n_answerable', 0)} answerable"
    questions += f", {followups} follow-ups in conversations)" if followups else ")"
    facts = [
        ("question file", str(meta.get("question_file") or "–")),
        ("date", str(meta.get("date") or "–")),
        ("retriever", str(meta.get("retriever") or "–")),
        ("k", str(meta.get("k", "–"))),
        ("answer backend", str(meta.get("backend") or "–")),
        ("questions", questions),
        ("errors", str(meta.get("n_errors", 0))),
        ("malformed lines skipped", str(meta.get("n_malformed_lines", 0))),
    ]
    notes = []
    depth = max((len(r.get("retrieved") or []) for r in main.results), default=EVIDENCE_DEPTH)
    if depth < EVIDENCE_DEPTH:
        notes.append(f"At most {depth} chunks were retrieved per question, so the @10 metrics see at most {depth}.")
    if followups:
        notes.append(
            "A follow-up is asked after its earlier turns in one conversation, with the product's own "
            "answers as history; only its last turn is scored."
        )
    by_turn = s.get("by_turn") or {}
    lats = main.latencies()
    ordered = sorted(main.results, key=weakness_key)
    weak = [r for r in ordered if problems(r) != "ok"][:WEAKEST_SHOWN]
    return ReportView(
        title=f"Evaluation report: {main.name}",
        facts=facts,
        notes=notes,
        malformed=[(f"line {e.get('line')}:", str(e.get("reason"))) for e in meta.get("malformed_lines") or []],
        warmup_error=str(meta.get("warmup_error") or ""),
        headline=Table(
            ["metric"] + [r.name for r in runs],
            [[METRIC_LABELS[k]] + [format_metric(k, r.summary.get(k)) for r in runs] for k in METRIC_KEYS],
        ),
        differences=[difference_section(main, other) for other in differences],
        by_turn=(
            _group_table("turn", {t: by_turn[t] for t in TURNS if t in by_turn}, TURN_LABELS) if followups else None
        ),
        by_kind=_group_table("kind", s.get("by_kind") or {}),
        hit_chart=Image("hit@k for k = 1..10", HIT_CHART, hit_at_k_chart([(r.name, r.curve()) for r in runs])),
        curves=Table(
            ["run"] + [f"@{k}" for k in range(1, EVIDENCE_DEPTH + 1)],
            [[r.name] + [format_metric("r", v) for v in r.curve()] for r in runs],
        ),
        latency=_latency_table(runs),
        latency_chart=Image("latency histogram", LATENCY_CHART, latency_chart(lats, main.name)) if lats else None,
        weak=[_weak_question(r, i) for i, r in enumerate(weak, 1)],
        questions=_question_table(ordered),
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def md_escape(value: Any) -> str:
    """One printed value in Markdown: whitespace collapsed (a newline would end a table row or a
    list item), Markdown's punctuation backslash-escaped, angle brackets as entities."""
    t = " ".join(str(value).split())
    for ch in "\\`*_[]|":
        t = t.replace(ch, "\\" + ch)
    return t.replace("<", "&lt;").replace(">", "&gt;")


def _md_finalize(value: Any) -> Any:
    return value if isinstance(value, Markup) else md_escape(value)


def _raw(value: Any) -> Markup:
    """A value the code chose (a chart's file name) printed as is."""
    return Markup(str(value))


@cache
def environments() -> tuple[Environment, Environment]:
    """(HTML environment: autoescaped; Markdown environment: every printed value escaped), both
    loading the templates shipped with this package. StrictUndefined: a misspelt field fails loudly
    instead of printing nothing."""
    loader = PackageLoader("assistant.evaluate", "templates")
    common: dict[str, Any] = {
        "loader": loader,
        "undefined": StrictUndefined,
        "keep_trailing_newline": True,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }
    html = Environment(autoescape=True, **common)
    md = Environment(autoescape=False, finalize=_md_finalize, **common)
    md.filters["raw"] = _raw
    return html, md


def render(view: ReportView) -> tuple[str, str]:
    """(report.md, report.html) text for one view."""
    html, md = environments()
    return md.get_template("report.md.j2").render(r=view), html.get_template("report.html.j2").render(r=view)


def write_report(
    out_dir: str | Path, runs: Sequence[RunData], differences: Sequence[RunData] = ()
) -> dict[str, Path]:
    """Write report.md (linking hit_at_k.png and latency.png, saved beside it) and a self-contained
    report.html (charts inlined as data URIs). Returns the written paths by file name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    view = build_view(runs, differences)
    written: dict[str, Path] = {}
    for image in (view.hit_chart, view.latency_chart):
        if image is not None:
            (out / image.filename).write_bytes(image.png)
            written[image.filename] = out / image.filename
    md_text, html_text = render(view)
    (out / "report.md").write_text(md_text, encoding="utf-8")
    (out / "report.html").write_text(html_text, encoding="utf-8")
    written["report.md"] = out / "report.md"
    written["report.html"] = out / "report.html"
    return written
