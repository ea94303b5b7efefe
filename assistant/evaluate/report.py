"""The human-readable evaluation report: `report.md` and `report.html` from one or more runs.

The report is built once as a list of neutral blocks (heading, paragraph, table, image, list) and
rendered twice, so Markdown and HTML always say the same thing. Every string from a question, a
document or an answer is data: HTML rendering passes it through `html.escape`, Markdown rendering
escapes table pipes and angle brackets (many Markdown viewers pass raw HTML through).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from assistant.evaluate.metrics import EVIDENCE_DEPTH, METRIC_KEYS, percentile

HIT_CHART = "hit_at_k.png"
LATENCY_CHART = "latency.png"
WEAKEST_SHOWN = 15  # questions shown in detail; the full table lists all of them
SNIPPET_CHARS = 220
ANSWER_CHARS = 600

METRIC_LABELS = {
    "n": "questions",
    "n_answerable": "answerable",
    "hit_at_1": "hit@1",
    "hit_at_5": "hit@5",
    "hit_at_10": "hit@10",
    "evidence_recall_at_10": "evidence recall@10",
    "mrr_at_10": "MRR@10",
    "must_mention": "must-mention",
    "citation_precision": "citation precision",
    "cited_sentence_rate": "cited sentence rate",
    "abstain_accuracy": "abstain accuracy",
    "false_abstain_rate": "false abstain rate",
    "latency_ms_p50": "latency p50 (ms)",
    "latency_ms_p95": "latency p95 (ms)",
}


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


def format_metric(key: str, value: Any) -> str:
    """Shares as percentages, latencies in whole ms, counts as integers, missing as an en dash."""
    if value is None:
        return "–"
    if key in ("n", "n_answerable") or key.startswith("n_"):
        return str(int(value))
    if key.startswith("latency"):
        return f"{float(value):,.0f}"
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
    if diff is None:
        return "–"
    if key.startswith("latency") or key.startswith("n"):
        text = format_metric(key, abs(diff))
    else:
        text = f"{100 * abs(diff):.1f} pp"
    return ("+" if diff > 0 else "−" if diff < 0 else "±") + text


def compare_markdown(
    rows: Sequence[CompareRow], this_label: str = "this run", other_label: str = "other run"
) -> str:
    """The `--compare` table in Markdown. Share differences are in percentage points (pp); lower is
    better for latency and false abstain rate, higher for the rest."""
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


# ---------------------------------------------------------------------------------------------
# Blocks


@dataclass
class _Heading:
    level: int
    text: str


@dataclass
class _Para:
    text: str
    label: str = ""  # rendered bold before the text
    muted: bool = False


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class _Image:
    alt: str
    filename: str
    png: bytes


@dataclass
class _List:
    items: list[tuple[str, str]]  # (bold label, text)


_Block = _Heading | _Para | _Table | _Image | _List


def _md(text: str) -> str:
    t = " ".join(str(text).split())
    for ch in "\\`*_[]|":
        t = t.replace(ch, "\\" + ch)
    return t.replace("<", "&lt;").replace(">", "&gt;")


def _render_md(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, _Heading):
            out.append(f"{'#' * b.level} {_md(b.text)}\n")
        elif isinstance(b, _Para):
            text = f"**{_md(b.label)}** {_md(b.text)}" if b.label else _md(b.text)
            out.append((f"_{text}_" if b.muted else text) + "\n")
        elif isinstance(b, _Table):
            out.append("| " + " | ".join(_md(h) for h in b.headers) + " |")
            out.append("|" + "|".join(" --- " for _ in b.headers) + "|")
            out.extend("| " + " | ".join(_md(c) for c in row) + " |" for row in b.rows)
            out.append("")
        elif isinstance(b, _Image):
            out.append(f"![{_md(b.alt)}]({b.filename})\n")
        elif isinstance(b, _List):
            out.extend(
                f"- **{_md(label)}** {_md(text)}" if label else f"- {_md(text)}" for label, text in b.items
            )
            out.append("")
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2rem auto;
padding:0 1rem;color:#1f2328;line-height:1.45}
table{border-collapse:collapse;margin:.5rem 0 1.2rem;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td:not(:first-child){font-variant-numeric:tabular-nums}
h1{font-size:1.6rem} h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
h3{font-size:1.05rem;margin-bottom:.3rem} .muted{color:#57606a;font-style:italic}
img{max-width:100%;height:auto} ul{margin-top:.2rem}
"""


def _render_html(blocks: Sequence[_Block], title: str) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
    ]
    for b in blocks:
        if isinstance(b, _Heading):
            out.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, _Para):
            label = f"<strong>{e(b.label)}</strong> " if b.label else ""
            cls = ' class="muted"' if b.muted else ""
            out.append(f"<p{cls}>{label}{e(b.text)}</p>")
        elif isinstance(b, _Table):
            out.append(
                "<table><thead><tr>" + "".join(f"<th>{e(h)}</th>" for h in b.headers) + "</tr></thead>"
            )
            out.append("<tbody>")
            out.extend("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in b.rows)
            out.append("</tbody></table>")
        elif isinstance(b, _Image):
            data = base64.b64encode(b.png).decode("ascii")
            out.append(f'<p><img alt="{e(b.alt)}" src="data:image/png;base64,{data}"></p>')
        elif isinstance(b, _List):
            out.append("<ul>")
            for label, text in b.items:
                strong = f"<strong>{e(label)}</strong> " if label else ""
                out.append(f"<li>{strong}{e(text)}</li>")
            out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Charts (matplotlib's object API on an Agg canvas: no pyplot global state, safe in Streamlit threads)


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def hit_at_k_chart(runs: Sequence[RunData]) -> bytes:
    """PNG line chart of hit@k, k = 1..10, one line per run."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    ks = list(range(1, EVIDENCE_DEPTH + 1))
    plotted = False
    for run in runs:
        curve = run.curve()
        pts = [(k, v) for k, v in zip(ks, curve, strict=False) if v is not None]
        if pts:
            ax.plot([k for k, _ in pts], [v for _, v in pts], marker="o", label=run.name)
            plotted = True
    ax.set_xlabel("k (top-k retrieved chunks)")
    ax.set_ylabel("hit@k")
    ax.set_xticks(ks)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    if plotted:
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no answerable questions with evidence", ha="center", transform=ax.transAxes)
    ax.set_title("Share of questions with evidence in the top k")
    return _png(fig)


def latency_chart(latencies: Sequence[float], label: str) -> bytes:
    """PNG histogram of per-question latency with p50/p95 marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
    from matplotlib.ticker import MaxNLocator

    ax.hist(list(latencies), bins=min(20, max(5, len(latencies) // 2)), color="#4c78a8", edgecolor="white")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    for q, style in ((50, "--"), (95, ":")):
        v = percentile(latencies, q)
        if v is not None:
            ax.axvline(v, color="#e45756", linestyle=style, label=f"p{q} {v:,.0f} ms")
    ax.set_xlabel("ms per question (warm)")
    ax.set_ylabel("questions")
    ax.set_title(f"Latency: {label}")
    ax.legend()
    return _png(fig)


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


def _problems(row: dict[str, Any]) -> str:
    m = row.get("metrics") or {}
    out = []
    if row.get("error"):
        out.append(f"error: {row['error']}")
    if row.get("error"):
        return "; ".join(out)
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


def _snippet(text: str, n: int) -> str:
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1].rstrip() + "…"


def _weak_blocks(row: dict[str, Any], index: int) -> list[_Block]:
    m = row.get("metrics") or {}
    blocks: list[_Block] = [
        _Heading(3, f"{index}. {row.get('id')} ({row.get('kind')}) — {_problems(row)}"),
        _Para(str(row.get("question", "")), label="Question:"),
    ]
    evidence = row.get("evidence") or []
    if evidence:
        ranks = m.get("evidence_ranks") or [None] * len(evidence)
        items = [
            (f"rank {r}" if r else "not in top 10", _snippet(q, 400))
            for q, r in zip(evidence, ranks + [None] * (len(evidence) - len(ranks)), strict=False)
        ]
        blocks += [_Para("", label="Expected evidence:"), _List(items)]
    if row.get("must_mention"):
        blocks.append(_Para(", ".join(row["must_mention"]), label="Must mention:"))
    retrieved = row.get("retrieved") or []
    if retrieved:
        items = [
            (
                f"{r.get('rank')}. {r.get('label') or r.get('chunk_id')} [{r.get('document_id')}]",
                _snippet(r.get("snippet", ""), SNIPPET_CHARS),
            )
            for r in retrieved[:3]
        ]
        blocks += [_Para("", label="Retrieved (top 3):"), _List(items)]
    elif not row.get("error"):
        blocks.append(_Para("nothing", label="Retrieved (top 3):"))
    if not row.get("error"):
        label = "Answer (abstained):" if row.get("abstained") else "Answer:"
        blocks.append(_Para(_snippet(row.get("answer", ""), ANSWER_CHARS), label=label))
    return blocks


# ---------------------------------------------------------------------------------------------
# The report


def _kind_table(summary: dict[str, Any]) -> _Table:
    keys = [k for k in METRIC_KEYS if k != "latency_ms_p95"]
    rows = [
        [kind] + [format_metric(k, vals.get(k)) for k in keys]
        for kind, vals in (summary.get("by_kind") or {}).items()
    ]
    return _Table(["kind"] + [METRIC_LABELS[k] for k in keys], rows)


def _question_table(rows: Sequence[dict[str, Any]]) -> _Table:
    body = []
    for r in rows:
        m = r.get("metrics") or {}
        rank = m.get("first_hit_rank")
        eligible = r.get("answerable", True) and (m.get("n_evidence") or 0) > 0
        body.append(
            [
                str(r.get("id")),
                str(r.get("kind")),
                "yes" if r.get("answerable", True) else "no",
                str(rank) if rank else ("–" if not eligible else "miss"),
                format_metric("r", m.get("evidence_recall_at_10")),
                format_metric("r", m.get("must_mention")),
                format_metric("r", m.get("citation_precision")),
                "yes" if r.get("abstained") else "no",
                format_metric("latency", m.get("latency_ms")),
                _snippet(_problems(r), 120),
            ]
        )
    headers = [
        "id",
        "kind",
        "answerable",
        "first hit",
        "recall@10",
        "must-mention",
        "cite prec",
        "abstained",
        "ms",
        "status",
    ]
    return _Table(headers, body)


def difference_table(this: RunData, other: RunData) -> _Table:
    rows = compare(this.summary, other.summary)
    return _Table(
        ["metric", this.name, other.name, "difference"],
        [
            [METRIC_LABELS[r.metric], format_metric(r.metric, r.this), format_metric(r.metric, r.other),
             format_difference(r.metric, r.difference)]
            for r in rows
        ],
    )


def build_blocks(
    runs: Sequence[RunData], differences: Sequence[RunData] = ()
) -> tuple[list[_Block], dict[str, bytes]]:
    """Report content for `runs` (the first is the run reported on; the others are compared in the
    headline table and the hit@k chart). Each run in `differences` gets a table of differences
    against the first run (`eval --compare`). Returns the blocks and the PNGs by file name."""
    if not runs:
        raise ValueError("write_report needs at least one run")
    main = runs[0]
    meta = main.summary.get("meta") or {}
    pngs: dict[str, bytes] = {}
    blocks: list[_Block] = [_Heading(1, f"Evaluation report: {main.name}")]

    facts = [
        ("question file", str(meta.get("question_file") or "–")),
        ("date", str(meta.get("date") or "–")),
        ("retriever", str(meta.get("retriever") or "–")),
        ("k", str(meta.get("k", "–"))),
        ("answer backend", str(meta.get("backend") or "–")),
        ("questions", f"{main.summary.get('n', 0)} ({main.summary.get('n_answerable', 0)} answerable)"),
        ("errors", str(meta.get("n_errors", 0))),
        ("malformed lines skipped", str(meta.get("n_malformed_lines", 0))),
    ]
    blocks.append(_List(facts))
    depth = max((len(r.get("retrieved") or []) for r in main.results), default=EVIDENCE_DEPTH)
    if depth < EVIDENCE_DEPTH:
        blocks.append(
            _Para(
                f"At most {depth} chunks were retrieved per question, so the @10 metrics see at most {depth}.",
                muted=True,
            )
        )
    malformed = meta.get("malformed_lines") or []
    if malformed:
        blocks.append(_Para("", label="Malformed lines in the question file:"))
        blocks.append(_List([(f"line {e.get('line')}:", str(e.get("reason"))) for e in malformed]))
    if meta.get("warmup_error"):
        blocks.append(_Para(str(meta["warmup_error"]), label="Warm-up call failed:", muted=True))

    blocks.append(_Heading(2, "Headline metrics"))
    blocks.append(
        _Table(
            ["metric"] + [r.name for r in runs],
            [[METRIC_LABELS[k]] + [format_metric(k, r.summary.get(k)) for r in runs] for k in METRIC_KEYS],
        )
    )
    blocks.append(
        _Para(
            "Retrieval metrics are over answerable questions with evidence quotes, must-mention over "
            "answerable questions with must-mention strings; "
            "abstain accuracy is over unanswerable questions; latency is warm wall time per "
            "question. A dash means no question was eligible.",
            muted=True,
        )
    )

    for other in differences:
        blocks.append(_Heading(2, f"Differences against {other.name}"))
        other_meta = other.summary.get("meta") or {}
        blocks.append(
            _Para(
                f"{other.name}: retriever {other_meta.get('retriever') or '–'}, k {other_meta.get('k', '–')}, "
                f"question file {other_meta.get('question_file') or '–'}, date {other_meta.get('date') or '–'}.",
                muted=True,
            )
        )
        blocks.append(difference_table(main, other))
        blocks.append(
            _Para(
                "Difference = this run minus the other; shares in percentage points (pp). Higher is "
                "better except for latency and false abstain rate.",
                muted=True,
            )
        )

    blocks.append(_Heading(2, "Metrics by kind"))
    blocks.append(_kind_table(main.summary))

    blocks.append(_Heading(2, "Hit@k, k = 1..10"))
    pngs[HIT_CHART] = hit_at_k_chart(runs)
    blocks.append(_Image("hit@k for k = 1..10", HIT_CHART, pngs[HIT_CHART]))
    blocks.append(
        _Table(
            ["run"] + [f"@{k}" for k in range(1, EVIDENCE_DEPTH + 1)],
            [[r.name] + [format_metric("r", v) for v in r.curve()] for r in runs],
        )
    )

    blocks.append(_Heading(2, "Latency"))
    lat_rows = []
    for r in runs:
        lats = r.latencies()
        p50 = percentile(lats, 50) if lats else r.summary.get("latency_ms_p50")
        p95 = percentile(lats, 95) if lats else r.summary.get("latency_ms_p95")
        mx = max(lats) if lats else (r.summary.get("meta") or {}).get("latency_ms_max")
        mean = sum(lats) / len(lats) if lats else None
        lat_rows.append([r.name] + [format_metric("latency", v) for v in (p50, p95, mx, mean)])
    blocks.append(_Table(["run", "p50 (ms)", "p95 (ms)", "max (ms)", "mean (ms)"], lat_rows))
    lats = main.latencies()
    if lats:
        pngs[LATENCY_CHART] = latency_chart(lats, main.name)
        blocks.append(_Image("latency histogram", LATENCY_CHART, pngs[LATENCY_CHART]))

    ordered = sorted(main.results, key=weakness_key)
    weak = [r for r in ordered if _problems(r) != "ok"][:WEAKEST_SHOWN]
    blocks.append(_Heading(2, "Weakest questions"))
    if not weak:
        blocks.append(_Para("Every question met every check.", muted=True))
    for i, row in enumerate(weak, 1):
        blocks += _weak_blocks(row, i)

    blocks.append(_Heading(2, "All questions (weakest first)"))
    blocks.append(_question_table(ordered))
    return blocks, pngs


def write_report(
    out_dir: str | Path, runs: Sequence[RunData], differences: Sequence[RunData] = ()
) -> dict[str, Path]:
    """Write report.md (linking hit_at_k.png and latency.png, saved beside it) and a self-contained
    report.html (charts inlined as data URIs). Returns the written paths by file name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blocks, pngs = build_blocks(runs, differences)
    written: dict[str, Path] = {}
    for name, data in pngs.items():
        (out / name).write_bytes(data)
        written[name] = out / name
    (out / "report.md").write_text(_render_md(blocks), encoding="utf-8")
    (out / "report.html").write_text(
        _render_html(blocks, f"Evaluation report: {runs[0].name}"), encoding="utf-8"
    )
    written["report.md"] = out / "report.md"
    written["report.html"] = out / "report.html"
    return written
