"""Query latency (warm), CLI cold start and the Streamlit app's memory, on the full corpus.

    .venv/bin/python bench/query_latency.py [--mirror ../shared/corpus] [--index-dir DIR]
                                            [--questions FILE] [--spanish FILE] [--cold-runs 3] [--no-app]
                                            [--no-contention] [--overlap-rounds 3]

1. Warm latency over the question file (default: the dev set), in one process with both models
   (MiniLM and the multilingual one) loaded and one untimed warm-up question: retrieval alone
   (`Assistant.retrieve`) and retrieval plus the extractive answer (`Assistant.ask`), p50/p95/max,
   with the retriever's per-channel times. Both embedders' query caches are emptied before every
   timed call, so each figure includes embedding the question with each model (the cache would
   otherwise make the second call on a question nearly free). The Spanish questions of --spanish
   (default: the Spanish pairs tuning set) are timed the same way. Target: p95 of retrieval +
   extractive answer at most 150 ms on a quiet machine (the load average is recorded).
   Then, paired (--overlap-rounds, default 3): every question asked with the multilingual question
   vector computed alongside MiniLM's, as the product does, and after it, interleaved question by
   question, with the mean ratio. Then the sensitivity of that figure to CPU contention: the same
   loop with torch using its default thread count and one thread, each with no extra load and
   with one busy core (a spinning subprocess standing in for another user's question or an
   indexing run). On 2 cores, torch's default 2 intra-op threads wait for each other whenever one
   core is taken.
2. Cold start: wall time of `usmca-assistant ask QUESTION` in a new process, several runs.
3. The app: `streamlit run ui/app.py` headless on a free port; VmRSS/VmHWM of the server process
   after /_stcore/health, after loading the page, after one browser-like session ran the script
   (a websocket client speaking Streamlit's protocol, as the browser does), and after that session
   asked one question through the chat input.

The index (brief + mirror) is built in --index-dir on first use and reused. Figures go to
bench/results/query_latency.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _corpus import DEFAULT_DIR, DEV_SET, MIRROR, ROOT, app_env, free_port, full_corpus_settings, stop  # noqa: E402
from _machine import machine, ms, peak_rss_mb, proc_status_mb, write_results  # noqa: E402

from assistant.evaluate.metrics import percentile  # noqa: E402
from assistant.evaluate.questions import load_questions  # noqa: E402
from assistant.evaluate.run import WARMUP_QUESTION  # noqa: E402

TARGET_P95_MS = 150.0
SPANISH_SET = ROOT / "bench" / "questions" / "spanish_pairs_tuning.jsonl"
APP_QUESTION = "How much did U.S.-Mexico trade total in 2024?"


def stats(values: list[float]) -> dict[str, float | None]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50) or 0, 1) if values else None,
        "p95": round(percentile(values, 95) or 0, 1) if values else None,
        "max": round(max(values), 1) if values else None,
        "mean": round(statistics.fmean(values), 1) if values else None,
    }


def clear_caches(assistant: Any) -> None:
    """Forget both models' cached question vectors and the cached Spanish glosses: the next question
    is embedded (and, in Spanish, translated by Apertium) afresh."""
    from assistant.retrieve import translate

    translate._gloss.cache_clear()
    assistant.embedder.clear_cache()
    if assistant.multilingual_embedder is not None:
        assistant.multilingual_embedder.clear_cache()


def busy_cores(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def contention_matrix(assistant: Any, questions: list[str], busy: int = 1) -> list[dict[str, Any]]:
    """Retrieval + answer p50/p95 for torch threads {default, 1} x extra busy cores {0, busy}."""
    import torch

    default = torch.get_num_threads()
    rows = []
    try:
        for threads in dict.fromkeys((default, 1)):
            torch.set_num_threads(threads)
            for extra in (0, busy):
                procs = busy_cores(extra)
                try:
                    times = []
                    for q in questions:
                        clear_caches(assistant)
                        t = time.perf_counter()
                        assistant.ask(q)
                        times.append(ms(time.perf_counter() - t))
                finally:
                    for proc in procs:
                        proc.kill()
                        proc.wait()
                rows.append({"torch_threads": threads, "busy_cores": extra, **stats(times)})
    finally:
        torch.set_num_threads(default)
    return rows


def timed(assistant: Any, questions: list[str]) -> dict[str, Any]:
    """Retrieval alone and retrieval + answer, each question embedded afresh by both models."""
    retrieve_ms, ask_ms, stage_ms, channel_ms = [], [], {}, {}
    for q in questions:
        clear_caches(assistant)
        t = time.perf_counter()
        assistant.retrieve(q)
        retrieve_ms.append(ms(time.perf_counter() - t))
        for k, v in assistant.retriever.last_timings.items():
            channel_ms.setdefault(k, []).append(v)
        clear_caches(assistant)
        t = time.perf_counter()
        answer = assistant.ask(q)
        ask_ms.append(ms(time.perf_counter() - t))
        for k, v in answer.timings_ms.items():
            stage_ms.setdefault(k, []).append(v)
    return {
        "retrieve_ms": stats(retrieve_ms),
        "retrieve_and_answer_ms": stats(ask_ms),
        "answer_stages_ms_p50": {k: round(percentile(v, 50) or 0, 1) for k, v in stage_ms.items()},
        "retrieval_channels_ms": {k: {"p50": round(percentile(v, 50) or 0, 1), "p95": round(percentile(v, 95) or 0, 1)}
                                  for k, v in channel_ms.items()},
    }


def overlap_pairs(assistant: Any, questions: list[str], rounds: int = 3) -> dict[str, Any]:
    """Retrieval + answer with the multilingual question vector computed alongside MiniLM (the
    product) and after it (sequential), interleaved question by question, the order alternating
    by round, so that both see the same load: the paired figure behind the overlap."""
    from concurrent.futures import Future

    r = assistant.retriever
    overlapped = r._multilingual_vector

    def sequential(text: str) -> Future:
        done: Future = Future()
        done.set_result(r.multilingual_embedder.embed_query(text))
        return done

    times: dict[str, list[float]] = {"overlapped": [], "sequential": []}
    try:
        for i in range(rounds):
            for q in questions:
                for name in ("overlapped", "sequential")[:: 1 if i % 2 else -1]:
                    r._multilingual_vector = overlapped if name == "overlapped" else sequential
                    clear_caches(assistant)
                    t = time.perf_counter()
                    assistant.ask(q)
                    times[name].append(ms(time.perf_counter() - t))
    finally:
        r._multilingual_vector = overlapped
    out: dict[str, Any] = {name: stats(v) for name, v in times.items()}
    out["mean_ratio"] = round(out["overlapped"]["mean"] / out["sequential"]["mean"], 3)
    return out


def warm_latency(settings: Any, questions: list[str], matrix: bool = True,
                 spanish: list[str] | None = None, overlap_rounds: int = 0) -> dict[str, Any]:
    from assistant.pipeline import Assistant
    from assistant.retrieve.language import detect_language

    t = time.perf_counter()
    assistant = Assistant(settings)
    detect_language("warm up the language detector")
    assistant.ask(WARMUP_QUESTION)
    startup_s = time.perf_counter() - t
    out = {
        "in_process_startup_s": round(startup_s, 2),
        "multilingual_model": settings.multilingual_model or None,
        **timed(assistant, questions),
    }
    if spanish:
        out["spanish"] = {"questions": len(spanish), **timed(assistant, spanish)}
    out["peak_rss_mb_in_process"] = peak_rss_mb()
    if overlap_rounds and assistant.multilingual_embedder is not None:
        out["overlap"] = overlap_pairs(assistant, questions + (spanish or []), overlap_rounds)
    if matrix:
        out["contention"] = contention_matrix(assistant, questions)
    return out


def cold_start(settings: Any, runs: int) -> dict[str, Any]:
    cli = ROOT / ".venv" / "bin" / "usmca-assistant"
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        done = subprocess.run([str(cli), "ask", APP_QUESTION], env=app_env(settings), capture_output=True,
                              text=True, timeout=600)
        times.append(round(time.perf_counter() - t, 2))
        if done.returncode != 0:
            return {"error": done.stderr[-500:], "runs_s": times}
    return {"runs_s": times, "median_s": round(statistics.median(times), 2), "min_s": min(times)}


def _script_run(ws: Any, timeout: float = 300.0) -> tuple[str, list[str], float]:
    """Read ForwardMsgs until the script run finishes: (chat input widget id, markdown texts, s)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    chat_id, texts, t0 = "", [], time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        msg = ForwardMsg()
        msg.ParseFromString(ws.recv(timeout=timeout))
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            if el.WhichOneof("type") == "chat_input":
                chat_id = el.chat_input.id
            elif el.WhichOneof("type") == "markdown":
                texts.append(el.markdown.body)
        if kind == "script_finished":
            break
    return chat_id, texts, time.perf_counter() - t0


def app_memory(settings: Any) -> dict[str, Any]:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from websockets.sync.client import connect

    port = free_port()
    cmd = [str(ROOT / ".venv" / "bin" / "streamlit"), "run", str(ROOT / "ui" / "app.py"),
           "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
           "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, env=app_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: dict[str, Any] = {"pid_measured": "the `streamlit run` Python process"}
    base = f"127.0.0.1:{port}"
    try:
        t = time.perf_counter()
        while True:
            try:
                if urllib.request.urlopen(f"http://{base}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - t > 120:
                return {"error": "the app did not become healthy within 120 s"}
            time.sleep(0.3)
        out["server_ready_s"] = round(time.perf_counter() - t, 2)
        out["after_health_mb"] = proc_status_mb(proc.pid)
        urllib.request.urlopen(f"http://{base}/", timeout=30).read()
        out["after_page_load_mb"] = proc_status_mb(proc.pid)
        with connect(f"ws://{base}/_stcore/stream", subprotocols=["streamlit"], open_timeout=30,
                     max_size=None) as ws:
            msg = BackMsg()
            msg.rerun_script.query_string = ""
            msg.rerun_script.page_script_hash = ""
            ws.send(msg.SerializeToString())
            chat_id, _, first_run_s = _script_run(ws)
            out["first_script_run_s"] = round(first_run_s, 2)
            out["after_first_session_mb"] = proc_status_mb(proc.pid)
            if chat_id:
                msg = BackMsg()
                msg.rerun_script.query_string = ""
                msg.rerun_script.page_script_hash = ""
                widget = msg.rerun_script.widget_states.widgets.add()
                widget.id = chat_id
                widget.chat_input_value.data = APP_QUESTION
                ws.send(msg.SerializeToString())
                _, texts, question_s = _script_run(ws)
                out["question_round_trip_s"] = round(question_s, 2)
                out["answer_rendered"] = any("840" in t for t in texts)
                out["after_one_question_mb"] = proc_status_mb(proc.pid)
            else:
                out["note"] = "no chat input found on the default page; no question asked"
    except Exception as e:  # report what was measured up to the failure
        out["error"] = f"{type(e).__name__}: {e}"
    finally:
        stop(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirror", type=Path, default=MIRROR)
    ap.add_argument("--index-dir", type=Path, default=DEFAULT_DIR, help="folder holding (or to hold) the index")
    ap.add_argument("--questions", type=Path, default=DEV_SET)
    ap.add_argument("--spanish", type=Path, default=SPANISH_SET, help="Spanish questions timed apart ('' to skip)")
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--no-app", action="store_true", help="skip the Streamlit measurement")
    ap.add_argument("--no-contention", action="store_true", help="skip the thread/contention matrix")
    ap.add_argument("--overlap-rounds", type=int, default=3,
                    help="rounds of the paired overlapped/sequential question-embedding comparison (0: skip)")
    args = ap.parse_args()

    settings = full_corpus_settings(args.index_dir, mirror=args.mirror)
    questions, _ = load_questions(args.questions)
    before = machine()
    result: dict[str, Any] = {"machine_before": before, "questions": len(questions),
                              "question_file": str(args.questions), "target_p95_ms": TARGET_P95_MS}
    spanish = load_questions(args.spanish)[0] if str(args.spanish) and args.spanish.is_file() else []
    result["warm"] = warm_latency(settings, [q.question for q in questions], matrix=not args.no_contention,
                                  spanish=[q.question for q in spanish], overlap_rounds=args.overlap_rounds)
    p95 = result["warm"]["retrieve_and_answer_ms"]["p95"]
    result["meets_target"] = p95 is not None and p95 <= TARGET_P95_MS
    result["cli_cold_start"] = cold_start(settings, args.cold_runs)
    if not args.no_app:
        result["app"] = app_memory(settings)
    result["machine_after"] = machine()
    path = write_results("query_latency", result)

    w = result["warm"]
    print(f"machine: {before['cpu']}, {before['cores']} cores, load {before['load_avg_1_5_15']} -> "
          f"{result['machine_after']['load_avg_1_5_15']}")
    print(f"warm, {len(questions)} questions (ms)   p50     p95     max")
    for key in ("retrieve_ms", "retrieve_and_answer_ms"):
        s = w[key]
        print(f"  {key:<28} {s['p50']:7.1f} {s['p95']:7.1f} {s['max']:7.1f}")
    print(f"  answer stages p50: {w['answer_stages_ms_p50']}")
    print(f"  retrieval channels: {w['retrieval_channels_ms']}")
    if "spanish" in w:
        for key in ("retrieve_ms", "retrieve_and_answer_ms"):
            s = w["spanish"][key]
            print(f"  Spanish {key:<20} {s['p50']:7.1f} {s['p95']:7.1f} {s['max']:7.1f}")
        print(f"  Spanish retrieval channels: {w['spanish']['retrieval_channels_ms']}")
    print(f"  target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if result['meets_target'] else 'NOT met'}")
    if "overlap" in w:
        o = w["overlap"]
        for name in ("overlapped", "sequential"):
            print(f"  paired, question embeddings {name:<10} p50 {o[name]['p50']:7.1f}  p95 {o[name]['p95']:7.1f}  "
                  f"mean {o[name]['mean']:7.1f} ms (n={o[name]['n']})")
        print(f"  overlapped / sequential mean: {o['mean_ratio']}")
    for row in w.get("contention", []):
        print(f"  torch threads {row['torch_threads']}, busy cores {row['busy_cores']}: "
              f"p50 {row['p50']:7.1f}  p95 {row['p95']:7.1f}  max {row['max']:7.1f} ms")
    print(f"CLI cold start (s): {result['cli_cold_start']}")
    if "app" in result:
        print(f"app: {result['app']}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
