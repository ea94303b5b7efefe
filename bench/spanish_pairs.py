"""Spanish questions against their English twins: what asking in Spanish costs.

    .venv/bin/python bench/spanish_pairs.py [--file bench/questions/spanish_pairs_tuning.jsonl]
                                            [--index-dir DIR] [--out DIR] [--backend extractive]
                                            [--no-glossary [--other-lexical-weight W]]

A pairs file is a question file (docs/evaluation.md) of Spanish questions, each with a `twin` field:
the same question in English. The expected answer, evidence and must-mention strings are shared, so
the two runs differ only by the language of the question. Both go through the product
(`assistant.evaluate.run.run_eval`, the code behind `usmca-assistant eval`), and the script prints
hit@5, MRR@10 and must-mention for Spanish and English over the questions that have a twin, and the
gap (Spanish minus English), plus abstention figures.

The default file is the tuning set bench/questions/spanish_pairs_tuning.jsonl (20 questions on the
brief, the USMCA goods chapter and the U.S. implementing law; checked with
bench/questions/check_questions.py). The sealed pairs set is run once, by the lead, with --file;
never tune on it.

`--no-glossary` measures what the Spanish glossary (assistant/retrieve/translate.py) adds beyond the
multilingual model: the Spanish questions are analysed without their English gloss (BM25, refusal
and composition then read the question as typed; the multilingual channel always does), with
BM25's weight for questions not in English set by --other-lexical-weight (default: the settings';
bench/embedders.py fits it without the glossary). Results get the suffix "-no-glossary".

The index (brief + mirror) is built in --index-dir on first use and reused. Figures go to
bench/results/spanish_pairs.json (another --file: spanish_pairs-<file stem>.json), the two runs'
files (report.html, results.jsonl ...) under --out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, ROOT, full_corpus_settings  # noqa: E402
from _machine import RESULTS, machine, write_results  # noqa: E402

from assistant.evaluate.answerers import make_answer_fn  # noqa: E402
from assistant.evaluate.pairs import (  # noqa: E402
    PAIR_KEYS,
    as_twins,
    gaps,
    pair_table,
    read_results,
    summary_of,
    twin_field,
)
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.evaluate.run import run_eval  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.retrieve.analysis import QueryAnalysis, analyze  # noqa: E402
from assistant.retrieve.language import detect_language  # noqa: E402

DEFAULT_FILE = ROOT / "bench" / "questions" / "spanish_pairs_tuning.jsonl"


def without_gloss(question: str, standalone: str | None = None) -> QueryAnalysis:
    """`Assistant.analyze` without the glossary: the language detected, no English gloss."""
    text = (standalone or question).strip()
    return analyze(question, standalone=text, language=detect_language(text))


def results_name(path: Path) -> str:
    return "spanish_pairs" if path.resolve() == DEFAULT_FILE.resolve() else f"spanish_pairs-{path.stem}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE, help="pairs file (default: the tuning set)")
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--out", type=Path, default=None, help="folder for the two runs (default under bench/results)")
    ap.add_argument("--backend", default="extractive")
    ap.add_argument("--no-glossary", action="store_true", help="analyse questions without the English gloss")
    ap.add_argument("--other-lexical-weight", type=float, default=None,
                    help="BM25's fusion weight for questions not in English (default: the settings')")
    args = ap.parse_args()

    if not args.file.is_file():
        print(f"error: pairs file {args.file} does not exist", file=sys.stderr)
        return 2
    questions, errors = load_questions(args.file)
    for e in errors:
        print(f"warning: {args.file} line {e.line}: {e.reason} (skipped)", file=sys.stderr)
    twins = twin_field(args.file, "twin")
    for q in questions:
        if q.id not in twins:
            print(f"warning: {q.id} has no `twin`: left out of the comparison", file=sys.stderr)
    spanish = [q for q in questions if q.id in twins]
    if not spanish:
        print(f"error: {args.file} has no question with a `twin`", file=sys.stderr)
        return 2

    name = results_name(args.file) + ("-no-glossary" if args.no_glossary else "")
    out = args.out or RESULTS / name
    overrides = {} if args.other_lexical_weight is None else {"other_language_lexical_weight": args.other_lexical_weight}
    settings = full_corpus_settings(args.index_dir, **overrides)
    assistant = Assistant(settings)
    if args.no_glossary:
        assistant.analyze = without_gloss  # type: ignore[method-assign]
    answer_fn = make_answer_fn("hybrid", assistant, backend=args.backend)
    before = machine()
    common = {"retriever": "hybrid", "k": settings.top_k, "question_file": args.file, "line_errors": errors}
    run_eval(spanish, answer_fn, out / "spanish", **common)
    run_eval(as_twins(spanish, twins, drop_history=False), answer_fn, out / "english", **common)

    es_rows, en_rows = read_results(out / "spanish"), read_results(out / "english")
    es, en = summary_of(es_rows), summary_of(en_rows)
    gap = gaps(es, en, PAIR_KEYS[1:])
    errors_n = sum(bool(r.get("error")) for r in es_rows + en_rows)
    by_id = {r["id"]: r for r in en_rows}
    figures = {
        "machine_before": before,
        "machine_after": machine(),
        "file": str(args.file),
        "backend": args.backend,
        "glossary": not args.no_glossary,
        "other_language_lexical_weight": settings.other_language_lexical_weight,
        "n_pairs": len(spanish),
        "spanish": {k: es.get(k) for k in PAIR_KEYS},
        "english": {k: en.get(k) for k in PAIR_KEYS},
        "gap_spanish_minus_english": gap,
        "n_errors": errors_n,
        "per_question": [
            {
                "id": r["id"],
                "spanish": r["question"],
                "english": by_id.get(r["id"], {}).get("question"),
                "first_hit_rank": [r["metrics"].get("first_hit_rank"),
                                   (by_id.get(r["id"], {}).get("metrics") or {}).get("first_hit_rank")],
                "must_mention": [r["metrics"].get("must_mention"),
                                 (by_id.get(r["id"], {}).get("metrics") or {}).get("must_mention")],
            }
            for r in es_rows
        ],
        "reports": {"spanish": str(out / "spanish" / "report.html"), "english": str(out / "english" / "report.html")},
    }
    path = write_results(name, figures)
    print(f"{args.file}: {len(spanish)} Spanish questions with an English twin")
    print(pair_table({"spanish": es, "english": en}, gap, width=12))
    if errors_n:
        print(f"errors: {errors_n} question(s) raised; see the runs' results.jsonl", file=sys.stderr)
    print(f"-> {path}")
    return 1 if errors_n else 0


if __name__ == "__main__":
    sys.exit(main())
