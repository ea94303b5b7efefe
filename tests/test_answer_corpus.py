"""Questions on the treaty, the tariff schedule, the U.S. Code and the proclamations (full mirror corpus)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from assistant.retrieve.analysis import analyze


def cited_locations(answer):
    return [c.location for c in answer.citations]


def test_article_question_cites_the_article(full_assistant):
    a = full_assistant.ask("What does Article 2.4 say about customs duties on originating goods?")
    assert not a.abstained
    assert any(loc.startswith("USMCA Art. 2.4") for loc in cited_locations(a)), cited_locations(a)


def test_joint_review_question_cites_19_usc_4611(full_assistant):
    a = full_assistant.ask("What must USTR do before the joint review?")
    assert not a.abstained
    assert any(loc.startswith("19 U.S.C. § 4611") for loc in cited_locations(a)), cited_locations(a)


def test_an_acronym_no_document_defines_is_read_by_the_names_they_use(full_assistant):
    # No document defines "ITC" or "USTR"; they write "International Trade Commission" and "the
    # Trade Representative". The lexical search looks for those names too, and a passage that
    # uses them does not count as lacking the acronym the question names.
    from assistant.answer.evidence import name_evidence
    from assistant.retrieve.hybrid import with_long_forms

    snap = full_assistant.reader.snapshot()
    known = snap.acronyms()
    assert known["itc"] == ("internat", "trade", "commiss") and known["ustr"] == ("trade", "repres")
    assert "tea" not in known  # "Trade Expansion Act": initials that spell a word are not read
    assert with_long_forms("May the ITC extend relief?", snap)[:5] == ["may", "itc", "internat", "trade", "commiss"]
    assert with_long_forms("May the itc extend relief?", snap) == ["may", "itc", "extend", "relief"]
    a = analyze("Before the joint review, whom must USTR consult?")
    top = full_assistant.retrieve_analysed(a).chunks[:5]
    assert any("Trade Representative" in sc.chunk.text for sc in top)
    assert name_evidence(a, top, snap) == ((), ())


def test_tariff_item_question_cites_that_line(full_assistant):
    a = full_assistant.ask("What is the USMCA rate for tariff item 0101.21.00?")
    assert not a.abstained
    assert a.citations and "0101.21.00" in a.citations[0].location
    assert "0101.21.00" in a.citations[0].quote


def test_a_tariff_line_is_found_by_the_name_of_its_heading(full_assistant):
    # The rows of 0101 say "Pure-bred breeding animals" and "Other"; only the Harmonized System's
    # heading name, in the lines' search context, says "horses".
    hits = full_assistant.retrieve("Canada's USMCA duty on live horses?", 5)
    assert any(h.chunk.meta.get("hs_heading") == "0101" for h in hits), [h.chunk.location for h in hits]


def test_lines_a_question_asks_for_are_not_pushed_down_by_prose_the_dense_channels_like(full_assistant):
    # Radiators are HS 8708.91; the dense channels, blind to tariff lines, vote for the auto-parts
    # prose of Annex 2-C. A question that asks for the schedule's charge weighs the lines as if
    # every channel had ranked them where BM25 did (settings.asked_lines_scaling).
    question = "What does Canada's schedule charge on radiators for motor vehicles from Mexico?"
    hits = full_assistant.retrieve(question, 3)
    assert any(str(h.chunk.meta.get("tariff_item", "")).startswith("8708.91") for h in hits), \
        [h.chunk.location for h in hits]


def test_a_good_typed_as_one_word_finds_the_line_that_writes_it_as_two(full_assistant):
    # Canada's schedule writes "Ferro-silico-manganese" and "Ball point pens" (lexical.compound_parts)
    for question, item in (("What does Canada charge on U.S. silicomanganese?", "7202.30"),
                           ("Which Canadian line covers ballpoint pens from Mexico?", "9608.10")):
        hits = full_assistant.retrieve(question, 5)
        assert any(str(h.chunk.meta.get("tariff_item", "")).startswith(item) for h in hits), \
            (question, [h.chunk.location for h in hits])


def test_lines_named_by_the_question_rank_above_the_residue_that_excludes_them(full_assistant):
    # 0805.90.00 reads "Other (other than: Oranges; Mandarins ...; Grapefruit ...)": searched
    # without that list (ingest.tariff `searched_as`), it no longer outranks the lines it names
    hits = full_assistant.retrieve("Which Canadian tariff items cover fresh oranges, mandarins and grapefruit?", 3)
    items = [str(h.chunk.meta.get("tariff_item", "")) for h in hits]
    assert {"0805.21.00", "0805.40.00"} <= set(items) and "0805.90.00" not in items, items


def test_a_quota_table_is_found_by_its_name(full_assistant):
    # the table holds only years and tonnes; its paragraph's title names the quota
    for question, label in [
        ("Natural milk constituents quota: aggregate quantity in quota year 19?", "para. 16 (TRQ-CA12"),
        ("Canada's quota for ice cream and ice cream mixes in year 6?", "para. 17 (TRQ-CA13"),
    ]:
        hits = full_assistant.retrieve(question, 3)
        assert any(h.chunk.location.startswith(f"USMCA Appendix 2 (TRQs, Canada), {label}")
                   and h.chunk.location.endswith(", table") for h in hits), [h.chunk.location for h in hits]


def test_a_question_that_asks_for_a_line_in_plain_words_gets_tariff_lines(full_assistant):
    """"Which Canadian line ...", "What does Canada charge on ...": no phrase rule reads these as
    asking for tariff lines; the gate fitted on the tuning sets (retrieve.line_gate) does, and not
    for questions on the brief or the treaty's articles. Without it the auto-parts appendix, which
    spells "Tires" as the question does, outranks Canada's line for bicycle tyres."""
    from assistant.retrieve.line_gate import gate_for

    gate = gate_for(full_assistant.embedder.model_name)
    assert gate is not None
    asks = ["Which Canadian line covers new tires for bicycles, and what do U.S.-made ones pay?",
            "What does Canada charge on American car seat belts?"]
    other = ["What does the brief say about migration?", "How does Article 2.4 treat customs duties?"]
    for question in asks + other:
        a = full_assistant.analyze(question)
        assert not (a.wants_tariff_lines or a.schedules), question
        vector = full_assistant.embedder.embed_query(a.search_text)
        assert gate.asks_for_lines(vector) == (question in asks), (question, gate.probability(vector))
    hits = full_assistant.retrieve(asks[0], 5)
    assert hits[0].chunk.kind == "tariff", [h.chunk.label for h in hits]
    assert any("4011.50.00" in h.chunk.label for h in hits[:2]), [h.chunk.label for h in hits]


def test_tariff_lines_do_not_crowd_out_prose(full_assistant):
    hits = full_assistant.retrieve("What does the brief say about rules of origin for autos?", 10)
    assert not any(h.chunk.kind == "tariff" for h in hits)


def test_proclamation_clause_cited(full_assistant):
    a = full_assistant.ask("Under the March 2025 auto tariff proclamation, how can importers of USMCA cars pay only on non-U.S. content?")
    assert not a.abstained
    assert any(loc.startswith("Proclamation 10908, cl.") for loc in cited_locations(a)), cited_locations(a)


def test_sources_lists_documents_and_footnote_status(full_settings):
    env = dict(os.environ, ASSISTANT_INDEX_DIR=str(full_settings.index_dir))
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "sources", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    docs = {d["document_id"]: d for d in json.loads(out.stdout)}
    for doc_id, kind in [
        ("quincy-brief-80-us-mexico-special-relationship.md", "brief"),
        ("usmca-ch02-national-treatment-and-market-access-for-goods.html", "treaty"),
        ("usmca-ch02-annex-2-b-tariff-schedule-of-canada.html", "tariff"),
        ("19-usc-chapter-29-usmca-implementation.md", "law"),
        ("fr-2025-07833-amendments-to-adjusting-imports-of-automobiles-and-automobile-parts.html", "source"),
        ("fr-2025-05930-adjusting-imports-of-automobiles-and-automobile-parts.html", "source"),
    ]:
        assert docs[doc_id]["kind"] == kind
        assert docs[doc_id]["chunks"] > 0
    out = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "sources", "--footnotes", "--json"],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )
    notes = {f["footnote"]: f for f in json.loads(out.stdout)}
    assert sorted(notes) == list(range(1, 63))
    assert notes[29]["status"] == "indexed"
    assert notes[29]["document_id"].startswith("fr-2025-07833")
    assert notes[1]["status"] == "reference only" and "ustr.gov" in notes[1]["url"]


def test_a_question_about_the_brief_is_answered_from_the_brief(full_assistant):
    hits = full_assistant.retrieve("What does the brief want done about rules of origin in the review?", 5)
    assert hits and all(h.chunk.kind == "brief" for h in hits)
    # naming a legal text keeps every document in play
    hits = full_assistant.retrieve("How does the brief's view compare with 19 U.S.C. § 4532 on rules of origin?", 8)
    assert hits[0].chunk.label.startswith("19 U.S.C. § 4532")


def test_tariff_lines_do_not_join_a_question_about_the_brief(full_assistant):
    # "tomato" and "Mexican" match a tariff line strongly; the question asks what the brief says
    hits = full_assistant.retrieve("What does the brief say about antidumping duties on Mexican tomatoes?", 8)
    assert hits and all(h.chunk.kind == "brief" for h in hits)
    # without "the brief", a strongly matching tariff line still joins the prose
    hits = full_assistant.retrieve("Mexican tomatoes fresh or chilled", 8)
    assert any(h.chunk.kind == "tariff" for h in hits)


@pytest.mark.parametrize("question", [
    "What does the brief say about antidumping duties on Mexican tomatoes?",
    "¿Qué dice el informe sobre los derechos antidumping al tomate mexicano?",
])
def test_asking_the_brief_about_what_only_other_documents_discuss_is_refused(full_assistant, question):
    d = full_assistant.decision(question)
    assert d.refuse and d.text.startswith("The brief does not"), d.text
    assert "tomat" in d.text.lower()  # named as typed: "tomatoes", "tomate"
    a = full_assistant.ask(question)
    assert a.abstained and a.citations == []


def test_a_question_about_the_brief_in_its_own_words_is_in_scope(full_assistant):
    d = full_assistant.decision("What does the brief say about the Rapid Response Mechanism?")
    assert not d.refuse and d.details["unknown_share"] == 0
    # a user's filter is not such a scope: "ban" is the treaty's "prohibition" in other words
    a = full_assistant.ask("Can Mexico ban imports of used cars?", kinds={"treaty"})
    assert not a.abstained and all(c.document_id.startswith("usmca-ch02") for c in a.citations)


def test_the_brief_named_in_a_premise_does_not_narrow_the_question(full_assistant):
    q = ("The brief praises the Rapid Response Mechanism. How does a petition about a Mexican facility "
         "reach the Interagency Labor Committee, and how fast must it act?")
    a = analyze(q)
    assert a.asked.startswith("How does") and not a.names_brief and a.scope is None
    assert analyze("Per the brief, Mexico is special. Why?").names_brief  # too short to stand alone
    hits = full_assistant.retrieve(q, 8)
    assert any(h.chunk.kind == "law" for h in hits)


def test_a_treaty_chapter_that_is_not_indexed_is_named_in_the_refusal(full_assistant):
    chapter8 = "USMCA Chapter 8 (Recognition of the Mexican State's Ownership of Hydrocarbons)"
    d = full_assistant.decision("What does USMCA Chapter 8 say about Mexico's ownership of hydrocarbons?")
    assert d.refuse and d.not_covered == (chapter8,) and chapter8 in d.text
    d2 = full_assistant.decision("¿Qué dice el capítulo 8 del T-MEC sobre los hidrocarburos?")
    assert d2.not_covered == (chapter8,)
    # a chapter named by its subject, in English or Spanish
    for question, chapter in (
        ("Under USMCA's digital trade chapter, may a party tax cross-border data flows?", "Chapter 19 (Digital Trade)"),
        ("What does the chapter on macroeconomic policies say about currency interventions?", "Chapter 33 "),
        ("¿Qué exige el capítulo laboral del T-MEC sobre la libertad sindical?", "Chapter 23 (Labor)"),
        # an annex named by its subject: its chapter is not indexed either
        ("Does the USMCA medical devices annex make Mexico accept a U.S. marketing authorization?",
         "Chapter 12 (Sectoral Annexes)"),
    ):
        d = full_assistant.decision(question)
        assert d.refuse and d.rule == "identifier" and chapter in d.text, (question, d.text)
    # the indexed chapter, named by number or by subject, the U.S. Code's chapter 29 and what the
    # brief says of a chapter are in play
    for question in ("Under USMCA chapter 2, do commercial samples of negligible value enter duty-free?",
                     "Does the goods chapter let a party restrict used-vehicle imports?",
                     "What does chapter 29 of title 19 say about the joint review?",
                     "What does the brief say about USMCA Chapter 31?",
                     "What does the brief say the labor chapter achieved?"):
        assert full_assistant.decision(question).rule != "identifier", question
    # a chapter whose text is not indexed but which an indexed law implements, naming it in the
    # passages found (19 U.S.C. § 4582 on the panels of USMCA Chapter 10), is left to coverage
    d = full_assistant.decision("Under USMCA Chapter 10, how are judges picked for the binational panel rosters?")
    assert d.rule != "identifier" and not d.refuse, d.text


def test_an_annex_of_a_chapter_not_indexed_is_refused_unless_asked_through_the_implementing_law(full_assistant):
    # the U.S. Code names Annex 23-A (with an en dash) but the annex's own text is not indexed
    d = full_assistant.decision("What does Annex 23-A of the USMCA say about collective bargaining votes?")
    assert d.refuse and d.not_covered == ("USMCA Annex 23-A (Chapter 23, Labor)",), d
    # an annex no document names is named once, without its chapter a second time
    d = full_assistant.decision("What transition period does USMCA Annex 14-C give legacy claims?")
    assert d.refuse and d.not_covered == ("USMCA Annex 14-C",), d
    # what the implementing law does about the annex is in the law (19 U.S.C. § 4644)
    d = full_assistant.decision("Under the implementing act, how often does the Interagency Labor Committee "
                                "assess whether Mexico is complying with Annex 23-A?")
    assert not d.refuse, d.text


def test_whether_a_rule_was_actually_used_is_refused_when_only_rules_are_found(full_assistant):
    # the treaty sets out the notification; no indexed document records one being made
    q = "Under Article 2.13, which import licensing procedures has Canada actually notified to its partners?"
    d = full_assistant.decision(q)
    assert d.refuse and d.rule == "realized" and "record of what has actually been done" in d.text, d.text
    assert q in d.text, d.text  # the asked sentence, as typed
    # asked beside what the rule requires: the rule is answered, the event listed as not covered
    d = full_assistant.decision("What does Article 2.13 require each party to notify? And has Canada actually "
                                "notified its procedures so far?")
    assert not d.refuse and any("record of what has actually been done" in x for x in d.not_covered), d
    # the brief reports what the labor mechanism delivered: answered
    assert not full_assistant.decision("What did the Rapid Response Mechanism actually deliver for workers?").refuse


def test_a_tally_to_date_is_refused_as_one_the_documents_cannot_give(full_assistant):
    # the implementing law sets up the panels; no document counts the panels convened since
    d = full_assistant.decision("How many binational panels have been convened so far under the USMCA?")
    assert d.refuse and d.details["realized_figure"] == 1.0 and "up-to-date count of binational panels" in d.text, d.text
    # the same figure asked of the law's text is answered
    d2 = full_assistant.decision("How many members does a binational panel have under the implementing law?")
    assert d2.details["realized_figure"] == 0.0


def test_a_good_in_a_partys_schedule_that_is_not_indexed_is_refused_naming_the_schedule(full_assistant):
    # only Canada's lines are in the mirror: Mexico's rates are not Canada's
    for question in ("What duty does Mexico's USMCA schedule set on U.S. pork hams (0203.22)?",
                     "¿Qué arancel fija la lista de México del T-MEC para los jamones de cerdo?",
                     "Which staging category does the U.S. Schedule give fresh strawberries from Canada?"):
        d = full_assistant.decision(question)
        assert d.refuse and "tariff schedule of" in d.text, (question, d.text)
        assert len(d.not_covered) == 1 and "tariff schedule of" in d.not_covered[0], d.not_covered
    d = full_assistant.decision("What does Canada's schedule say for within-quota cheddar (0406.90.11)?")
    assert d.rule != "identifier" and not d.refuse
    # both named: Canada's line answers, and the answer says Mexico's lines are not there
    d = full_assistant.decision("What do Canada's and Mexico's schedules charge on U.S. cheddar cheese?")
    assert not d.refuse and d.not_covered == ("the lines of the tariff schedule of Mexico",), d.not_covered


def test_the_general_notes_of_a_schedule_whose_lines_are_not_indexed_answer_for_it(full_assistant):
    # Chapter 2 holds the general notes and appendices of the U.S. and Mexican schedules
    for question, quote in (
        ("Which edition of the Harmonized System does Mexico's Annex 2-B schedule follow?", "2012 edition"),
        ("How are interim staged rates rounded under the U.S. Schedule to Annex 2-B?", "nearest tenth"),
        ("¿En qué edición del Sistema Armonizado se basa la lista arancelaria de México del T-MEC?", "2012"),
    ):
        answer = full_assistant.ask(question)
        assert not answer.abstained and quote in answer.text, (question, answer.text)
    # a U.S. tariff number is no good's name: Table 1 of the U.S. quota appendix lists it
    d = full_assistant.decision("En la Tabla 1 del Apéndice 2 de la lista de EE. UU., ¿qué disposiciones AG "
                                "tienen las fracciones estadounidenses 0406.90.12 y 0406.90.18?")
    assert not d.refuse, d.text


def test_a_spanish_question_on_what_a_good_pays_is_answered_from_a_line_in_british_spelling(full_assistant):
    """"¿cuánto paga?" asks the duty a good pays, not a payment of money; and the Spanish gloss's
    "sulfuric" finds Canada's "Sulphuric acid" by its words too."""
    answer = full_assistant.ask("¿En qué fracción de la lista de Canadá va el ácido sulfúrico y cuánto paga "
                                "si sale de México?")
    assert not answer.abstained and "2807.00.00" in answer.text, answer.text
    assert "2807.00.00" in full_assistant.retrieve("Which Canadian tariff item covers sulfuric acid?",
                                                   mode="bm25")[0].chunk.label


def test_a_tariff_line_is_quoted_as_its_whole_sentence_with_item_and_rate(full_assistant):
    # the line's own sentence, whole: never the table row before it, never cut to a clause
    answer = full_assistant.ask("Which Canadian tariff item covers hop pellets, and what does it charge?")
    assert answer.text.startswith("Under Canada's USMCA tariff schedule (Annex 2-B), tariff item 1210.20.00"), \
        answer.text
    assert "has the rate 0" in answer.text and "…" not in answer.text
    # "Canadian" is covered by "Canada's": nothing is reported as not covered
    assert answer.not_covered == [], answer.not_covered


def test_a_tariff_lines_rate_is_the_figure_a_question_on_what_a_good_pays_asks_for(full_assistant):
    # "cuánto pagan" asks for money; the line's rate ("0") answers it
    d = full_assistant.decision("Un laboratorio de Morelos vende a Canadá anticuerpos monoclonales ya dosificados "
                                "para venta al por menor. ¿Con qué fracción entran y cuánto pagan con el T-MEC?")
    assert not d.refuse and d.details["slot_gap"] < 1.0, d.text


def test_a_us_tariff_item_finds_its_table_1_provision_and_a_provision_its_quota(full_assistant):
    """The U.S. TRQ appendix's Table 1 writes the U.S. item without dots ("Provided for in tariff
    item 21069046"), a negotiator with them: the row is found by the item either way, the
    provision's code finds its row and the paragraph that lists it, and a code no document has is
    refused by name."""
    hits = full_assistant.retrieve("Our syrup blend enters the U.S. under 2106.90.46: which Table 1 code is that?", 5)
    assert "AG21069046\tProvided for in tariff item 21069046" in hits[0].chunk.text, [h.chunk.label for h in hits]
    answer = full_assistant.ask("Our syrup blend enters the U.S. under 2106.90.46: which Table 1 code is that?")
    assert "AG21069046: Article Description Provided for in tariff item 21069046" in answer.text, answer.text
    top = [h.chunk.text for h in full_assistant.retrieve("Which U.S. quota for Canada takes in AG21069046?", 3)]
    assert any("\tProvided for in tariff item 21069046" in t for t in top)
    assert any("This paragraph applies to the following Table 1 provisions" in t and "AG21069046" in t for t in top)
    # the row a code labels leads; the answer still names the quota it counts against
    assert "\tProvided for in tariff item 21069046" in top[0]
    assert "US 10" in full_assistant.ask("Which U.S. quota for Canada takes in AG21069046?").text
    refused = full_assistant.ask("Which U.S. quota for Canada takes in AG21069999?")
    assert refused.abstained and "Table 1 provision AG21069999" in refused.text, refused.text
