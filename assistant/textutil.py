"""Small text helpers shared by ingest, answering, verification and evaluation."""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")
# Sentence ends: . ! ? (optionally followed by quotes/brackets) then whitespace and an upper-case
# letter, digit, quote or bullet. Abbreviations common in this corpus are protected below.
_SENT_END = re.compile(r"[.!?][\"'”’)\]]*([⁰¹²³⁴⁵⁶⁷⁸⁹]*)(?=\s+[\"'“‘(\[]?[A-Z0-9¿¡•\-])")
_ABBREV = re.compile(
    r"\b(?:U\.S|U\.K|E\.U|D\.C|U\.S\.C|Inc|Corp|Co|Ltd|No|Nos|Art|Arts|Sec|Secs|Mr|Mrs|Ms|Dr|St|Jan|Feb|Mar|"
    r"Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|vs|etc|e\.g|i\.e|cl|para|paras|p|pp|Fig|al|Jr|Sr|Pub|L|Stat|"
    r"F\.R|FR|H\.R|S|Gov|Dept|approx|ch)\.$"
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’.\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "also", "says", "say", "said", "according", "does", "did", "brief", "per", "much", "many", "whether"]
)


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


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`; list items and lines ending in ';' count as sentences.
    A footnote mark after the full stop stays with its sentence and ends it even after "U.S."."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)(?!\s*[-•*]\s)[^\n]+)*", text):
        p_start = para.start()
        chunk = para.group(0)
        cur = 0
        for m in _SENT_END.finditer(chunk):
            candidate = chunk[cur : m.start() + 1]
            last_word = candidate.split()[-1] if candidate.split() else ""
            if not m.group(1) and (_ABBREV.search(last_word) or re.fullmatch(r"\(?[A-Z]\.", last_word)):
                continue
            if candidate.strip():
                spans.append(_trim(text, p_start + cur, p_start + m.end()))
            cur = m.end()
        if chunk[cur:].strip():
            spans.append(_trim(text, p_start + cur, p_start + len(chunk)))
    return [s for s in spans if s[1] > s[0]]


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


def names(sentence: str) -> set[str]:
    """Capitalised words past the sentence's first word, and acronyms anywhere, folded."""
    out = set()
    for i, m in enumerate(_NAME.finditer(sentence)):
        word = m.group(0).rstrip(".’'")
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
