"""Answer quality on a question file: citation precision, abstention, must-mention, latency.

    .venv/bin/python bench/answer_quality.py [--index-dir DIR] [--questions FILE ...] [--out DIR]
                                             [--backend extractive]

Builds (once) an index of the brief plus the whole shared mirror in DIR (default: a folder in the
system temp dir, reused by later runs), answers every question through `Assistant.ask` and scores
it with `assistant.evaluate.run.run_eval`. Prints the headline metrics per question file, the
questions that missed a must-mention or abstained wrongly, and warm p50/p95 latency of retrieval
plus answering. The run's files (summary.json, results.jsonl, report.md/html) go under --out.

The tuning sets (dev ../shared/eval/dev.jsonl, bench/calibration_questions.jsonl,
bench/questions/heldout.jsonl, bench/questions/tuning.jsonl, bench/questions/round1.jsonl,
bench/questions/round2.jsonl, bench/questions/round3.jsonl, bench/questions/round5.jsonl,
bench/questions/round6.jsonl, bench/questions/round7.jsonl, bench/questions/round8.jsonl,
bench/questions/round9.jsonl, bench/questions/round10.jsonl, bench/questions/round11.jsonl,
bench/questions/round12.jsonl, bench/questions/round13.jsonl,
bench/questions/round14.jsonl, bench/questions/round15.jsonl,
bench/questions/round16.jsonl, bench/questions/round17.jsonl,
bench/questions/round18.jsonl, bench/questions/round19.jsonl,
bench/questions/round20.jsonl, bench/questions/round21.jsonl, bench/questions/round22.jsonl,
bench/questions/round23.jsonl, bench/questions/round24.jsonl,
bench/questions/round25.jsonl, bench/questions/round26.jsonl,
bench/questions/round27.jsonl, bench/questions/round28.jsonl,
bench/questions/round29.jsonl, bench/questions/round30.jsonl,
bench/questions/round31.jsonl, bench/questions/round32.jsonl,
bench/questions/round33.jsonl,
bench/questions/round34.jsonl,
bench/questions/round35.jsonl,
bench/questions/round36.jsonl,
bench/questions/round37.jsonl,
bench/questions/round38.jsonl,
bench/questions/round39.jsonl,
bench/questions/round40.jsonl,
bench/questions/round41.jsonl)
give fitting figures; a sealed set (bench/questions/sealed*.jsonl) is run once, at the end of a piece of
work, and never fitted on:

    .venv/bin/python bench/answer_quality.py --questions ../shared/eval/dev.jsonl \
        bench/questions/heldout.jsonl bench/calibration_questions.jsonl bench/questions/tuning.jsonl

Targets (issue 4): citation precision >= 0.95, every unanswerable item abstains with at most one
false abstention, must-mention >= 0.85, p95 latency well under 300 ms warm (extractive).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, full_corpus_settings  # noqa: E402

from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.evaluate.run import run_eval  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402

HEADLINE = ("n", "n_answerable", "hit_at_5", "must_mention", "citation_precision", "cited_sentence_rate",
            "abstain_accuracy", "false_abstain_rate", "latency_ms_p50", "latency_ms_p95")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--questions", type=Path, nargs="*", default=[DEV_SET])
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "usmca-answer-quality")
    ap.add_argument("--backend", default="extractive")
    ap.add_argument("--verbose", action="store_true", help="print every answer")
    args = ap.parse_args()

    settings = full_corpus_settings(args.index_dir)
    assistant = Assistant(settings)
    for path in args.questions:
        questions, errors = load_questions(path)
        out = args.out / path.stem
        answers: dict = {}
        answer_fn = _recording(assistant, args.backend, answers)

        summary = run_eval(questions, answer_fn, out, retriever="hybrid", k=settings.top_k,
                           question_file=path, line_errors=errors)
        print(f"\n== {path} ({len(questions)} questions) -> {out}")
        for key in HEADLINE:
            v = summary.get(key)
            print(f"  {key:22s} {v:.3f}" if isinstance(v, float) else f"  {key:22s} {v}")
        _misses(out / "results.jsonl", answers, args.verbose)


def _recording(assistant: Assistant, backend: str, answers: dict):
    """`ask` that keeps each answer, to print the question actually searched."""

    def answer_fn(question: str):
        a = assistant.ask(question, backend=backend)
        answers[question] = a
        return a

    return answer_fn


def _misses(results: Path, answers: dict, verbose: bool) -> None:
    import json

    for line in results.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        m = r["metrics"]
        wrong_abstain = r["abstained"] == r["answerable"]
        missing = m.get("mentions_missing") or []
        bad_cites = [c for c in r["citations"] if c.get("correct") is False]
        if verbose or wrong_abstain or missing or bad_cites:
            flag = "ABSTAIN-WRONG " if wrong_abstain else ""
            print(f"- {r['id']} [{r['kind']}] {flag}missing={missing} bad_citations={len(bad_cites)}")
            print(f"    Q: {r['question']}")
            a = answers.get(r["question"])
            if a is not None:
                print(f"    searched: {a.standalone_question}")
            print(f"    A: {r['answer'][:600]}")


if __name__ == "__main__":
    main()
