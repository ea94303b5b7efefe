"""One line per recommendation — "- what [1] … why [2] … mechanism [2]." — every piece verbatim in
the passage its marker cites; shared by the chat answer, the Recommendations page and
`usmca-assistant recommend` (see `assistant.answer.recommend`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from assistant.index.lexical import tokenize
from assistant.index.store import Snapshot
from assistant.ingest.recommendations import (
    BULLET,
    IN_TEXT,
    LEXICON_FILE,
    MECHANISM_RE,
    MECHANISMS,
    RECOMMENDATION_PATTERNS,
    Recommendation,
    RecommendationPassage,
    capitalize,
)
from assistant.textutil import STOPWORDS, collapse, split_sentences, strip_footnote_marks

# Length (chosen with bench/recommendation_coverage.py's topic answers, see assistant.answer.recommend):
WHY_WORDS = 18  # a longer argument sentence is cut to a clause, or trimmed with an ellipsis
WHAT_WORDS = 24  # a longer statement found in the text loses its lead-in clause


# ---- one line per recommendation --------------------------------------------------------------


@dataclass(frozen=True)
class Piece:
    """A verbatim piece of a passage: what is shown, and the passage sentence it comes from."""

    text: str  # pieces of one sentence joined by " … " where words were left out
    passage: RecommendationPassage
    sentence: str  # the whole passage sentence (the citation's quote)


@dataclass(frozen=True)
class Line:
    rec: Recommendation
    what: Piece
    why: Piece | None
    mechanism: Piece | None

    def pieces(self) -> list[Piece]:
        return [p for p in (self.what, self.why, self.mechanism) if p is not None]


_MODAL = re.compile(r"\b(?:would|could|can|will|might|may|should)\b", re.I)
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;:]|\s[–—-]\s)\s*")
_PATTERNS = [re.compile(p, re.I) for p in RECOMMENDATION_PATTERNS.values()]
# Each mechanism's names, in the lexicon's order (its canonical name first: "rules of origin" before
# "non-USMCA content").
_MECHANISM_NAMES = {
    k: [re.compile(p, re.I) for p in v]
    for k, v in json.loads(LEXICON_FILE.read_text(encoding="utf-8"))["mechanisms"].items()
}
# The mechanism most specific to a recommendation first; "the review" is the occasion of nearly all.
# "USMCA institutional mechanisms" is matched by clauses ("USMCA were used"), not by a name to show.
_MECHANISM_ORDER = [
    m for m in MECHANISMS if m not in ("USMCA institutional mechanisms", "Article 34.7 joint review")
] + ["Article 34.7 joint review"]


def one_line(rec: Recommendation, snap: Snapshot | None = None, focus: Sequence[str] = ()) -> Line:
    """A recommendation as one line: what, why, and the mechanism it uses. `focus` are the asked
    subject's search terms: the "why" clause that speaks about them is preferred."""
    what = _what(rec)
    why = _why(rec, set(focus), what)
    shown = " ".join(p.text for p in (what, why) if p is not None)
    specific = next((m for m in _MECHANISM_ORDER if m in rec.mechanisms), None)
    mechanism = None
    if specific is not None and not MECHANISM_RE[specific].search(shown):
        mechanism = _mechanism(rec, specific)
    return Line(rec, what, why, mechanism)


def render_line(line: Line, mark: Callable[[Piece], int]) -> str:
    """ "- What [1] … why [2] … mechanism [1]." — one sentence whose pieces, separated by
    ellipses, are each verbatim in the passage their marker cites (what the verifier checks)."""
    parts = [f"{capitalize(line.what.text)} [{mark(line.what)}]"]
    for piece in (line.why, line.mechanism):
        if piece is not None:
            parts.append(f"{_continuing(piece.text, line.rec)} [{mark(piece)}]")
    return "- " + " … ".join(parts) + "."


def by_passage(rec: Recommendation) -> Callable[[Piece], int]:
    """Numbers a record's pieces by its passages (1 = its first passage), as the Recommendations
    page and `recommend --json` number the record's evidence."""
    return lambda piece: rec.passages.index(piece.passage) + 1


def _continuing(text: str, rec: Recommendation) -> str:
    """A piece that continues the line: its first word in lower case unless it is a name (the
    brief never writes it in lower case: "Mexico", "U.S.")."""
    word = text.split(" ", 1)[0]
    lower = word[:1].lower() + word[1:]
    if lower == word or not word[1:].islower():
        return text
    said = " ".join(p.quote for p in rec.passages)
    common = lower.lower() in STOPWORDS or re.search(rf"(?<![\w.]){re.escape(lower)}\b", said)
    return lower + text[len(word) :] if common else text


def _clean(text: str) -> str:
    return collapse(strip_footnote_marks(BULLET.sub("", text))).strip().rstrip(" .;,:")


def _sentence_of(p: RecommendationPassage) -> list[str]:
    """The sentences of a passage's quote."""
    return [p.quote[a:b] for a, b in split_sentences(p.quote)] or [p.quote]


def _what(rec: Recommendation) -> Piece:
    """The statement: the executive summary's bullet when it has one (the brief's own short and
    concrete wording), else the heading or sentence that states it. A sentence found in the text
    is cut to its item of a series ("The review could be used to … deepen cooperation on energy")
    or, when long, to the clause that recommends, the lead-in clause left out."""
    summary = next((p for p in rec.passages if p.role == "summary"), None)
    if summary is not None:
        return Piece(_clean(summary.quote), summary, summary.quote)
    p = next((x for x in rec.passages if x.role == "recommendation"), rec.passages[0])
    quote = _clean(p.quote)
    if rec.source != IN_TEXT:
        return Piece(quote, p, p.quote)
    m = next((m for rx in _PATTERNS for m in [rx.search(quote)] if m), None)
    own = collapse(rec.text).rstrip(" .;,")
    if own and own in quote:
        quote = own  # the item of a series, stated by the sentence's own words
    else:
        item = _series_item(rec.text, quote)
        if m is not None and item and quote.find(item) > m.end():
            return Piece(f"{quote[: m.end()].strip()} … {item}", p, p.quote)
    if len(quote.split()) > WHAT_WORDS and m is not None and m.start() < len(quote):
        starts = [b.end() for b in _CLAUSE_BREAK.finditer(quote) if b.end() <= m.start()]
        if starts and len(quote[starts[-1] :].split()) >= 8:
            quote = quote[starts[-1] :]
    return Piece(quote, p, p.quote)


def _series_item(text: str, sentence: str) -> str:
    """The longest tail of the record's statement that occurs verbatim in its sentence."""
    words = collapse(text).split()
    for i in range(len(words)):
        tail = " ".join(words[i:]).rstrip(" .;,")
        if len(tail.split()) >= 2 and tail in collapse(sentence):
            return tail
    return ""


def _why(rec: Recommendation, focus: set[str], what: Piece) -> Piece | None:
    """The argument's clause that says why: one with a modal ("would ensure", "could improve")
    gives the reason, one naming a mechanism says how, one on the asked subject answers it; a
    clause that repeats the statement is left out."""
    said = set(tokenize(what.text))
    best: tuple[float, Piece] | None = None
    for p in rec.passages:
        if p.role != "argument" or p is what.passage:
            continue
        for sentence in _sentence_of(p):
            for clause, preference in _clauses(_clean(sentence)):
                toks = set(tokenize(clause))
                if not toks or len(toks & said) > 0.6 * len(toks):
                    continue
                score = preference + 2.0 * bool(_MODAL.search(clause)) + 1.0 * len(focus & toks)
                score += 1.0 * any(
                    MECHANISM_RE[m].search(clause) for m in rec.mechanisms if m in MECHANISM_RE
                )
                if best is None or score > best[0]:
                    best = (score, Piece(clause, p, sentence.strip()))
    return best[1] if best else None


_INTRODUCTORY = re.compile(
    r"(?:while|as|although|though|if|when|given|because|since|unlike|despite|however|"
    r"moreover|indeed|instead|still|yet|thus|therefore)\b",
    re.I,
)
_PREPOSITIONS = frozenset(
    re.findall(r"\w+", "of to for in on with by from at about into among between than that which who")
)
_NOT_A_START = re.compile(
    r"(?:and|or|but|nor|which|who|whom|whose|where|thus|as well as|\w+ing|\w+ed)\b", re.I
)


def _clauses(sentence: str) -> list[tuple[str, float]]:
    """(clause, preference) of an argument sentence: the sentence itself when short enough (a
    whole sentence is preferred); else each run of its comma/dash segments that reads as a main
    clause — it starts the sentence, follows an introductory segment ("While ..., there is a
    strong case for ...") or starts with a capitalised word, does not reach over a colon or
    semicolon, and is not followed by a new capitalised clause nor by the items of a list — or the
    sentence's start and the part from its modal verb on, joined by an ellipsis."""
    sentence = re.sub(r"^(?:And|But|So)\s+", "", sentence)
    if len(sentence.split()) <= WHY_WORDS:
        return [(sentence, 0.5)]
    breaks = list(_CLAUSE_BREAK.finditer(sentence))
    cuts = [(0, 0)] + [(b.start(), b.end()) for b in breaks] + [(len(sentence), len(sentence))]
    hard = [False] + [bool(re.search(r"[;:]", b.group(0))) for b in breaks] + [True]  # before segment k
    segments = [sentence[cuts[k][1] : cuts[k + 1][0]].strip() for k in range(len(cuts) - 1)]
    out = []
    for i, first in enumerate(segments):
        intro = i > 0 and _INTRODUCTORY.match(segments[i - 1])
        if (i > 0 and not intro and not first[:1].isupper()) or _NOT_A_START.match(first):
            continue
        for j in range(i, len(segments)):
            if j > i and hard[j]:
                break
            text = sentence[cuts[i][1] : cuts[j + 1][0]].strip()
            n = len(text.split())
            if n > WHY_WORDS:
                break
            following = segments[j + 1] if j + 1 < len(segments) else ""
            if n < 8 or (
                following and not hard[j + 1] and (following[:1].isupper() or len(following.split()) < 4)
            ):
                continue
            if j > i and re.match(r"(?:and|or)\b", following):
                continue  # "A, B, and C": the first items of a series
            out.append((text, -0.3 if _INTRODUCTORY.match(first) else 0.0))
    m = _MODAL.search(sentence)
    if m is not None and not _CLAUSE_BREAK.search(sentence[: m.start()]):  # the modal of the main clause
        head, tail = sentence[: m.start()].split(), sentence[m.start() :].split()
        if len(tail) <= WHY_WORDS - 4:
            # the subject up to its first preposition: "Ratcheting up the fraction … could improve ..."
            cut = next((k for k in range(3, len(head)) if head[k].lower() in _PREPOSITIONS), len(head))
            if cut + len(tail) <= WHY_WORDS:
                out.append((" ".join(head[:cut]) + (" … " if cut < len(head) else " ") + " ".join(tail), 0.0))
    return out


def _mechanism(rec: Recommendation, name: str) -> Piece | None:
    """A verbatim phrase of the record's passages naming a mechanism ("stricter rules of origin")."""
    for rx in _MECHANISM_NAMES[name]:  # its names in the lexicon's order
        for p in rec.passages:
            for sentence in _sentence_of(p):
                clean = _clean(sentence)
                m = rx.search(clean)
                if m is not None:
                    return Piece(_noun_phrase(clean, m.start(), m.end()), p, sentence.strip())
    return None


_STOP_BEFORE = re.compile(
    r"^(?:and|or|but|that|which|to|of|in|on|for|with|by|is|are|was|were|be|would|could|"
    r"will|can|if|as|than|from|at|into|a|an)$",
    re.I,
)


def _noun_phrase(text: str, start: int, end: int) -> str:
    """The match with up to three modifiers before it, up to an article (kept, with the
    preposition before it: "during the review") or a function word."""
    before = text[:start].split()
    kept: list[str] = []
    for k, w in enumerate(reversed(before[-3:])):
        bare = w.strip("“”\"'(),;:")
        if w != bare and not w.endswith("’s"):
            break
        if bare.lower() in ("the", "its", "their", "these"):
            kept.insert(0, w)
            prep = before[-k - 2] if len(before) >= k + 2 else ""
            if prep.lower() in ("during", "through", "in", "under", "at", "via", "by", "within"):
                kept.insert(0, prep)
            break
        if _STOP_BEFORE.match(bare):
            break
        kept.insert(0, w)
    return " ".join([*kept, text[start:end]]).strip()
