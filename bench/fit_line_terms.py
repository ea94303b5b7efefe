"""Fit the weights of a question's words when tariff lines are searched, and check them by cross-validation.

A negotiator asks for a line in a frame of words that name no good: "What does Canada charge on
... that a Monterrey plant sells to Canadian buyers?". BM25 weighs "charge" and "Canadian" by how
rare they are among the passages, so a line that happens to hold them ("Preparations and charges
for fire-extinguishers", "For use in Canadian manufactures") outranks the line of the good. This
script measures, for each search term of the tuning questions whose evidence is a line of Canada's
schedule (`line_vectors.tuning_items`: every question file of bench/questions but the sealed ones,
with pair twins and conversation standalones), how often the evidence line holds it when the question does: a
relevance weight (hits + PRIOR) / (questions + PRIOR), kept for terms of at least MIN_QUESTIONS
questions and below MAX_KEPT (the rest weigh 1). `retrieve.hybrid` orders the lines it retrieves
by BM25 with these weights (the prose is searched as before).

Before writing, it prints BM25 line ranks (lines only, hit@1 / hit@5 / MRR@10) for English and
other questions, unweighted and weighted with weights fitted on the other half: two folds by
round (a file's name up to "_", as bench/fit_line_gate.py groups), a Spanish twin of an earlier
question (`es_twins`) with its original, so that no fold is tested on a wording of a question it
was fitted on.

    .venv/bin/python bench/fit_line_terms.py --index-dir /work/idx-a [--write]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import re
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import DEFAULT_DIR, ROOT, full_corpus_settings  # noqa: E402
from line_vectors import ranks_of, tuning_items  # noqa: E402

from assistant.evaluate.metrics import hit_at_k, reciprocal_rank  # noqa: E402
from assistant.index.lexical import tokenize  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.retrieve.line_terms import WEIGHTS_FILE  # noqa: E402

# Set once, from the two-fold check on the tuning line questions (2026-12-07, rounds 1-40 and the
# other tuning files: priors 0, 2, 5 and minimum counts 1, 5, 10, 20 tried; 5 and 5 were best on
# Spanish hit@5 and within 0.004 of the best English hit@1).
PRIOR = 5
MIN_QUESTIONS = 5
MAX_KEPT = 0.9  # a weight this close to 1 changes nothing worth a line of the file


def fit(items: list[tuple[str, list[str], set[str]]], gold_terms) -> dict[str, float]:
    asked: collections.Counter[str] = collections.Counter()
    held: collections.Counter[str] = collections.Counter()
    for _, terms, gold in items:
        for t in set(terms):
            asked[t] += 1
            held[t] += any(t in gold_terms(g) for g in gold)
    weights = {t: (held[t] + PRIOR) / (n + PRIOR) for t, n in asked.items() if n >= MIN_QUESTIONS}
    return {t: round(w, 3) for t, w in sorted(weights.items()) if w < MAX_KEPT}


def rounds() -> dict[str, str]:
    """The round of each question id: its file's name up to "_"; an `es_twins` item (whose `twin`
    is an earlier question's id) goes with that question."""
    group_of: dict[str, str] = {}
    twins: dict[str, str] = {}
    for path in sorted((ROOT / "bench" / "questions").glob("*.jsonl")):
        if "sealed" in path.name:  # never
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                q = json.loads(line)
                group_of[q["id"]] = re.sub(r"_.*|\.jsonl$", "", path.name)
                if isinstance(q.get("twin"), str) and " " not in q["twin"]:
                    twins[q["id"]] = q["twin"]
    for qid, original in twins.items():
        group_of[qid] = group_of.get(original, group_of[qid])
    return group_of


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--write", action="store_true", help=f"write the weights to {WEIGHTS_FILE}")
    args = p.parse_args()
    assistant = Assistant(full_corpus_settings(args.index_dir))
    snap = assistant.retriever.reader.snapshot()
    lex = snap.lexical
    lines = [c for c in snap.chunks.values() if c.kind == "tariff" and c.meta.get("schedule") == "Canada"]
    by_key = {c.meta["key"]: c.id for c in lines if c.meta.get("key")}
    mask = snap.mask({"tariff"})
    cache: dict[str, set[str]] = {}

    def gold_terms(cid: str) -> set[str]:
        if cid not in cache:
            cache[cid] = set(tokenize(snap.chunks[cid].lexical_text))  # what BM25 reads
        return cache[cid]

    items, english = [], {}
    for qid, question, gold in tuning_items(by_key):
        a = assistant.analyze(question)
        items.append((qid, lex.query_tokens(a.search_text), gold))
        english[qid] = a.language == "en"

    def rank(terms: list[str], gold: set[str], weights: dict[str, float] | None) -> int | None:
        return ranks_of([cid for cid, _ in lex.search_tokens(terms, 10, mask, weights)], gold)

    group_of = rounds()

    def fold(qid: str) -> int:
        return zlib.crc32(group_of[qid.removesuffix("-twin")].encode()) % 2

    runs: dict[str, list[tuple[bool, int | None]]] = {"unweighted": [], "weighted (other fold)": []}
    for f in (0, 1):
        weights = fit([i for i in items if fold(i[0]) != f], gold_terms)
        for qid, terms, gold in (i for i in items if fold(i[0]) == f):
            runs["unweighted"].append((english[qid], rank(terms, gold, None)))
            runs["weighted (other fold)"].append((english[qid], rank(terms, gold, weights)))
    for name, got in runs.items():
        for lang, is_en in (("English", True), ("other", False)):
            r = [x for e, x in got if e == is_en]
            print(f"{name:22} {lang:8} {len(r):5}  hit@1 {sum(hit_at_k(x, 1) for x in r) / len(r):.3f}  "
                  f"hit@5 {sum(hit_at_k(x, 5) for x in r) / len(r):.3f}  "
                  f"MRR@10 {sum(reciprocal_rank(x, 10) for x in r) / len(r):.3f}")
    weights = fit(items, gold_terms)
    print(f"{len(weights)} terms below {MAX_KEPT} from {len(items)} questions; lowest:",
          ", ".join(f"{t} {w}" for t, w in sorted(weights.items(), key=lambda kv: kv[1])[:15]))
    if args.write:
        WEIGHTS_FILE.write_text(json.dumps({
            "about": "Weights of search terms when tariff lines are searched; bench/fit_line_terms.py",
            "fitted_on": f"{len(items)} tuning questions whose evidence is a line of Canada's schedule "
                         f"(bench/questions, no sealed file), {datetime.date.today().isoformat()}",
            "prior": PRIOR, "min_questions": MIN_QUESTIONS, "weights": weights,
        }, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print("written", WEIGHTS_FILE)


if __name__ == "__main__":
    main()
