"""Citation verification: numbers, names and wording of each sentence against its cited passages."""

from __future__ import annotations

import re

import numpy as np
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

from assistant.answer.verify import UNVERIFIED_TAG, check_sentence, names, split_answer, verify
from assistant.domain import Chunk
from assistant.pipeline import Assistant
from assistant.textutil import split_sentences

RRM_Q = "How many workers did the Rapid Response Mechanism settlements benefit?"


def rrm_chunk(assistant: Assistant) -> Chunk:
    return next(sc.chunk for sc in assistant.retrieve(RRM_Q, 8) if "36,000" in sc.chunk.text)


def test_a_changed_number_is_unsupported_even_with_identical_words(brief_assistant):
    chunk = rrm_chunk(brief_assistant)
    text = "The settlements benefited 36,000 workers [1]. The settlements benefited 63,000 workers [1]."
    v = verify(text, {1: chunk})
    good, bad = v.support
    assert good.supported and good.citations == [1]
    assert not bad.supported and "63000" in bad.reason and "number" in bad.reason
    assert v.text == "The settlements benefited 36,000 workers [1]." and v.dropped == 1


def test_mark_policy_keeps_the_sentence_visibly_flagged(brief_assistant):
    chunk = rrm_chunk(brief_assistant)
    text = "The settlements benefited 36,000 workers [1]. The settlements benefited 63,000 workers [1]."
    v = verify(text, {1: chunk}, policy="mark")
    assert v.text.endswith(f"63,000 workers {UNVERIFIED_TAG}.") and "[1]" in v.text


def test_a_name_absent_from_the_passage_is_unsupported(brief_assistant):
    chunk = rrm_chunk(brief_assistant)
    ok, _, reason = check_sentence("The settlements benefited 36,000 workers in Guatemala [1].", [chunk])
    assert ok is False and "guatemala" in reason
    assert check_sentence("Settlements benefited 36,000 workers in Mexico [1].", [chunk])[0] is not False


def test_markers_to_missing_passages_disappear_and_numbers_are_renumbered(brief_assistant):
    chunk = rrm_chunk(brief_assistant)
    text = "Cases were settled and 36,000 workers benefited [7][2].\nMost of the workers moved to Canada [9]."
    v = verify(text, {2: chunk})
    assert v.numbering == {2: 1}
    assert re.findall(r"\[(\d+)\]", v.text) == ["1"]
    assert "Canada" not in v.text  # its only marker pointed nowhere, and no neighbour supports it


def test_uncited_sentence_borrows_its_neighbours_citation_when_supported(brief_assistant):
    chunk = rrm_chunk(brief_assistant)
    text = "The settlements benefited 36,000 workers. They resulted in higher wages and union elections [1]."
    v = verify(text, {1: chunk})
    assert all(s.supported for s in v.support)
    assert v.text.count("[1]") == 2


def test_borderline_sentences_are_settled_by_embedding_similarity(brief_assistant):
    snap = brief_assistant.reader.snapshot()
    calls: list[list[str]] = []

    def embed(texts):
        calls.append(texts)
        return np.asarray(brief_assistant.embedder.embed(texts))

    def check(sentence: str, anchor: str):
        chunk = next(c for c in snap.chunks.values() if anchor in c.text)
        v = verify(sentence, {1: chunk}, embed=embed, sentence_vectors=lambda cid: snap.sentences(cid))
        return v.support[0]

    paraphrase = check("Sheinbaum sent 29 jailed cartel bosses to the United States shortly before the tariff "
                       "deadline [1].", "29 major cartel leaders")
    assert calls, "a sentence with partial wording overlap is embedded"
    assert paraphrase.supported and "similarity" in paraphrase.reason, paraphrase
    claim = check("China owns 43 percent of the electronics factories in northern Mexico [1].",
                  "43 percent coming from China")
    assert not claim.supported and "similarity" in claim.reason, claim


def test_quotes_are_passage_sentences(brief_assistant):
    chunk = rrm_chunk(brief_assistant)
    v = verify("36,000 workers benefited from the settlements [1].", {1: chunk})
    (quote,) = v.quotes[1]
    assert "36,000" in quote and quote in chunk.text


def test_split_answer_moves_markers_after_the_stop_into_the_sentence():
    parts = split_answer("Trade grew.[1] Mexico leads [2][3].\n- a list item [4]")
    assert [p[1] for p in parts] == [[1], [2, 3], [4]]
    assert parts[2][2] == "\n"


def test_names_skip_the_first_word_but_keep_acronyms():
    assert names("The USMCA review involves Mexico and Canada.") == {"usmca", "mexico", "canada"}
    assert names("Article 2.4 applies.") == set()


def test_every_extractive_answer_is_verified_and_supported(brief_assistant):
    for q in ("How much did U.S.-Mexico trade total in 2024?", RRM_Q, "How did Trump describe AMLO?"):
        a = brief_assistant.ask(q)
        assert not a.abstained
        assert a.support and all(s.supported for s in a.support), a.support
        cited = {n for s in a.support for n in s.citations}
        assert cited == {c.number for c in a.citations}


def test_llm_sentence_with_a_wrong_number_is_dropped_and_recorded(brief_assistant):
    top = brief_assistant.retrieve(RRM_Q)[: brief_assistant.settings.llm_passages]
    n = next(i for i, sc in enumerate(top, 1) if "36,000" in sc.chunk.text)
    reply = f"The settlements benefited 36,000 workers [P{n}]. Of the 27 cases, 25 had been settled [P{n}]."
    model = GenericFakeChatModel(messages=iter([reply]))
    a = Assistant(brief_assistant.settings, chat_models={"fakellm": model}).ask(RRM_Q, backend="fakellm")
    assert a.text == "The settlements benefited 36,000 workers [1]."
    flagged = [s for s in a.support if not s.supported]
    assert len(flagged) == 1 and "25" in flagged[0].reason
    assert any("removed" in w for w in a.warnings)


def test_a_source_question_names_the_cited_source_and_it_verifies(brief_assistant):
    a = brief_assistant.ask("Which source does the brief cite for the RRM settlements that benefited workers?")
    assert not a.abstained and "Rapid Response Mechanism Delivers For Workers" in a.text
    assert all(s.supported for s in a.support), a.support
    plain = brief_assistant.ask(RRM_Q)
    assert "The brief's source" not in plain.text, "only a question about sources gets them in the text"



def test_an_annex_label_is_not_read_as_a_name():
    """"USMCA Art. 2.A.4: ..." — the "A.4" of an identifier is not a name the passage must contain."""
    assert names("USMCA Art. 2.A.4: Article 2.3 does not apply to logs") == {"usmca", "art"}


def test_an_annex_2a_quote_with_its_label_is_supported(full_assistant):
    snap = full_assistant.reader.snapshot()
    chunk = next(c for c in snap.chunks.values() if c.label.startswith("USMCA Art. 2.A.") and "logs" in c.text)
    sentence = next(chunk.text[a:b] for a, b in split_sentences(chunk.text) if "logs" in chunk.text[a:b])
    checked = verify(f"{chunk.label}: {sentence} [1]", {1: chunk}, verbatim=True)
    assert checked.support[0].supported, checked.support[0].reason


def test_two_quotes_of_one_passage_joined_at_a_semicolon_are_each_verbatim():
    """The short answer joins its lead quotes in one paragraph; list items end with ";", which the
    segmenter does not cut at. Checked as one sentence, the pair was not verbatim in the passage
    and the whole lead was dropped, leaving only the paragraph number ("- 7 [1].")."""
    text = ("7. For the purposes of this Article: identical or similar goods means the goods so defined in "
            "the Customs Valuation Agreement; material means material as defined in Article 4.1 (Definitions); "
            "used means used as defined in Article 4.1 (Definitions).")
    chunk = Chunk("c1", "treaty", "USMCA", "treaty", text, 0, 0, len(text), label="USMCA Art. 2.5")
    answer = ("USMCA Art. 2.5: material means material as defined in Article 4.1 (Definitions) [1]; identical or "
              "similar goods means the goods so defined in the Customs Valuation Agreement [1];\n"
              "- 7. For the purposes of this Article [1]:")
    v = verify(answer, {1: chunk}, verbatim=True)
    assert "Article 4.1" in v.text and "Customs Valuation Agreement" in v.text
    assert all(s.supported for s in v.support)
    assert "- 7. For the purposes of this Article [1]:" in v.text  # the number stays with its sentence


def test_a_quote_that_opens_in_lower_case_after_a_cited_full_stop_is_checked_on_its_own():
    """The brief's recommendations are list items that open in lower case; in the short answer's
    lead one follows another quote's "[1]." and the segmenter does not cut there. Checked as one
    sentence, the pair was verbatim in neither passage and both were dropped."""
    first = "The review could be used to deepen cooperation on energy and to serve the working class."
    second = "encourage deeper investment in sectors other than manufacturing, such as tourism;"
    c1 = Chunk("c1", "brief", "Brief", "brief", first, 0, 0, len(first), label="Brief p. 3")
    c2 = Chunk("c2", "brief", "Brief", "brief", second, 0, 0, len(second), label="Brief p. 20")
    v = verify(f"{first[:-1]} [1]. {second[:-1]} [2].", {1: c1, 2: c2}, verbatim=True)
    assert len(v.support) == 2 and all(s.supported for s in v.support), [s.reason for s in v.support]
    assert "working class" in v.text and "tourism" in v.text


def test_a_source_lines_second_sentence_is_found_in_the_footnote_it_quotes():
    """"The brief's source (note 62): ... Texas. See J. David Goodman, “...,” New York Times, Sept.
    18, 2024." is cut in two by the segmenter; the second half (the source's title) is in the
    footnote, not in the claim's passage, and was dropped as not verbatim."""
    claim = "Some leading renewable projects are based in Texas.62"
    note = ("62: Some leading renewable energy projects and industries of the sector are based in Mexico’s "
            "largest trading partner, Texas. See J. David Goodman, “America’s Oil Country Increasingly "
            "Runs on Renewables,” New York Times, Sept. 18, 2024, https://www.nytimes.com/2024/09/18/us/x.html.")
    chunk = Chunk("c1", "brief", "Brief", "brief", claim, 0, 0, len(claim), label="Brief p. 9")
    answer = (f"{claim[:-3]} [1].\n- The brief's source (note 62): Some leading renewable energy projects and industries of the "
              "sector are based in Mexico’s largest trading partner, Texas. See J. David "
              "Goodman, “America’s Oil Country Increasingly Runs on Renewables,” New York Times, Sept. 18, 2024 [1].")
    v = verify(answer, {1: chunk}, verbatim=True, notes={"c1": note})
    assert all(s.supported for s in v.support), [s.reason for s in v.support]
    assert "New York Times" in v.text


def test_a_statute_quote_with_a_space_before_its_comma_is_verbatim():
    """The Code's text keeps the space its HTML left before punctuation ("January 29, 2020 , and");
    the answer's sentences lose it. The quote is the passage's own words: it must not be dropped
    as "not verbatim" (it was, in 42 of 975 tuning answers)."""
    text = ("The Interagency Labor Committee shall meet at least once every 90 days during the 5-year period "
            "beginning on January 29, 2020 , and at least once every 180 days thereafter for 5 years.")
    chunk = Chunk("c1", "law", "19 U.S.C. chapter 29", "law", text, 0, 0, len(text), label="19 U.S.C. § 4641")
    v = verify(f"19 U.S.C. § 4641: {text} [1]", {1: chunk}, verbatim=True)
    assert v.support[0].supported, v.support[0].reason
    assert "every 180 days" in v.text
    changed = text.replace("180 days", "120 days").replace("90 days", "60 days")
    assert not verify(f"{changed} [1]", {1: chunk}, verbatim=True).support[0].supported
