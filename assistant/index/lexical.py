"""The BM25 side (bm25s) with a tokenizer that keeps the identifiers negotiators type.

bm25s's default tokenizer drops one-character tokens and splits "2.4" into nothing useful, so
articles ("Article 2.4"), annexes ("Annex 2-C"), sections ("§ 4611") and tariff items
("0101.21.00") would be unsearchable. Words are stemmed (Snowball English) and stop words dropped.
British spellings are folded into American ones after stemming, so a question's "sulfuric acid",
"fiber" or "metric tons" finds Canada's "Sulphuric acid", "fibre" and "tonnes", and Apertium's
"labour" in a Spanish question's translation finds the U.S. Code's "labor". A few rare words merge
with a neighbour's stem ("chilly" with "chili", "calibration" with "caliber"), as Snowball itself
merges "initial" with "initiative". An en or em dash between an annex's number and letter is a
hyphen: the U.S. Code writes "Annex 23–A", people type "Annex 23-A".
"""

from __future__ import annotations

import json
import re
import unicodedata
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


def tokenize(text: str) -> list[str]:
    t = unicodedata.normalize("NFKC", text).lower().replace("’", "'").replace("‘", "'")
    t = _ANNEX_DASH.sub(r"\1-", t)  # the U.S. Code writes "Annex 23–A"
    t = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+", " ", t)
    out: list[str] = []
    stem = _stemmer().stemWord
    american = _american_stems()
    for tok in _TOKEN.findall(t):
        if tok[0].isdigit():
            tok = tok.rstrip(".,")
            if re.fullmatch(r"\d{1,3}(?:,\d{3})+", tok):
                tok = tok.replace(",", "")
            out.append(tok)
            parts = tok.split(".")
            if len(parts) >= 3:  # 0101.21.00 -> also 0101.21 ; 2.4.2 -> also 2.4
                out.append(".".join(parts[:2]))
        else:
            tok = tok.split("'")[0]
            if tok in STOPWORDS or len(tok) < 2:
                continue
            s = stem(tok)
            out.append(american.get(s, s))
    return out


class LexicalIndex:
    def __init__(self, ids: list[str], retriever: bm25s.BM25):
        self.ids = ids
        self.retriever = retriever
        self._pos = {cid: i for i, cid in enumerate(ids)}

    @classmethod
    def build(cls, ids: list[str], texts: list[str]) -> LexicalIndex:
        retriever = bm25s.BM25(k1=1.2, b=0.75)
        tokens = [tokenize(t) or ["\u2205"] for t in texts]
        if tokens:
            retriever.index(tokens, show_progress=False)
        return cls(list(ids), retriever)

    def search(self, query: str, n: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) best first; `allowed` is a boolean mask over the index order."""
        return self.search_tokens(tokenize(query), n, allowed)

    def search_tokens(self, tokens: list[str], n: int, allowed: np.ndarray | None = None) -> list[tuple[str, float]]:
        """`search` for an already-tokenized query (a query expanded with terms of found passages)."""
        vocab = getattr(self.retriever, "vocab_dict", None) or {}
        q = [t for t in tokens if t in vocab]
        if not q or not self.ids:
            return []
        scores = self.retriever.get_scores(q)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        n = min(n, len(self.ids))
        top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, token: str) -> float:
        """Inverse document frequency of an already-tokenized term (0 for unknown terms)."""
        vocab = getattr(self.retriever, "vocab_dict", None) or {}
        tid = vocab.get(token)
        if tid is None or not self.ids:
            return 0.0
        indptr = self.retriever.scores["indptr"]
        df = int(indptr[tid + 1] - indptr[tid])
        n = len(self.ids)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def position(self, chunk_id: str) -> int | None:
        return self._pos.get(chunk_id)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self.retriever.save(str(folder), show_progress=False)
        (folder / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        if not ids:
            return cls([], bm25s.BM25())
        retriever = bm25s.BM25.load(str(folder), show_progress=False, mmap=False)
        return cls(ids, retriever)
