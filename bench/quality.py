"""Retrieval and answer quality of the four retrievers side by side, on the dev set.

    .venv/bin/python bench/quality.py [--mirror ../shared/corpus] [--index-dir DIR]
                                      [--questions FILE] [--k 10] [--out DIR]

Runs the question file through `naive` (the stock LangChain recipe: 1,000/200-character pieces,
plain Chroma top-k), `bm25`, `dense` and `hybrid` with the same code as `usmca-assistant eval
--retriever ...` (assistant.evaluate.batch), all at the same retrieval depth (default 10, so every
@k metric up to 10 sees the same number of passages for every retriever). Writes the comparison
report (report.md/html with the hit@k chart, one line per retriever) and one run folder per
retriever under --out, and the figures to bench/results/quality.json; another --questions file gets
its own names (quality-<file stem>.json and folder), so that a run never overwrites another file's.

Targets: hybrid ahead of naive on hit@5 and on MRR@10.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, MIRROR, full_corpus_settings  # noqa: E402
from _machine import RESULTS, machine, write_results  # noqa: E402

from assistant.evaluate.answerers import RETRIEVERS  # noqa: E402
from assistant.evaluate.batch import evaluate_retrievers  # noqa: E402
from assistant.evaluate.metrics import METRIC_KEYS  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.evaluate.report import METRIC_LABELS, format_metric  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402


def table(summaries: dict[str, dict[str, Any]]) -> str:
    names = list(summaries)
    lines = ["| metric | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for key in METRIC_KEYS:
        lines.append(f"| {METRIC_LABELS[key]} | " + " | ".join(format_metric(key, summaries[n].get(key)) for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--questions", type=Path, default=DEV_SET)
    ap.add_argument("--k", type=int, default=10, help="retrieval depth for every retriever (0: each one's default)")
    ap.add_argument("--retriever", action="append", choices=RETRIEVERS, help="default: all five")
    ap.add_argument("--out", type=Path, default=None, help="default: bench/results/<results name>")
    args = ap.parse_args()
    name = "quality" if args.questions.resolve() == DEV_SET.resolve() else f"quality-{args.questions.stem}"
    args.out = args.out or RESULTS / name

    settings = full_corpus_settings(args.index_dir, mirror=args.mirror)
    assistant = Assistant(settings)
    questions, errors = load_questions(args.questions)
    for e in errors:
        print(f"warning: line {e.line}: {e.reason} (skipped)", file=sys.stderr)
    names = args.retriever or ["naive", "bm25", "dense", "multilingual", "hybrid"]
    before = machine()

    def progress_for(name: str, total: int):
        def report(done: int, _total: int) -> None:
            if done == total:
                print(f"  {name}: {done}/{total} questions", file=sys.stderr)

        return report

    result = evaluate_retrievers(
        questions, args.out, names, assistant, k=args.k or None, question_file=args.questions,
        line_errors=errors, progress_for=progress_for,
    )
    summaries = result.summaries
    figures = {n: {k: s.get(k) for k in METRIC_KEYS} for n, s in summaries.items()}
    for n, s in summaries.items():
        figures[n]["k"] = s["meta"]["k"]
        figures[n]["hit_at_k_curve"] = s["meta"]["hit_at_k_curve"]
        figures[n]["n_errors"] = s["meta"]["n_errors"]
    targets: dict[str, Any] = {}
    if "hybrid" in summaries and "naive" in summaries:
        h, nv = summaries["hybrid"], summaries["naive"]
        for key in ("hit_at_5", "mrr_at_10"):
            a, b = h.get(key), nv.get(key)
            targets[f"hybrid_vs_naive_{key}"] = {
                "hybrid": a, "naive": b,
                "difference_pp": round(100 * (a - b), 1) if a is not None and b is not None else None,
                "ratio": round(a / b, 3) if a is not None and b else None,
                "met": a is not None and b is not None and a > b,
            }
    out = {
        "machine_before": before,
        "machine_after": machine(),
        "question_file": str(args.questions),
        "questions": len(questions),
        "k": args.k or "each retriever's default",
        "figures": figures,
        "targets": targets,
        "report": str((result.report_dir or args.out) / "report.html"),
    }
    path = write_results(name, out)
    print(table(summaries))
    for name, t in targets.items():
        print(f"{name}: hybrid {format_metric('r', t['hybrid'])} vs naive {format_metric('r', t['naive'])} "
              f"({t['difference_pp']:+.1f} pp, ratio {t['ratio']}) -> {'met' if t['met'] else 'NOT met'}")
    print(f"report: {out['report']}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
