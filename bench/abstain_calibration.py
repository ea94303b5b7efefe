"""Calibrate the abstention rule (assistant/answer/abstain.py) by measurement.

    .venv/bin/python bench/abstain_calibration.py [--index-dir DIR] [--fit FILE] [--check FILE ...]

For every question of the fitting sets (default: bench/calibration_questions.jsonl, 39 answerable
questions and 30 off-topic or near-miss unanswerable ones written for calibration, and the team's
held-out set bench/questions/heldout.jsonl, 78 answerable and 12 unanswerable questions in the dev
set's style; neither holds a dev question) it computes the evidence features the pipeline computes, prints them, and
searches the rule's thresholds on a grid for the fewest errors, counting a false abstention like a
missed one and preferring, among equally good settings, the one with the widest margin around the
thresholds (the midpoint of each threshold's error-free interval). The chosen rule is then applied
unchanged to the check sets (default: ../shared/eval/dev.jsonl) and to the current constants in
abstain.py, so the report shows how well it generalises.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, full_corpus_settings  # noqa: E402

from assistant.answer import abstain  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402

HERE = Path(__file__).resolve().parent


def rule(f, max_unknown: float, min_cov: float, min_evidence: float) -> bool:
    """abstain.decide with explicit thresholds."""
    return bool(f.missing_ids) or f.unknown_share > max_unknown or f.coverage < min_cov or f.coverage + f.dense < min_evidence


def errors(rows, params) -> tuple[int, int, list[str]]:
    false_abstain = missed = 0
    wrong = []
    for q, f in rows:
        a = rule(f, *params)
        if a and q.answerable:
            false_abstain += 1
            wrong.append(f"false abstention {q.id}")
        if not a and not q.answerable:
            missed += 1
            wrong.append(f"answered {q.id}")
    return false_abstain, missed, wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--fit", type=Path, nargs="*",
                    default=[HERE / "calibration_questions.jsonl", HERE / "questions" / "heldout.jsonl"])
    ap.add_argument("--check", type=Path, nargs="*", default=[DEV_SET])
    args = ap.parse_args()
    assistant = Assistant(full_corpus_settings(args.index_dir))

    def featurize(path: Path):
        qs, _ = load_questions(path)
        rows = []
        for q in qs:
            f, _, _ = assistant.evidence(q.question)
            rows.append((q, f))
        return rows

    fits = {p: featurize(p) for p in args.fit}
    fit = [r for rows in fits.values() for r in rows]
    checks = {p: featurize(p) for p in args.check}
    print(f"{'id':6s} {'ans':4s} {'cov':>5s} {'scov':>5s} {'dense':>6s} {'c+d':>5s} {'unk':>5s}  question")
    for path, rows in [*fits.items(), *checks.items()]:
        print(f"-- {path.name}")
        for q, f in sorted(rows, key=lambda r: (r[0].answerable, r[1].coverage + r[1].dense)):
            print(f"{q.id:6s} {'yes' if q.answerable else 'no':4s} {f.coverage:5.2f} {f.sentence_coverage:5.2f} "
                  f"{f.dense:6.2f} {f.coverage + f.dense:5.2f} {f.unknown_share:5.2f}  {q.question[:70]}")

    grid_unk = [x / 100 for x in range(20, 85, 5)]
    grid_cov = [x / 100 for x in range(0, 50, 5)]
    grid_evidence = [x / 100 for x in range(50, 131, 1)]
    scored = []
    for params in itertools.product(grid_unk, grid_cov, grid_evidence):
        fa, miss, _ = errors(fit, params)
        scored.append((fa + miss, fa, params))
    best_err = min(s[0] for s in scored)
    best = [s for s in scored if s[0] == best_err]
    # the widest margin: the median setting of each parameter among the error-minimising ones
    chosen = tuple(sorted(p[2][i] for p in best)[len(best) // 2] for i in range(3))
    if errors(fit, chosen)[0] + errors(fit, chosen)[1] != best_err:
        chosen = best[len(best) // 2][2]
    current = (abstain.MAX_UNKNOWN_SHARE, abstain.MIN_COVERAGE, abstain.MIN_EVIDENCE)
    print("\ntrade-off along MIN_EVIDENCE (other thresholds as chosen): abstained/unanswerable, false/answerable")
    sets = [*fits.items(), *checks.items()]
    print("  MIN_EVIDENCE  " + "  ".join(f"{p.stem[:12]:>14s}" for p, _ in sets))
    for x in [v / 100 for v in range(70, 131, 5)]:
        cells = []
        for _, rows in sets:
            fa, miss, _ = errors(rows, (chosen[0], chosen[1], x))
            n_ans = sum(q.answerable for q, _ in rows)
            cells.append(f"{len(rows) - n_ans - miss:>3d}/{len(rows) - n_ans:<3d}{fa:>3d}/{n_ans:<3d}")
        print(f"  {x:12.2f}  " + "  ".join(f"{c:>14s}" for c in cells))
    print(f"\nbest grid error on the fitting set: {best_err} ({len(best)} settings reach it)")
    for label, params in (("chosen (MAX_UNKNOWN_SHARE, MIN_COVERAGE, MIN_EVIDENCE)", chosen), ("abstain.py now", current)):
        print(f"\n{label}: {params}")
        for path, rows in [*fits.items(), *checks.items()]:
            fa, miss, wrong = errors(rows, params)
            n_ans = sum(q.answerable for q, _ in rows)
            n_un = len(rows) - n_ans
            print(f"  {path.name}: abstained on {n_un - miss}/{n_un} unanswerable, "
                  f"false abstentions {fa}/{n_ans}  {'; '.join(wrong)}")


if __name__ == "__main__":
    main()
