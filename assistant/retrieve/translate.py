"""The English gloss of a Spanish question: what BM25 and the answer's term matching read.

The passages are English. The multilingual embedding model finds them for a Spanish question as
typed (assistant/retrieve/hybrid.py), but BM25 matches English stems, and refusal and the extractive
composer weigh the question's English terms against the passages' sentences. So a Spanish question
is also glossed word by word with a small bilingual glossary of the domain's vocabulary (a data file,
data/glossary_es.json: trade, tariffs, agriculture, labor, energy, autos, investment, security,
institutions, numbers, question words; dictionary meanings, no entry written for one question).
Multi-word terms ("reglas de origen", "mil millones") are matched first; Spanish function words
are dropped; a word the glossary does not know is glossed by its regular cognate ending when that
gives a common English word ("excepción" -> "exception"); others (names, numbers, identifiers:
"Sheinbaum", "2024", "2.11") are kept as typed.

What the gloss adds beyond the multilingual model is measured in bench/embedders.py (retrieval) and
bench/spanish_pairs.py (answers); docs/benchmarks.md has the figures. The language of a question
is decided by `assistant.retrieve.language.detect_language`; only the languages in `GLOSSED` have a
glossary.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from assistant.retrieve.language import detect_language
from assistant.textutil import fold

GLOSSARY_FILE = Path(__file__).resolve().parent / "data" / "glossary_es.json"
GLOSSED = ("es",)  # languages with a glossary (ISO 639-1)

_TOKEN = re.compile(r"[a-záéíóúñü]+(?:[.\-][a-záéíóúñü]+)*\.?|\d+(?:[.,]\d+)*", re.I)


class Glossary:
    """The glossary file: multi-word terms, single words (grouped by subject in the file) and the
    function words a gloss leaves out. Keys are folded (lower case, no accents)."""

    def __init__(self, path: Path = GLOSSARY_FILE):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.phrases: dict[str, str] = dict(data["phrases"])
            self.words: dict[str, str] = {k: v for group in data["words"].values() for k, v in group.items()}
            self.function_words = frozenset(data["function_words"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise RuntimeError(f"glossary file {path} cannot be read ({type(e).__name__}: {e})") from e
        self.phrase_keys = sorted(self.phrases, key=len, reverse=True)  # longest match wins
        self.patterns = [(re.compile(rf"(?<![\w.]){re.escape(k)}(?![\w])"), self.phrases[k]) for k in self.phrase_keys]


@lru_cache(maxsize=1)
def glossary() -> Glossary:
    return Glossary()


def _lookup(word: str) -> str | None:
    """Glossary entry of a folded word, trying plural and gender variants ("agricolas" -> "agricola")."""
    candidates = [word]
    if word.endswith("es") and len(word) > 4:
        candidates.append(word[:-2])
    if word.endswith("s") and len(word) > 3:
        candidates.append(word[:-1])
    for c in list(candidates):
        if c.endswith("a") and len(c) > 3:
            candidates.append(c[:-1] + "o")
    words = glossary().words
    for c in candidates:
        if c in words:
            return words[c]
    return None


# Regular Spanish -> English cognate endings ("excepción" -> "exception", "transparencia" ->
# "transparency", "consulares" -> "consular"): a word the glossary lacks is glossed by the first rule
# (longest ending first; "transparencia": "-encia" gives no word, "-cia" does) whose result is a
# common English word (wordfreq, Zipf >= COGNATE_ZIPF).
# Spanish morphology, not a word list: no entry names a word.
COGNATE_ENDINGS = (
    ("ciones", "tions"), ("cion", "tion"), ("siones", "sions"), ("sion", "sion"), ("encias", "ences"),
    ("encia", "ence"), ("ancias", "ances"), ("ancia", "ance"), ("cias", "cies"), ("cia", "cy"), ("dades", "ties"),
    ("dad", "ty"), ("icas", "ics"), ("ica", "ic"), ("icos", "ic"), ("ico", "ic"), ("ivas", "ive"), ("ivos", "ive"),
    ("iva", "ive"), ("ivo", "ive"), ("arios", "ary"), ("arias", "ary"), ("ario", "ary"), ("aria", "ary"),
    ("orias", "ory"), ("oria", "ory"), ("orio", "ory"), ("istas", "ists"), ("ista", "ist"), ("mente", "ly"),
    ("osos", "ous"), ("osas", "ous"), ("oso", "ous"), ("osa", "ous"), ("ales", "al"), ("ares", "ar"), ("uras", "ures"),
    ("ura", "ure"), ("entes", "ents"), ("ente", "ent"), ("antes", "ants"), ("ante", "ant"), ("ismo", "ism"),
    ("izar", "ize"), ("ificar", "ify"), ("bles", "bles"), ("ble", "ble"),
)
# The English word a cognate ending produces must be at least this common (Zipf). Fitted on the 436
# untranslated words of the Spanish tuning questions (es_twins, spanish_pairs_tuning, round1-4 pairs):
# 3.0 keeps 41 cognates and drops "tamaño" -> "taman" (2.53), "política" -> "politic" (2.79),
# "reparación" -> "reparation" (2.64).
COGNATE_ZIPF = 3.0
_ENDINGS_LONGEST_FIRST = sorted(COGNATE_ENDINGS, key=lambda rule: -len(rule[0]))


@lru_cache(maxsize=4096)
def cognate(word: str) -> str | None:
    """The English cognate of a folded Spanish word by its regular ending, if a common English word."""
    if len(word) < 5:
        return None
    from wordfreq import zipf_frequency

    for es, en in _ENDINGS_LONGEST_FIRST:
        if word.endswith(es):
            candidate = word[: -len(es)] + en
            if zipf_frequency(candidate, "en") >= COGNATE_ZIPF:
                return candidate
    return None


def english_gloss(question: str, *, cognates: bool = False) -> str:
    """The question's content in English terms, in order; unknown words (names, numbers) kept.
    With `cognates`, words the glossary lacks are glossed by their regular cognate ending: for
    search only, since a cognate's dictionary sense may not be the word's ("disposición": provision,
    not disposition), so coverage and refusal read the glossary's words alone."""
    return _gloss(question, cognates)[0]


def untranslated_words(question: str) -> tuple[str, ...]:
    """The words of the question the gloss kept as typed that are not names (lower case as typed,
    not numbers): "¿qué efecto tendría ...": "tendría". No English passage can contain them, so
    they are evidence of nothing — neither a subject the brief lacks nor a figure's topic."""
    return tuple(w for w in _gloss(question, False)[1] if w[:1].islower())


@lru_cache(maxsize=1024)
def _gloss(question: str, cognates: bool) -> tuple[str, tuple[str, ...]]:
    """(the gloss, the words it kept as typed); cached: the analysis asks for both."""
    g = glossary()
    kept: list[str] = []
    text = " " + fold(question).replace("¿", " ").replace("¡", " ") + " "
    # mark multi-word terms first so their words are not glossed again one by one
    found: list[tuple[int, str]] = []
    for pattern, english in g.patterns:
        for m in pattern.finditer(text):
            found.append((m.start(), english))
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    for m in _TOKEN.finditer(text):
        tok = m.group(0).rstrip(".")
        if not tok:
            continue
        if tok[0].isdigit():
            found.append((m.start(), tok))
            continue
        if tok in g.function_words:
            continue
        english = _lookup(tok)
        if english is None and cognates:
            english = cognate(tok)
        if english is None:
            original = _original_form(question, tok)
            found.append((m.start(), original))
            kept.append(original)
        elif english:
            found.append((m.start(), english))
    return " ".join(t for _, t in sorted(found) if t), tuple(kept)


def _original_form(question: str, folded_token: str) -> str:
    """A word the glossary does not know, as the user typed it (case and accents) for names."""
    for w in re.findall(r"[\wÁÉÍÓÚÑÜáéíóúñü.\-]+", question):
        if fold(w).rstrip(".") == folded_token:
            return w.rstrip(".")
    return folded_token


def expand_query(question: str, keep_original: bool = False) -> str:
    """The text to search for `question`: unchanged unless it is in a glossed language; then its
    English gloss (preceded by the question if `keep_original`)."""
    if detect_language(question) not in GLOSSED:
        return question
    gloss = english_gloss(question, cognates=True)
    if not gloss:
        return question
    return f"{question.strip()} {gloss}" if keep_original else gloss
