"""Fit the refusal model of assistant/answer/abstain.py on the tuning sets' evidence.

    .venv/bin/python bench/fit_refusal.py [FEATURES.jsonl] [--false-rate 0.03] [--l2 0.03] [--show]

Reads the file written by bench/coverage_features.py (dev, calibration, held-out and tuning sets;
never a sealed set): per question the evidence features (`assistant.answer.evidence.FEATURES`),
whether a hard rule already decided it, and whether it is answerable. Questions routed to the
recommendation summary are left out. Fits a logistic model of "the passages do not answer"
(numpy gradient descent, L2 on standardised features) on all tuning sets together and picks the
threshold as the lowest score that keeps false refusals at or below `--false-rate`; prints the
lines to paste into abstain.py (`WEIGHTS`, `ABSTAIN_ABOVE`).

Honesty check: the same fit, repeated with each set left out and applied to it (leave one set
out), says how the rule does on questions it was not fitted on — the figure to expect on fresh
questions, not the fitting figure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import ROOT  # noqa: E402

from assistant.answer.evidence import FEATURES, EvidenceFeatures  # noqa: E402

HARD_RULES = ("identifier", "after", "nothing", "off-topic", "out-of-scope", "unit")


# The direction each feature may push "the passages do not answer": more coverage and similarity
# never make a refusal likelier, more unknown words, missing figures, names and numbers never make it
# less likely. The fit keeps each weight on its side (or at 0): a weight fitted against its meaning
# would be an accident of the tuning sets.
SIGNS = np.array([-1, -1, 1, 1, 1, 1, 1, 1, 1, -1, 1])


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 4000, lr: float = 0.5,
                 off: np.ndarray | None = None) -> np.ndarray:
    """Weights (bias first) on the raw feature scale of P(y=1), each of the sign `SIGNS` allows;
    the features in `off` (a mask) keep weight 0."""
    off = np.zeros(x.shape[1], bool) if off is None else off
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mu) / sd])
    w = np.zeros(z.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= lr * (z.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]])
        w[1:] = np.where((SIGNS * w[1:] < 0) | off, 0.0, w[1:])
    return np.r_[w[0] - np.sum(w[1:] * mu / sd), w[1:] / sd]


def score(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(w[0] + x @ w[1:])))


def threshold(scores_answerable: np.ndarray, false_rate: float) -> float:
    ranked = np.sort(scores_answerable)[::-1]
    allowed = int(np.floor(false_rate * len(ranked)))
    return float(ranked[allowed]) if allowed < len(ranked) else 0.0


def vector(row: dict) -> np.ndarray:
    keep = {k: row[k] for k in EvidenceFeatures.__dataclass_fields__ if k in row}
    for k in ("unknown_names", "absent_names", "absent_numbers"):
        keep[k] = tuple(keep.get(k) or ())
    return EvidenceFeatures(**keep).vector()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("features", type=Path, nargs="?", default=ROOT / "bench" / "results" / "coverage_features.jsonl")
    ap.add_argument("--false-rate", type=float, default=0.03)
    ap.add_argument("--l2", type=float, default=0.03)
    ap.add_argument("--show", action="store_true", help="list the questions the fitted rule decides wrongly")
    ap.add_argument("--without", action="append", default=[], choices=FEATURES,
                    help="fit with this feature's weight held at 0 (e.g. the model for an index without "
                         "the multilingual channel: --without multilingual)")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.features.read_text(encoding="utf-8").splitlines() if line.strip()]
    if any("sealed" in r["set"] for r in rows):
        raise SystemExit("sealed sets are run once at the end, never fitted on")
    rows = [r for r in rows if r.get("intent") != "recommendation"]
    ruled = np.array([r["rule"] in HARD_RULES for r in rows])
    x = np.vstack([vector(r) if "coverage" in r else np.zeros(len(FEATURES)) for r in rows])
    y = np.array([0.0 if r["answerable"] else 1.0 for r in rows])
    sets = np.array([r["set"] for r in rows])
    off = np.array([f in args.without for f in FEATURES])

    def decide(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        w = fit_logistic(x[train & ~ruled], y[train & ~ruled], args.l2, off=off)
        t = threshold(score(w, x[train & ~ruled & (y == 0)]), args.false_rate)
        return (score(w, x[test]) > t) | ruled[test], w, t

    everything = np.ones(len(rows), bool)
    print("the product's weights now (abstain.WEIGHTS, ABSTAIN_ABOVE):")
    _report(rows, np.array([r["refuse"] for r in rows]))
    decided, w, t = decide(everything, everything)
    print(f"WEIGHTS = {tuple(round(float(v), 3) for v in w)}  # bias, {', '.join(FEATURES)}")
    print(f"ABSTAIN_ABOVE = {round(t, 3)}")
    print("\nfitted on all tuning sets (fitting figures):")
    _report(rows, decided)
    loso = np.zeros(len(rows), bool)
    for s in sorted(set(sets)):
        test = sets == s
        loso[test], _, _ = decide(~test, test)
    print("\neach set decided by a model fitted on the other sets (what to expect on fresh questions):")
    _report(rows, loso)
    if args.show:
        for r, d in zip(rows, decided, strict=True):
            if d == r["answerable"]:
                print(f"  {'FALSE REFUSAL' if d else 'ANSWERED'} [{r['set']} {r['id']}] {r['question']}")
                print(f"      -> {r.get('text') or ''} | {r.get('not_covered')}")


def _report(rows: list[dict], decided: np.ndarray) -> None:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r, d in zip(rows, decided, strict=True):
        p = per[r["set"]]
        if r["answerable"]:
            p[0] += 1
            p[1] += int(d)
        else:
            p[2] += 1
            p[3] += int(d)
    tot = [sum(p[i] for p in per.values()) for i in range(4)]
    for name, (na, fa, nu, cu) in [*sorted(per.items()), ("all", tot)]:
        print(f"  {name:24s} answerable refused {fa:3d}/{na:<3d} ({fa / max(na, 1):.3f})   "
              f"unanswerable refused {cu:3d}/{nu:<3d} ({cu / max(nu, 1):.3f})")


if __name__ == "__main__":
    main()
