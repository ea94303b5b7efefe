"""Which sentence of the retrieved passages answers: the hand-set score against a fitted one.

    .venv/bin/python bench/sentence_scorer.py [--index-dir DIR] [--mirror ../shared/corpus]

For every answerable single-turn question of the tuning sets (dev, tuning, heldout, calibration,
round1 — never a sealed set) the product retrieves and builds its sentence candidates exactly as
`Assistant.ask` does; each candidate gets the features `extractive.score_candidates` can compute
and a label: the sentence overlaps an evidence quote, or it holds a must-mention string and its
passage holds an evidence quote (calibration has no quotes: a must-mention string alone).

Compared per question, leave-one-set-out (fit on the other sets, read on the held-out one):
P@1 (the top-scored sentence is a positive, i.e. the lead answers) and R@3 (a positive among the
three best: the lead and first points). Printed: the current hand-set score, the logistic model,
and its coefficients fitted on all sets (what the product would use). bench/results/sentence_scorer.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, MIRROR, ROOT, full_corpus_settings  # noqa: E402
from _machine import write_results  # noqa: E402

from assistant.answer.extractive import Candidate, _terms  # noqa: E402
from assistant.evaluate.metrics import mention_present  # noqa: E402
from assistant.index.lexical import tokenize  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.retrieve.analysis import QueryAnalysis  # noqa: E402
from assistant.textutil import numbers, strip_footnote_marks  # noqa: E402

QUESTIONS = ROOT / "bench" / "questions"
SETS = {
    "dev": DEV_SET,
    "tuning": QUESTIONS / "tuning.jsonl",
    "heldout": QUESTIONS / "heldout.jsonl",
    "calibration": ROOT / "bench" / "calibration_questions.jsonl",
    "round1": QUESTIONS / "round1.jsonl",
}


def sentence_features(c: Candidate, a: QueryAnalysis, strength: float) -> list[float]:
    """What the product's score could read, after `extractive.score_candidates`: term coverage,
    sentence and passage cosine, retrieval rank, a new figure when one is asked, table, first
    sentence of its passage, length, share of the question's concepts named, and the passage's
    fused retrieval score over the first passage's (`strength`)."""
    terms = _terms(c)
    concepts = [set(k.terms) for k in a.concepts if k.terms]
    return [
        c.lexical,
        c.dense,
        1.0 / c.rank,
        float(a.asks_for_figure and bool(numbers(strip_footnote_marks(c.text)) - a.numbers)),
        float(bool(c.chunk.meta.get("table"))),
        float(c.chunk.text.find(c.text) <= 2),
        float(np.log1p(len(c.text.split()))),
        c.chunk_dense,
        sum(bool(k & terms) for k in concepts) / len(concepts) if concepts else 0.0,
        strength,
    ]


def overlaps(sentence: str, quote: str) -> bool:
    s, q = set(tokenize(sentence)), set(tokenize(quote))
    if not s or not q:
        return False
    inter = len(s & q)
    return inter >= 0.6 * len(q) or inter >= 0.6 * len(s) and inter >= 5


def collect(assistant: Assistant) -> list[dict]:
    rows = []
    for name, path in SETS.items():
        if "sealed" in path.name:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if not r.get("answerable", True) or r.get("history") or not r.get("must_mention"):
                continue
            q = assistant._prepare(r["question"], None, None)
            ev = assistant._evidence(q, None, None, None, "hybrid")
            if not ev.candidates:
                continue
            quotes, mentions = r.get("evidence") or [], r["must_mention"]
            top = max((sc.score for sc in ev.retrieved), default=0.0) or 1.0
            strength = {sc.chunk.id: max(sc.score, 0.0) / top for sc in ev.retrieved}
            feats, labels = [], []
            for c in ev.candidates:
                passage_has = not quotes or any(overlaps(c.chunk.text, qt) or qt.lower() in c.chunk.text.lower()
                                                for qt in quotes)
                pos = any(overlaps(c.text, qt) for qt in quotes) or (
                    passage_has and any(mention_present(c.text, m) for m in mentions))
                feats.append(sentence_features(c, q.analysis, strength.get(c.chunk.id, 0.0)))
                labels.append(int(pos))
            rows.append({"set": name, "id": r["id"], "current": [c.score for c in ev.candidates],
                         "x": feats, "y": labels})
    return rows


def rank_metrics(rows: list[dict], scores: list[list[float]]) -> dict[str, float]:
    p1 = r3 = n = 0
    for row, sc in zip(rows, scores, strict=True):
        if not any(row["y"]):
            continue
        order = np.argsort(-np.asarray(sc))
        n += 1
        p1 += row["y"][order[0]]
        r3 += any(row["y"][i] for i in order[:3])
    return {"n": n, "p_at_1": round(p1 / max(n, 1), 3), "r_at_3": round(r3 / max(n, 1), 3)}


def fit(rows: list[dict]):
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([np.asarray(r["x"]) for r in rows])
    y = np.concatenate([np.asarray(r["y"]) for r in rows])
    return LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(x, y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    args = ap.parse_args()
    assistant = Assistant(full_corpus_settings(args.index_dir, mirror=args.mirror))
    rows = collect(assistant)
    print(f"{len(rows)} questions, {sum(len(r['y']) for r in rows)} candidate sentences, "
          f"{sum(sum(r['y']) for r in rows)} positive")
    out: dict = {"sets": {}}
    for held in SETS:
        test = [r for r in rows if r["set"] == held]
        train = [r for r in rows if r["set"] != held]
        if not test:
            continue
        model = fit(train)
        learned = [model.decision_function(np.asarray(r["x"])).tolist() for r in test]
        out["sets"][held] = {"current": rank_metrics(test, [r["current"] for r in test]),
                             "fitted (other sets)": rank_metrics(test, learned)}
        print(held, out["sets"][held])
    model = fit(rows)
    out["coefficients"] = model.coef_[0].round(4).tolist()
    out["intercept"] = float(model.intercept_[0])
    print("coefficients (all sets):", out["coefficients"], "intercept", round(out["intercept"], 4))
    print("->", write_results("sentence_scorer", out))


if __name__ == "__main__":
    main()
