"""Language detection of questions (py3langid behind the short-text rules)."""

from __future__ import annotations

import pytest

from assistant.retrieve.language import LANGUAGES, content_words, detect_language


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("How much did U.S.-Mexico trade total in 2024?", "en"),
        ("¿Cuál es el valor anual de las exportaciones agrícolas de EE. UU. a México?", "es"),
        ("¿Qué dice el USMCA Art. 2.4?", "es"),  # English identifiers inside Spanish
        ("Qué dice el informe sobre el maíz transgénico", "es"),  # no inverted mark
        ("aranceles acero aluminio", "es"),
        ("What does the T-MEC say about used cars?", "en"),  # a Spanish acronym inside English
        ("Who is Marcelo Ebrard?", "en"),
        ("Quel tarif le Canada applique-t-il au sirop d'érable ?", "fr"),
        ("Quantos empregos nos Estados Unidos dependem das vendas ao México?", "pt"),
        ("and for Canada?", "en"),
        ("Canada?", "en"),  # too short to tell: the corpus's language
        ("0804.40.00", "en"),
        ("19 U.S.C. § 4611", "en"),
        ("", "en"),
    ],
)
def test_detect_language(question, language):
    assert detect_language(question) == language


def test_identifiers_say_nothing_about_language():
    assert content_words("¿Qué dice el USMCA Art. 2.4 sobre 0804.40.00 y § 4611(b)?") == ["Qué", "dice", "el", "sobre", "y"]
    assert set(LANGUAGES) >= {"en", "es", "fr"}
