"""The extractive answerer's sentence selection, on real indexes."""

from __future__ import annotations

from assistant.answer import extractive
from assistant.answer.backends import EXTRACTIVE
from assistant.answer.coverage import states_figure
from assistant.answer.extractive import (
    Candidate,
    compose_short,
    query_weights,
    score_candidates,
    select,
    sentence_candidates,
    shape,
)
from assistant.retrieve.analysis import analyze


def _brief_chunk(assistant, phrase: str):
    snap = assistant.reader.snapshot()
    return next(c for c in snap.chunks.values() if phrase in c.text)


def _scored_candidates(assistant, question: str):
    a = assistant.analyze(question)
    ret = assistant.retrieve_analysed(a)
    cands = sentence_candidates(ret.chunks, ret.snapshot)
    score_candidates(a, cands, query_weights(a.english, ret.snapshot), ret.query_vector)
    return a, cands


def test_the_sentence_with_the_asked_figure_leads_the_answer(brief_assistant):
    _, cands = _scored_candidates(brief_assistant, "How many cartel leaders did Sheinbaum transfer?")
    picked = select(cands, max_sentences=3)
    assert "29" in picked[0].text and len(picked) <= 3


def test_the_short_answer_leads_with_the_figure_then_lists_a_few_points(brief_assistant):
    a, cands = _scored_candidates(brief_assistant, "How many cartel leaders did Sheinbaum transfer?")
    shaped = shape(cands, a, lambda t: states_figure(a, t))
    assert "29" in shaped.lead[0].text
    assert len(shaped.points) <= extractive.MAX_POINTS
    text, used = compose_short(shaped, a)
    lines = text.split("\n")
    assert "29" in lines[0] and "[1]" in lines[0]
    assert all(line.startswith("- ") and "[" in line for line in lines[1:])
    assert len(text.split()) <= extractive.WORD_BUDGET + 60 and used


def _verbatim_cut(long: str, question: str) -> str:
    """trim's cut of a long quote for `question`: shorter, and each piece between "…" verbatim in it."""
    assert len(long.split()) > extractive.TRIM_ABOVE
    cut = extractive.trim(long, analyze(question))
    pieces = [p.strip(" .…") for p in cut.split("…") if p.strip(" .…")]
    assert cut != long and pieces and all(p in long for p in pieces), cut
    return cut


def test_a_long_quote_is_cut_to_the_clauses_that_answer_and_stays_verbatim():
    long = ("The Parties recognise the importance of trade facilitation; each Party shall apply its customs "
            "valuation rules consistently and transparently, and shall publish them promptly, while the "
            "committee reviews implementation every two years and reports to the Commission on any "
            "difficulties that arise in the application of these rules by the customs administrations; the "
            "Commission may then recommend changes to the uniform regulations, which the Parties shall consider "
            "within a reasonable period of time.")
    cut = _verbatim_cut(long, "What does the agreement require on customs valuation?")
    assert "customs" in cut and "…" in cut


def test_a_cut_across_a_comma_break_keeps_the_comma_and_stays_verbatim():
    """A run of clauses joined at ", with" / ", and" is cut from the sentence as it stands: joined
    again without the comma it was not verbatim, and the verifier dropped the answer's lead."""
    long = ("The schedule groups several kinds of floating structures under one heading for the purposes of the "
            "staging categories; drilling platforms, dredgers and light vessels are listed first under their own "
            "items; other heavy lift crane vessels, with a minimum gross lift capacity of 1,200 tonnes, and "
            "floating cranes are listed next; the remaining structures follow under a residual item that "
            "carries the general rate.")
    cut = _verbatim_cut(long, "Which line covers heavy lift crane vessels, and what minimum lift capacity must they have?")
    assert "1,200 tonnes" in cut


def test_a_table_under_a_grouped_header_names_each_cell_by_its_column():
    """A header cell spanning several columns whose names come on a second line (the brief's
    Figure 3): the second line names columns, it is never quoted as a row."""
    table = "\n".join([
        "Figure 9: Content by Country",
        "Model\tShare by Country\t\t\tFinal Assembly\tEngine",
        "U.S. or Canada\tMexico\tGermany",
        "Sedan One\t60\t30\t\tU.S.\tU.S.",
        "Coupe Two\t2\t70\t20\tMexico\tHungary",
        "Truck Three\t37\t36\t\tU.S.\tMexico",
    ])
    shown = extractive.table_rows(table, "Which model is assembled in Mexico?")
    assert shown.startswith("Figure 9: Content by Country — Coupe Two: ")
    assert "Share by Country: U.S. or Canada 2, Mexico 70, Germany 20" in shown
    assert "Final Assembly Mexico" in shown and "Engine Hungary" in shown
    assert "Truck Three" not in shown and "U.S. or Canada:" not in shown
    assert extractive.table_rows(table, "What share of the Truck Three comes from Mexico?").startswith(
        "Figure 9: Content by Country — Truck Three: Share by Country: U.S. or Canada 37, Mexico 36")


def test_a_near_copy_of_a_chosen_sentence_is_not_picked_again(brief_assistant):
    snap = brief_assistant.reader.snapshot()
    chunk = next(c for c in snap.chunks.values() if "grains, oilseeds, and meat" in c.text)
    text = "The trade is complementary, with the U.S. largely supplying grains, oilseeds, and meat."
    first = Candidate(chunk, 1, text, score=0.8)
    copy = Candidate(chunk, 2, text.replace("largely ", ""), score=0.79)
    other = Candidate(chunk, 3, "CoBank projects an extremely strong increase in demand for U.S. cheese.", score=0.7)
    assert [c.text for c in select([first, copy, other], max_sentences=2)] == [first.text, other.text]


def test_tariff_lines_with_the_same_words_but_other_items_are_distinct_facts(full_assistant):
    snap = full_assistant.reader.snapshot()
    lines = [c for c in snap.chunks.values() if c.kind == "tariff" and c.meta.get("tariff_item", "").startswith("0406.90")]
    lines = [c for c in lines if "within access commitment" in c.text.lower()][:2]
    assert len(lines) == 2
    a, b = (Candidate(c, 1, c.text) for c in lines)
    assert not extractive._repeats(a, b)
    assert extractive._repeats(Candidate(lines[0], 2, lines[0].text), a)


def test_a_sentence_opening_with_a_pronoun_comes_with_the_one_before_it(brief_assistant):
    snap = brief_assistant.reader.snapshot()
    chunk = _brief_chunk(brief_assistant, "He originally trained as a modern European historian")
    cands = sentence_candidates([_scored(chunk)], snap)
    named = next(c for c in cands if c.text.startswith("Karthik Sankaran is"))
    he = next(c for c in cands if c.text.startswith("He originally trained"))
    for c in cands:
        c.score = 0.1
    he.score = 0.9
    picked = select(cands, max_sentences=1)
    assert [c.text for c in picked] == [named.text, he.text]
    # a sentence that names its subject stands alone
    for c in cands:
        c.score = 0.1
    named.score = 0.9
    assert [c.text for c in select(cands, max_sentences=1)] == [named.text]


def _scored(chunk):
    from assistant.domain import ScoredChunk

    return ScoredChunk(chunk, 1.0, None, None, 1)


def test_a_second_passage_gets_a_point_before_the_first_passages_third_sentence(brief_assistant):
    """The rank prior lifts every sentence of the first passage; its further sentences are marked
    down so that the best sentence of the next passage (often the evidence) is shown too."""
    first = _brief_chunk(brief_assistant, "grains, oilseeds, and meat")
    second = _brief_chunk(brief_assistant, "He originally trained as a modern European historian")
    a = analyze("What does the brief say about farm trade between the two countries?")
    texts = ["The trade is complementary, with the U.S. largely supplying grains, oilseeds, and meat.",
             "CoBank projects an extremely strong increase in demand for U.S. cheese.",
             "Mexico became the largest or second-largest partner for agricultural exports.",
             "Karthik Sankaran originally trained as a modern European historian."]
    cands = [Candidate(first, i + 1, t, score=s) for i, (t, s) in enumerate(zip(texts[:3], (0.9, 0.85, 0.84), strict=True))]
    other = Candidate(second, 1, texts[3], score=0.8)
    shaped = shape([*cands, other], a, lambda t: False)
    assert [c.text for c in shaped.lead] == [texts[0]]
    assert [c.text for c in shaped.points] == [texts[3], texts[1], texts[2]]
    assert extractive.PASSAGE_REPEAT_PENALTY > 0


def test_a_year_by_year_table_names_the_asked_year_by_its_column():
    """A quota table has no title line and numbers for row labels: the row is named by its column
    ("Quota Year 8"), not as a bare "8:", and no dangling title dash opens the quote."""
    table = "Quota Year\tAggregate Quantity (MT)\n1\t1,000\n7\t4,200\n8\t4,900\n9\t5,100"
    shown = extractive.table_rows(table, "What volume does the quota allow in year 8?")
    assert shown == "Quota Year 8: Aggregate Quantity (MT) 4,900"


def test_a_later_window_of_a_long_table_is_read_under_the_tables_header():
    """A long table is cut into windows of rows and only the first has the header row: a later one
    is read under the header its chunk carries, not under its own first row."""
    window = "AG18062073\tProvided for in tariff item 18062073\nAG18062077\tProvided for in tariff item 18062077"
    shown = extractive.table_rows(window, "Which provision matches HTS 1806.20.77?", ["Heading\tArticle Description"])
    assert shown == "AG18062077: Article Description Provided for in tariff item 18062077"


def test_a_provision_code_alone_names_its_row():
    """"AG04051020" tokenizes as "ag" + "04051020", and a bare number names no row: the code's
    digits must still pick its row, not the first two rows that share "ag"."""
    window = "AG04049050\tProvided for in tariff item 04049050\nAG04051020\tProvided for in tariff item 04051020"
    shown = extractive.table_rows(window, "Which HTSUS tariff item is Table 1 provision AG04051020?",
                                  ["Heading\tArticle Description"])
    assert shown == "AG04051020: Article Description Provided for in tariff item 04051020"


def test_a_quota_table_shows_the_year_the_question_names_in_figures_or_in_words():
    """"year six", "el décimo año", "año cuota 14": the row of that year; the 5 of "TRQ-CA5" names
    no row."""
    from assistant.answer.extractive import table_rows

    table = "TRQ-CA5: Cheeses\nQuota Year\tAggregate Quantity (MT)\n1\t1,042\n5\t5,208\n6\t6,250\n10\t9,000\n14\t6,768"
    assert table_rows(table, "¿Cuántas toneladas del TRQ-CA5 en el año cuota 14?").endswith("Quota Year 14: Aggregate Quantity (MT) 6,768")
    assert "Quota Year 6: Aggregate Quantity (MT) 6,250" in table_rows(table, "How much cheese by year six?")
    assert "Quota Year 10:" in table_rows(table, "¿Qué volumen en el décimo año del TRQ-CA5?")
    assert "Quota Year 5:" not in table_rows(table, "¿Qué volumen en el décimo año del TRQ-CA5?")
    # a number word away from "year" names no row ("once" the quota fills; "one" importer)
    assert "Quota Year 10:" not in table_rows(table, "Once the quota fills, what does one importer pay after ten days?")


def test_a_further_tariff_line_is_shown_as_its_row_and_fits_the_short_answer(full_assistant):
    """Two tariff lines that may both fit: the lead quotes the first line's sentence (which says
    how a line reads), the second comes as its row, verbatim and cited with it as the quote, so
    that it fits the word budget that its 56-word sentence would overrun."""
    snap = full_assistant.reader.snapshot()
    lines = {c.meta.get("tariff_item"): c for c in snap.chunks.values() if c.kind == "tariff"
             and c.meta.get("tariff_item") in ("2710.19.20", "3826.00.00")}
    a = analyze("Which line of Canada's schedule takes petroleum greases and oils?")
    sentence = {k: c.text[c.text.rfind("\n") + 1:] for k, c in lines.items()}
    assert sum(len(t.split()) for t in sentence.values()) > extractive.WORD_BUDGET
    first = Candidate(lines["2710.19.20"], 1, sentence["2710.19.20"], score=0.6)
    second = Candidate(lines["3826.00.00"], 2, sentence["3826.00.00"], score=0.4)
    shaped = shape([first, second], a, lambda t: False)
    assert shaped.lead == [first] and shaped.points == [second]
    text, cited = compose_short(shaped, a)
    row = lines["3826.00.00"].text.splitlines()[0]
    assert row.startswith("3826.00.00 Biodiesel") and f"- {row}" in text and sentence["3826.00.00"] not in text
    assert cited[1] == (lines["3826.00.00"], [row])
    # under a lead that is no tariff line, a line is quoted as its sentence, as everything else;
    # so is a line whose rates differ from the lead's, or whose own description is only "Other"
    brief = next(c for c in snap.chunks.values() if c.kind == "brief")
    other = Candidate(brief, 1, "A sentence of the brief that leads the answer.", score=0.9)
    assert not shape([other, second], a, lambda t: False).rows
    more = {c.meta["tariff_item"]: c for c in snap.chunks.values() if c.kind == "tariff"
            and c.meta["tariff_item"] in ("0105.11.21", "0105.11.22", "0101.29.00")}
    assert more["0105.11.21"].meta["rates"] != more["0105.11.22"].meta["rates"]
    assert more["0101.29.00"].meta["description"] == "Other"
    assert not extractive.shown_as_row(Candidate(more["0105.11.21"], 2, "x"), [Candidate(more["0105.11.22"], 1, "y")])
    assert not extractive.shown_as_row(Candidate(more["0101.29.00"], 2, "x"), [first])
    assert extractive.shown_as_row(second, [first])


def test_a_tariff_line_is_scored_by_what_it_covers_not_only_by_its_words(full_assistant, monkeypatch):
    """A line has no stored vector: its sentence gets the vector of its description when the
    question comes in, so the line that means what is asked in other words comes closer than one
    that only shares a word with the question ("residues"); without it a line's similarity is its
    word overlap. Done on the answer's path only (the decision alone does not score sentences),
    and the setting turns it off."""
    snap = full_assistant.reader.snapshot()
    lines = {c.meta["tariff_item"]: c for c in snap.chunks.values() if c.kind == "tariff"
             and c.meta.get("tariff_item") in ("2303.10.00", "2303.30.00")}
    question = "Which tariff line takes the residues that breweries and distilleries leave?"
    a = full_assistant.analyze(question)
    vector = full_assistant.embedder.embed_query(question)

    def similarity(embedded: bool) -> dict[str, float]:
        cands = [Candidate(c, 1, c.text[c.text.rfind("\n") + 1:]) for c in lines.values()]
        if embedded:
            timings: dict[str, float] = {}
            full_assistant._embed_lines(cands, timings)
            assert all(c.vector is not None for c in cands) and "embed_lines_ms" in timings
        score_candidates(a, cands, query_weights(a.english, snap), vector)
        return {c.chunk.meta["tariff_item"]: c.dense for c in cands}

    words_only, by_meaning = similarity(False), similarity(True)
    assert words_only["2303.10.00"] > words_only["2303.30.00"]  # "residues" is in 2303.10's words only
    assert by_meaning["2303.30.00"] > by_meaning["2303.10.00"]  # "Brewing or distilling dregs and waste"

    q = full_assistant._prepare(question, None, EXTRACTIVE)

    def line_vectors(**kw: bool) -> list[bool]:
        ev = full_assistant._evidence(q, None, None, None, "hybrid", **kw)
        return [c.vector is not None for c in ev.candidates if c.chunk.meta.get("tariff_item")]

    assert line_vectors() and all(line_vectors())
    assert not any(line_vectors(answering=False))
    monkeypatch.setattr(full_assistant, "settings", full_assistant.settings.model_copy(
        update={"embed_lines_at_query": False}))
    assert line_vectors() and not any(line_vectors())
