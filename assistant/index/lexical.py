"""The BM25 side (bm25s) with a tokenizer that keeps the identifiers negotiators type.

bm25s's default tokenizer drops one-character tokens and splits "2.4" into nothing useful, so
articles ("Article 2.4"), annexes ("Annex 2-C"), sections ("§ 4611") and tariff items
("0101.21.00") would be unsearchable. Words are stemmed (Snowball English) and stop words dropped.
British spellings are folded into American ones after stemming, so a question's "sulfuric acid",
"fiber" or "metric tons" finds Canada's "Sulphuric acid", "fibre" and "tonnes", and Apertium's
"labour" in a Spanish question's translation finds the U.S. Code's "labor". A few rare words merge
with a neighbour's stem ("chilly" with "chili", "calibration" with "caliber"), as Snowball itself
merges "initial" with "initiative". An en or em dash between an annex's number and letter is a
hyphen: the U.S. Code writes "Annex 23–A", people type "Annex 23-A". A query's closed compound
that no passage uses is also searched by its parts when a passage writes them side by side: people
type "ballpoint" and "silicomanganese", Canada's schedule writes "Ball point" and
"Ferro-silico-manganese" (`compound_parts`; the index keeps its adjacent token pairs for it)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np

from assistant.textutil import STOPWORDS

# An en or em dash between an annex's number and letter ("23–A"), not in a range ("2019–2020") nor
# after a section or an article ("4511—a report", "2.4—a Party")
_ANNEX_DASH = re.compile(r"(?<![\d.,])(\d{1,2})[\u2013\u2014](?=[a-z]\b)")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?:-[a-z]\b)?|[a-z]+(?:'[a-z]+)?|\d+-[a-z]\b")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _american_stems() -> dict[str, str]:
    """British stem -> American stem, from breame's word pairs (a maintained list, not ours).

    Pairs are stemmed first, so one entry serves every inflection ("sulphur" also folds
    "sulphuric" and "sulphurous"); where the pairs of one British stem disagree, the American stem
    most of them give wins."""
    from collections import Counter

    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    stem = _stemmer().stemWord
    votes: dict[str, Counter[str]] = {}
    for british, american in BRITISH_ENGLISH_SPELLINGS.items():
        b, a = stem(british), stem(american)
        if b != a:
            votes.setdefault(b, Counter())[a] += 1
    return {b: c.most_common(1)[0][0] for b, c in votes.items()}


def _normalized(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    t = _ANNEX_DASH.sub(r"\1-", t)  # the U.S. Code writes "Annex 23–A"
    return re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+", " ", t)


def _word_token(tok: str) -> str | None:
    """The indexed form of one word (stemmed, American spelling); None for a stop word."""
    tok = tok.split("'")[0]
    if tok in STOPWORDS or len(tok) < 2:
        return None
    s = _stemmer().stemWord(tok)
    return _american_stems().get(s, s)


def tokenize(text: str) -> list[str]:
    out: list[str] = []
    for tok in _TOKEN.findall(_normalized(text)):
        if tok[0].isdigit():
            tok = tok.rstrip(".,")
            if re.fullmatch(r"\d{1,3}(?:,\d{3})+", tok):
                tok = tok.replace(",", "")
            out.append(tok)
            parts = tok.split(".")
            if len(parts) >= 3:  # 0101.21.00 -> also 0101.21 ; 2.4.2 -> also 2.4
                out.append(".".join(parts[:2]))
        elif (w := _word_token(tok)) is not None:
            out.append(w)
    return out


# Parts of a split word: at least this many letters, as typed and as indexed (not tuned: "cam",
# "tub" and "box" are words). Words longer than _MAX_COMPOUND letters are not split (not tuned: the
# longest closed compound in the tuning questions has 15; the cap bounds the work on hostile input).
_MIN_PART = 3
_MAX_COMPOUND = 30


def _splits(word: str, parts: int) -> Iterator[list[str]]:
    """Every way to cut `word` into `parts` pieces of at least _MIN_PART letters."""
    if parts == 1:
        if len(word) >= _MIN_PART:
            yield [word]
        return
    for i in range(_MIN_PART, len(word) - _MIN_PART + 1):
        for rest in _splits(word[i:], parts - 1):
            yield [word[:i], *rest]


def compound_parts(word: str, adjacent: Callable[[str, str], bool], df: Callable[[str], int]) -> list[str]:
    """The indexed tokens of a closed compound the index does not know, split into parts that
    some passage writes side by side ("ballpoint" -> ball, point; "silicomanganese" -> silico,
    manganes): the schedule writes "Ball point pens" and "Ferro-silico-manganese". Parts that only
    meet in a passage ("mandate" -> man, date) are not a compound the documents write. Two parts
    before three, then the split whose parts are most common (Koehn and Knight's frequency rule);
    [] when none. `adjacent(a, b)`: does some passage hold token b right after token a."""
    word = word.split("'")[0]
    if not word.isalpha() or len(word) > _MAX_COMPOUND:
        return []
    for parts in (2, 3):
        best: tuple[float, list[str]] | None = None
        for pieces in _splits(word, parts):
            tokens = [_word_token(p) for p in pieces]
            if any(t is None or len(t) < _MIN_PART for t in tokens):
                continue
            if not all(adjacent(x, y) for x, y in zip(tokens, tokens[1:])):
                continue
            score = sum(float(np.log(df(t))) for t in tokens) / parts
            if best is None or score > best[0]:
                best = (score, tokens)
        if best:
            return best[1]
    return []


class LexicalIndex:
    def __init__(self, ids: list[str], retriever: bm25s.BM25, pairs: frozenset[str] = frozenset()):
        self.ids = ids
        self.retriever = retriever
        self.pairs = pairs  # "a b" for every token b that follows token a in some passage
        self._pos = {cid: i for i, cid in enumerate(ids)}

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        tokens = [tokenize(t) or ["\u2205"] for t in texts]
        if tokens:
            retriever.index(tokens, show_progress=False)
        pairs = frozenset(f"{a} {b}" for toks in tokens for a, b in zip(toks, toks[1:]) if a.isalpha() and b.isalpha())
        return cls(list(ids), retriever, pairs)

    def search(self, query: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; `allowed` is a boolean mask over the index order."""
        return self.search_tokens(self.query_tokens(query), n, allowed)

    def query_tokens(self, query: str) -> list[str]:
        """`tokenize`, with each closed compound the index does not know followed by its known
        parts (`compound_parts`); words shorter than 6 letters are left alone."""
        if not self.pairs:
            return tokenize(query)
        out: list[str] = []
        for tok in _TOKEN.findall(_normalized(query)):
            got = tokenize(tok)
            out += got
            if len(tok) >= 6 and got and got[0].isalpha() and not self.df(got[0]):
                out += compound_parts(tok, lambda a, b: f"{a} {b}" in self.pairs, self.df)
        return out

    def df(self, token: str) -> int:
        """How many passages hold an already-tokenized term."""
        tid = (getattr(self.retriever, "vocab_dict", None) or {}).get(token)
        if tid is None or not self.ids:
            return 0
        indptr = self.retriever.scores["indptr"]
        return int(indptr[tid + 1] - indptr[tid])

    def search_tokens(self, tokens: list[str], n: int, allowed: np.ndarray | None = None,
                      weights: dict[str, float] | None = None) -> list[tuple[str, float]]:
        """`search` for an already-tokenized query (a query expanded with terms of found passages);
        `weights` scales the BM25 score of the terms it names (the others count fully)."""
        vocab = getattr(self.retriever, "vocab_dict", None) or {}
        q = [t for t in tokens if t in vocab]
        if not q or not self.ids:
            return []
        if weights and any(t in weights for t in q):
            plain = [t for t in q if t not in weights]
            scores = self.retriever.get_scores(plain) if plain else np.zeros(len(self.ids))
            for t, count in Counter(t for t in q if t in weights).items():
                scores = scores + weights[t] * count * self.retriever.get_scores([t])
        else:
            scores = self.retriever.get_scores(q)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        n = min(n, len(self.ids))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, token: str) -> float:
        """Inverse document frequency of an already-tokenized term (0 for unknown terms)."""
        df = self.df(token)
        if not df:
            return 0.0
        n = len(self.ids)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def position(self, chunk_id: str) -> int | None:
        return self._pos.get(chunk_id)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self.retriever.save(str(folder), show_progress=False)
        (folder / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        (folder / "pairs.json").write_text(json.dumps(sorted(self.pairs)), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        if not ids:
            return cls([], bm25s.BM25())
        retriever = bm25s.BM25.load(str(folder), show_progress=False, mmap=False)
        pairs = folder / "pairs.json"  # absent from an index built before compounds were split
        return cls(ids, retriever, frozenset(json.loads(pairs.read_text(encoding="utf-8")) if pairs.exists() else ()))
