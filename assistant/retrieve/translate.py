"""The English gloss of a Spanish question: what BM25 and the answer's term matching read.

The passages are English. The multilingual embedding model finds them for a Spanish question as
typed (assistant/retrieve/hybrid.py), but BM25 matches English stems, and refusal and the extractive
composer weigh the question's English terms against the passages' sentences. So a Spanish question
is also glossed word by word with a small bilingual glossary of the domain's vocabulary (a data file,
data/glossary_es.json: trade, tariffs, agriculture, labor, energy, autos, investment, security,
institutions, numbers, question words; dictionary meanings, no entry written for one question).
Multi-word terms ("reglas de origen", "mil millones") are matched first; Spanish function words
are dropped; names, numbers and identifiers ("Sheinbaum", "2024", "2.11") are kept as typed.

For search, a word the glossary lacks is translated by Apertium (a maintained rule-based
translation system, Debian's `apertium-en-es`, run offline: `make install` installs it) —
the general vocabulary no domain glossary holds ("bisagras" -> "hinges") — or, when Apertium does
not know it either, by its regular cognate ending when that gives a common English word
("excepción" -> "exception"); Apertium's translation of the whole question is searched too (it
picks a word's sense from its context). Coverage and refusal read the glossary's words alone.

What the gloss adds beyond the multilingual model is measured in bench/embedders.py (retrieval) and
bench/spanish_pairs.py (answers); docs/benchmarks.md has the figures. The language of a question
is decided by `assistant.retrieve.language.detect_language`; only the languages in `GLOSSED` have a
glossary.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import selectors
import shutil
import signal
import subprocess
import threading
import time
import unicodedata
from functools import lru_cache
from pathlib import Path

from assistant.retrieve.language import detect_language
from assistant.textutil import fold

log = logging.getLogger(__name__)

GLOSSARY_FILE = Path(__file__).resolve().parent / "data" / "glossary_es.json"
GLOSSED = ("es",)  # languages with a glossary (ISO 639-1)

_TOKEN = re.compile(r"[a-záéíóúñü]+(?:[.\-][a-záéíóúñü]+)*\.?|\d+(?:[.,]\d+)*", re.I)


class Glossary:
    """The glossary file: multi-word terms, single words (grouped by subject in the file) and the
    function words a gloss leaves out. Keys are folded (lower case, no accents)."""

    def __init__(self, path: Path = GLOSSARY_FILE):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            self.phrases: dict[str, str] = dict(data["phrases"])
            self.words: dict[str, str] = {k: v for group in data["words"].values() for k, v in group.items()}
            self.function_words = frozenset(data["function_words"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise RuntimeError(f"glossary file {path} cannot be read ({type(e).__name__}: {e})") from e
        self.phrase_keys = sorted(self.phrases, key=len, reverse=True)  # longest match wins
        self.patterns = [(re.compile(rf"(?<![\w.]){re.escape(k)}(?![\w])"), self.phrases[k]) for k in self.phrase_keys]


@lru_cache(maxsize=1)
def glossary() -> Glossary:
    return Glossary()


APERTIUM_MODES = Path("/usr/share/apertium/modes")  # where Debian's language pairs put their pipelines
_STREAM_SPECIAL = re.compile(r"([\\\[\]^$/@<>{}*#+~|])")  # escaped in Apertium's stream format
_MARKS = re.compile(r"(?<!\\)[*#@]")  # unknown word (*), untranslatable (@), ungeneratable (#)
_BREAK = "[][\n]"  # the "superblank" that separates two lines in Apertium's stream format


class Apertium:
    """Translation by Apertium (Debian packages `apertium`, `apertium-en-es`; GPL), a maintained
    rule-based translation system that runs offline. One request per question translates the whole
    question (a word's sense from its context: "seguro de responsabilidad" -> "insurance of
    responsibility", not "sure") and, each on its own line, the words the glossary lacks
    ("bisagras" -> "hinges"); a word Apertium does not know (it marks it "*") has no translation.

    The pair's pipeline (its mode file) is started once and kept running in null-flush mode, so a
    question costs a few milliseconds instead of the pipeline's start-up (about 0.1-0.2 s); where
    that cannot run, each question calls the `apertium` command. Unavailable (not installed,
    failing): no translation, and the glossary glosses alone. A slow reply skips that question."""

    def __init__(self, mode: str = "spa-eng", timeout: float = 10.0):
        self.mode = mode
        self.timeout = timeout
        self.available = shutil.which("apertium") is not None
        self._pipeline = self._null_flush_pipeline()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _null_flush_pipeline(self) -> str | None:
        """The mode file's pipeline with every stage in null-flush mode (-z), or None."""
        try:
            text = (APERTIUM_MODES / f"{self.mode}.mode").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        stages = [st.strip().replace("$1", "-g").replace("$2", "").split(" ", 1) for st in text.split("|")]
        if not stages or any(not st[0] for st in stages):
            return None
        return " | ".join(" ".join([st[0], "-z", *st[1:]]) for st in stages)

    def translate(self, text: str, words: list[str]) -> tuple[str, dict[str, str | None]]:
        """(`text` in English, unknown words as typed; {word: its translation, lower case, or None})."""
        nothing: dict[str, str | None] = dict.fromkeys(words)
        wanted = list(dict.fromkeys(words))
        sentence = " ".join(text.replace("\0", " ").split())  # a NUL would end the request early
        lines = ([sentence] if sentence else []) + [f"{w}." for w in wanted]
        if not self.available or not lines:
            return "", nothing
        got = self._run(lines)
        if got is None or len(got) != len(lines):
            return "", nothing
        english = _unescape(_MARKS.sub("", got.pop(0))).strip() if sentence else ""
        known = {w: None if (not t.strip() or _MARKS.search(t)) else _unescape(t).strip().rstrip(".").strip().lower()
                 for w, t in zip(wanted, got, strict=True)}
        return english, {w: known[w] for w in words}

    def words(self, words: list[str]) -> dict[str, str | None]:
        """{word: its English translation, lower case, or None}."""
        return self.translate("", words)[1]

    def _run(self, lines: list[str]) -> list[str] | None:
        """Apertium's output lines (stream escapes kept) for `lines`, or None."""
        if self._pipeline is not None:
            with self._lock:
                out = self._ask_running(_BREAK.join(_STREAM_SPECIAL.sub(r"\\\1", ln) for ln in lines) + _BREAK)
                if out is not None and not out.endswith(_BREAK):  # out of step: start afresh next time
                    self._stop()
                    return None
            if out is not None:
                return out.split(_BREAK)[: len(lines)]
        try:
            out = subprocess.run(["apertium", self.mode], input="\n".join(lines), capture_output=True,
                                 text=True, timeout=self.timeout, check=True).stdout
        except subprocess.TimeoutExpired:
            log.warning("apertium %s took over %s s: this question is glossed without it", self.mode, self.timeout)
            return None
        except (OSError, subprocess.SubprocessError) as e:  # not installed, or no such language pair
            log.warning("apertium %s failed (%s): Spanish questions are glossed without it", self.mode, e)
            self.available = False
            return None
        # plain text: escape only backslashes, so that the stream's unescaping gives it back
        return [ln.replace("\\", "\\\\") for ln in out.strip("\n").split("\n")]

    def _ask_running(self, block: str) -> str | None:
        """One null-terminated block through the running pipeline (started on first use); None when
        it cannot start or does not answer in time (it is then stopped, and the command is used)."""
        try:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = subprocess.Popen(["sh", "-c", self._pipeline or ""], stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                              start_new_session=True)  # its own group: stopped whole
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(block.encode("utf-8") + b"\0")
            proc.stdin.flush()
            out = b""
            deadline = time.monotonic() + self.timeout
            with selectors.DefaultSelector() as sel:
                sel.register(proc.stdout, selectors.EVENT_READ)
                while not out.endswith(b"\0"):
                    left = deadline - time.monotonic()
                    if left <= 0 or not sel.select(left):
                        raise TimeoutError
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    if not chunk:
                        raise OSError("the pipeline stopped")
                    out += chunk
            return out[:-1].decode("utf-8", "replace")
        except (OSError, ValueError, TimeoutError) as e:
            log.warning("apertium %s pipeline: %s; the command is used instead", self.mode, type(e).__name__)
            self._stop()
            self._pipeline = None
            return None

    def _stop(self) -> None:
        """Stop the running pipeline, every stage of it."""
        if self._proc is not None:
            with contextlib.suppress(OSError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None


def _unescape(text: str) -> str:
    """Apertium stream text as plain text ("\\$" -> "$")."""
    return re.sub(r"\\(.)", r"\1", text)


@lru_cache(maxsize=1)
def machine_translator() -> Apertium | None:
    """The translator the settings name (a cached resource)."""
    from assistant.settings import get_settings

    return Apertium() if get_settings().translator == "apertium" else None


def _lookup(word: str) -> str | None:
    """Glossary entry of a folded word, trying plural and gender variants ("agricolas" -> "agricola")."""
    candidates = [word]
    if word.endswith("es") and len(word) > 4:
        candidates.append(word[:-2])
    if word.endswith("s") and len(word) > 3:
        candidates.append(word[:-1])
    for c in list(candidates):
        if c.endswith("a") and len(c) > 3:
            candidates.append(c[:-1] + "o")
    words = glossary().words
    for c in candidates:
        if c in words:
            return words[c]
    return None


# Regular Spanish -> English cognate endings ("excepción" -> "exception", "transparencia" ->
# "transparency", "consulares" -> "consular"): a word the glossary lacks is glossed by the first rule
# (longest ending first; "transparencia": "-encia" gives no word, "-cia" does) whose result is a
# common English word (wordfreq, Zipf >= COGNATE_ZIPF).
# Spanish morphology, not a word list: no entry names a word.
COGNATE_ENDINGS = (
    ("ciones", "tions"), ("cion", "tion"), ("siones", "sions"), ("sion", "sion"), ("encias", "ences"),
    ("encia", "ence"), ("ancias", "ances"), ("ancia", "ance"), ("cias", "cies"), ("cia", "cy"), ("dades", "ties"),
    ("dad", "ty"), ("icas", "ics"), ("ica", "ic"), ("icos", "ic"), ("ico", "ic"), ("ivas", "ive"), ("ivos", "ive"),
    ("iva", "ive"), ("ivo", "ive"), ("arios", "ary"), ("arias", "ary"), ("ario", "ary"), ("aria", "ary"),
    ("orias", "ory"), ("oria", "ory"), ("orio", "ory"), ("istas", "ists"), ("ista", "ist"), ("mente", "ly"),
    ("osos", "ous"), ("osas", "ous"), ("oso", "ous"), ("osa", "ous"), ("ales", "al"), ("ares", "ar"), ("uras", "ures"),
    ("ura", "ure"), ("entes", "ents"), ("ente", "ent"), ("antes", "ants"), ("ante", "ant"), ("ismo", "ism"),
    ("izar", "ize"), ("ificar", "ify"), ("bles", "bles"), ("ble", "ble"),
)
# The English word a cognate ending produces must be at least this common (Zipf). Fitted on the 436
# untranslated words of the Spanish tuning questions (es_twins, spanish_pairs_tuning, round1-4 pairs):
# 3.0 keeps 41 cognates and drops "tamaño" -> "taman" (2.53), "política" -> "politic" (2.79),
# "reparación" -> "reparation" (2.64).
COGNATE_ZIPF = 3.0
_ENDINGS_LONGEST_FIRST = sorted(COGNATE_ENDINGS, key=lambda rule: -len(rule[0]))


@lru_cache(maxsize=4096)
def cognate(word: str) -> str | None:
    """The English cognate of a folded Spanish word by its regular ending, if a common English word."""
    if len(word) < 5:
        return None
    from wordfreq import zipf_frequency

    for es, en in _ENDINGS_LONGEST_FIRST:
        if word.endswith(es):
            candidate = word[: -len(es)] + en
            if zipf_frequency(candidate, "en") >= COGNATE_ZIPF:
                return candidate
    return None


def english_gloss(question: str, *, for_search: bool = False) -> str:
    """The question's content in English terms, in order; unknown words (names, numbers) kept.
    `for_search`: words the glossary lacks are translated by Apertium, else by their regular cognate
    ending, and Apertium's translation of the whole question follows the gloss. For search only: a
    word translated out of context may take the wrong sense ("Santa Fe": "saint faith";
    "disposición": disposition, not provision), so coverage and refusal read the glossary's words
    alone (with Apertium's words too, false refusals on the Spanish pairs of 11
    tuning sets rose from 15 to 25 of 249: docs/benchmarks.md, tenth session)."""
    return _gloss(question, for_search)[0]


def typed_phrase(question: str, phrase: str) -> str:
    """The words of `question` a phrase of its gloss comes from, as typed ("Polos development
    economic Bienestar": "Polos de Desarrollo Económico para el Bienestar"), or "" when the phrase
    is not a run of the gloss's words. A refusal names what is missing in the user's words, not in
    the gloss's Spanish word order with its untranslated verbs. The gloss drops punctuation, so one
    of its phrases may run across two sentences of the question ("... coser o bordar. ¿La lista
    ..."): it is named by its longest piece within one sentence, not by the gloss."""
    question = unicodedata.normalize("NFC", question)  # the gloss reads composed accents
    words = [w for w in re.findall(r"[\w.\-’']+", fold(phrase))]
    aligned = _gloss(question, False)[2]
    glossed = [fold(w) for w, _, _ in aligned]
    n = len(words)
    across = ""
    for i in range(len(glossed) - n + 1):
        if n and glossed[i:i + n] == words:
            start, end = aligned[i][1], aligned[i + n - 1][2]
            # a sentence ends at "?", "!", ";" or a full stop before a capital ("art. 32.10" goes on)
            pieces = [p.strip(" ¿?¡!.,;:") for p in re.split(r"[¿?¡!;]|\.\s+(?=[A-ZÁÉÍÓÚÑ])", question[start:end])]
            if len(pieces) == 1:
                return pieces[0]
            across = across or max(pieces, key=len)  # unless a later run stays within one sentence
    return across


def untranslated_words(question: str) -> tuple[str, ...]:
    """The words of the question the gloss kept as typed that are not names (lower case as typed,
    not numbers): "¿qué efecto tendría ...": "tendría". No English passage can contain them, so
    they are evidence of nothing — neither a subject the brief lacks nor a figure's topic."""
    return tuple(w for w in _gloss(question, False)[1] if w[:1].islower())


@lru_cache(maxsize=1024)
def _gloss(question: str, for_search: bool) -> tuple[str, tuple[str, ...], tuple[tuple[str, int, int], ...]]:
    """(the gloss, the words it kept as typed, each gloss word with the span of the question it
    comes from); cached: the analysis asks for all three."""
    g = glossary()
    kept: list[str] = []
    text = " " + fold(question).replace("¿", " ").replace("¡", " ") + " "
    # mark multi-word terms first so their words are not glossed again one by one
    found: list[tuple[int, str]] = []
    ends: dict[int, int] = {}  # where the question's words a gloss entry comes from end
    for pattern, english in g.patterns:
        for m in pattern.finditer(text):
            found.append((m.start(), english))
            ends[m.start()] = m.end()
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    tokens = list(_TOKEN.finditer(text))
    mt = machine_translator() if for_search else None
    machine: dict[str, str | None] = {}
    sentence = ""
    if mt is not None:  # one call: the question, and each word the glossary lacks
        unknown = [t for m in tokens if (t := m.group(0).rstrip(".")) and not t[0].isdigit()
                   and t not in g.function_words and _lookup(t) is None]
        sentence, machine = mt.translate(question, [_original_form(question, t).lower() for t in unknown])
    for m in tokens:
        tok = m.group(0).rstrip(".")
        if not tok:
            continue
        ends[m.start()] = m.start() + len(tok)
        if tok[0].isdigit():
            found.append((m.start(), tok))
            continue
        if tok in g.function_words:
            continue
        english = _lookup(tok)
        if english is None and machine:
            english = machine.get(_original_form(question, tok).lower())
        if english is None and for_search:
            english = cognate(tok)
        if english is None:
            original = _original_form(question, tok)
            found.append((m.start(), original))
            kept.append(original)
        elif english:
            found.append((m.start(), english))
    gloss = " ".join(t for _, t in sorted(found) if t)
    # offsets in `text` are one more than in the question (its leading space); folding keeps the
    # length of composed text, and a question it does not (decomposed accents) gets no alignment
    aligned = tuple((w, start - 1, ends.get(start, start) - 1) for start, t in sorted(found) if t
                    for w in re.findall(r"[\w.\-’']+", t)) if len(text) == len(question) + 2 else ()
    return (f"{gloss} {sentence}" if sentence else gloss), tuple(kept), aligned


def _original_form(question: str, folded_token: str) -> str:
    """A word the glossary does not know, as the user typed it (case and accents) for names."""
    for w in re.findall(r"[\wÁÉÍÓÚÑÜáéíóúñü.\-]+", question):
        if fold(w).rstrip(".") == folded_token:
            return w.rstrip(".")
    return folded_token


def expand_query(question: str, keep_original: bool = False) -> str:
    """The text to search for `question`: unchanged unless it is in a glossed language; then its
    English gloss (preceded by the question if `keep_original`)."""
    if detect_language(question) not in GLOSSED:
        return question
    gloss = english_gloss(question, for_search=True)
    if not gloss:
        return question
    return f"{question.strip()} {gloss}" if keep_original else gloss
