"""The evaluation page: upload a question file, run it through the assistant, read the results.

The run is the same as `usmca-assistant eval` (`assistant.evaluate.run.run_eval` with the app's
Assistant), with a progress bar; the headline metrics, the per-question table and the charts are
shown here and every output file can be downloaded. Output goes to a fresh temporary folder per run.
The question format and the metrics are documented in the project's docs/evaluation.md, which the
page shows in full.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path
from typing import Any

import streamlit as st

from assistant.evaluate.answerers import RETRIEVERS, make_answer_fn
from assistant.evaluate.metrics import METRIC_KEYS, TURNS
from assistant.evaluate.questions import load_questions
from assistant.evaluate.report import METRIC_LABELS, TURN_LABELS, format_metric
from assistant.evaluate.run import run_eval
from assistant.settings import Settings
from ui.resources import available_backends, get_assistant, load_settings, snapshot
from ui.safety import md_escape

RUN = "eval_run"
DOWNLOADS = (
    ("summary.json", "application/json"),
    ("results.jsonl", "application/jsonl"),
    ("results.csv", "text/csv"),
    ("report.md", "text/markdown"),
    ("report.html", "text/html"),
)
HEADLINE = ("hit_at_5", "must_mention", "answer_words_p50", "evidence_citation_share",
            "citation_precision", "abstain_accuracy", "false_abstain_rate", "latency_ms_p50")
GUIDE = Path(__file__).resolve().parents[1] / "docs" / "evaluation.md"
GUIDE_NAME = "docs/evaluation.md"


def run_questions(data: bytes, file_name: str, settings: Settings, k: int, progress: Any, *,
                  retriever: str = "hybrid", backend: str | None = None) -> dict[str, Any]:
    """Evaluate an uploaded question file with the same answer function as `usmca-assistant eval`;
    returns where the outputs are and what was found."""
    out = Path(tempfile.mkdtemp(prefix="usmca-eval-"))
    qfile = out / "questions.jsonl"
    qfile.write_bytes(data)
    questions, line_errors = load_questions(qfile)
    if not questions:
        return {"out_dir": None, "line_errors": line_errors, "summary": None, "file": file_name}
    summary = run_eval(
        questions,
        make_answer_fn(retriever, get_assistant(settings), k=k, backend=backend),
        out,
        retriever=retriever,
        k=k,
        progress=progress,
        question_file=file_name,
        line_errors=line_errors,
    )
    return {"out_dir": str(out), "line_errors": line_errors, "summary": summary, "file": file_name}


def _show_run(run: dict[str, Any]) -> None:
    for e in run["line_errors"]:
        st.warning(f"Line {e.line}: {md_escape(e.reason)}" + (f" — {md_escape(e.text)}" if e.text else ""))
    summary = run["summary"]
    if summary is None:
        st.error(f"{md_escape(run['file'])} contains no valid question.")
        return
    out = Path(run["out_dir"])
    meta = summary.get("meta", {})
    st.subheader(f"Results for {md_escape(run['file'])}")
    st.caption(
        f"{summary.get('n', 0)} questions ({summary.get('n_answerable', 0)} answerable), retriever "
        f"{md_escape(meta.get('retriever', ''))}, k = {meta.get('k', '')}, backend {md_escape(meta.get('backend', ''))}, "
        f"{meta.get('n_errors', 0)} errors, {meta.get('duration_s', 0):.0f} s."
    )
    cols = st.columns(4)
    for i, key in enumerate(HEADLINE):
        cols[i % 4].metric(METRIC_LABELS[key], format_metric(key, summary.get(key)))
    by_turn = summary.get("by_turn") or {}
    if summary.get("n_followups"):
        st.markdown(f"**Follow-ups and standalone questions** ({summary['n_followups']} follow-ups)")
        keys = ("n", "hit_at_5", "mrr_at_10", "must_mention", "answer_words_p50", "evidence_citation_share",
                "abstain_accuracy", "false_abstain_rate")
        st.dataframe(
            [{"turn": TURN_LABELS[t]} | {METRIC_LABELS[k]: format_metric(k, by_turn[t].get(k)) for k in keys}
             for t in TURNS if t in by_turn],
            hide_index=True, width="stretch",
        )
    with st.expander("All metrics"):
        st.dataframe(
            [{"metric": METRIC_LABELS.get(k, k), "value": format_metric(k, summary.get(k))} for k in METRIC_KEYS]
            + [{"metric": f"{METRIC_LABELS.get(k, k)} ({kind})", "value": format_metric(k, v.get(k))}
               for kind, v in sorted((summary.get("by_kind") or {}).items()) for k in METRIC_KEYS if k in v],
            hide_index=True, width="stretch",
        )
    charts = [p for p in (out / "hit_at_k.png", out / "latency.png") if p.exists()]
    if charts:
        for col, path in zip(st.columns(len(charts)), charts, strict=True):
            col.image(str(path))
    csv_path = out / "results.csv"
    if csv_path.exists():
        with csv_path.open(encoding="utf-8") as fh:
            st.dataframe(list(csv.DictReader(fh)), hide_index=True, width="stretch")
    st.markdown("**Download**")
    cols = st.columns(len(DOWNLOADS))
    for col, (name, mime) in zip(cols, DOWNLOADS, strict=True):
        path = out / name
        if path.exists():
            col.download_button(name, path.read_bytes(), file_name=name, mime=mime, key=f"dl-{name}",
                                icon=":material/download:")
    report = out / "report.md"
    if report.exists():
        with st.expander("Report (report.md)"):
            st.code(report.read_text(encoding="utf-8"), language="markdown", wrap_lines=True)


def _guide() -> None:
    """The question format and the metrics, from the project's own docs/evaluation.md."""
    try:
        text = GUIDE.read_text(encoding="utf-8")
    except OSError:
        st.caption(f"{GUIDE_NAME} is missing from this installation.")
        return
    with st.expander(f"Question format and metrics ({GUIDE_NAME})", icon=":material/menu_book:"):
        st.markdown(text)


def render() -> None:
    settings = load_settings()
    st.title("Evaluation")
    st.caption(
        "Upload a question file (JSON Lines: id, question, kind, answerable, must_mention, evidence, and "
        f"optionally history for a conversation; see {GUIDE_NAME}) and measure retrieval, answers, citations "
        "and abstentions on the current index."
    )
    _guide()
    if snapshot(settings).empty:
        st.warning("The index is empty: add documents on the Corpus page first.")
        return
    upload = st.file_uploader("Question file", type=["jsonl", "json", "txt"], key="eval_file")
    left, mid, right = st.columns(3)
    retriever = left.selectbox("Retriever", RETRIEVERS, key="eval_retriever",
                               help="hybrid is the product; dense, bm25 and naive are for comparison.")
    backends = available_backends(settings)
    backend = mid.selectbox("Answer backend", backends, key="eval_backend",
                            index=backends.index(settings.answer_backend) if settings.answer_backend in backends else 0)
    k = right.slider("Passages retrieved per question (k)", 1, 20, min(settings.top_k, 20), key="eval_k")
    if st.button("Run evaluation", type="primary", disabled=upload is None, icon=":material/play_arrow:"):
        bar = st.progress(0.0, text="Warming up")

        def progress(done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"Question {done} of {total}")

        previous = (st.session_state.pop(RUN, None) or {}).get("out_dir")
        if previous and Path(previous).name.startswith("usmca-eval-"):
            shutil.rmtree(previous, ignore_errors=True)  # one run's files per session are kept
        try:
            st.session_state[RUN] = run_questions(
                upload.getvalue(), upload.name, settings, k, progress, retriever=retriever, backend=backend
            )
        except Exception as e:  # noqa: BLE001 - a broken file must not take the page down
            st.session_state.pop(RUN, None)
            st.error(f"The evaluation failed: {md_escape(f'{type(e).__name__}: {e}')}")
        bar.empty()
    run = st.session_state.get(RUN)
    if run:
        _show_run(run)
