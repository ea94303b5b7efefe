"""Measure the citation verifier (assistant/answer/verify.py) and choose its thresholds.

    .venv/bin/python bench/verify_calibration.py [--index-dir DIR]

Fitting set: bench/verify_pairs.jsonl, 21 paraphrases of brief sentences (supported) and 21
plausible claims that reuse the same passage's words or figures but state something it does not
say (unsupported), each paired with the passage it would cite. For every pair it prints the
verifier's features (lexical coverage of the sentence's content terms, best cosine with a sentence
of the passage, the number/name check) and then searches the three thresholds
(LEXICAL_SUPPORTED, LEXICAL_FLOOR, DENSE_SUPPORTED) for the fewest errors, an accepted false claim
weighing twice a rejected paraphrase (a dropped true sentence costs less than a wrong citation).

Check set (not fitted): the dev set's reference answers, sentence by sentence, against the chunks
that contain the question's evidence quotes; they are human paraphrases that should be supported.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, full_corpus_settings  # noqa: E402

from assistant.answer import verify as V  # noqa: E402
from assistant.evaluate.metrics import contains_quote  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.textutil import normalize_for_match, sentences  # noqa: E402

HERE = Path(__file__).resolve().parent


def features(assistant: Assistant, sentence: str, chunks) -> tuple[bool | None, float, float, str]:
    """(rule verdict before embedding, lexical coverage, best cosine, reason)."""
    snap = assistant.reader.snapshot()
    verdict, lexical, reason = V.check_sentence(sentence, chunks)
    v = assistant.embedder.embed([V.strip_markers(sentence)])[0]
    dense = max(float(np.max(snap.sentences(c.id)[1] @ v)) for c in chunks)
    hard_fail = verdict is False and ("number" in reason or "name" in reason or "no citation" in reason)
    return (False if hard_fail else None), lexical, dense, reason


def decide(hard: bool | None, lexical: float, dense: float, sup: float, floor: float, dmin: float) -> bool:
    if hard is False:
        return False
    if lexical >= sup:
        return True
    if lexical < floor:
        return False
    return dense >= dmin


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    args = ap.parse_args()
    assistant = Assistant(full_corpus_settings(args.index_dir))
    snap = assistant.reader.snapshot()
    chunks = list(snap.chunks.values())

    fit = []
    for line in (HERE / "verify_pairs.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        anchor = normalize_for_match(d["anchor"])
        chunk = next(c for c in chunks if c.kind == "brief" and anchor in normalize_for_match(c.text))
        hard, lexical, dense, reason = features(assistant, d["sentence"] + " [1]", [chunk])
        fit.append((d["supported"], hard, lexical, dense, d["sentence"]))
    print(f"{'label':6s} {'hard':5s} {'lex':>5s} {'dense':>6s}  sentence")
    for ok, hard, lexical, dense, s in sorted(fit, key=lambda r: (r[0], r[2])):
        print(f"{'pos' if ok else 'neg':6s} {'fail' if hard is False else '-':5s} {lexical:5.2f} {dense:6.2f}  {s[:90]}")

    check = []
    questions, _ = load_questions(DEV_SET)
    for q in questions:
        if not (q.answerable and q.answer and q.evidence):
            continue
        ev_chunks = [c for c in chunks if any(contains_quote(c.text, e) for e in q.evidence)]
        if not ev_chunks:
            continue
        for s in sentences(q.answer):
            hard, lexical, dense, reason = features(assistant, s + " [1]", ev_chunks)
            check.append((True, hard, lexical, dense, s, reason))

    grid = itertools.product([x / 100 for x in range(50, 96, 5)], [x / 100 for x in range(10, 60, 5)],
                             [x / 100 for x in range(40, 90, 2)])
    results = []
    for sup, floor, dmin in grid:
        if floor > sup:
            continue
        fp = sum(1 for ok, h, lx, d, _ in fit if not ok and decide(h, lx, d, sup, floor, dmin))
        fn = sum(1 for ok, h, lx, d, _ in fit if ok and not decide(h, lx, d, sup, floor, dmin))
        results.append((2 * fp + fn, fp, fn, (sup, floor, dmin)))
    best = min(r[0] for r in results)
    tied = [r for r in results if r[0] == best]
    chosen = tuple(sorted(r[3][i] for r in tied)[len(tied) // 2] for i in range(3))
    for label, params in (("chosen", chosen), ("verify.py now", (V.LEXICAL_SUPPORTED, V.LEXICAL_FLOOR, V.DENSE_SUPPORTED))):
        fp = sum(1 for ok, h, lx, d, _ in fit if not ok and decide(h, lx, d, *params))
        fn = sum(1 for ok, h, lx, d, _ in fit if ok and not decide(h, lx, d, *params))
        n_pos = sum(1 for r in fit if r[0])
        rec = sum(1 for ok, h, lx, d, *_ in check if decide(h, lx, d, *params))
        print(f"\n{label} (LEXICAL_SUPPORTED, LEXICAL_FLOOR, DENSE_SUPPORTED) = {params}")
        print(f"  fitting set: accepted {fp}/{len(fit) - n_pos} false claims, rejected {fn}/{n_pos} paraphrases")
        print(f"  dev reference answers: {rec}/{len(check)} sentences supported")
    print("\nrejected dev reference sentences under the current thresholds:")
    params = (V.LEXICAL_SUPPORTED, V.LEXICAL_FLOOR, V.DENSE_SUPPORTED)
    for _ok, h, lx, d, s, reason in check:
        if not decide(h, lx, d, *params):
            print(f"  lex {lx:.2f} dense {d:.2f} {reason[:60]!r}: {s[:100]}")


if __name__ == "__main__":
    main()
