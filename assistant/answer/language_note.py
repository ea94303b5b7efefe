"""The line an answer carries when the question is not in English: its sources are.

A Spanish question is retrieved through the multilingual model and answered from the English
passages, quoted word for word; the reader is told once, in a line after the answer. The extractive
composer's output gets it through `with_sources_language` (called in `Assistant._extractive`, after
verification, like the not-covered line, so it is never checked as a claim).
"""

from __future__ import annotations

from assistant.retrieve.analysis import QueryAnalysis

SOURCES_IN_ENGLISH = "The sources are in English."
ENGLISH = "en"


def sources_language_line(analysis: QueryAnalysis) -> str:
    """"The sources are in English." for a question in another language, else ""."""
    return SOURCES_IN_ENGLISH if analysis.language and analysis.language != ENGLISH else ""


def with_sources_language(text: str, analysis: QueryAnalysis) -> str:
    """The answer text, followed by the sources' language when the question is not in English."""
    line = sources_language_line(analysis)
    if not line or not text.strip() or line in text:
        return text
    return f"{text.rstrip()}\n\n{line}"
