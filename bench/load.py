"""Load: N concurrent question streams, in process and against the running Streamlit app.

    .venv/bin/python bench/load.py [--streams 1 8] [--duration 45] [--questions FILE]
                                   [--index-dir DIR] [--app-streams 8] [--app-duration 20] [--no-app]

1. Retrieval + answer path: one `Assistant` shared by N threads (as the app shares one cached
   `Assistant` between browser sessions); each thread asks the question file in its own rotated
   order, back to back, for --duration seconds. The query-vector cache is emptied before every
   call so repeated questions are not free. Reported per stream count: completed questions,
   throughput (questions/s), p50/p95/max latency, errors (exceptions), abstentions.
2. The app: `streamlit run ui/app.py` headless on a free port against the same index; N threads
   GET /_stcore/health back to back for --app-duration seconds. Errors are non-200 answers,
   bodies other than "ok", and transport failures; a request counts as failed after 10 s.

The index (brief + mirror) is built in --index-dir on first use and reused. Figures go to
bench/results/load.json with the machine and its load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, MIRROR, ROOT, app_env, free_port, full_corpus_settings, stop  # noqa: E402
from _machine import machine, write_results  # noqa: E402

from assistant.evaluate.metrics import percentile  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.evaluate.run import WARMUP_QUESTION  # noqa: E402


def summarize(latencies_ms: list[float], errors: list[str], wall_s: float, **extra: Any) -> dict[str, Any]:
    def pct(q: float) -> float | None:
        v = percentile(latencies_ms, q)
        return None if v is None else round(v, 1)

    return {
        "completed": len(latencies_ms),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "wall_s": round(wall_s, 1),
        "throughput_per_s": round(len(latencies_ms) / wall_s, 2) if wall_s else None,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "max_ms": round(max(latencies_ms), 1) if latencies_ms else None,
        **extra,
    }


def run_streams(streams: list[tuple[Any, tuple]], start: threading.Barrier) -> float:
    """Start one thread per (function, args), release them together through `start` (whose
    parties are the threads plus this one) and return the wall time until all have finished."""
    threads = [threading.Thread(target=fn, args=args, daemon=True) for fn, args in streams]
    for th in threads:
        th.start()
    start.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    return time.perf_counter() - t0


def pipeline_load(assistant: Any, questions: list[str], streams: int, duration_s: float) -> dict[str, Any]:
    """`streams` threads asking back to back through one shared Assistant."""
    latencies: list[float] = []
    errors: list[str] = []
    abstained = [0]
    lock = threading.Lock()
    start = threading.Barrier(streams + 1)

    def stream(offset: int) -> None:
        start.wait()
        deadline = time.perf_counter() + duration_s
        i = offset
        while time.perf_counter() < deadline:
            q = questions[i % len(questions)]
            i += 1
            assistant.embedder.clear_cache()
            t = time.perf_counter()
            try:
                answer = assistant.ask(q)
            except Exception as e:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(e).__name__}: {e}")
                continue
            took = (time.perf_counter() - t) * 1000
            with lock:
                latencies.append(took)
                abstained[0] += answer.abstained

    wall_s = run_streams([(stream, (n * len(questions) // streams,)) for n in range(streams)], start)
    return summarize(latencies, errors, wall_s, streams=streams, abstained=abstained[0])


def app_health_load(settings: Any, streams: int, duration_s: float) -> dict[str, Any]:
    """Start the app headless, wait until healthy, then hammer /_stcore/health; always stop it."""
    import httpx

    port = free_port()
    cmd = [str(ROOT / ".venv" / "bin" / "streamlit"), "run", str(ROOT / "ui" / "app.py"),
           "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, env=app_env(settings), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        t = time.perf_counter()
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.perf_counter() - t > 120:
                return {"error": "the app did not become healthy within 120 s"}
            time.sleep(0.3)
        ready_s = time.perf_counter() - t
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(streams + 1)

        def stream() -> None:
            with httpx.Client(timeout=10) as client:
                start.wait()
                deadline = time.perf_counter() + duration_s
                while time.perf_counter() < deadline:
                    t1 = time.perf_counter()
                    try:
                        r = client.get(url)
                        problem = None if r.status_code == 200 and r.text.strip() == "ok" else f"HTTP {r.status_code}"
                    except httpx.HTTPError as e:
                        problem = f"{type(e).__name__}: {e}"
                    took = (time.perf_counter() - t1) * 1000
                    with lock:
                        if problem:
                            errors.append(problem)
                        else:
                            latencies.append(took)

        wall_s = run_streams([(stream, ()) for _ in range(streams)], start)
        return summarize(latencies, errors, wall_s, streams=streams,
                         server_ready_s=round(ready_s, 1), endpoint="/_stcore/health")
    finally:
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--streams", type=int, nargs="+", default=[1, 8], help="concurrent streams, one run each")
    ap.add_argument("--duration", type=float, default=45.0, help="seconds per pipeline run")
    ap.add_argument("--questions", type=Path, default=DEV_SET)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--app-streams", type=int, default=8)
    ap.add_argument("--app-duration", type=float, default=20.0)
    ap.add_argument("--no-app", action="store_true", help="skip the Streamlit measurement")
    args = ap.parse_args()

    from assistant.pipeline import Assistant

    settings = full_corpus_settings(args.index_dir, mirror=args.mirror)
    questions = [q.question for q in load_questions(args.questions)[0]]
    result: dict[str, Any] = {"machine_before": machine(), "questions": len(questions),
                              "question_file": str(args.questions), "index": str(settings.index_dir)}
    assistant = Assistant(settings)
    assistant.ask(WARMUP_QUESTION)
    result["pipeline"] = [pipeline_load(assistant, questions, n, args.duration) for n in args.streams]
    if not args.no_app:
        result["app_health"] = app_health_load(settings, args.app_streams, args.app_duration)
    result["machine_after"] = machine()
    path = write_results("load", result)

    m0, m1 = result["machine_before"], result["machine_after"]
    print(f"machine: {m0['cpu']}, {m0['cores']} cores, torch threads {m0['torch_threads']}, "
          f"load {m0['load_avg_1_5_15']} -> {m1['load_avg_1_5_15']}")
    print("ask() through one shared Assistant, question cache off")
    print("  streams  completed  errors  abstained  q/s     p50 ms   p95 ms   max ms")
    for r in result["pipeline"]:
        print(f"  {r['streams']:>7}  {r['completed']:>9}  {r['errors']:>6}  {r['abstained']:>9}  "
              f"{r['throughput_per_s']:<6}  {r['p50_ms']:>7}  {r['p95_ms']:>7}  {r['max_ms']:>7}")
    if "app_health" in result:
        a = result["app_health"]
        if "error" in a:
            print(f"app: {a['error']}")
        else:
            print(f"app /_stcore/health, {a['streams']} streams: {a['completed']} ok, {a['errors']} errors, "
                  f"{a['throughput_per_s']} req/s, p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms, max {a['max_ms']} ms")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
