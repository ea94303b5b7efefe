"""Small text helpers shared by ingest, answering, verification and evaluation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "also", "says", "say", "said", "according", "does", "did", "brief", "per", "much", "many", "whether"]
)


# English auxiliaries and modals: after a question word they open the question's clause ("How many
# tonnes may enter ...", "What does Canada charge ...")
AUXILIARIES = frozenset(["does", "do", "did", "is", "are", "was", "were", "can", "could", "should", "would", "will", "has", "have", "had", "may", "might", "must"])
# Numbers written as words, English and Spanish, cardinal and ordinal, up to twenty ("year six",
# "the tenth quota year", "el décimo año"), folded (no accents); "one" and "once" are left out: "no
# one", "any one", Spanish "once" (eleven) and English "once" read alike.
NUMBER_WORDS: dict[str, int] = {w: n for words in (
    "_ two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty",
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth "
    "fifteenth sixteenth seventeenth eighteenth nineteenth twentieth",
    "_ dos tres cuatro cinco seis siete ocho nueve diez _ doce trece catorce quince dieciseis diecisiete "
    "dieciocho diecinueve veinte",
    "primero segundo tercero cuarto quinto sexto septimo octavo noveno decimo undecimo duodecimo",
) for n, w in enumerate(words.split(), start=1) if w != "_"}
NUMBER_WORDS.update(primer=1, tercer=3)
# List numbering "(3)" and references "section 4646", "Article 2.4", "paragraph 5": labels, not figures.
REFERENCE_NUMBER = re.compile(r"\(\w{1,4}\)|(?:§+|\b(?:sections?|articles?|chapters?|annex(?:es)?|titles?|paragraphs?|"
                              r"subsections?|clauses?|headings?|items?|no\.|art[ií]culos?|anexo|cap[ií]tulo|"
                              r"p[aá]rrafo|secci[oó]n))\s*[\d.\-–]+\w*", re.I)


def collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def normalize_for_match(text: str) -> str:
    """Lower-case, whitespace-collapsed, typographic quotes folded: used for quote matching."""
    t = unicodedata.normalize("NFKC", strip_footnote_marks(text))
    t = t.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    t = t.replace("–", "-").replace("—", "-").replace("\\$", "$")
    return collapse(t).lower()


def words(text: str) -> list[str]:
    return [w.lower().strip(".'’-") for w in _WORD.findall(normalize_for_match(text))]


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w and w not in STOPWORDS]


def numbers(text: str) -> set[str]:
    """Numbers as written, commas dropped and trailing `.0` ignored: '840', '1.6', '36000'."""
    out = set()
    for m in _NUMBER.findall(text):
        n = m.replace(",", "")
        if n.endswith(".0"):
            n = n[:-2]
        out.add(n)
    return out


# --- sentence segmentation -----------------------------------------------------------------------
# Every line of a parsed passage is its own unit (the parsers reflow running text, so a line break
# is structure: a list item, a "...;" definition, a heading, a table row). Inside a line a maintained
# segmenter proposes the cuts, and a thin project layer corrects them for this corpus (measured on
# tests/data/segmentation_cases.jsonl by bench/segmentation.py).

# Abbreviations of legal numbering that nupunkt splits after ("Arts. 2.1 and 2.2", "Procl. 10925"), found
# by probing it with the corpus's abbreviations (`bench/segmentation.py --abbreviations`; it knows
# "Art.", "Ch.", "No.", "cl.", "para.", "p.", "Sec.", "U.S.C.", "et seq.", "e.g.", "i.e.", "Feb.",
# "a.m.", "EE. UU." and the rest). Lower case,
# without the full stop; they hold only before a number or an enumerator, so a sentence can still
# end with one. Kept here rather than in a data file so that the index's code-version stamp covers it.
_BEFORE_NUMBER = frozenset(["arts", "chap", "chs", "procl"])
# After "U.S." a capitalised word starts a new sentence only when it is one of these (the brief's
# "... for the U.S. This vital relationship"), never for "U.S. Trade Representative".
_STARTERS = frozenset([
    "a", "an", "and", "as", "at", "but", "by", "even", "for", "however", "if", "in", "indeed", "it", "its",
    "meanwhile", "moreover", "nor", "of", "on", "or", "precisely", "since", "so", "still", "that", "the",
    "their", "then", "there", "these", "they", "this", "those", "thus", "to", "we", "what", "whatever",
    "when", "where", "whether", "which", "while", "who", "why", "yet",
])
# A full stop (or ? ! …) with its closing quotes/brackets; group 1 = footnote marks after it.
_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*([⁰¹²³⁴⁵⁶⁷⁸⁹]*)$")
_MARKERS = r"\[\s*\d+(?:\s*[,;\u2013-]\s*\d+)*\s*\]"
# What follows a sentence end and belongs to it: footnote marks, `[n]` citation markers, and
# letterless tokens: two or more before a capitalised word ("... lead. 0 0 Under" tariff rates) or
# any before the line end (the U.S. Code's bare footnote number "... title. 1").
_TRAILER = re.compile(
    rf"[”’\"')\]]+|(?:[⁰¹²³⁴⁵⁶⁷⁸⁹]+|\s*{_MARKERS})+"
    r"|(?:[ \u00a0\u202f]+(?:\d[\d,]*|\*+)(?![\w.,])){2,}(?=\s+[A-Z“\"(\[¿¡])"
    r"|(?:[ \u00a0\u202f]+(?:\d[\d,]*|\*+)(?![\w.,]))+(?=\s*$)"
)
_TRAILING = re.compile(rf"(?:\s*{_MARKERS}|[ \u00a0\u202f]+(?:\d[\d,]*|\*+))+$")
# Cuts the segmenter may miss: after a footnote mark that follows a full stop (it always ends the
# sentence, even after "U.S."), after "U.S." before a capitalised word (kept only for starters), and
# after a tariff row's rates ("... lead. 0 0 Under Canada's ...").
_EXTRA = re.compile(
    r"[.!?][\"'”’)\]]*[⁰¹²³⁴⁵⁶⁷⁸⁹]+(?=\s+\S)|\b(?:U\.S|E\.U)\.(?=\s+[\"“‘(]?[A-Z])"
    r"|(?<=[.!?])(?:[ \u00a0\u202f]+(?:\d[\d,]*|\*+)(?![\w.,])){2,}(?=\s+[A-Z])"
)
_LABEL_NUMBER = re.compile(r"^(?:[^\n]*:\s)?\s*\d{1,3}\.$")
_NUMBER_NEXT = re.compile(r"\s*(?:§+\s*)?(?:\d|[IVXivx]+\b|\([a-zA-Z0-9]{1,4}\))")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`: every line is a unit (list items, lines ending in ';',
    headings, table rows), split further into sentences by the segmenter. Footnote marks and `[n]`
    markers stay with the sentence they follow, a footnote mark after a full stop ends the sentence
    even after "U.S.", and no span is empty."""
    return split_sentences_with(text, _segment_line)


def split_sentences_with(text: str, segment: Callable[[str], list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """`split_sentences` with another line segmenter (line -> spans): bench/segmentation.py compares
    libraries through the same project layer."""
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"[^\n]+", text):
        line = m.group(0)
        if not line.strip():
            continue
        cuts = [] if "\t" in line else _cuts(line, segment(line))
        prev = 0
        for c in [*cuts, len(line)]:
            s, e = _trim(line, prev, c)
            if e > s:
                spans.append((m.start() + s, m.start() + e))
            prev = c
    return spans


def _cuts(line: str, proposed: list[tuple[int, int]]) -> list[int]:
    """The segmenter's cut points inside `line`, corrected by the project's rules."""
    candidates = {s for s, _ in proposed if 0 < s < len(line)} | {m.end() for m in _EXTRA.finditer(line)}
    out: list[int] = []
    for c in sorted(candidates):
        body = line[:c].rstrip()
        cut = max(c, _past_trailer(line, len(body)))
        if not body or not line[cut:].strip() or (out and cut <= out[-1]):
            continue
        if not (line[cut - 1].isspace() or line[cut].isspace()):
            continue  # inside a token: a URL's "?", an identifier's "."
        m = _TERMINAL.search(body) or _TERMINAL.search(_TRAILING.sub("", body))
        if m is None:
            continue  # no full stop, question or exclamation mark before it: not a sentence end
        piece = body[out[-1] if out else 0 : m.start() + 1]
        if not m.group(1) and _abbreviation_holds(piece, line[cut:]):
            continue
        out.append(cut)
    return out


def _segment_line(line: str) -> list[tuple[int, int]]:
    """nupunkt's sentence spans (Punkt trained on legal and financial text; its 25 KB model ships in
    the package and loads once, on first use)."""
    import nupunkt

    return nupunkt.sent_spans(line)


def _past_trailer(line: str, pos: int) -> int:
    while (m := _TRAILER.match(line, pos)) and m.end() > pos:
        pos = m.end()
    return pos


def _abbreviation_holds(piece: str, after: str) -> bool:
    """The full stop ending `piece` (the text since the previous cut) belongs to an abbreviation or
    a paragraph number, not to a sentence end."""
    if _LABEL_NUMBER.search(piece):
        return True  # "9. For greater ...", "USMCA Art. 2.4.5: 5. Annex 2-C ...": a paragraph number
    if re.match(r"\s*[a-z]", after):
        return True  # nothing in this corpus starts a sentence in lower case ("non-U.S. content")
    words = piece.split()
    last = words[-1] if words else ""
    token = re.split(r"[-\u2013\u2014]", last.lstrip("([“\"'‘"))[-1].rstrip(".").lower()  # "non-U.S." is "u.s"
    if token in ("u.s", "e.u"):
        word = re.match(r"\s*[\"“‘(]?([A-Za-z]+)", after)
        return not (word and word.group(1).lower() in _STARTERS)
    return token in _BEFORE_NUMBER and _NUMBER_NEXT.match(after) is not None


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def word_count(text: str) -> int:
    return len(text.split())


_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_UNSUP = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SUP_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+")


def superscript(n: int) -> str:
    """Footnote markers are kept in passages as superscript digits: readable, and never confused
    with the answer's own `[n]` citation markers."""
    return str(n).translate(_SUP)


def footnote_marks(text: str) -> list[int]:
    return [int(m.translate(_UNSUP)) for m in _SUP_RUN.findall(text)]


def strip_footnote_marks(text: str) -> str:
    return _SUP_RUN.sub("", text)


# ---- names: capitalised words and acronyms, compared without accents -------------------------

_NAME = re.compile(r"(?<![\w.])[A-ZÁÉÍÓÚÑ][\w’'.\-]*\w|(?<![\w.])[A-Z]\b")
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9.\-]+$")
_US = frozenset({"us", "u.s", "usa", "u.s.a", "united", "states", "america", "american", "americans",
                 "estados", "unidos", "eeuu", "ee.uu", "ee", "uu", "washington"})
_GENERIC_CAPS = frozenset({"i", "a", "the", "article", "section", "annex", "chapter", "figure", "party",
                           "parties", "appendix", "note", "table", "p", "pp", "según", "el", "la", "los",
                           "las", "en", "de", "del", "para", "por", "y", "un", "una"})


def fold(text: str) -> str:
    """Lower case without accents: "México" and "Mexico" compare equal."""
    t = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in t if not unicodedata.combining(ch)).lower()


# A name with a lowercase word hyphened on is a modifier made of the name: "U.S.-built",
# "Mexican-made", "Texas-based" name the United States, Mexico and Texas.
_HYPHENED_MODIFIER = re.compile(r"(?<=\w.)-[a-zá-úñ][\w’'.\-]*$")


def names(sentence: str) -> set[str]:
    """Capitalised words past the sentence's first word, and acronyms anywhere, folded; a
    modifier made of a name ("U.S.-built") is the name."""
    out = set()
    for i, m in enumerate(_NAME.finditer(sentence)):
        word = _HYPHENED_MODIFIER.sub("", m.group(0)).rstrip(".’'")
        if i == 0 and m.start() < 3 and not _ACRONYM.match(word):
            continue
        w = fold(word).strip(".-")
        if w and w not in _GENERIC_CAPS and not w.isdigit():
            out.add(w)
    return out


def name_present(name: str, passage_words: set[str], passage_folded: str) -> bool:
    if name in passage_words or (len(name) > 3 and name in passage_folded):
        return True
    if name in _US:
        return bool(_US & passage_words)
    # inflection and demonyms: Mexico ~ Mexican, China ~ Chinese, Asia ~ Asian
    return len(name) >= 4 and any(_shared_prefix(name, w) >= max(4, 0.8 * min(len(name), len(w)))
                                  for w in passage_words if w[:4] == name[:4])


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


# An acronym defined in the text: "Rapid Response Mechanism, or RRM", "International Emergency
# Economic Powers Act (IEEPA)". The long form is found as in Schwartz & Hearst (2003): walking back
# from the acronym, each letter is the initial of a word ("U.S." gives two), small words may sit
# between.
_DEFINED = re.compile(r"(?:,\s*or\s+|\s*\(\s*)(?:the\s+)?([A-Z][A-Za-z]?(?:[A-Z&][a-z]?){1,7})s?\b\)?")
_LINKING = frozenset({"of", "and", "for", "the", "on", "in", "to", "de", "del", "y", "&"})


# A capitalised name of two or more words, small linking words between them ("International Trade
# Commission", "Committee on Ways and Means"): what a question's acronym may abbreviate when no
# document defines it ("ITC").
_CAPITALISED = r"(?:U\.S\.|[A-Z][a-z]+)"
_LONG_NAME = re.compile(
    rf"\b{_CAPITALISED}(?:\s+(?:(?:{'|'.join(map(re.escape, sorted(_LINKING)))})\s+)?{_CAPITALISED})+"
)


def name_initials(text: str) -> list[tuple[str, str]]:
    """(initials, name) of each capitalised name of two or more words. A name that opens with
    "United States" or "U.S." gives "US" plus the rest's initials, and the rest as the name: the
    documents write "the Trade Representative" for the USTR."""
    out: list[tuple[str, str]] = []
    for m in _LONG_NAME.finditer(text):
        words = m.group(0).split()
        while words and words[0].lower() in STOPWORDS:  # the sentence's "The", "Under", "If"
            words = words[1:]
        prefix = ""
        if words[:2] == ["United", "States"]:
            prefix, words = "US", words[2:]
        elif words[:1] == ["U.S."]:
            prefix, words = "US", words[1:]
        if len(words) < 2 or words[0][0].islower():
            continue
        initials = prefix + "".join("US" if w == "U.S." else w[0] for w in words if w[0].isupper())
        out.append((initials, " ".join(words)))
    return out


def acronym_definitions(text: str) -> list[tuple[str, str]]:
    """(acronym, long form) pairs the text defines, in order."""
    out: list[tuple[str, str]] = []
    for m in _DEFINED.finditer(text):
        acronym = m.group(1)
        letters = [ch for ch in acronym if ch.isupper()]
        if len(letters) < 2:
            continue
        before = re.findall(r"[A-Za-z][A-Za-z.'’]*", text[max(0, m.start() - 160) : m.start()].replace("-", " "))
        taken: list[str] = []
        need = list(letters)
        for word in reversed(before):
            if not need:
                break
            initials = [ch for ch in word if ch.isupper()] if word.count(".") >= 2 else [word[0]]
            if word.lower() in _LINKING and taken:
                taken.append(word)
                continue
            if [c.upper() for c in initials] != need[-len(initials) :]:
                break
            need = need[: -len(initials)]
            taken.append(word)
        if not need:
            out.append((acronym, " ".join(reversed(taken))))
    return out
