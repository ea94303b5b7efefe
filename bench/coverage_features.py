"""Dump the refusal evidence of every question of the tuning sets, to fit the coverage thresholds.

    .venv/bin/python bench/coverage_features.py [--index-dir DIR] [--out FILE] [FILE ...]

A pairs file's English twins (the `twin` field, when it holds a question rather than an id) are
read as questions of the same set, so that a set left out of a fit takes its twins with it;
conversations (`history`) are left out. Per question: its analysis (language, slot, concepts,
parts), per concept the lexical share and the best cosine with an evidence sentence, the figure
slot's fill, and the hard-rule findings. The thresholds in assistant/answer/abstain.py are chosen
from this file (bench/fit_refusal.py). Only tuning sets are read (dev, calibration, tuning and the
opened rounds); never a sealed set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, ROOT, full_corpus_settings  # noqa: E402

from assistant.evaluate.pairs import twin_field  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402

TUNING_SETS = [
    DEV_SET,
    ROOT / "bench" / "calibration_questions.jsonl",
    ROOT / "bench" / "questions" / "heldout.jsonl",
    ROOT / "bench" / "questions" / "tuning.jsonl",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", type=Path, nargs="*", default=TUNING_SETS)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "coverage_features.jsonl")
    args = ap.parse_args()
    for f in args.files:
        if "sealed" in f.name:
            raise SystemExit(f"{f}: sealed sets are run once at the end, never used for fitting")
    assistant = Assistant(full_corpus_settings(args.index_dir))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with args.out.open("w", encoding="utf-8") as out:
        for path in args.files:
            if not path.exists():
                print(f"skipping {path}: not found")
                continue
            questions, _ = load_questions(path)
            twins = {k: v for k, v in twin_field(path, "twin").items() if " " in v}  # es_twins names ids
            for q in questions:
                if q.history:
                    continue
                asked = [(q.id, q.question)] + ([(f"{q.id}-twin", twins[q.id])] if q.id in twins else [])
                for qid, text in asked:
                    row = assistant.explain(text)
                    row.update(set=path.stem, id=qid, kind=q.kind, answerable=q.answerable, question=text)
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
    print(f"{n} questions -> {args.out}")


if __name__ == "__main__":
    main()
