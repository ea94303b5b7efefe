"""Fit the tariff-line gate of assistant/retrieve/line_gate.py on the tuning sets.

    .venv/bin/python bench/fit_line_gate.py [--l2 0.001] [--threshold 0.5] [--write]

Which questions want Canada's tariff lines among the candidates? The phrase rules of
`retrieve.analysis` (a tariff item, "tariff rate", a party's schedule named) miss many a negotiator
writes ("Which Canadian line do rotors fall under?", "what does Canada charge on ..."). This fits a
logistic model of "the evidence is a tariff line" on the MiniLM vector of the question's search
text (the vector retrieval computes anyway), over every tuning file in bench/questions plus the
shared dev set (never a sealed set): answerable items, labelled by their `documents` (the brief's
items, which give none, are not on lines); a conversation by its standalone question, a Spanish
pair by both wordings. The threshold (0.5) and the L2 weight (1e-3) are defaults, not swept.

Honesty check: five folds that leave whole rounds out (a round's files are written together), so
the printed recall and false-positive rates are those on rounds the fit did not see. `--write`
refits on everything and writes assistant/retrieve/data/line_gate.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEV_SET, ROOT  # noqa: E402

from assistant.index.embeddings import DEFAULT_MODEL, get_embedder  # noqa: E402
from assistant.retrieve.analysis import analyze_question  # noqa: E402
from assistant.retrieve.line_gate import GATE_FILE  # noqa: E402

TARIFF_DOCUMENT = "usmca-ch02-annex-2-b-tariff-schedule-of-canada.html"


def tuning_files() -> list[Path]:
    files = [f for f in sorted((ROOT / "bench" / "questions").glob("*.jsonl")) if "sealed" not in f.name]
    return [*files, DEV_SET]


def examples(files: list[Path]) -> list[tuple[str, str, int]]:
    """(group, question, label): the group is the round a file belongs to (its name up to "_"); a
    Spanish twin of an earlier question (`es_twins`, whose `twin` is that question's id) goes in
    its original's group, so that no fold sees one wording of a question it is tested on. An
    answerable item without `documents` is on the brief (it gives `section` and `footnotes`)."""
    if any("sealed" in f.name for f in files):
        raise SystemExit("sealed sets are run once at the end, never fitted on")
    items = [(re.sub(r"_.*|\.jsonl$", "", f.name), json.loads(line))
             for f in files for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]
    group_of = {q["id"]: group for group, q in items}
    rows = []
    for group, q in items:
        if not q.get("answerable", True):
            continue
        label = int(TARIFF_DOCUMENT in (q.get("documents") or []))
        texts = [q["standalone"] if q.get("history") else q["question"]]
        twin = q.get("twin") or ""
        if " " in twin:  # a Spanish pair's English wording (es_twins gives an id instead)
            texts.append(twin)
        elif twin in group_of:
            group = group_of[twin]
        rows += [(group, t, label) for t in texts]
    return rows


def fit(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 3000, lr: float = 1.0) -> np.ndarray:
    """Logistic regression by gradient descent (bias first); the vectors are unit length already."""
    z = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(z.shape[1])
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        w -= lr * (z.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]])
    return w


def probability(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(w[0] + x @ w[1:])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--write", action="store_true", help=f"refit on all and write {GATE_FILE}")
    args = ap.parse_args()

    files = tuning_files()
    rows = examples(files)
    analyses = [analyze_question(t) for _, t, _ in rows]
    embedder = get_embedder(DEFAULT_MODEL)
    x = np.vstack([embedder.embed_queries([a.search_text for a in analyses[i:i + 64]])
                   for i in range(0, len(analyses), 64)])
    y = np.array([label for *_, label in rows], dtype=float)
    rules = np.array([a.wants_tariff_lines or bool(a.schedules) for a in analyses])
    groups = np.array([g for g, *_ in rows])
    names = sorted(set(groups))
    held_out = np.zeros(len(y))
    for k in range(5):
        test = np.isin(groups, names[k::5])
        held_out[test] = probability(fit(x[~test], y[~test], args.l2), x[test])
    gate = held_out > args.threshold
    print(f"{len(y)} wordings from {len(files)} files, {int(y.sum())} on tariff lines")
    for name, fired in (("phrase rules", rules), ("gate (rounds held out)", gate), ("rules or gate", rules | gate)):
        print(f"{name:24s} recall {fired[y == 1].mean():.3f}   fires on other questions {fired[y == 0].mean():.3f}")
    if args.write:
        w = fit(x, y, args.l2)
        GATE_FILE.write_text(json.dumps({
            "model": DEFAULT_MODEL,
            "fitted_on": f"bench/fit_line_gate.py, {date.today()}: {len(y)} question wordings of the tuning files "
                         "(bench/questions/*.jsonl except sealed*, and the shared dev set)",
            "threshold": args.threshold,
            "bias": round(float(w[0]), 6),
            "weights": [round(float(v), 6) for v in w[1:]],
        }) + "\n", encoding="utf-8")
        print(f"-> {GATE_FILE}")


if __name__ == "__main__":
    main()
