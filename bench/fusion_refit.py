"""The fusion's weights refitted on every tuning set, checked by leaving one set out.

    .venv/bin/python bench/fusion_refit.py [--index-dir DIR] [--mirror ../shared/corpus]

The weights in settings were fitted on dev + heldout (English) and es_twins (Spanish); since then
each session has opened a round of sealed sets written from the documents alone, which resemble
the questions the product is judged on more closely than the team's own sets. This script runs the
grid of bench/embedders.py (the product's retriever, each channel's work memoized) over the
answerable single questions of every tuning file (dev, heldout, tuning, es_twins with their English
twins, the Spanish-pair files with their twins, rounds 1-N) and, for each file, chooses the weights
on all the other files and scores that file with them: the leave-one-set-out figure is what the
refit would have done on a set it never saw. English questions choose rrf_k and the two dense
channels' weights (BM25 at 1); questions in other languages choose rrf_k and BM25's weight beside
the multilingual channel (at 1.5). The product has one rrf_k: a fit that chose two would say so.
Criterion: MRR@10 pooled over the training files' questions, then hit@5. Sealed files are never read. Figures go to bench/results/fusion_refit.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, MIRROR, ROOT, full_corpus_settings  # noqa: E402
from _machine import machine, write_results  # noqa: E402
from embedders import GRID_K, GRID_MINILM, GRID_MULTILINGUAL, Config, Item, MemoRetriever, run, scores  # noqa: E402

from assistant.pipeline import Assistant  # noqa: E402
from assistant.retrieve.analysis import analyze  # noqa: E402
from assistant.retrieve.hybrid import BM25, MINILM, MULTILINGUAL  # noqa: E402

QUESTIONS = ROOT / "bench" / "questions"
GRID_OTHER_BM25 = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)


def tuning_files() -> dict[str, Path]:
    files = {"dev": DEV_SET, "heldout": QUESTIONS / "heldout.jsonl", "tuning": QUESTIONS / "tuning.jsonl",
             "es_twins": QUESTIONS / "es_twins.jsonl", "spanish_pairs": QUESTIONS / "spanish_pairs_tuning.jsonl"}
    for path in sorted(QUESTIONS.glob("round*.jsonl")):
        if "conversations" not in path.name:
            files[path.stem] = path
    return {k: v for k, v in files.items() if "sealed" not in v.name}


def load(assistant: Assistant, files: dict[str, Path]) -> list[Item]:
    """Answerable single questions with evidence; a Spanish pair's English twin joins its file's fold
    (the same evidence must not be fitted on one side and scored on the other)."""
    items: list[Item] = []
    rows = []
    for name, path in files.items():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows.append((name, r))
    for name, r in rows:
        if not r.get("answerable", True) or r.get("history") or not r.get("evidence"):
            continue
        items.append(Item(name, r["id"], r["question"], list(r["evidence"]), list(r.get("must_mention") or [])))
        twin = r.get("twin")
        if twin and name != "es_twins":  # es_twins' twins are questions of dev, heldout and tuning
            items.append(Item(name, r["id"] + "/twin", twin, list(r["evidence"]), list(r.get("must_mention") or [])))
    for it in items:
        a = assistant.analyze(it.question)
        it.analyses["gloss"] = a
        it.analyses["typed"] = a if a.language == "en" else analyze(it.question, language=a.language)
    return items


def pooled(ranks: dict[str, int | None], items: list[Item]) -> dict[str, Any]:
    return scores([ranks[f"{it.set}/{it.id}"] for it in items])


def key(summary: dict[str, Any]) -> tuple[float, float]:
    return summary["mrr_at_10"], summary["hit_at_5"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--other-only", action="store_true",
                    help="English questions keep the product's weights (the English grid takes most of the time)")
    args = ap.parse_args()

    before = machine()
    s = full_corpus_settings(args.index_dir, mirror=args.mirror)
    assistant = Assistant(s)
    retriever = MemoRetriever(assistant.retriever)
    files = tuning_files()
    items = load(assistant, files)
    english = [it for it in items if it.language == "en"]
    other = [it for it in items if it.language != "en"]
    print(f"{len(files)} files, {len(english)} English and {len(other)} other-language questions")

    product_en = {BM25: s.lexical_weight, MINILM: s.dense_weight, MULTILINGUAL: s.multilingual_weight}
    product_other = {BM25: s.other_language_lexical_weight, MULTILINGUAL: s.other_language_multilingual_weight}
    product = run(retriever, items, Config("product", rrf_k=s.rrf_k, english=product_en, other=product_other))
    channels = {name: run(retriever, items, Config(name, mode=name, rrf_k=s.rrf_k, english=product_en,
                                                    other=product_other)) for name in (BM25, MINILM, MULTILINGUAL)}

    grid_en: dict[tuple, dict[str, int | None]] = {}
    for k in (s.rrf_k,) if args.other_only else GRID_K:
        for wm in (s.dense_weight,) if args.other_only else GRID_MINILM:
            for we in (s.multilingual_weight,) if args.other_only else GRID_MULTILINGUAL:
                grid_en[(k, wm, we)] = run(retriever, english, Config(
                    "", rrf_k=k, english={BM25: 1.0, MINILM: wm, MULTILINGUAL: we}, other=product_other))
    grid_other: dict[tuple, dict[str, int | None]] = {}
    for k in GRID_K:
        for wl in GRID_OTHER_BM25:
            grid_other[(k, wl)] = run(retriever, other, Config(
                "", rrf_k=k, english=product_en, other={BM25: wl, MULTILINGUAL: 1.5}))

    def choose(grid: dict[tuple, dict[str, int | None]], train: list[Item]) -> tuple:
        return max(grid, key=lambda c: key(pooled(grid[c], train)))

    rows, loso = [], {}
    for name in files:
        train_en = [it for it in english if it.set != name]
        test_en = [it for it in english if it.set == name]
        train_o = [it for it in other if it.set != name]
        test_o = [it for it in other if it.set == name]
        c_en, c_o = choose(grid_en, train_en), choose(grid_other, train_o)
        for it in test_en:
            loso[f"{it.set}/{it.id}"] = grid_en[c_en][f"{it.set}/{it.id}"]
        for it in test_o:
            loso[f"{it.set}/{it.id}"] = grid_other[c_o][f"{it.set}/{it.id}"]
        test = test_en + test_o
        if not test:
            continue
        rows.append({"set": name, "n": len(test), "chosen_en": c_en, "chosen_other": c_o,
                     "product": pooled(product, test), "loso": pooled(loso, test),
                     "bm25": pooled(channels[BM25], test)})
    final_en, final_o = choose(grid_en, english), choose(grid_other, other)

    print("\n| set | n | product hit@5 / MRR@10 | left out hit@5 / MRR@10 | BM25 alone | chosen (k, minilm, e5; other k, bm25) |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        p, lo, b = r["product"], r["loso"], r["bm25"]
        print(f"| {r['set']} | {r['n']} | {p['hit_at_5']:.3f} / {p['mrr_at_10']:.3f} | {lo['hit_at_5']:.3f} / "
              f"{lo['mrr_at_10']:.3f} | {b['hit_at_5']:.3f} / {b['mrr_at_10']:.3f} | {r['chosen_en']}; {r['chosen_other']} |")
    for label, group in (("English", english), ("other languages", other), ("all", items)):
        p, lo = pooled(product, group), pooled(loso, group)
        ch = {n: pooled(channels[n], group) for n in channels}
        print(f"{label} ({len(group)}): product {p}, left out {lo}, " + ", ".join(f"{n} {v}" for n, v in ch.items()))
    print(f"fitted on all: English {final_en} ({pooled(grid_en[final_en], english)}), other {final_o} "
          f"({pooled(grid_other[final_o], other)})")
    path = write_results("fusion_refit", {
        "machine_before": before, "machine_after": machine(), "files": {k: str(v) for k, v in files.items()},
        "rows": [{**r, "chosen_en": list(r["chosen_en"]), "chosen_other": list(r["chosen_other"])} for r in rows],
        "fitted_english": list(final_en), "fitted_other": list(final_o),
        "product": {"english": pooled(product, english), "other": pooled(product, other)},
        "left_out": {"english": pooled(loso, english), "other": pooled(loso, other)},
    })
    print(f"-> {path}")


if __name__ == "__main__":
    main()
