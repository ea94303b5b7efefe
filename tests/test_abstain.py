"""Refusal is decided in code from the question's analysis and the retrieval, the same for every
backend, and every refusal names what the documents do not cover."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from assistant.answer import abstain, evidence
from assistant.answer.coverage import EvidenceSentence
from assistant.answer.evidence import EvidenceFeatures
from assistant.domain import Chunk, ScoredChunk
from assistant.index.lexical import tokenize
from assistant.pipeline import Assistant
from assistant.retrieve.analysis import analyze, analyze_question, answer_slot, question_names

# Questions whose subject the brief never mentions, a treaty article that is not indexed, and a
# plain off-topic question.
UNANSWERABLE = [
    ("What antidumping duty rate does the U.S. charge on fresh tomatoes from Mexico?", "tomatoes"),
    ("How is the U.S.-Canada softwood lumber dispute being resolved?", "softwood"),
    ("What does USMCA Article 32.10 require before a party signs a trade deal with a non-market country?", "32.10"),
    ("Who won the 2022 FIFA World Cup?", "FIFA"),
]
ANSWERABLE = [
    "How many cartel leaders did Sheinbaum hand over to U.S. custody?",
    "What share of its natural gas supply does Mexico get from the United States?",
    "Which automaker furloughed workers at five U.S. plants because of parts supply worries?",
]


class _Count(BaseCallbackHandler):
    def __init__(self) -> None:
        self.n = 0

    def on_chat_model_start(self, *args, **kwargs):  # noqa: D102
        self.n += 1


@pytest.mark.parametrize(("question", "missing"), UNANSWERABLE)
def test_near_miss_and_off_topic_questions_are_refused_naming_what_is_missing(brief_assistant, question, missing):
    a = brief_assistant.ask(question)
    assert a.abstained and a.citations == []
    assert a.text.startswith(("The indexed documents do not", "The brief does not")), a.text
    assert missing.lower() in a.text.lower() and a.not_covered, (a.text, a.not_covered)
    assert a.retrieved, "the nearest passages come with the refusal, as related reading"


@pytest.mark.parametrize("question", ANSWERABLE)
def test_answerable_questions_are_answered(brief_assistant, question):
    a = brief_assistant.ask(question)
    assert not a.abstained and a.citations and a.not_covered == []


def test_the_llm_is_not_asked_when_the_documents_do_not_cover_the_question(brief_assistant):
    counter = _Count()
    model = FakeListChatModel(responses=["Tomatoes pay 17.09 percent [P1]."], callbacks=[counter])
    a = Assistant(brief_assistant.settings, chat_models={"fakellm": model})
    ans = a.ask(UNANSWERABLE[0][0], backend="fakellm")
    assert ans.abstained and "tomatoes" in ans.text and ans.backend == "fakellm"
    assert counter.n == 0


def test_an_identifier_no_document_contains_is_decisive(brief_assistant):
    d = brief_assistant.decision("What does Article 32.10 say about the review?")
    assert d.refuse and d.rule == "identifier" and d.not_covered == ("USMCA Article 32.10",)
    assert "USMCA Article 32.10" in d.text
    d2 = brief_assistant.decision("What does the brief say about the 16-year extension?")
    assert d2.rule != "identifier"


def test_terms_the_corpus_never_uses_are_refused_by_name(brief_assistant):
    d = brief_assistant.decision("What does the brief say about zorblatt quuxification?")
    assert d.refuse and d.details["unknown_share"] > 0.5 and "zorblatt quuxification" in d.text
    d2 = brief_assistant.decision("How many workers did the Rapid Response Mechanism settlements benefit?")
    assert not d2.refuse and d2.details["unknown_share"] == 0 and d2.details["coverage"] > 0.8


def _features(**kw) -> EvidenceFeatures:
    base = dict(coverage=0.8, sentence_coverage=0.8, dense=0.7, unknown_share=0.0, slot_gap=0.0)
    return EvidenceFeatures(**{**base, **kw})


@pytest.mark.parametrize("multilingual", [0.0, 0.87], ids=["without-multilingual", "with-multilingual"])
def test_the_fitted_score_rises_as_the_evidence_weakens(multilingual):
    """Both fitted models (an index with and without the multilingual channel)."""
    strong = abstain.evidence_score(_features(multilingual=multilingual))
    above = abstain.ABSTAIN_ABOVE if multilingual else abstain.ABSTAIN_ABOVE_WITHOUT_MULTILINGUAL
    assert strong < above
    weaker = [_features(slot_gap=0.9), _features(unknown_names=("tesla",)), _features(absent_numbers=("2025",)),
              _features(realized_figure=1.0)]
    weaker.append(_features(multilingual=0.78) if multilingual else _features(dense=0.3))
    for f in weaker:
        f = replace(f, multilingual=f.multilingual or multilingual)
        assert abstain.evidence_score(f) > strong, f
    # no feature may argue against its meaning (bench/fit_refusal.py keeps the signs)
    assert abstain.evidence_score(_features(unknown_share=0.6, multilingual=multilingual)) >= strong
    assert abstain.evidence_score(_features(coverage=1.0, dense=0.9, multilingual=multilingual)) <= strong
    weights = abstain.WEIGHTS if multilingual else abstain.WEIGHTS_WITHOUT_MULTILINGUAL
    assert len(weights) == len(_features().vector()) + 1


def test_a_tariff_lines_cosine_counts_as_the_multilingual_feature_on_the_passages_scale():
    # A line has no stored vector; its cosine, computed at query time, sits below the prose
    # passages' (evidence.LINE_SHIFT). Alone among the top passages it still selects the model fitted
    # with the multilingual feature, not the one for an index without that channel.
    line_only = _features(multilingual=0.0, line_multilingual=0.85)
    assert line_only.best_multilingual == pytest.approx(0.85 + evidence.LINE_SHIFT)
    assert abstain.evidence_score(line_only) == pytest.approx(
        abstain.evidence_score(_features(multilingual=0.85 + evidence.LINE_SHIFT)))
    # the better of the two is read: a prose passage closer than the shifted line decides
    assert _features(multilingual=0.9, line_multilingual=0.85).best_multilingual == 0.9
    # a question with a premise: the line's cosine of what is asked, shifted for both reasons
    line = ScoredChunk(Chunk("line", "d", "t", "tariff", "0101.21.00 Pure-bred breeding animals", 0, 0, 9), 1.0,
                       multilingual=0.84)
    assert evidence._multilingual([line], {"line": 0.82}) == pytest.approx(0.82 + evidence.PREMISE_SHIFT)


def test_the_nearest_sentence_is_not_read_from_tariff_lines_without_vectors():
    # Lines are indexed without vectors (their sentence vectors are zeros): a question answered by
    # lines alone is not "off topic" for want of a sentence near it.
    def sentence(kind: str, vector: np.ndarray) -> EvidenceSentence:
        c = Chunk(f"c-{kind}", "d", "t", kind, "text", 0, 0, 4)
        return EvidenceSentence(c, "text", frozenset({"text"}), vector)

    line = sentence("tariff", np.zeros(4, dtype=np.float32))
    prose = sentence("treaty", np.ones(4, dtype=np.float32) / 2)
    lines = [ScoredChunk(line.chunk, 1.0)]
    assert not abstain.nearest_sentence_read([line], lines)
    assert abstain.nearest_sentence_read([line, prose], lines)
    assert abstain.nearest_sentence_read([line], [ScoredChunk(line.chunk, 1.0, dense=0.4)])
    # a line leads, prose with vectors further down: that prose does not say what the answer is about
    led = [ScoredChunk(line.chunk, 1.0, multilingual=0.83), ScoredChunk(prose.chunk, 0.5, dense=0.3)]
    assert abstain.nearest_sentence_read([line, prose], led)
    assert not abstain.nearest_sentence_read([line, prose], led, frozenset({line.chunk.id}))


def test_a_figure_question_needs_a_figure_about_its_topic(brief_assistant):
    # the brief mentions U.S. pressure to deploy troops, never a number of troops
    d = brief_assistant.decision("How many U.S. troops did the White House want to send into Mexico?")
    assert d.refuse and d.details["slot_gap"] > 0.5 and "figure" in d.text
    # ... and it does state how many cartel leaders were handed over
    d2 = brief_assistant.decision("How many cartel leaders were sent to the United States by Sheinbaum?")
    assert not d2.refuse and d2.details["slot_gap"] < 0.5
    d3 = brief_assistant.decision("Why does the brief call Mexico special?")
    assert d3.details["slot_gap"] == 0.0


def test_a_figure_as_things_stand_to_date_is_named_in_the_refusal():
    from assistant.answer.coverage import ConceptCoverage, Coverage
    from assistant.retrieve.analysis import Concept

    a = analyze("How many binational panels have been convened so far?")
    assert a.realized and a.asks_for_figure
    assert analyze("¿Cuántos paneles se han convocado hasta ahora?").realized
    assert not analyze("How many panelists does a binational panel have?").realized
    assert analyze("What is the actual duty paid on Canadian cheese over quota?").realized
    assert analyze("¿Qué arancel cobra efectivamente México al acero chino?").realized
    assert analyze("How long does a panel take in practice?").realized
    assert analyze("¿Qué porcentaje del cupo aprovecharon realmente los exportadores?").realized
    assert not analyze("What rate does Canada charge today on U.S. butter?").realized
    panels = ConceptCoverage(Concept("binational panels", ("binat", "panel")), 7.0, False, 1.0, 0.8, True)
    tail, item = abstain._what_is_missing(a, _features(realized_figure=1.0), Coverage((panels,), True, 1.0))
    assert item == "an up-to-date count of binational panels" and tail.startswith("give an up-to-date count")
    b = analyze("How much has the U.S. actually collected in Section 232 auto tariffs?")
    duties = ConceptCoverage(Concept("Section 232 auto tariffs", ("232", "auto", "tariff")), 7.0, False, 1.0, .8, True)
    collected = ConceptCoverage(Concept("collected", ("collect",)), 8.0, False, 1.0, 0.8, True)
    _, item = abstain._what_is_missing(b, _features(realized_figure=1.0), Coverage((collected, duties), True, 1.0))
    assert item == "an up-to-date figure on Section 232 auto tariffs"


def test_answer_slots_are_read_from_the_question():
    assert answer_slot("What share of Mexico's gas comes from the U.S.?") == "quantity"
    assert answer_slot("When did Mexico overtake China?") == "date"
    assert answer_slot("Can importers get duties back when goods are re-exported?") == ""
    # the head of what is asked is a measure, however many words qualify it
    assert answer_slot("What is the current exchange rate between the peso and the dollar?") == "quantity"
    assert answer_slot("What was Canada's average most-favoured-nation duty in 2019?") == "quantity"
    assert answer_slot("What was Mexico's tariff treatment of U.S. pork under its schedule?") == ""
    assert answer_slot("The brief quotes an order on what the auto tariffs are for. Which is it?") == ""
    # a leading "when" clause is the condition of what is asked, not a date asked for
    assert answer_slot("When a panel is requested, who pays for the transcript?") == ""
    assert answer_slot("Cuando se solicita un panel, ¿quién paga la transcripción?") == ""
    # ... and so in the English gloss of such a question, which keeps no comma to show it
    gloss = "when panel requested who pays transcript"
    assert analyze("Cuando se solicita un panel, ¿quién paga la transcripción?", language="es", english=gloss).slot == ""
    assert analyze("¿Cuándo se solicitó el panel?", language="es", english="when requested panel").slot == "date"
    assert answer_slot("When did the review start, and who chaired it?") == "date"
    # a "when" of a status in the present asks for its conditions; in the past, for its date
    assert answer_slot("When does a used car count as originating?") == ""
    assert answer_slot("In a safeguard case, when are imports not treated as a substantial share?") == ""
    assert answer_slot("When exactly did the labelling rule become mandatory?") == "date"
    assert answer_slot("When does the quota reach zero?") == "date"
    assert answer_slot("When does the requirement become effective?") == "date"
    assert answer_slot("When is the mandatory joint review?") == "date"
    assert answer_slot("When is Mexico required to publish its regulations?") == "date"
    # a volume, a quantity, a ratio to something else are measures too
    assert answer_slot("What was the trade deficit as a share of output last year?") == "quantity"
    assert answer_slot("What volume may enter under the quota in its fifth year?") == "quantity"
    assert answer_slot("¿Qué volumen de queso puede entrar sin arancel?") == "quantity"
    assert answer_slot("What are the quantity restrictions on used cars?") == ""


def test_a_count_is_a_number_next_to_the_counted_noun():
    """"How many petitions ...": "within 30 days after a petition" and the list number of "(3) a
    summary of petitions" state no count of petitions; "two petitions" does."""
    from assistant.answer.coverage import EvidenceSentence, _states_count
    from assistant.domain import Chunk

    a = analyze("How many petitions has the committee turned down?")
    assert a.counted == "petitions"

    def said(text: str) -> bool:
        return _states_count(frozenset({"petit"}), EvidenceSentence(Chunk("c", "d", "t", "law", text, 0, 0, 1), text,
                                                       frozenset(), None), a)

    assert said("The committee turned down two petitions that year.")
    assert said("Of the 14 petitions received, none was accepted.")
    assert not said("The committee shall decide within 30 days after receiving a petition.")
    assert not said("(3) a summary of petitions filed in accordance with section 4646 of this title;")
    assert said("About 2,000 petitions reached the committee.")  # a number with a comma is no year
    assert said("Petitions received: 14.")
    assert not said("No one filed petitions in 2024.")


def test_how_many_tonnes_asks_for_an_amount_not_a_count():
    """A quota table states tonnes under "(MT)", no number stands next to "tonnes": the figure
    check for an amount applies, not the one for a count."""
    from assistant.answer.coverage import counted_terms

    assert counted_terms(analyze("How many tonnes of cream may enter in quota year 12?")) is None
    assert counted_terms(analyze("How many metric tonnes of sugar may enter?")) is None
    assert analyze("How many American jobs may depend on it?").counted == "American jobs"
    assert counted_terms(analyze("How many petitions were filed?")) == {"petit"}
    assert counted_terms(analyze("What does the quota allow?")) is None


def test_a_figure_asked_in_a_unit_is_stated_in_it():
    """"How many tonnes ...": a quota table's rows under "Aggregate Quantity (MT)" state tonnes; a
    dollar figure on the same trade does not, in English or in Spanish."""
    from assistant.answer.coverage import EvidenceSentence, _in_unit
    from assistant.domain import Chunk

    def stated(q: str, text: str, meta: dict | None = None, sentence: str = "") -> bool:
        chunk = Chunk("c", "d", "t", "treaty", text, 0, 0, 1, meta=meta or {})
        sentence = sentence or text
        return _in_unit(analyze_question(q), EvidenceSentence(chunk, sentence, frozenset(tokenize(sentence)), None))

    table = "TRQ-CA5: Cheeses\nQuota Year\tAggregate Quantity (MT)\n1\t1,042\n2\t2,083"
    for q in ("How many tonnes of cheese may enter in quota year 2?", "¿Cuántas toneladas de queso entran en el año 2?"):
        assert stated(q, table, {"table": True})  # a table is one sentence
        assert stated(q, table, sentence="2\t2,083")  # a table the parser did not mark: a row is one
        assert not stated(q, "Mexico bought $2.1 billion of U.S. cheese in 2024.")
        assert not stated(q, "Quota Year\tAggregate Quantity (dollars)\n1\t1,042", {"table": True})
    assert stated("How many petitions were filed?", "Mexico bought $2.1 billion of U.S. cheese in 2024.")


def test_a_figure_in_a_unit_no_passage_states_is_named_by_its_unit():
    from assistant.answer.coverage import ConceptCoverage, Coverage
    from assistant.retrieve.analysis import Concept

    oil = ConceptCoverage(Concept("oil production", ("oil", "product")), 7.0, False, 1.0, 0.8, True)
    for q, named in (("How many barrels a day did Mexico's oil output fall after 2013?", "barrels"),
                     ("¿Cuántas toneladas de leche en polvo importó México en 2024?", "“toneladas”")):
        _, item = abstain._what_is_missing(analyze_question(q), _features(slot_gap=1.0), Coverage((oil,), False, 0.0))
        assert item == f"the figure asked for in {named}"


def test_a_figure_asked_in_a_unit_is_refused_when_no_sentence_states_one_whatever_the_score(
        brief_assistant, monkeypatch):
    """The brief gives no oil figure in barrels: a count of barrels is refused even when the
    evidence score alone would answer."""
    monkeypatch.setattr(abstain, "ABSTAIN_ABOVE", 1.0)
    monkeypatch.setattr(abstain, "ABSTAIN_ABOVE_WITHOUT_MULTILINGUAL", 1.0)
    d = brief_assistant.decision("The brief says the U.S. still imports some grades of crude from Mexico. "
                                 "How many barrels per day did American refineries take in 2024?")
    assert d.refuse and d.rule == "unit" and d.not_covered == ("the figure asked for in barrels",), d
    assert not brief_assistant.decision("How many cartel leaders did Sheinbaum hand over to U.S. custody?").refuse


@pytest.mark.fast
def test_a_unit_asked_without_how_many_is_read_as_the_asked_unit():
    """"At what tonnage", "what's the annual tonnage", ", in litres," in a figure question: a figure
    asked in a unit though nothing is counted. A unit in a question that asks for no figure in it
    is none."""
    for q, word in (("Did they agree on a duty-free quota for steel, and at what tonnage?", "tonnage"),
                    ("Above what yearly tonnage does Canada apply the charge?", "tonnage"),
                    ("What's the annual tonnage under the sugar quota?", "tonnage"),
                    ("What was the quota volume, in litres, for 2024?", "litres"),
                    ("How much sugar may enter duty-free, in tonnes?", "tonnes")):
        a = analyze_question(q)
        assert a.slot == "quantity" and a.unit_word == word, (q, a.slot, a.unit_word)
    for q in ("Which line of Canada's schedule do the extra tonnes enter under?",
              "Why is the dairy quota counted in litres rather than kilograms?",
              "Is the TRQ denominated in tonnes or kilograms?",
              "Which tariff line applies to steel sold in metric tons?",
              "Mexico ships sugar in tonnes; which agency administers the quota?"):
        a = analyze_question(q)
        assert not a.unit and a.slot != "quantity", (q, a.slot, a.unit_word)
    assert not analyze_question("How much duty does steel sold in metric tons pay?").unit


@pytest.mark.fast
def test_a_unit_asked_without_how_many_is_refused_when_no_sentence_states_one(fast_assistant, monkeypatch):
    monkeypatch.setattr(abstain, "ABSTAIN_ABOVE", 1.0)
    monkeypatch.setattr(abstain, "ABSTAIN_ABOVE_WITHOUT_MULTILINGUAL", 1.0)
    stated = fast_assistant.decision("What tonnage of cheese may enter under the Toy Dairy Access Act each year?")
    assert not stated.refuse, stated
    litres = fast_assistant.decision("What volume of cheese, in litres, may enter under the Toy Dairy Access Act?")
    assert litres.refuse and litres.rule == "unit", litres


@pytest.mark.fast
def test_a_unit_no_sentence_states_refuses_a_question_and_is_named_in_a_question_of_several_parts(
        fast_assistant, monkeypatch):
    """The toy act gives its quotas in tonnes, never in litres: asked in tonnes the figure passes,
    asked in litres it is refused whatever the score, or named as not covered beside a part that
    is answered."""
    monkeypatch.setattr(abstain, "ABSTAIN_ABOVE", 1.0)
    monkeypatch.setattr(abstain, "ABSTAIN_ABOVE_WITHOUT_MULTILINGUAL", 1.0)
    stated = fast_assistant.decision("How many tonnes of cheese may enter under the Toy Dairy Access Act each year?")
    assert not stated.refuse and stated.not_covered == (), stated
    litres = fast_assistant.decision("How many litres of cheese may enter under the Toy Dairy Access Act each year?")
    assert litres.refuse and litres.rule == "unit" and litres.not_covered == ("the figure asked for in litres",)
    both = fast_assistant.decision("What over-quota duty does cheese pay under the Toy Dairy Access Act, and "
                                   "how many litres of cheese may enter each year?")
    assert not both.refuse and "the figure asked for in litres" in both.not_covered, both


def test_what_a_report_concluded_needs_a_passage_that_reports_a_finding():
    """The law that requires a report does not say what the report found."""
    from assistant.answer.coverage import states_finding

    a = analyze_question("What did the ITC's report on the auto rules conclude about parts jobs?")
    assert a.asks_finding and a.finding_of == "the ITC's report on the auto rules"
    assert analyze_question("¿Qué concluyó la evaluación ambiental de 2025?").asks_finding
    assert not analyze_question("What does the brief conclude about energy?").asks_finding
    assert not analyze_question("How does the ITC determine injury?").asks_finding
    assert not analyze_question("What did USTR have to find before approving the plan?").asks_finding
    assert states_finding("Based on that investigation, the Secretary found and advised me of his opinion that "
                          "automobiles are being imported in such quantities as to threaten to impair security.")
    assert not states_finding("If the Commission finds that imports cause material harm, the President shall act.")
    assert not states_finding("The Commission shall determine whether the surge causes harm and report that finding.")


def test_whether_something_was_actually_done_is_a_realized_event():
    """Asked in the past or the perfect, a realized question asks whether something was done, which a
    rule does not record; what a text did or has is asked of the text."""
    for q in ("Has Ottawa actually issued any such waiver in the last three years?",
              "Since the agreement took effect, which ports did the parties actually designate?",
              "Hasn’t Mexico actually notified its procedures yet?",
              "Which ports were actually designated so far?",
              "Since 2020, have any two parties actually agreed to faster cuts?",  # an agreement since
              "¿En qué años lo ha aplicado de verdad el gobierno?",
              "¿México realmente notificó sus procedimientos?"):
        a = analyze_question(q)
        assert a.realized_events == (q,) and a.only_realized_events, q
    for q in ("What did Article 2.9 actually require of the parties?",  # a text's own content
              "From which shipments do the provisions actually apply, and when did that section take effect?",
              "Has the treaty actually changed the customs user fee?",
              "What did the implementing legislation actually require of the USTR?",
              "Who actually sits on the Committee on Trade in Goods?",  # present: what the rule sets up
              "Which Canadian tariff lines currently have an in-quota rate of zero?",  # "have" as a verb
              "What powers does the Free Trade Commission actually have under Article 30.2?",
              "What did Canada actually agree to on dairy quotas?",  # the schedule is the agreement
              "¿Qué han acordado realmente las partes sobre los lácteos?",
              "What do the parties have to publish under Article 2.15?",  # no realized cue
              "Do the parties actually have to notify each other first?",
              # the cue is in a premise: what is asked is the rule
              "Canada has actually filed two complaints so far. What role does the Commission have?"):
        assert not analyze_question(q).realized_events, q
    # beside a question on the rule itself: only that part is the event
    a = analyze_question("What does Article 2.13 require each party to notify? And has Canada actually notified "
                         "its procedures so far?")
    assert a.realized_events == ("And has Canada actually notified its procedures so far?",)
    assert not a.only_realized_events


def test_money_a_government_takes_in_or_pays_out_is_an_amount_of_money():
    """A rate is no answer to "how much revenue has CBP collected": the figure must be an amount."""
    assert analyze("How much Section 232 tariff revenue has CBP collected since April 2025?").money
    assert analyze("How much has Congress appropriated for the Tijuana River works?").money
    assert analyze("¿Cuánto ha recaudado EE. UU. en aranceles de la Sección 232?").money
    assert not analyze("How much of the Hyundai Santa Fe comes from South Korea?").money
    assert not analyze("How much is Canada's tariff on U.S. beef?").money


def test_treaty_chapters_and_schedules_are_read_however_they_are_named():
    assert analyze("Under the USMCA, do the SOE disciplines in Chapter 22 reach PEMEX?").chapters == ("22",)
    assert analyze("¿Qué exige el capítulo laboral del T-MEC?").chapters == ("23",)
    # an annex named by its subject belongs to its chapter (the sectoral annexes are Chapter 12's)
    assert analyze("Does the USMCA energy performance annex cover water heaters?").chapters == ("12",)
    assert analyze("Under the CUSMA annex on chemical substances, must Canada share safety data sheets?").chapters \
        == ("12",)
    assert analyze("¿El anexo sectorial de productos cosméticos del T-MEC prohíbe pruebas en animales?").chapters == ("12",)
    assert analyze("Does the USMCA pharmaceutical and medical device transparency annex cover generics?").chapters \
        == ("29",)
    # an annex the corpus holds, or another instrument's annex, names no such chapter
    assert analyze("Are brake pads on the list of the USMCA's Mexico–U.S. automotive annex?").chapters == ()
    # an annex by number is part of the chapter it is numbered after
    assert analyze("Which USMCA chemicals annex 2-B lines are duty-free?").chapters == ("2",)
    assert analyze("What does Annex 23-A oblige Mexico to do about union elections?").chapters == ("23",)
    assert analyze("Según el Anexo 31-A, ¿quién puede pedir una revisión en una fábrica?").chapters == ("31",)
    annex = analyze("Does USMCA Annex 10-B.1 set the panel rosters, and Annex 10–B.2 the code of conduct?")
    assert annex.chapters == ("10",) and annex.annexes == ("10-B.1", "10-B.2")
    # one pattern reads an annex for both: typed with an en dash, it is still an identifier to look up
    assert annex.identifiers == ("annex 10-B",)
    assert analyze("What does Annex 31–A say about denials of rights?").identifiers == ("annex 31-A",)
    # ... unless the question asks what the implementing law says of it (the law is indexed), or
    # names the chapter itself, or the annex is another agreement's
    for question in ("Which section of the implementing act monitors Annex 23-A compliance?",
                     "Under 19 U.S.C. § 4646, who petitions on Annex 31-A denials?",
                     "Under sec. 4644, how is Annex 23-A monitored?",
                     "What does the U.S. Code say about Annex 23-A?",
                     "¿Qué pide la ley de implementación sobre el Anexo 23-A?",
                     "How does CPTPP Annex 9-B treat indirect expropriation?"):
        assert analyze(question).chapters == (), question
    both = analyze("What do USMCA Chapter 23 and Annex 23-A say about union votes?")
    assert both.chapters == ("23",) and both.annexes == ()
    assert analyze("Does the pharmaceutical annex to the HTSUS cover insulin under the USMCA?").chapters == ()
    assert analyze("Which parts are listed in the annex to Proclamation 10908?").chapters == ()
    # not a treaty chapter: the U.S. Code's, a Harmonized System chapter, a chapter beyond the 34
    assert analyze("Which section of 19 U.S.C. chapter 29 sets up USMCA panels?").chapters == ()
    assert analyze("Does Canada's CUSMA schedule treat tractors of Chapter 87 (8701.20.00) alike?").chapters == ()
    assert analyze("Does the USMCA say anything in chapter 40 about steel?").chapters == ()
    assert analyze("What does Mexico's own Annex 2-B schedule set on pork?").schedules == ("Mexico",)
    assert analyze("Do Mexican avocados pay duty under Canada's schedule?").schedules == ("Canada",)
    # capitalised as the treaty writes it
    assert analyze("What base rate does the U.S. Schedule to Annex 2-B set for peanuts?").schedules == (
        "the United States",)
    assert analyze("Under the Schedule of Mexico, is pork duty-free?").schedules == ("Mexico",)
    # in Spanish, as typed: never read off the gloss, whose word order is the Spanish one
    assert analyze_question("¿Qué tasa fija la lista arancelaria de México al maíz?").schedules == ("Mexico",)
    assert analyze_question("¿Qué dice la lista de EE. UU. sobre el azúcar?").schedules == ("the United States",)
    assert analyze_question("¿Qué tasa pone la lista canadiense al frijol negro?").schedules == ("Canada",)
    assert analyze_question("¿Cómo trata Canadá al café mexicano en su lista arancelaria?").schedules == ()
    # the treaty's Spanish text: "Lista de Desgravación Arancelaria"
    assert analyze_question("¿Qué categoría da la lista de desgravación de México al trigo?").schedules == ("Mexico",)
    assert analyze_question("¿Qué fija el calendario de desgravación de Canadá para la avena?").schedules == ("Canada",)


def test_a_chapter_counts_as_present_only_when_a_leading_passage_names_it():
    from types import SimpleNamespace

    from assistant.domain import Chunk

    def passage(i: int, text: str) -> Chunk:
        return Chunk(f"c{i}", "usc", "19 U.S.C.", "law", text, i, 0, len(text))

    snap = SimpleNamespace(chunks={})  # no treaty chapter is indexed
    a = analyze("Under USMCA Chapter 10, who may request a binational panel review?")
    other = [passage(i, "the Trade Representative shall consult the committees") for i in range(3)]
    naming = passage(9, "a person, within the meaning of paragraph 5 of article 10.12, may request a review")
    assert abstain.missing_chapters(a, snap, other) == ("USMCA Chapter 10 (Trade Remedies)",)
    assert abstain.missing_chapters(a, snap, [naming, *other]) == ()
    assert abstain.missing_chapters(a, snap, [*other, naming]) == ("USMCA Chapter 10 (Trade Remedies)",)
    # an annex numbered after a chapter the index lacks is named as the annex, with its chapter
    annex = analyze("Under USMCA Annex 31-A, how long does a panel have to verify a facility?")
    assert abstain.missing_chapters(annex, snap, other) == ("USMCA Annex 31-A (Chapter 31, Dispute Settlement)",)
    two = analyze("Compare USMCA Annex 23-A and Annex 23-B on union votes.")
    assert abstain.missing_chapters(two, snap, other) == ("USMCA Annex 23-A and Annex 23-B (Chapter 23, Labor)",)
    # an annex the identifier rule already names as missing is not named again
    assert abstain.missing_chapters(annex, snap, other, missing_keys={"annex 31-a"}) == ()


def test_a_passage_names_a_treaty_chapter_only_as_the_usmca_s():
    assert abstain._names_chapter("panels convened under chapter 10; and", "10")
    assert abstain._names_chapter("section D of chapter 10 and chapter 31 of the USMCA", "31")
    # one of the chapter's articles names it too
    assert abstain._names_chapter("a binational panel review under article 10.12 of the USMCA", "10")
    assert not abstain._names_chapter("a review under article 1.10 or article 210.3", "10")
    # the U.S. Code's own chapters, NAFTA's
    assert not abstain._names_chapter("as provided in chapter 10 of this title", "10")
    assert not abstain._names_chapter("binational panels under chapter 19 of NAFTA", "19")
    assert not abstain._names_chapter("chapter 100 of the schedule", "10")


def test_names_the_corpus_never_uses_and_acronyms_of_names_it_does(brief_assistant):
    d = brief_assistant.decision("How many cars will Tesla build in Monterrey next year?")
    assert {"tesla", "monterrey"} <= set(d.details["unknown_names"]) and d.refuse
    d2 = brief_assistant.decision("How many cases had been brought under the RRM by September 2024?")
    assert d2.details["unknown_names"] == () and "rrm" not in d2.details["absent_names"]
    d3 = brief_assistant.decision("How many RRM cases had been settled by 1999?")
    assert d3.details["absent_numbers"] == ("1999",)


def test_a_premises_numbers_need_not_be_in_the_passages_but_the_asked_parts_do():
    from assistant.answer.evidence import absent_numbers
    from assistant.domain import Chunk, ScoredChunk

    line = Chunk("c1", "schedule", "Schedule", "tariff", "8407.33.00 Of a cylinder capacity exceeding 250 cc 0 0", 0, 0, 1)
    top = [ScoredChunk(line, 1.0, rank=1)]
    premise = analyze("A plant builds 125 cc and 600 cc engines. Which tariff item covers them?")
    assert absent_numbers(premise, top) == ()
    asked = analyze("Which tariff item covers the 125 cc engines a plant builds?")
    assert absent_numbers(asked, top) == ("125",)
    in_the_question = analyze("A plant builds engines. Which tariff item covers those of 125 cc in 2019?")
    assert absent_numbers(in_the_question, top) == ("125", "2019")


def test_questions_about_events_after_the_newest_document(brief_assistant):
    d = brief_assistant.decision("What did the 2027 joint review decide about auto tariffs?")
    assert d.refuse and d.rule == "after" and "2027" in d.text
    d2 = brief_assistant.decision("What does the brief say must happen by July 1, 2026?")
    assert d2.rule != "after"


def test_question_names_skip_sentence_starts_months_and_possessives():
    assert set(question_names("Export numbers fell in March. Why did the RRM's cases in Texas rise?")) == {"rrm", "texas"}


def test_a_multi_part_question_answers_the_covered_part_and_names_the_other(brief_assistant):
    a = brief_assistant.ask("How many cartel leaders did Sheinbaum send to the U.S., and what does the brief "
                            "say about zorblatt quuxification?")
    assert not a.abstained and a.citations
    assert a.not_covered and any("zorblatt" in x for x in a.not_covered)
    assert a.text.rstrip().endswith(".") and "Not covered by the indexed documents" in a.text
    # a part in everyday words is phrasing the passages answer in their own words, not a gap
    b = brief_assistant.ask("How many cartel leaders did Sheinbaum send to the U.S., and what drove her to do it?")
    assert not b.abstained and b.not_covered == [], b.not_covered


def test_the_score_is_a_probability():
    p = abstain.evidence_score(_features())
    assert 0.0 < p < 1.0 and np.isfinite(p)


@pytest.mark.fast
def test_untranslated_words_are_left_to_the_multilingual_model_when_it_is_close(fast_assistant):
    """A gloss that leaves "esperan" untranslated: no English passage contains it. With a passage
    close to the question as typed (multilingual cosine above the trust level) coverage reads the
    English words only; below it the word stays, and counts as missing."""
    from dataclasses import replace

    a = fast_assistant.analyze("¿Cuál es la cuota de queso que esperan los importadores?")
    assert a.translated and any("esperan" in c.terms for c in a.concepts)
    ret = fast_assistant.retrieve_analysed(a, 3)
    close = replace(ret, chunks=[replace(sc, multilingual=abstain.MULTILINGUAL_TRUST + 0.05) for sc in ret.chunks])
    far = replace(ret, chunks=[replace(sc, multilingual=abstain.MULTILINGUAL_TRUST - 0.05) for sc in ret.chunks])
    read = abstain._read_through_the_model(a, close)
    assert not any("esperan" in c.terms for c in read.concepts)
    assert any("chees" in c.terms for c in read.concepts)  # the translated words stay
    assert abstain._read_through_the_model(a, far) is a
    english = fast_assistant.analyze("What is the cheese quota importers expect?")
    assert abstain._read_through_the_model(english, replace(close)) is english


def test_a_word_no_document_uses_is_not_the_topic_of_the_figure(fast_assistant):
    """"zigzag" is in no document: `unknown_share` counts it already. As the figure's topic it
    would outweigh every other word (the rarest weigh most) and no figure could ever be about it."""
    plain = fast_assistant.decision("What share of its gas for electricity does Mexico import through pipelines?")
    odd = fast_assistant.decision("What share of its gas for electricity does Mexico import through zigzag pipelines?")
    assert fast_assistant.retriever.snapshot().lexical.idf("zigzag") == 0
    assert plain.details["slot_gap"] < 0.5
    assert odd.details["slot_gap"] == pytest.approx(plain.details["slot_gap"], abs=0.1)
    assert odd.details["unknown_share"] > plain.details["unknown_share"]


def test_the_figure_topic_is_the_words_the_passages_use(full_assistant):
    """A premise word some document uses but no retrieved passage does ("chain": the tariff line
    answers, the exporter is the asker's) cannot tell which sentence states the figure about the
    topic: `coverage` counts it already. As part of the figure's topic it lowered every sentence's
    share alike, and the mixed-seasonings line ranked first read as a figure about something else."""
    plain = full_assistant.decision("What rate does Canada apply to originating mixed condiments and mixed seasonings?")
    premise = full_assistant.decision(
        "What rate does Canada apply to originating mixed condiments and mixed seasonings that a restaurant chain exports?"
    )
    assert full_assistant.retriever.snapshot().lexical.idf("chain") > 0
    assert not plain.refuse and not premise.refuse
    assert premise.details["slot_gap"] == pytest.approx(plain.details["slot_gap"], abs=0.2)


@pytest.mark.parametrize(("question", "concepts"), [
    ("Sawmills buy hardwood logs from Vermont and New York landowners.", ["New York landowners"]),
    ("How much relief did Ford and General Motors get?", ["Ford", "General Motors"]),
    # a stop word, a title-cased run: no name opens there
    ("Does the treaty say Mexico And Canada must consult?", ["Mexico", "Canada must consult"]),
    ("Is There A Quota For Cheese Under USMCA?", ["Quota", "Cheese"]),
    # a number grouped by thousands is one word, not "000 tonnes"
    ("Which quota year is the first above 12,500 tonnes?", ["12,500 tonnes"]),
    ("How full is the 9,600-tonne sugar quota?", ["9,600-tonne sugar quota"]),
])
def test_a_name_or_a_grouped_number_stays_one_concept(question, concepts):
    """ "New" is question vocabulary ("what's new"), and a comma cut "11,000": refusals named "York
    landowners" and "000 tonnes" as what the documents do not discuss."""
    texts = [c.text for c in analyze_question(question).concepts]
    assert all(c in texts for c in concepts), texts


@pytest.mark.parametrize(("question", "concept", "verb"), [
    # do-support: after a plural, after a name, after a pronoun, before a preposition or an object
    ("What duty do U.S.-origin canes pay?", "U.S.-origin canes", "pay"),
    ("Did Canada commit to let U.S. wine be sold in grocery stores?", "Canada", "commit"),
    ("Did Mexico ban the herbicide?", "herbicide", "ban"),
    ("Which party does Sheinbaum belong to?", "Sheinbaum", "belong"),
    ("Does it coordinate with any development bank?", "development bank", "coordinate"),
    ("When did it actually start biting at the border?", "border", "start"),
    ("Do the quota volumes grow each year?", "quota volumes", "grow"),
    # after a plural the verb takes a preposition; subjects joined by "and"/"or" share the verb
    ("Do the national treatment rules apply to rough diamonds?", "national treatment rules", "apply"),
    ("Do its cutters and its grinders land on one line?", "grinders", "land"),
    ("Does the charged or empty status change the line?", "empty status", "change"),
    # "cover" and "pay" ask what a line covers and what a good pays: no line says either
    ("Which Canadian tariff item covers hop pellets?", "hop pellets", "covers"),
    ("What do Mexican-origin hop pellets pay?", "Mexican-origin hop pellets", "pay"),
    # a question word's own subject, a verb in -s before an object
    ("Which agency collects the 232 auto duties at the border?", "agency", "collects"),
    ("Which line of Canada's CUSMA schedule covers them?", "schedule", "covers"),
])
def test_a_concept_stops_before_the_questions_verb(question, concept, verb):
    """A passage that states the duty never says "canes pay": a concept that ran into the verb was
    named as what the documents do not discuss."""
    texts = [c.text for c in analyze_question(question).concepts]
    assert concept in texts
    assert not any(verb in t.split() for t in texts)


@pytest.mark.parametrize(("question", "word"), [
    # the object's head noun is the topic: never taken for the verb
    ("Which chapter governs textiles?", "textiles"),
    ("Which heading covers hydraulic pumps?", "pumps"),
    ("Does CBP verify origin?", "origin"),
    ("Do importers claim preferential treatment?", "treatment"),
    ("Did the rule cover sugar?", "sugar"),
    ("Did Mexico ban glyphosate?", "glyphosate"),
    ("Does the act authorize retaliation against Canada?", "retaliation"),
    ("Does CBP guidance require a certificate?", "guidance"),
    ("Does the customs broker at the border need a license?", "broker"),
    ("Which steel products that Mexico exports face tariffs?", "products"),
    # plural subjects, modifiers, possessives, lists, embedded questions keep the subject whole
    ("Do hydraulic pumps for vehicles appear among the parts covered by Annex 2-C?", "pumps"),
    ("Does the drawback cap in Article 2.5 apply to citrus?", "cap"),
    ("Why does Mexico's reliance on U.S. natural gas make energy a promising area?", "reliance"),
    ("Which auto parts, if any, are exempt?", "parts"),
    ("What new duties, if any, apply to Mexican steel?", "duties"),
    ("Explain what tariff concessions the United States made on dairy.", "concessions"),
    ("Which U.S. farm products did USTR Greer say he wants to expand access for?", "Greer"),
    ("Does IT equipment qualify for duty-free treatment?", "equipment"),
    ("What does the USMCA prohibit?", "prohibit"),
])
def test_no_word_of_a_subject_or_object_is_taken_for_the_verb(question, word):
    assert any(word in c.text.split() for c in analyze_question(question).concepts)


def test_a_premises_names_set_the_scene():
    """Names of a premise before the question ("A Mississippi processor ... to Toronto.") are not
    looked for in the passages: the tariff line that answers never repeats them."""
    q = ("A Mississippi processor trucks chilled catfish to Toronto. Which line of Canada's schedule covers the "
         "fish, and what rate applies?")
    a = analyze(q)
    assert "mississippi" not in a.asked_names and "toronto" not in a.asked_names
    assert "canada" in a.asked_names and "mississippi" in question_names(q)
    assert "tesla" in question_names("Consider Tesla's new plant. How many cars will it build this year?")
    # a sentence after the question still belongs to what is asked
    later = analyze("How many cars will the new plant build next year? I mean the Tesla plant in Monterrey.")
    assert {"tesla", "monterrey"} <= set(later.asked_names)


def test_only_the_asked_parts_names_are_looked_for_and_a_name_made_modifier_is_the_name(brief_assistant):
    """A premise's names no document uses set the scene too ("Railcar plants in Zacatecas build tank
    cars. What rate ...?"); "U.S.-built" names the U.S.; a name of stop words ("IT") has no idf to
    call it unknown."""
    from assistant.answer.evidence import name_evidence
    from assistant.domain import Chunk, ScoredChunk
    from assistant.textutil import names

    snap = brief_assistant.reader.snapshot()
    line = Chunk("c1", "brief", "Brief", "brief", "Mexico is the largest trading partner of the U.S.", 0, 0, 1)
    top = [ScoredChunk(line, 1.0, rank=1)]
    q = "Railcar plants in Zacatecas build tank cars. What share of trade does Mexico have?"
    premise = analyze(q)
    assert "zacatecas" in question_names(q) and name_evidence(premise, top, snap) == ((), ())
    asked = analyze("What share of trade do the railcar plants of Zacatecas have?")
    assert name_evidence(asked, top, snap) == (("zacatecas",), ())
    assert names("Both Mexican-built cars and U.S.-made parts of a Texas-based firm") == {"mexican", "u.s", "texas"}
    assert names("the T-MEC and Coca-Cola") == {"t-mec", "coca-cola"}
    assert name_evidence(analyze("What share of trade does IT equipment have?"), top, snap) == ((), ("it",))


def test_a_spanish_question_is_the_sentence_around_its_question_marks():
    """"¿EE. UU. ...?" is not cut at "EE.", a clause before "¿" in the same sentence is part of it, and a
    question without "¿" still asks."""
    from assistant.retrieve.analysis import asked_part

    assert asked_part("Y para demostrarlo, ¿EE. UU. tiene que aceptar los certificados de Canadá?").startswith("Y para")
    assert asked_part("Una planta de Jalisco hace latas. ¿Qué fracción les aplica en la lista de Canadá?") == \
        "¿Qué fracción les aplica en la lista de Canadá?"
    assert "Quincy" in asked_part("Según el informe del Quincy Institute (pág. 4), ¿qué recomienda sobre migración?")
    assert "cuota" in asked_part("¿Qué arancel aplica al queso? Y cuál es la cuota?")


def test_a_premise_question_is_judged_on_what_it_asks():
    """The multilingual feature of a question with a premise is its asked part's best cosine with a
    top passage (shifted to the whole question's scale), not the whole question's."""
    def top(cid: str, cos: float) -> ScoredChunk:
        return ScoredChunk(Chunk(cid, "d", "t", "brief", "x", 0, 0, 1), 1.0, multilingual=cos)

    passages = [top("a", 0.86), top("b", 0.84)]
    assert evidence._multilingual(passages, None) == 0.86
    assert evidence._multilingual(passages, {}) == 0.86
    assert evidence._multilingual(passages, {"a": 0.70, "b": 0.78}) == pytest.approx(0.78 + evidence.PREMISE_SHIFT)
    assert evidence._multilingual(passages, {"z": 0.9}) == 0.86  # only the top passages count


def test_a_premise_that_paraphrases_the_brief_does_not_carry_what_it_asks(full_assistant, brief_assistant):
    """The premise restates the brief (Stellantis's tariff furloughs), so the whole question sits
    close to that passage; what is asked (workers idled at a Windsor plant) no document mentions.
    Read as a whole (before), the full index answered it with the furlough sentence."""
    windsor = ("The brief says the auto tariffs forced Stellantis to pause production. "
               "How many workers were idled at its Windsor plant?")
    d = full_assistant.decision(windsor)
    assert d.refuse and d.rule == "coverage" and d.details["premise"] and "Windsor" in d.text
    # the same premise before a question the brief answers is answered, on either index (before,
    # the brief's own index refused it: the whole question was further from the furlough passage
    # than what it asks)
    answered = ("The brief says the auto tariffs forced Stellantis to pause production. "
                "At how many U.S. plants did Stellantis announce furloughs?")
    assert not full_assistant.decision(answered).refuse
    assert not brief_assistant.decision(answered).refuse


@pytest.mark.parametrize("turn, asked", [
    ("OK, and can a company use drawback to claw back AD or CVD duties it paid?",
     "and can a company use drawback to claw back AD or CVD duties it paid?"),
    ("Fine, but what volume does it allow in quota year 9?", "but what volume does it allow in quota year 9?"),
    ("Got it. What tonnage does that allowance reach?", "What tonnage does that allowance reach?"),
    ("Bien. ¿En qué fracción entran los parapentes?", "¿En qué fracción entran los parapentes?"),
])
def test_an_acknowledgement_that_opens_a_turn_is_no_concept(turn, asked):
    """A short reply before the question acknowledges the last answer: a refusal named it ("... do
    not discuss CVD duties, claw back AD or OK."). The question as typed is kept."""
    a = analyze_question(turn)
    assert a.text == asked and a.question == turn
    typed = {w.lower() for c in a.concepts for w in (c.typed or c.text).split()}
    assert not typed & {"ok", "fine", "got", "bien", "well", "good"}
    # the same words inside a question, or without the comma or full stop, stay
    assert analyze_question("Is the rate fine, or does it change in year 9?").text.startswith("Is the rate fine")
    assert analyze_question("Right of first refusal: does Chapter 2 grant one?").text.startswith("Right of")
