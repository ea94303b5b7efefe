"""Follow-up questions in conversation against the same questions asked standalone.

    .venv/bin/python bench/conversations.py [--file bench/questions/conversations.jsonl]
                                            [--index-dir DIR] [--out DIR] [--backend extractive]

A conversation file is a question file (docs/evaluation.md) whose follow-ups carry `history` (the
earlier user turns) and `standalone` (the follow-up written as a question that stands on its own,
its "twin"). The file is run twice through the product (`assistant.evaluate.run.run_eval`, the code
behind `usmca-assistant eval`):

1. as conversations: each earlier turn is asked in order with the conversation so far, the
   product's own answers included, then the follow-up; only the follow-up is scored;
2. with each follow-up replaced by its standalone twin, asked alone.

Printed for both, over the follow-ups that have a twin (the same question ids on both sides):
hit@5, MRR@10, must-mention, abstain accuracy, false-abstain rate, and the gaps (conversation minus
standalone; issue 15 wants hit@5 and must-mention within 0.05). Also counted: follow-ups whose
understood question (`standalone_question`) is a copy of the previous turn's understood question
("copied": the follow-up was not understood at all), and those understood exactly as their twin.

The index (brief + mirror) is built in --index-dir on first use and reused. Figures go to
bench/results/conversations.json (another --file: conversations-<file stem>.json), the two runs'
files (report.html, results.jsonl ...) under --out. The sealed conversation set is run once, by the
lead, with --file; never tune on it.
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
    copied_followups,
    gaps,
    pair_table,
    read_results,
    same_question,
    summary_of,
    twin_field,
)
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.evaluate.run import run_eval  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402

DEFAULT_FILE = ROOT / "bench" / "questions" / "conversations.jsonl"


def results_name(path: Path) -> str:
    return "conversations" if path.resolve() == DEFAULT_FILE.resolve() else f"conversations-{path.stem}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", type=Path, default=DEFAULT_FILE, help="conversation file (default: the tuning set)")
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--out", type=Path, default=None, help="folder for the two runs (default under bench/results)")
    ap.add_argument("--backend", default="extractive")
    args = ap.parse_args()

    if not args.file.is_file():
        print(f"error: conversation file {args.file} does not exist", file=sys.stderr)
        return 2
    questions, errors = load_questions(args.file)
    for e in errors:
        print(f"warning: {args.file} line {e.line}: {e.reason} (skipped)", file=sys.stderr)
    twins = twin_field(args.file, "standalone")
    followups = [q for q in questions if q.history]
    paired = {q.id for q in followups if q.id in twins}
    for q in followups:
        if q.id not in twins:
            print(f"warning: follow-up {q.id} has no `standalone` twin: left out of the comparison", file=sys.stderr)
    if not paired:
        print(f"error: {args.file} has no follow-up (`history`) with a `standalone` twin", file=sys.stderr)
        return 2

    name = results_name(args.file)
    out = args.out or RESULTS / name
    settings = full_corpus_settings(args.index_dir)
    assistant = Assistant(settings)
    answer_fn = make_answer_fn("hybrid", assistant, backend=args.backend)
    before = machine()
    common = {"retriever": "hybrid", "k": settings.top_k, "question_file": args.file, "line_errors": errors}
    run_eval(questions, answer_fn, out / "conversation", **common)
    run_eval(as_twins(followups, twins, drop_history=True), answer_fn, out / "standalone", **common)

    conv_rows, twin_rows = read_results(out / "conversation"), read_results(out / "standalone")
    conv, alone = summary_of(conv_rows, paired), summary_of(twin_rows, paired)
    gap = gaps(conv, alone, PAIR_KEYS[1:])
    pairs = [r for r in conv_rows if r["id"] in paired]
    copied = copied_followups(pairs)
    as_twin = [r["id"] for r in pairs if same_question(r.get("standalone_question") or "", twins[r["id"]])]
    errors_n = sum(bool(r.get("error")) for r in conv_rows + twin_rows)
    figures = {
        "machine_before": before,
        "machine_after": machine(),
        "file": str(args.file),
        "backend": args.backend,
        "n_questions": len(questions),
        "n_followups": len(followups),
        "n_paired": len(paired),
        "conversation": {k: conv.get(k) for k in PAIR_KEYS},
        "standalone": {k: alone.get(k) for k in PAIR_KEYS},
        "gap_conversation_minus_standalone": gap,
        "copied": copied,
        "understood_as_twin": as_twin,
        "n_errors": errors_n,
        "all_questions_in_conversation": {k: summary_of(conv_rows).get(k) for k in PAIR_KEYS},
        "understood": [
            {"id": r["id"], "question": r["question"], "understood_as": r.get("standalone_question"),
             "twin": twins[r["id"]]}
            for r in pairs
        ],
        "reports": {"conversation": str(out / "conversation" / "report.html"),
                    "standalone": str(out / "standalone" / "report.html")},
    }
    path = write_results(name, figures)
    print(f"{args.file}: {len(questions)} questions, {len(followups)} follow-ups, {len(paired)} with a twin")
    print(pair_table({"conversation": conv, "standalone twin": alone}, gap))
    print(f"copied (understood as the previous question): {len(copied)}/{len(paired)} {copied or ''}")
    print(f"understood exactly as the twin: {len(as_twin)}/{len(paired)}")
    if errors_n:
        print(f"errors: {errors_n} question(s) raised; see the runs' results.jsonl", file=sys.stderr)
    print(f"-> {path}")
    return 1 if errors_n else 0


if __name__ == "__main__":
    sys.exit(main())
