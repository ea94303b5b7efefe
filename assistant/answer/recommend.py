"""Question time for the brief's recommendations: does the brief recommend anything on the asked
subject, which recommendations, and each one as one cited line.

The records are extracted when the brief is indexed (`assistant.ingest.recommendations`, stored with
the index generation) and read here from the snapshot (`snapshot.recommendations`); nothing is
extracted at question time.

**Coverage.** "What does the brief recommend on X?" is answered only when X is covered: the brief's
text uses X's words (stemmed; a multi-word subject as a phrase) in or next to a recommendation or its
argument, or X's embedding comes within `DENSE_COVERED` of one of those sentences. Otherwise the
answer says "The brief makes no recommendation on X." and shows the closest recommendations as
related passages, not as an answer. Only a question about the recommendations in general gets the
full list.

**One line each.** A recommendation is rendered as one line, "- what [1] … why [2] … mechanism [2].":
what it recommends (the executive summary's bullet, else the statement), why (a short verbatim clause
of its argument) and the treaty mechanism or U.S. law it relies on (a verbatim phrase naming the
record's most specific mechanism, unless the first two already name it). Every piece is verbatim in
the passage its marker cites — the verifier checks each piece between the ellipses — so a reworded
piece cannot pass. The chat answer (after a one-sentence lead), the Recommendations page and
`usmca-assistant recommend` share `one_line` and `render_line`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer.citations import build_citation
from assistant.answer.recommend_line import Piece, one_line, render_line
from assistant.answer.recommend_subject import MAX_RELATED, Embed, Match, labels, match
from assistant.answer.verify import UNVERIFIED_TAG, Verified
from assistant.domain import Answer, Chunk, Citation, ScoredChunk
from assistant.index.store import Snapshot
from assistant.ingest import recommendations as _extraction
from assistant.ingest.recommendations import Recommendation
from assistant.retrieve.analysis import QueryAnalysis

BACKEND = "recommendations"
NO_RECOMMENDATION = "The brief makes no recommendation on {subject}."
MORE = "And {n} more: see the Recommendations page or `usmca-assistant recommend{topic}`."
# Length: lines written out in a topic answer (the rest: "and N more"), in the general answer, and
# (assistant.answer.recommend_line) the longest "why" clause and statement found in the text. Chosen
# with bench/recommendation_coverage.py's topic answers (one question per topic of the lexicon, not a
# question set) to keep their median under 120 words (issue 12): 3 lines and 18 words give 106
# (3 lines and 22 words gave 125).
MAX_LINES = 3
MAX_LINES_ALL = 5



def load_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    """Every recommendation of the indexed brief(s), as stored with the index generation."""
    return snapshot.recommendations


def extract_recommendations(snapshot: Snapshot) -> list[Recommendation]:
    """A fresh extraction from a snapshot's passages (what the indexer stores; for tests and tools)."""
    def indexed(chunk_id: str):
        return snapshot.sentences(chunk_id) if chunk_id in snapshot.sentence_spans else None

    return _extraction.extract_recommendations(snapshot.chunks.values(), indexed)


# ---- the chat's answer ------------------------------------------------------------------------


@dataclass
class Draft:
    """A recommendation answer before verification: its cited lines, and what comes after them."""

    question: str
    lines: list[tuple[str, list[tuple[Piece, int]]]]  # each line's text and its pieces with their numbers
    chunks: dict[int, Chunk]  # citation number -> passage
    tail: list[str]  # "and N more", the not-covered sentence
    match: Match
    refusal: Answer | None = None  # the answer when the brief recommends nothing on the subject

    @property
    def texts(self) -> list[str]:
        """What the verifier checks, line by line (the lead and the tail are the assistant's own
        words): a line stands or falls whole, however the segmenter splits it."""
        return [text for text, _ in self.lines]


def draft_answer(a: QueryAnalysis, snap: Snapshot, embed: Embed | None = None, *, every: bool = False) -> Draft:
    """The answer to a recommendation question, its lines to be verified and then finished
    (`finish_answer`);
    `every` writes a line for every recommendation on the subject (the `recommend` command)."""
    m = match(a, snap, embed)
    if m.refused or m.declined:
        return Draft(a.question, [], {}, [], m, refusal=None if m.declined else _refusal(a, m, snap))
    general = m.subject.general
    shown = m.selected if every else m.selected[: MAX_LINES_ALL if general else MAX_LINES]
    focus = [t for sc in m.subject.concepts for t in sc.terms] or [t for c in a.concepts for t in c.terms]
    numbers: dict[str, int] = {}
    chunks: dict[int, Chunk] = {}
    lines = []
    for rec in shown:
        line = one_line(rec, snap, focus)
        if any(p.passage.chunk_id not in snap.chunks for p in line.pieces()):
            continue
        used: list[tuple[Piece, int]] = []

        def mark(piece: Piece, used: list[tuple[Piece, int]] = used) -> int:
            cid = piece.passage.chunk_id
            if cid not in numbers:
                numbers[cid] = len(numbers) + 1
                chunks[numbers[cid]] = snap.chunks[cid]
            used.append((piece, numbers[cid]))
            return numbers[cid]

        lines.append((render_line(line, mark), used))
    tail = []
    if len(m.selected) > len(shown):
        topic = "" if general else f" {_shell_word(_lead_subject(m))}"
        tail.append(MORE.format(n=len(m.selected) - len(shown), topic=topic))
    if m.uncovered:
        tail.append(" ".join(NO_RECOMMENDATION.format(subject=u) for u in m.uncovered))
    return Draft(a.question, lines, chunks, tail, m)


def finish_answer(d: Draft, verified: Sequence[Verified], snap: Snapshot) -> Answer:
    """The answer from the lines and their verification (one `Verified` per line, in order): a
    lead that counts the lines that survived, the lines as written (each piece keeps its own
    marker; a line with an unsupported sentence is dropped, or tagged when the verifier only
    marks), citations renumbered in order of first use, each quoting the passage sentences its
    pieces come from (whole sentences, so the quote is found in the passage)."""
    if d.refusal is not None:
        return d.refusal
    if d.match.declined:
        raise ValueError("a declined recommendation question has no answer here: ask the retriever")
    kept: list[tuple[str, list[tuple[Piece, int]]]] = []
    for (text, used), checked in zip(d.lines, verified, strict=True):
        if all(s.supported for s in checked.support):
            kept.append((text, used))
        elif UNVERIFIED_TAG in checked.text:  # the "mark" policy keeps it, visibly
            kept.append((text.removesuffix(".") + f" {UNVERIFIED_TAG}.", used))
    if not kept:
        return _unverified(d)
    numbers: dict[int, int] = {}
    quotes: dict[int, list[str]] = {}
    for _, used in kept:
        for piece, n in used:
            q = quotes.setdefault(numbers.setdefault(n, len(numbers) + 1), [])
            if piece.sentence not in q:
                q.append(piece.sentence)
    citations: list[Citation] = []
    retrieved: list[ScoredChunk] = []
    for old, new in numbers.items():
        citations.append(build_citation(new, d.chunks[old], quotes[new], snap.sources))
        retrieved.append(ScoredChunk(chunk=d.chunks[old], score=1.0 / new, rank=new))
    total = len(d.match.selected) - (len(d.lines) - len(kept))
    lines = [re.sub(r"\[(\d+)\]", lambda m: f"[{numbers[int(m.group(1))]}]", text) for text, _ in kept]
    text = "\n".join([_lead(d.match, total, len(kept) == total), *lines, *d.tail]).strip()
    support = [s for checked in verified for s in checked.support]
    answer = Answer(d.question, text, citations, False, retrieved, backend=BACKEND, support=support)
    answer.not_covered = list(d.match.uncovered)
    return answer


def _lead(m: Match, total: int, complete: bool) -> str:
    """"The brief makes 2 recommendations on energy:" (", among them:" when not all are listed)."""
    count = "one recommendation" if total == 1 else f"{total} recommendations"
    if m.subject.general:
        return f"The brief makes {count}" + (":" if complete else ", among them:")
    return f"The brief makes {count} on {_lead_subject(m)}:"


def _lead_subject(m: Match) -> str:
    """The subject as typed; a translated one in English (the topic it names, else its gloss)."""
    s = m.subject
    if not s.translated:
        return s.typed
    topics, mechanisms = labels(s.english)
    return ", ".join(topics + mechanisms) or s.english


def _shell_word(text: str) -> str:
    return f'"{text}"' if re.search(r"\s", text) else text


def _refusal(a: QueryAnalysis, m: Match, snap: Snapshot) -> Answer:
    """"The brief makes no recommendation on X." with the closest recommendations as related
    passages (listed by title; their passages in `retrieved`), not as the answer."""
    subject = m.subject.typed
    text = NO_RECOMMENDATION.format(subject=subject)
    related = m.related[:MAX_RELATED]
    if related:
        text += "\n\nClosest recommendations (related, not an answer):\n" + "\n".join(f"- {r.title}." for r in related)
    retrieved: list[ScoredChunk] = []
    seen: set[str] = set()
    for r in related:
        for p in r.passages:
            if p.role == "argument" or p.chunk_id in seen or p.chunk_id not in snap.chunks:
                continue
            seen.add(p.chunk_id)
            retrieved.append(ScoredChunk(chunk=snap.chunks[p.chunk_id], score=1.0 / (len(retrieved) + 1),
                                         rank=len(retrieved) + 1))
    answer = Answer(a.question, text, [], True, retrieved, backend=BACKEND)
    answer.not_covered = [subject]
    answer.abstain_reason = "no recommendation covers the subject: " + "; ".join(
        f"{k} (words {v['lexical']:.0f}, similarity {v['dense']:.2f})" for k, v in m.details.items()  # type: ignore[index]
    )
    return answer


def _unverified(d: Draft) -> Answer:
    """No line survived verification: say so, with the recommendations' passages as related."""
    subject = "this question" if d.match.subject.general else d.match.subject.typed
    text = f"No recommendation of the brief on {subject} could be verified against its passages."
    retrieved = [ScoredChunk(chunk=c, score=1.0 / n, rank=n) for n, c in sorted(d.chunks.items())]
    answer = Answer(d.question, text, [], True, retrieved, backend=BACKEND)
    answer.not_covered = [subject]
    answer.abstain_reason = "no recommendation line survived verification"
    return answer
