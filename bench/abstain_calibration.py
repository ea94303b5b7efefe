"""Fit the abstention model (assistant/answer/abstain.py) by measurement.

    .venv/bin/python bench/abstain_calibration.py [--index-dir DIR] [--fit FILE ...] [--check FILE ...]
                                                  [--false-rate 0.03] [--l2 0.03]

For every question of the fitting sets (default: bench/calibration_questions.jsonl — answerable
paraphrases and off-topic or near-miss unanswerable questions written for calibration — and the
team's held-out set bench/questions/heldout.jsonl; neither holds a dev question) it computes the
evidence features the pipeline computes (`Assistant.evidence`), fits a logistic model of "the
passages do not answer" on them (numpy gradient descent, L2 on standardised features, questions
the hard rules already decide left out), and picks the decision threshold as the lowest score that
keeps false abstentions on the fitting sets at or below `--false-rate` (the product must say
plainly when the corpus does not cover a question, but an abstention on an answerable question
costs the whole answer). Questions the pipeline routes to the recommendation summary never reach
the abstention rule and are skipped.

The fitted weights and threshold are printed as the lines to paste into abstain.py (`WEIGHTS`,
`ABSTAIN_ABOVE`), then applied unchanged to the check sets (default: ../shared/eval/dev.jsonl and,
when it exists, bench/questions/test.jsonl) and compared with the constants abstain.py has now.
The check sets are never used to choose anything.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, full_corpus_settings  # noqa: E402

from assistant.answer import abstain  # noqa: E402
from assistant.answer.recommend import is_recommendation_question  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402

HERE = Path(__file__).resolve().parent
TEST_SET = HERE / "questions" / "test.jsonl"


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 4000, lr: float = 0.5) -> np.ndarray:
    """Weights (bias first) on the raw feature scale of P(y=1); features are standardised for the
    fit so one L2 strength suits all of them."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= lr * (z.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]])
    return np.r_[w[0] - np.sum(w[1:] * mu / sd), w[1:] / sd]


def choose_threshold(scores_answerable: list[float], false_rate: float) -> float:
    """The lowest threshold at which at most `false_rate` of the answerable questions score above it."""
    ranked = sorted(scores_answerable, reverse=True)
    allowed = int(np.floor(false_rate * len(ranked)))
    return float(ranked[allowed]) if allowed < len(ranked) else 0.0


def tally(rows, weights: tuple[float, ...], threshold: float) -> tuple[int, int, int, int, list[str]]:
    """(abstained, unanswerable, false abstentions, answerable, the wrong ones)."""
    abstained = false = 0
    wrong = []
    for q, f in rows:
        a, _ = abstain.decide(f, weights, threshold)
        if q.answerable and a:
            false += 1
            wrong.append(f"false abstention {q.id}")
        elif not q.answerable:
            abstained += a
            if not a:
                wrong.append(f"answered {q.id}")
    n_ans = sum(q.answerable for q, _ in rows)
    return abstained, len(rows) - n_ans, false, n_ans, wrong


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--fit", type=Path, nargs="*",
                    default=[HERE / "calibration_questions.jsonl", HERE / "questions" / "heldout.jsonl"])
    ap.add_argument("--check", type=Path, nargs="*",
                    default=[DEV_SET, *([TEST_SET] if TEST_SET.exists() else [])])
    ap.add_argument("--false-rate", type=float, default=0.03, help="false abstentions allowed on the fitting sets")
    ap.add_argument("--l2", type=float, default=0.03)
    ap.add_argument("--verbose", action="store_true", help="print every question's features")
    args = ap.parse_args()
    assistant = Assistant(full_corpus_settings(args.index_dir))

    def featurize(path: Path):
        qs, _ = load_questions(path)
        return [(q, assistant.evidence(q.question)[0]) for q in qs if is_recommendation_question(q.question) is None]

    fits = {p: featurize(p) for p in args.fit}
    checks = {p: featurize(p) for p in args.check}
    fit = [(q, f) for rows in fits.values() for q, f in rows if f is not None]
    if args.verbose:
        for path, rows in [*fits.items(), *checks.items()]:
            print(f"-- {path.name}")
            for q, f in rows:
                print(f"{q.id:6s} {'yes' if q.answerable else 'no':4s} {f.to_dict()}  {q.question[:70]}")

    decided = [abstain.decided_by_rule(f) for _, f in fit]
    free = [(q, f) for (q, f), d in zip(fit, decided, strict=True) if not d]
    x = np.array([f.vector() for _, f in free])
    y = np.array([0.0 if q.answerable else 1.0 for q, _ in free])
    weights = tuple(round(float(v), 3) for v in fit_logistic(x, y, args.l2))
    threshold = round(choose_threshold([abstain.evidence_score(f, weights) for q, f in fit if q.answerable],
                                       args.false_rate), 3)
    print(f"hard rules (missing identifier, events after the corpus, out of scope) decide {sum(decided)} fitting questions, "
          f"{sum(d and q.answerable for (q, _), d in zip(fit, decided, strict=True))} of them answerable")
    print("\nfitted (paste into abstain.py):")
    print(f"WEIGHTS = {weights}  # bias, {', '.join(abstain.FEATURES)}")
    print(f"ABSTAIN_ABOVE = {threshold}")
    print("\ntrade-off along the threshold: abstained/unanswerable  false/answerable")
    sets = [*fits.items(), *checks.items()]
    print("  threshold  " + "  ".join(f"{p.stem[:14]:>16s}" for p, _ in sets))
    for t in sorted({round(v, 2) for v in np.linspace(0.2, 0.9, 15)} | {threshold}):
        cells = []
        for _, rows in sets:
            ok, n_un, fa, n_ans, _ = tally(rows, weights, t)
            cells.append(f"{ok:>3d}/{n_un:<3d}{fa:>3d}/{n_ans:<3d}")
        print(f"  {t:9.3f}  " + "  ".join(f"{c:>16s}" for c in cells))
    current = (abstain.WEIGHTS, abstain.ABSTAIN_ABOVE)
    for label, (w, t) in (("fitted now", (weights, threshold)), ("abstain.py constants", current)):
        print(f"\n{label}: threshold {t}")
        for path, rows in sets:
            ok, n_un, fa, n_ans, wrong = tally(rows, w, t)
            role = "fit" if path in fits else "check"
            print(f"  [{role}] {path.name}: abstained on {ok}/{n_un} unanswerable, false abstentions {fa}/{n_ans}  "
                  f"{'; '.join(wrong)}")


if __name__ == "__main__":
    main()
