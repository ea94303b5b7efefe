"""Would dense vectors for tariff lines find the lines BM25 misses? A probe, not the product.

Tariff lines are indexed for BM25 only (embedding 7,457 lines would triple the index build). On the
round-39 sealed singles 8 of 18 tariff-line questions missed their line in the top 5, nearly all
by wording: "activated charcoal" for "Activated carbon", "mums" for "Chrysanthemums", "cobijas
eléctricas" for "Electric blankets". This script embeds each line's description with its HS
heading text (`meta["description_full"]` and `meta["search_only"]`, no numbers or rates) with MiniLM
and with multilingual e5, then ranks every line for each tuning question whose evidence is a line
of Canada's schedule: BM25 alone (the product's search text, lines only), each model alone, and
reciprocal-rank fusion of BM25 with the model (MiniLM for English questions, e5 for the others).
The "-concepts" runs embed each concept of the whole question (premise included: the good is often
named there) on its own, as typed, and score a line by its best concept, so that a sentence of
context around the good does not blur it. It prints hit@5 and MRR@10 per language and each model's
lines per second; `--cache` keeps the line vectors between runs.

    .venv/bin/python bench/line_vectors.py --index-dir /work/idx-new --cache /tmp/line_vectors.npz
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import DEFAULT_DIR, ROOT, full_corpus_settings  # noqa: E402
from _machine import machine  # noqa: E402

from assistant.index.e5 import E5Embedder  # noqa: E402
from assistant.index.embeddings import get_embedder  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402
from assistant.retrieve.analysis import concepts_of  # noqa: E402
from assistant.retrieve.translate import typed_phrase  # noqa: E402

RRF_K = 10  # not tuned: the fusion constant's usual small-list value
_ITEM = re.compile(r"^(\d{4}\.\d{2}\.\d{2})\b")


def tuning_items(by_key: dict[str, str]) -> list[tuple[str, str, set[str]]]:
    """(id, question, the chunk ids of the lines its evidence quotes) for every tuning question,
    Spanish pair twin and conversation standalone whose evidence quotes a Canadian tariff line."""
    out = []
    for path in sorted((ROOT / "bench" / "questions").glob("*.jsonl")):
        if "sealed" in path.name:  # never
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            gold = {by_key[m.group(1)] for q in r.get("evidence") or [] if (m := _ITEM.match(q)) and m.group(1) in by_key}
            if not r.get("answerable", True) or not gold:
                continue
            asked = r.get("standalone") if r.get("history") else r["question"]
            out.append((r["id"], asked, gold))
            if isinstance(r.get("twin"), str) and " " in r["twin"]:
                out.append((r["id"] + "-twin", r["twin"], gold))
    return out


def ranks_of(order: list[str], gold: set[str]) -> int | None:
    return next((i + 1 for i, cid in enumerate(order[:10]) if cid in gold), None)


def fuse(*orders: list[str]) -> list[str]:
    score: dict[str, float] = {}
    for order in orders:
        for i, cid in enumerate(order[:100]):
            score[cid] = score.get(cid, 0.0) + 1.0 / (RRF_K + i + 1)
    return sorted(score, key=lambda c: -score[c])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--cache", type=Path, help="an .npz file for the line vectors (written when absent)")
    args = p.parse_args()
    assistant = Assistant(full_corpus_settings(args.index_dir))
    snap = assistant.retriever.reader.snapshot()
    lines = [c for c in snap.chunks.values() if c.kind == "tariff" and c.meta.get("schedule") == "Canada"]
    ids = [c.id for c in lines]
    texts = [f"{c.meta.get('description_full') or c.meta.get('description')}. {c.meta.get('search_only', '')}" for c in lines]
    by_key = {c.meta["key"]: c.id for c in lines if c.meta.get("key")}
    items = tuning_items(by_key)
    print(f"{len(lines)} lines, {len(items)} tuning questions answered by a line", flush=True)

    cached = dict(np.load(args.cache)) if args.cache and args.cache.exists() else {}
    vectors = {}
    for name, model in (("minilm", get_embedder()), ("e5", E5Embedder())):
        if name in cached and cached[name].shape[0] == len(texts):
            v = cached[name]
        else:
            t = time.perf_counter()
            v = np.asarray(model.embed_passages(texts), dtype=np.float32)
            print(f"{name}: {len(texts) / (time.perf_counter() - t):.1f} lines/s", flush=True)
            cached[name] = v
        vectors[name] = (model, v / np.linalg.norm(v, axis=1, keepdims=True))
    if args.cache:
        np.savez(args.cache, **cached)

    mask = snap.mask({"tariff"})
    rows: dict[tuple[str, str], list[int | None]] = {}
    for _qid, question, gold in items:
        a = assistant.analyze(question)
        lang = "en" if a.language == "en" else "other"
        bm25 = [cid for cid, _ in snap.lexical.search(a.search_text, 100, mask)]
        dense = {}
        # each concept of the whole question, as typed (a gloss's concept by its Spanish words)
        whole = [c.typed or c.text for c in concepts_of(a.english, english_grammar=not a.translated)]
        if a.translated:
            whole = [typed_phrase(question, c) or c for c in whole]
        for name, (model, v) in vectors.items():
            q = np.asarray(model.embed_query(question), dtype=np.float32)
            dense[name] = [ids[i] for i in np.argsort(-(v @ (q / np.linalg.norm(q))))[:100]]
            best = np.full(len(ids), -1.0, dtype=np.float32)
            for c in whole[:6]:
                cv = np.asarray(model.embed_query(c), dtype=np.float32)
                best = np.maximum(best, v @ (cv / np.linalg.norm(cv)))
            dense[name + "-concepts"] = [ids[i] for i in np.argsort(-best)[:100]] if whole else []
        runs = {"bm25": bm25, "minilm": dense["minilm"], "e5": dense["e5"],
                "bm25+minilm": fuse(bm25, dense["minilm"]), "bm25+e5": fuse(bm25, dense["e5"]),
                "bm25+minilm+e5": fuse(bm25, dense["minilm"], dense["e5"]),
                "minilm-concepts": dense["minilm-concepts"], "e5-concepts": dense["e5-concepts"],
                "bm25+minilm-concepts": fuse(bm25, dense["minilm-concepts"]),
                "bm25+e5-concepts": fuse(bm25, dense["e5-concepts"])}
        for run, order in runs.items():
            rows.setdefault((lang, run), []).append(ranks_of(order, gold))

    print(f"\nmachine: {machine()}")
    print("| language | run | questions | hit@5 | MRR@10 |\n| --- | --- | ---: | ---: | ---: |")
    for (lang, run), rk in sorted(rows.items()):
        hit5 = sum(1 for r in rk if r and r <= 5) / len(rk)
        mrr = sum(1 / r for r in rk if r) / len(rk)
        print(f"| {lang} | {run} | {len(rk)} | {hit5:.3f} | {mrr:.3f} |")


if __name__ == "__main__":
    main()
