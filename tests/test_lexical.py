"""The BM25 tokenizer: British and American spellings are one term.

Canada's schedule writes "Sulphuric acid", "fibre" and "tonnes"; the U.S. Code, the glossary's
Spanish glosses and most questions write "sulfuric", "fiber" and "metric tons". Without folding,
a question in one spelling never matches a passage in the other by its words.
"""

from __future__ import annotations

from assistant.index.lexical import LexicalIndex, tokenize


def test_british_and_american_spellings_tokenize_alike():
    assert tokenize("Sulphuric acid") == tokenize("sulfuric acid")
    assert tokenize("sulphurous") == tokenize("sulfurous")  # one pair ("sulphur") serves every inflection
    assert tokenize("synthetic fibres") == tokenize("synthetic fibers")
    assert tokenize("labour rights") == tokenize("labor rights")
    assert tokenize("harmonised") == tokenize("harmonized")
    assert set(tokenize("tonnes")) <= set(tokenize("metric tons"))
    # words with one spelling, and identifiers, are untouched
    assert tokenize("Annex 2-B tariff item 2807.00.00") == ["annex", "2-b", "tariff", "item", "2807.00.00", "2807.00"]


def test_an_annex_written_with_an_en_dash_is_the_annex_typed_with_a_hyphen():
    # the U.S. Code writes "Annex 23\u2013A" (an en dash); people type "Annex 23-A"
    assert tokenize("compliance with Annex 23\u2013A") == tokenize("compliance with Annex 23-A")
    assert tokenize("Annex 31\u2014B") == ["annex", "31-b"]
    # a range stays two numbers; a dash after a section or an article is punctuation
    assert tokenize("2019\u20132020") == tokenize("2019 2020")
    assert tokenize("Article 2.4\u2014a Party") == ["articl", "2.4", "parti"]
    assert tokenize("section 4511\u2014a report") == ["section", "4511", "report"]


def test_a_question_in_one_spelling_finds_a_passage_in_the_other():
    index = LexicalIndex.build(
        ["sulphuric", "nitric"], ["2807.00.00 Sulphuric acid; oleum.", "2808.00.00 Nitric acid; sulphonitric acids."]
    )
    assert index.search("What does Canada charge on sulfuric acid?", 3)[0][0] == "sulphuric"


def test_a_closed_compound_the_index_lacks_searches_its_parts_when_a_passage_writes_them_side_by_side(tmp_path):
    # the schedule writes "Ball point pens" and "Gear boxes"; people type "ballpoint" and "gearbox"
    index = LexicalIndex.build(
        ["pens", "points", "balls", "gears"],
        ["9608.10 Ball point pens.", "8207.90 Points for tools.", "9506.62 Inflatable balls.", "8708.40 Gear boxes."],
    )
    assert index.query_tokens("ballpoint") == ["ballpoint", "ball", "point"]
    assert index.search("Canada's duty on ballpoint?", 3)[0][0] == "pens"
    assert index.search("Canada's duty on a gearbox?", 3)[0][0] == "gears"
    # a word the index knows, a short word and a number are searched as typed
    assert index.query_tokens("Inflatable balls 9506.62") == tokenize("Inflatable balls 9506.62")
    # parts no passage writes side by side are not a compound the documents write
    apart = LexicalIndex.build(["gear", "box"], ["8483.40 Gear pumps and boxes.", "4819.10 Boxes of paper."])
    assert apart.query_tokens("gearbox") == ["gearbox"]
    assert apart.search("gearbox", 3) == []
    # three parts, each pair side by side; the split survives saving and loading the index
    alloys = LexicalIndex.build(["fsm"], ["7202.30 Ferro-silico-manganese."])
    alloys.save(tmp_path / "bm25")
    assert LexicalIndex.load(tmp_path / "bm25").query_tokens("ferrosilicomanganese") == \
        ["ferrosilicomanganes", "ferro", "silico", "manganes"]


def test_weighted_terms_scale_their_share_of_the_score_and_the_rest_count_fully():
    index = LexicalIndex.build(
        ["charges", "pens", "other"],
        ["Preparations and charges for fire-extinguishers", "Ball point pens", "Pencils and crayons"],
    )
    query = tokenize("What does Canada charge on ball point pens?")
    assert [cid for cid, _ in index.search_tokens(query, 3)] == ["pens", "charges"]
    plain = dict(index.search_tokens(query, 3))
    assert dict(index.search_tokens(query, 3, weights={"unrelated": 0.1})) == plain
    halved = dict(index.search_tokens(query, 3, weights={"charg": 0.5}))
    assert abs(halved["charges"] - plain["charges"] / 2) < 1e-6 and abs(halved["pens"] - plain["pens"]) < 1e-6
    assert [cid for cid, _ in index.search_tokens(query, 3, weights={"charg": 0.0})] == ["pens"]


def test_the_fitted_line_term_weights_load_and_weigh_the_frame_below_the_good():
    from assistant.retrieve.line_terms import line_term_weights

    weights = line_term_weights()
    assert len(weights) > 100 and all(0 < w < 1 for w in weights.values())
    assert weights[tokenize("Canadian")[0]] < 0.1 and tokenize("pens")[0] not in weights
