"""How the rule rewrite (no LLM) understands the follow-ups of a conversation set.

For each conversation of bench/questions/conversations.jsonl (the tuning set: `history` of earlier
user turns, `question`, and `standalone`, its hand-written standalone twin) the earlier turns are
rewritten in order, as the chat does, and then the last turn. Printed per set:

- copies: follow-ups understood as a copy of the previous standalone question (issue 15: none);
- coverage: the share of the twin's content terms (the BM25 tokens, stems, without question
  vocabulary) that the understood question contains, as typed and as understood (mean, and how many
  follow-ups reach 0.5). The twins add what only the documents know ("Under 19 U.S.C. § 4513(c)(4)"),
  so 1.0 is out of reach for any rewrite: the figure is for before/after comparison.
- rewritten: follow-ups whose understood question differs from the typed one.

    .venv/bin/python bench/conversation_rewrite.py [QUESTIONS.jsonl] [--show] [--retrieval]

`--retrieval` also retrieves (hybrid, top 5, the configured index) each follow-up as typed, as
understood, as understood plus the previous question's subject (`Understanding.context`) appended
for turns the rule leaves as typed, and as its twin, and prints evidence hit@5 (an evidence quote
inside a retrieved passage, compared lower-cased and whitespace-collapsed) for each.

Never run on the sealed sets (bench/questions/sealed*.jsonl): those are run once, by the lead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer import conversation  # noqa: E402
from assistant.answer.conversation import standalone_question  # noqa: E402
from assistant.index.lexical import tokenize  # noqa: E402
from assistant.retrieve.analysis import QUESTION_VOCABULARY, SCOPE_VOCABULARY  # noqa: E402
from assistant.textutil import collapse, normalize_for_match  # noqa: E402

DEFAULT = ROOT / "bench" / "questions" / "conversations.jsonl"
COVERED = 0.5  # a follow-up "covers" its twin from this share of the twin's terms on (report only)


def terms(text: str) -> set[str]:
    return {t for t in tokenize(text) if t not in QUESTION_VOCABULARY and t not in SCOPE_VOCABULARY}


def coverage(text: str, twin: str) -> float:
    want = terms(twin)
    return len(want & terms(text)) / len(want) if want else 1.0


def understood(question: str, history: list[str]) -> tuple[str, str]:
    """(the previous standalone question, the understood last turn)."""
    turns: list[tuple[str, str]] = []
    previous = ""
    for h in history:
        previous, _ = standalone_question(h, turns)
        turns += [("user", h), ("assistant", "…")]
    return previous, standalone_question(question, turns)[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("questions", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--show", action="store_true", help="print every follow-up and its rewrite")
    ap.add_argument("--retrieval", action="store_true", help="also measure evidence hit@5 (needs a built index)")
    args = ap.parse_args()
    if "sealed" in args.questions.name:
        sys.exit("the sealed sets are run once at the end by the lead, never here")
    rows = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("history") and r.get("standalone")]
    copies = rewritten = 0
    typed_cov: list[float] = []
    rule_cov: list[float] = []
    for r in rows:
        previous, out = understood(r["question"], r["history"])
        copies += collapse(out).lower() == collapse(previous).lower()
        rewritten += collapse(out) != collapse(r["question"])
        typed_cov.append(coverage(r["question"], r["standalone"]))
        rule_cov.append(coverage(out, r["standalone"]))
        if args.show:
            print(f"{r['id']}  {typed_cov[-1]:.2f} -> {rule_cov[-1]:.2f}\n  prev: {previous}\n  turn: {r['question']}"
                  f"\n  rule: {out}\n  twin: {r['standalone']}")
    n = len(rows)
    print(f"{args.questions.name}: {n} follow-ups")
    print(f"  copies of the previous question: {copies}")
    print(f"  rewritten (differ from the typed turn): {rewritten}")
    print(f"  twin coverage as typed:     mean {sum(typed_cov) / n:.3f}, >= {COVERED}: {sum(c >= COVERED for c in typed_cov)}")
    print(f"  twin coverage as understood: mean {sum(rule_cov) / n:.3f}, >= {COVERED}: {sum(c >= COVERED for c in rule_cov)}")
    if args.retrieval:
        retrieval(rows)


def retrieval(rows: list[dict]) -> None:
    """Evidence hit@5 of the follow-ups, by how they are searched."""
    from assistant.pipeline import Assistant

    a = Assistant()
    ways = {"typed": 0, "understood": 0, "understood+context": 0, "twin": 0}
    answerable = [r for r in rows if r.get("answerable", True) and r.get("evidence")]
    for r in answerable:
        previous, out = understood(r["question"], r["history"])
        quotes = [normalize_for_match(e) for e in r["evidence"]]
        with_context = out
        if hasattr(conversation, "rewrite"):  # the rule before issue 15 had no context
            u = conversation.rewrite(r["question"], previous)
            with_context = out if u.follow_up or not u.context else f"{out} {u.context}"
        for way, text in (("typed", r["question"]), ("understood", out), ("understood+context", with_context),
                          ("twin", r["standalone"])):
            analysis = a.analyze(r["question"], text)
            chunks = a.retrieve_analysed(analysis, 5).chunks
            passages = [normalize_for_match(sc.chunk.text) for sc in chunks]
            ways[way] += any(q in p for q in quotes for p in passages)
    n = len(answerable)
    print(f"  evidence hit@5 over {n} answerable follow-ups (index {a.settings.index_dir}):")
    for way, hits in ways.items():
        print(f"    {way:<20} {hits / n:.3f}")


if __name__ == "__main__":
    main()
