"""The report's charts as PNG bytes: hit@k per run and the latency histogram.

matplotlib's object API on an Agg canvas: no pyplot global state, so it is safe in Streamlit's
script threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from assistant.evaluate.metrics import EVIDENCE_DEPTH, percentile


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def hit_at_k_chart(curves: Sequence[tuple[str, Sequence[float | None]]]) -> bytes:
    """PNG line chart of hit@k, k = 1..10, one line per (run name, curve)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    ks = list(range(1, EVIDENCE_DEPTH + 1))
    plotted = False
    for name, curve in curves:
        pts = [(k, v) for k, v in zip(ks, curve, strict=False) if v is not None]
        if pts:
            ax.plot([k for k, _ in pts], [v for _, v in pts], marker="o", label=name)
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
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6.4, 3.2))
    ax = fig.add_subplot()
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
