"""Fit and measure the recommendation coverage gate (assistant/answer/recommend_subject.py).

    .venv/bin/python bench/recommendation_coverage.py [--index-dir DIR] [--show]

Reads only tuning sets — dev, the calibration set, the held-out, tuning and conversation sets; never
a sealed set — and takes their recommendation-kind and unanswerable items.

1. **Fit `DENSE_COVERED`.** Each salient concept of those questions that the recommendations' own
   words do not cover (and whose words the brief does use: a word the brief never uses is refused
   whatever its similarity) gets its best cosine with a sentence of a recommendation, its argument
   or the sentence next to them. Concepts of unanswerable items are the negatives, concepts of
   recommendation-kind items the positives. The threshold printed is the lowest (in steps of 0.01)
   above every negative: a subject is covered by meaning only when it comes closer than anything
   the documents leave unanswered.
2. **Measure the answers.** Every question of those sets that the analysis routes to the brief's
   recommendations, plus one derived question per unanswerable item, "What does the brief
   recommend on <its first concept>?", for the concepts whose words the brief never uses (the
   brief recommends nothing on them, by construction): answered / refused correctly,
   must-mention, verified lines, and words per answer.
3. **Topic answers.** "What does the brief recommend on <topic>?" for each topic of the lexicon the
   records carry: words per answer (the median is what the one-line shape is held to).

Prints the figures and writes them to bench/results/recommendation_coverage.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, ROOT, full_corpus_settings  # noqa: E402
from _machine import machine  # noqa: E402

from assistant.answer import recommend, recommend_subject  # noqa: E402
from assistant.evaluate.metrics import must_mention_share  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.pipeline import Assistant  # noqa: E402

TUNING_SETS = [
    DEV_SET,
    ROOT / "bench" / "calibration_questions.jsonl",
    ROOT / "bench" / "questions" / "heldout.jsonl",
    ROOT / "bench" / "questions" / "tuning.jsonl",
    ROOT / "bench" / "questions" / "conversations.jsonl",
]


def concept_rows(assistant: Assistant, questions) -> list[dict]:
    """Per concept of each recommendation-kind or unanswerable item: covered by words? best cosine?"""
    snap = assistant.reader.snapshot()
    rows = []
    for q in questions:
        a = assistant.analyze(q.question)
        concepts = [c for c in (recommend_subject.SubjectConcept.of(x, snap) for x in a.concepts) if c is not None]
        if not concepts:
            continue
        gloss = a.english if a.translated else None
        lexical, dense = recommend_subject.measure(concepts, snap, assistant._embed_concepts, gloss)
        for j, sc in enumerate(concepts):
            rows.append({"id": q.id, "answerable": q.answerable, "concept": sc.concept.text, "known": sc.known,
                         "words": float(lexical[:, j].max()), "dense": round(float(dense[:, j].max()), 3)})
    return rows


def fit_dense(rows: list[dict]) -> tuple[float, dict]:
    """The lowest threshold (0.01 steps) above every negative the words leave uncovered."""
    free = [r for r in rows if r["known"] and not r["words"]]
    negatives = sorted((r["dense"] for r in free if not r["answerable"]), reverse=True)
    positives = sorted((r["dense"] for r in free if r["answerable"]), reverse=True)
    t = math.floor(negatives[0] * 100 + 1) / 100 if negatives else 0.5
    return t, {
        "negatives": len(negatives), "positives": len(positives),
        "highest_negatives": [r for r in sorted(free, key=lambda r: -r["dense"]) if not r["answerable"]][:5],
        "positives_covered_by_meaning": sum(p >= t for p in positives),
        "positives_covered_at_current": sum(p >= recommend_subject.DENSE_COVERED for p in positives),
        "negatives_covered_at_current": sum(n >= recommend_subject.DENSE_COVERED for n in negatives),
    }


def ask(assistant: Assistant, question: str, history: list[str]) -> object:
    turns: list[tuple[str, str]] = []
    for h in history:
        previous = assistant.ask(h, history=turns)
        turns += [("user", h), ("assistant", previous.text)]
    return assistant.ask(question, history=turns)


def measure_answers(assistant: Assistant, questions, show: bool) -> dict:
    """Routed questions and derived refusal probes, answered through `Assistant.ask`."""
    snap = assistant.reader.snapshot()
    cases = []
    for q, history in questions:
        routed = assistant.analyze(q.question).intent == "recommendation"
        follows = bool(history) and assistant.analyze(history[-1]).intent == "recommendation"
        if routed or follows or (q.kind == "recommendation" and history):
            cases.append((q.id, q.question, list(history), q.answerable, list(q.must_mention), "set"))
        if not q.answerable and not history:
            a = assistant.analyze(q.question)
            first = next((c for c in (recommend_subject.SubjectConcept.of(x, snap) for x in a.concepts)
                          if c is not None and not c.known and not recommend_subject._OCCASION.fullmatch(c.concept.text)),
                         None)
            if first is not None:
                cases.append((f"{q.id}-rec", f"What does the brief recommend on {first.concept.text}?", [], False, [],
                              "derived"))
    results = []
    for cid, question, history, answerable, must, origin in cases:
        t = time.perf_counter()
        answer = ask(assistant, question, history)
        ms = (time.perf_counter() - t) * 1000
        routed = answer.backend == recommend.BACKEND
        correct = (not answer.abstained) if answerable else answer.abstained
        words = len(answer.text.split())
        lines = sum(1 for line in answer.text.splitlines() if line.startswith("- "))
        dropped = sum(1 for s in answer.support if not s.supported)
        results.append({"id": cid, "question": question, "origin": origin, "answerable": answerable,
                        "routed": routed, "abstained": answer.abstained, "correct": correct, "words": words,
                        "lines": lines, "unverified": dropped, "ms": round(ms),
                        "must_mention": must_mention_share(answer.text, must) if must else None,
                        "not_covered": answer.not_covered})
        if show:
            print(f"--- {cid} [{origin}] {'answerable' if answerable else 'unanswerable'} routed={routed} "
                  f"correct={correct} words={words}\n{question}\n{answer.text}\n")

    def share(rows, key):
        return round(sum(bool(r[key]) for r in rows) / len(rows), 3) if rows else None

    answerable = [r for r in results if r["answerable"]]
    refusable = [r for r in results if not r["answerable"]]
    answered = [r for r in results if not r["abstained"] and r["routed"]]
    mm = [r["must_mention"] for r in answerable if r["must_mention"] is not None]
    return {
        "n": len(results),
        "answerable": len(answerable), "answered_correctly": share(answerable, "correct"),
        "unanswerable": len(refusable), "refused_correctly": share(refusable, "correct"),
        "routed_to_recommendations": sum(r["routed"] for r in results),
        "must_mention": round(sum(mm) / len(mm), 3) if mm else None,
        "words_p50": statistics.median([r["words"] for r in answered]) if answered else None,
        "unverified_sentences": sum(r["unverified"] for r in results),
        "rows": results,
    }


def topic_words(assistant: Assistant, show: bool) -> dict:
    snap = assistant.reader.snapshot()
    topics = sorted({t for r in snap.recommendations for t in r.topics})
    rows = []
    for topic in topics:
        answer = assistant.ask(f"What does the brief recommend on {topic}?")
        rows.append({"topic": topic, "abstained": answer.abstained, "words": len(answer.text.split()),
                     "lines": sum(1 for line in answer.text.splitlines() if line.startswith("- "))})
        if show:
            print(f"--- topic {topic}: {rows[-1]['words']} words\n{answer.text}\n")
    general = assistant.ask("What does the brief recommend?")
    words = [r["words"] for r in rows if not r["abstained"]]
    return {"topics": rows, "words_p50": statistics.median(words) if words else None,
            "words_max": max(words) if words else None, "general_words": len(general.text.split())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--show", action="store_true", help="print every answer")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "recommendation_coverage.json")
    args = ap.parse_args()
    assistant = Assistant(full_corpus_settings(args.index_dir))
    questions = []
    for path in TUNING_SETS:
        if "sealed" in path.name:
            raise SystemExit(f"{path}: sealed sets are never used for fitting")
        qs, errors = load_questions(path)
        if errors:
            raise SystemExit(f"{path}: {errors[0]}")
        histories = {d["id"]: d.get("history") or [] for d in map(json.loads, path.read_text("utf-8").splitlines())
                     if d}
        questions += [(q, histories.get(q.id, [])) for q in qs if q.kind == "recommendation" or not q.answerable
                      or any(assistant.analyze(x).intent == "recommendation"
                             for x in [q.question, *histories.get(q.id, [])[-1:]])]
    picked = [q for q, _ in questions if q.kind == "recommendation" or not q.answerable]
    rows = concept_rows(assistant, picked)
    t, fit = fit_dense(rows)
    print(f"DENSE_COVERED fitted: {t:.2f} (in recommend_subject.py: {recommend_subject.DENSE_COVERED:.2f}); "
          f"{fit['negatives']} negative and {fit['positives']} positive concepts the words leave uncovered; "
          f"positives covered by meaning at the fitted value: {fit['positives_covered_by_meaning']}")
    for r in fit["highest_negatives"]:
        print(f"   highest negative {r['dense']:.3f} {r['id']} {r['concept']!r}")
    answers = measure_answers(assistant, questions, args.show)
    print(f"recommendation questions: {answers['n']} ({answers['routed_to_recommendations']} routed to the "
          f"recommendations); answerable answered {answers['answered_correctly']} of {answers['answerable']}, "
          f"unanswerable refused {answers['refused_correctly']} of {answers['unanswerable']}; must-mention "
          f"{answers['must_mention']}; words per answer p50 {answers['words_p50']}; unverified sentences "
          f"{answers['unverified_sentences']}")
    for r in answers["rows"]:
        if not r["correct"]:
            print(f"   wrong: {r['id']} [{r['origin']}] routed={r['routed']} abstained={r['abstained']} {r['question']}")
    topics = topic_words(assistant, args.show)
    print(f"topic answers: {len(topics['topics'])} topics, words p50 {topics['words_p50']}, max "
          f"{topics['words_max']}; the general list: {topics['general_words']} words")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "date": time.strftime("%Y-%m-%d"),
                                    "dense_covered_fitted": t, "fit": fit, "answers": answers, "topics": topics},
                                   indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
