"""Citation verification: does each answer sentence say only what its cited passages say?

Runs offline on every answer, whatever produced it. The answer is split into sentences; each
sentence's `[n]` markers name the passages it relies on (a marker to a passage that does not exist
is removed). A sentence is **supported** when all of these hold against the union of its cited
passages (passage text plus its heading, label and title):

1. every number in the sentence occurs in the passages ("36,000" = "36000"; a sentence that changes
   a figure is never supported, however similar its words);
2. every name in the sentence (capitalised words past the first, acronyms) occurs in the passages,
   up to inflection ("Mexican" ~ "Mexico") and the U.S./United States/EE. UU. aliases;
3. its wording is covered: the share of its content terms (stemmed, stop words dropped) found in
   the passages is at least `LEXICAL_SUPPORTED`, or it is at least `LEXICAL_FLOOR` and the
   sentence's embedding has cosine ≥ `DENSE_SUPPORTED` with some sentence of a cited passage
   (passage sentence vectors come from the index; only these borderline sentences are embedded).

A sentence in another language than the passages (a Spanish answer to English passages) cannot be
checked word by word: it is supported when its numbers and names check out and it has at least one
of them to anchor it, and the reason says so.

A sentence with no marker borrows the markers of the next (else the previous) sentence of its
paragraph; if those passages support it, the marker is written into the sentence. Unsupported
sentences are dropped (or, with policy "mark", kept with a visible "[unverified]" tag), and the
surviving citations are renumbered 1..n in order of first use.

Thresholds were chosen with bench/verify_calibration.py on 42 hand-written sentence/passage pairs
(21 paraphrases of brief sentences, 21 plausible claims reusing the passage's words and figures),
an accepted false claim counting twice a rejected paraphrase. Measured: 1 of 21 false claims
accepted, 8 of 21 paraphrases rejected; on the dev set's reference answers (human paraphrases,
not fitted) 34 of 40 sentences are supported. The verifier is strict by design: an LLM told to
copy the passages' wording passes it, a loose paraphrase may not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.domain import Chunk, SentenceSupport
from assistant.index.lexical import tokenize
from assistant.retrieve.language import detect_language
from assistant.textutil import (
    fold,
    name_present,
    names,
    normalize_for_match,
    numbers,
    split_sentences,
    strip_footnote_marks,
)

LEXICAL_SUPPORTED = 0.75  # content-term coverage that supports a sentence on its own
LEXICAL_FLOOR = 0.55  # below this no embedding similarity rescues a sentence
DENSE_SUPPORTED = 0.64  # cosine to the best cited passage sentence, for sentences in between
UNVERIFIED_TAG = "[unverified]"

MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;\u2013-]\s*\d+)*)\s*\]")
_MARKERS_AFTER_STOP = re.compile(r"([.!?][\"'”’)\]]*[⁰¹²³⁴⁵⁶⁷⁸⁹]*)((?:\s*\[\s*\d+(?:\s*[,;\u2013-]\s*\d+)*\s*\])+)\s*$")
Embed = Callable[[list[str]], np.ndarray]
SentenceVectors = Callable[[str], "tuple[list[tuple[int, int]], np.ndarray] | None"]


@dataclass
class CheckedSentence:
    """One answer sentence, its citations and the verifier's verdict."""

    text: str  # the sentence without its markers
    citations: list[int]
    support: SentenceSupport
    separator: str = " "  # what preceded it in the answer (a newline keeps list items apart)
    quotes: dict[int, str] = field(default_factory=dict)  # citation -> best matching passage sentence


@dataclass
class Verified:
    text: str  # the answer after dropping (or marking) unsupported sentences, markers renumbered
    support: list[SentenceSupport]  # every sentence, including dropped ones (supported=False)
    numbering: dict[int, int]  # old citation number -> new, for the citations still used
    quotes: dict[int, list[str]]  # new citation number -> the passage sentences the answer relies on
    dropped: int = 0


def is_spanish(text: str) -> bool:
    """The one language detector (`assistant.retrieve.language`) says Spanish."""
    return detect_language(text) == "es"


def split_answer(text: str) -> list[tuple[str, list[int], str]]:
    """(sentence with its markers, cited numbers, separator before it) for each answer sentence.
    Sentences come from `split_sentences` (markers after a full stop stay with the sentence before
    them, identifiers such as "Art. 2.4.2" or "0406.90.11" are never cut); markers written after the
    full stop ("... 2024.[1]") are then moved inside their sentence ("... 2024 [1].")."""
    out = []
    prev_end = 0
    for a, b in _split_after_cited_lead_ins(text, split_sentences(text)):
        sent = _MARKERS_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)}", text[a:b])
        cited = [n for m in MARKER.finditer(sent) for n in _expand(m.group(1))]
        sep = "\n" if "\n" in text[prev_end:a] and out else " "
        out.append((sent, list(dict.fromkeys(cited)), sep))
        prev_end = b
    return out


# A cited lead-in ("... of a USMCA country [1]: (2) If the Committee ...") or a cited list item
# ("... Article 4.1 (Definitions) [1]; identical or similar goods means ...") closes its quote: the
# segmenter keeps the two sides of the colon or semicolon together, but each side is a quote to
# check on its own (joined, two quotes of one passage are not verbatim in it). So does a cited
# full stop before a quote that opens in lower case (a list item of the brief: "... working class
# [1]. encourage deeper U.S. investment ..."), which the segmenter reads as one sentence.
_CITED_LEAD_IN = re.compile(rf"(?P<end>{MARKER.pattern}(?:[:;]|\.(?=\s+[a-z])))\s+(?=\S)")
# A paragraph's number the segmenter cut off as a sentence of its own ("7." before "For the
# purposes of this Article:") belongs to the sentence it numbers.
_ENUMERATOR = re.compile(r"\s*(?:[-•]\s*)?\(?(?:\d{1,3}|[a-zA-Z]|[ivx]{2,4})[.)]\s*")


def _split_after_cited_lead_ins(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in spans:
        for m in _CITED_LEAD_IN.finditer(text, a, b):
            out.append((a, m.end("end")))
            a = m.end()
        out.append((a, b))
    merged: list[tuple[int, int]] = []
    for a, b in out:
        if merged and _ENUMERATOR.fullmatch(text[merged[-1][0]:merged[-1][1]]) and "\n" not in text[merged[-1][1]:a]:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def _expand(spec: str) -> list[int]:
    nums: list[int] = []
    for part in re.split(r"\s*[,;]\s*", spec.strip()):
        if re.fullmatch(r"\d+\s*[\u2013-]\s*\d+", part):
            lo, hi = (int(x) for x in re.split(r"\s*[\u2013-]\s*", part))
            nums.extend(range(lo, hi + 1) if 0 < hi - lo < 10 else [lo, hi])
        elif part.isdigit():
            nums.append(int(part))
    return nums


# A marker with the space before it: "... 2020 [1]." -> "... 2020.". Only that space goes; the
# passage's own spacing stays (the Code's "January 29, 2020 , and"), so a quote remains verbatim.
_SPACED_MARKER = re.compile(r"\s*" + MARKER.pattern)


def strip_markers(sentence: str) -> str:
    return _SPACED_MARKER.sub("", sentence).strip()


def _haystack(chunk: Chunk) -> str:
    return "\n".join(x for x in (chunk.title, chunk.label, chunk.context, chunk.text) if x)


@dataclass
class _Passages:
    """The union of the cited passages, prepared once per sentence."""

    text: str
    tokens: set[str]
    numbers: set[str]
    words: set[str]
    folded: str

    @classmethod
    def of(cls, chunks: Sequence[Chunk], notes: str = "") -> _Passages:
        text = strip_footnote_marks("\n".join([*(_haystack(c) for c in chunks), notes]))
        folded = fold(text)
        words = {w.strip(".’'-") for w in re.findall(r"[\w.’'\-]+", folded)} | set(re.findall(r"\w+", folded))
        return cls(text, set(tokenize(text)), numbers(text), words, folded)


def check_sentence(sentence: str, chunks: Sequence[Chunk], notes: str = "") -> tuple[bool | None, float, str]:
    """(verdict, lexical coverage, reason) from numbers, names and wording alone; verdict None
    means "borderline: decide by embedding similarity". `notes` is extra cited text (the sources
    the passages' footnotes name)."""
    body = strip_footnote_marks(strip_markers(sentence))
    if not chunks:
        return False, 0.0, "no citation"
    p = _Passages.of(chunks, notes)
    missing_numbers = sorted(numbers(body) - p.numbers)
    if missing_numbers:
        return False, 0.0, f"number(s) not in the cited passage: {', '.join(missing_numbers)}"
    missing_names = sorted(n for n in names(body) if not name_present(n, p.words, p.folded))
    if missing_names:
        return False, 0.0, f"name(s) not in the cited passage: {', '.join(missing_names)}"
    terms = tokenize(body)
    if is_spanish(body) and not is_spanish(p.text[:2000]):
        anchors = numbers(body) | names(body)
        if anchors:
            return True, 1.0, "other language: numbers and names checked"
        return False, 0.0, "other language with no number or name to check"
    if not terms:
        return True, 1.0, "no content words"
    lexical = sum(t in p.tokens for t in terms) / len(terms)
    if lexical >= LEXICAL_SUPPORTED:
        return True, lexical, "wording found in the cited passage"
    if lexical < LEXICAL_FLOOR:
        return False, lexical, f"wording not in the cited passage (coverage {lexical:.2f})"
    return None, lexical, ""


def quoted_verbatim(sentence: str, chunks: Sequence[Chunk], notes: str = "") -> bool:
    """Every piece of a quoted sentence (pieces are separated by "…" where words were left out)
    occurs word for word in one cited passage or in the sources its footnotes name (`notes`: a
    source line's second sentence, "See J. David Goodman, ..."), its label prefix ("USMCA Art.
    2.4: ") and the list bullet aside."""
    body = strip_markers(sentence).lstrip("-• ").strip()
    for c in chunks:
        if c.label and body.startswith(f"{c.label}: "):
            body = body[len(c.label) + 2:]
            break
    haystacks = [normalize_for_match(_haystack(c).replace("\t", " ")) for c in chunks]
    if notes:
        haystacks.append(normalize_for_match(notes))
    for piece in (p.strip(" .;,:") for p in body.split("…")):
        if piece and not any(normalize_for_match(piece) in h for h in haystacks):
            return False
    return True


def _rendered(sentence: str, chunks: Sequence[Chunk]) -> bool:
    """Text the composer renders rather than quotes: a table's rows named by their columns, the
    source a footnote cites."""
    return any(c.meta.get("table") for c in chunks) or strip_markers(sentence).lstrip("-• ").startswith(
        "The brief's source")


def best_quote(sentence: str, chunk: Chunk) -> str:
    """The sentence of `chunk` that shares the most content terms with an answer sentence."""
    terms = set(tokenize(strip_markers(sentence)))
    best, best_score = "", -1.0
    for a, b in split_sentences(chunk.text):
        unit = chunk.text[a:b]
        toks = set(tokenize(unit))
        score = len(terms & toks) + 0.5 * len(numbers(unit) & numbers(sentence))
        if score > best_score:
            best, best_score = unit, score
    return best or chunk.text


def verify(
    text: str,
    passages: dict[int, Chunk],
    *,
    embed: Embed | None = None,
    sentence_vectors: SentenceVectors | None = None,
    policy: str = "drop",
    verbatim: bool = False,
    notes: dict[str, str] | None = None,
) -> Verified:
    """Check every sentence of `text` against the passages its markers cite (`passages` maps
    citation number -> chunk) and rebuild the answer from the supported ones.

    `embed` (text -> normalized vectors) and `sentence_vectors` (chunk id -> index-time sentence
    spans and vectors) settle borderline sentences; without them borderline means unsupported.
    `verbatim=True` says the sentences were quoted from their passages (the extractive answer), so
    the quote is the sentence itself. `notes` (chunk id -> text) adds what a passage's footnotes
    cite, so "the brief cites a CoBank study" can be checked."""
    raw = split_answer(text)
    checked: list[CheckedSentence] = []
    for sent, cited, sep in raw:
        valid = [n for n in cited if n in passages]
        checked.append(CheckedSentence(strip_markers(sent), valid, SentenceSupport(strip_markers(sent), valid, False, 0.0), sep))
    _borrow_markers(checked)
    pending: list[tuple[CheckedSentence, list[Chunk]]] = []
    for cs in checked:
        chunks = [passages[n] for n in cs.citations]
        extra = "\n".join((notes or {}).get(c.id, "") for c in chunks)
        verdict, lexical, reason = check_sentence(cs.text, chunks, extra)
        if verbatim and verdict is not False and not _rendered(cs.text, chunks) and not quoted_verbatim(cs.text, chunks, extra):
            verdict, reason = False, "a quoted piece is not verbatim in the cited passage"
        cs.support = SentenceSupport(cs.text, list(cs.citations), bool(verdict), round(lexical, 3), reason)
        if verdict is None:
            pending.append((cs, chunks))
    if pending:
        _settle_by_embedding(pending, embed, sentence_vectors)
    for cs in checked:
        for n in cs.citations:
            cs.quotes[n] = cs.text if verbatim else best_quote(cs.text, passages[n])
    return _rebuild(checked, policy)


def _borrow_markers(checked: list[CheckedSentence]) -> None:
    """An uncited sentence takes the citations of its paragraph neighbour (next, else previous)."""
    for i, cs in enumerate(checked):
        if cs.citations or not cs.text:
            continue
        for j in (i + 1, i - 1):
            if 0 <= j < len(checked) and checked[j].citations:
                same_paragraph = (checked[j].separator if j > i else cs.separator) != "\n"
                if same_paragraph:
                    cs.citations = list(checked[j].citations)
                    break


def _settle_by_embedding(
    pending: list[tuple[CheckedSentence, list[Chunk]]], embed: Embed | None, sentence_vectors: SentenceVectors | None
) -> None:
    if embed is None:
        for cs, _ in pending:
            cs.support.reason = f"partial wording match ({cs.support.score:.2f}) and no embedding check"
        return
    vecs = embed([cs.text for cs, _ in pending])
    for (cs, chunks), v in zip(pending, vecs, strict=True):
        best = -1.0
        for c in chunks:
            got = sentence_vectors(c.id) if sentence_vectors else None
            if got is None:
                pv = embed([c.text])[0]
                best = max(best, float(pv @ v))
            else:
                best = max(best, float(np.max(got[1] @ v)) if len(got[1]) else -1.0)
        ok = best >= DENSE_SUPPORTED
        cs.support.supported = ok
        cs.support.score = round(max(cs.support.score, best), 3)
        cs.support.reason = (
            f"paraphrase of the cited passage (similarity {best:.2f})" if ok
            else f"partial wording match and low similarity ({best:.2f})"
        )


def _rebuild(checked: list[CheckedSentence], policy: str) -> Verified:
    numbering: dict[int, int] = {}
    quotes: dict[int, list[str]] = {}
    parts: list[str] = []
    dropped = 0
    for cs in checked:
        if not cs.text:
            continue
        keep = cs.support.supported or policy == "mark"
        if not keep:
            dropped += 1
            continue
        if cs.support.supported:
            for n in cs.citations:
                new = numbering.setdefault(n, len(numbering) + 1)
                q = cs.quotes.get(n, "")
                if q and q not in quotes.setdefault(new, []):
                    quotes[new].append(q)
            markers = "".join(f"[{numbering[n]}]" for n in cs.citations)
            sentence = _with_markers(cs.text, markers)
        else:
            sentence = _with_markers(cs.text, UNVERIFIED_TAG)
        parts.append((cs.separator if parts else "") + sentence)
    support = []
    for cs in checked:
        if not cs.text:
            continue
        s = cs.support
        cited = [numbering[n] for n in s.citations if n in numbering] if s.supported else []
        support.append(SentenceSupport(s.sentence, cited, s.supported, s.score, s.reason))
    return Verified("".join(parts), support, numbering, quotes, dropped)


def _with_markers(sentence: str, markers: str) -> str:
    """"... billion [1]." — markers sit inside the sentence they support, before its full stop."""
    body = sentence.rstrip()
    end = ""
    while body and body[-1] in ".!?;:":
        end = body[-1] + end
        body = body[:-1]
    return f"{body} {markers}{end or '.'}" if markers else f"{body}{end}"
