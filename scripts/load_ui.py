#!/usr/bin/env python
"""Bounded load test of the chat UI: N simulated users against the running Gradio app on loopback.

    .venv/bin/python scripts/load_ui.py                          # 20 sessions x 60 s, bundled corpus
    .venv/bin/python scripts/load_ui.py --sessions 4 --duration 15 --data-dir /tmp/me-data
    .venv/bin/python scripts/load_ui.py --url http://127.0.0.1:7860/ --pid 12345 --out load.json

Without --url the script ingests the bundled corpus into a temporary data directory (or serves
--data-dir as it is), starts `rag ui` on a free 127.0.0.1 port in its own process, and stops it at the
end, whatever happens. Each session is a real client of the page's API (gradio_client, its own
session): like the page, it sends a question with the `take` event and then streams the answer from
the `respond` event, whose session state (chat, earlier turns) makes follow-ups work. Questions
cycle through eval/gold.jsonl across all types, unanswerable ones included; every third
conversation continues with a follow-up, and each conversation starts a new chat (`clear`).

Sessions ask back to back (no think time unless --think) until --duration ends; answers still
running then may finish within --grace; at duration + grace the run stops hard and requests still
open count as errors ("cut off"). A request is ok when its final chat message is a cited answer or
the abstention notice; an exception, an error line in the chat, a missing final answer or an answer
without citations is an error. One warm-up question (model loads) is asked first and not counted,
unless --no-warm-up (then the first questions of all sessions reach a cold server at once).

`--answer-mode llm` uses the local model, which generates one answer at a time (one model per
process, behind a lock), so latency grows with the number of sessions. Peak RSS is the UI
process's high-water mark (VmHWM, Linux /proc): the spawned server's, or --pid's.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # gradio_client phones home otherwise
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.dataset import DEFAULT_DATASET, load_dataset  # noqa: E402
from eval.metrics import percentile  # noqa: E402

FOLLOW_UPS = [
    "and which of those report results on a public benchmark?",
    "what about their limitations?",
    "and how do they compare with earlier methods?",
]
OK = ("cited", "abstained")
TAG = re.compile(r"<[^>]+>")


# -- what the users ask ------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    text: str
    kind: str  # the gold type ("fact", "unanswerable", ...) or "follow-up"
    id: str = ""


def conversations(dataset: Path = DEFAULT_DATASET, follow_up_every: int = 3) -> list[list[Question]]:
    """Gold questions round-robin over their types; every n-th answerable one gets a follow-up."""
    by_type: dict[str, list[Question]] = {}
    for item in load_dataset(dataset):
        kind = item.type or ("unanswerable" if not item.answerable else "other")
        by_type.setdefault(kind, []).append(Question(item.question, kind, item.id or ""))
    ordered: list[Question] = []
    queues = [list(reversed(qs)) for qs in by_type.values()]
    while any(queues):
        ordered.extend(q.pop() for q in queues if q)
    out: list[list[Question]] = []
    answerable = 0
    for q in ordered:
        conv = [q]
        if q.kind != "unanswerable":
            answerable += 1
            if answerable % follow_up_every == 0:
                conv.append(Question(FOLLOW_UPS[(answerable // follow_up_every) % len(FOLLOW_UPS)], "follow-up"))
        out.append(conv)
    return out


# -- one request and how it ended --------------------------------------------------------------
@dataclass
class Request:
    session: int
    kind: str
    question_id: str
    question: str
    start: float  # seconds since the load started
    end: float | None = None
    outcome: str = "cut-off"  # cited | abstained | error | uncited | no-answer | exception | cut-off
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in OK

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start


def message_text(message: dict) -> str:
    """The text of a chat message as gradio_client returns it (a string or a list of parts)."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def plain(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


def classify(chat: list[dict]) -> tuple[str, str]:
    """(outcome, error message) of the last turn in the chat the `respond` event returned."""
    users = [i for i, m in enumerate(chat) if m.get("role") == "user"]
    if not users or users[-1] + 1 >= len(chat):
        return "no-answer", "no assistant message after the question"
    reply = message_text(chat[users[-1] + 1])
    if "rag-error" in reply:
        return "error", plain(reply)
    if "rag-abstain" in reply:
        return "abstained", ""
    if "checked against the cited abstracts" not in reply:
        return "no-answer", f"no final answer: {plain(reply)[:160]}"
    if "rag-cite" not in reply:
        return "uncited", f"final answer without citations: {plain(reply)[:160]}"
    return "cited", ""


# -- the simulated users -----------------------------------------------------------------------
def connect(url: str):
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, download_files=False)


def ask_once(client, question: str, answer_mode: str, k: int, timeout: float) -> tuple[str, str]:
    """Send one question the way the page does and wait for the final answer (at most `timeout` s)."""
    client.predict(question, api_name="/take")  # clears the box, stores the question in the session
    job = client.submit(k, "hybrid", "", "", [], answer_mode, api_name="/respond")
    try:
        chat, _sources = job.result(timeout=max(0.1, timeout))
    except FutureTimeout:
        job.cancel()
        return "cut-off", "still running at the hard stop (duration + grace)"
    return classify(chat)


@dataclass
class Run:
    url: str
    sessions: int
    duration: float
    grace: float
    answer_mode: str
    k: int
    think: float
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    setup_errors: list[str] = field(default_factory=list)

    def record(self, req: Request) -> None:
        with self.lock:
            self.requests.append(req)


def session(run: Run, n: int, plan: list[list[Question]], ready: threading.Barrier, clock: dict) -> None:
    """One user: a client of its own, conversations from its own offset in the plan, until the deadline."""
    try:
        client = connect(run.url)
    except Exception as exc:  # reported as a setup error: the session never asked anything
        run.setup_errors.append(f"session {n}: cannot connect: {exc!r}")
        ready.abort()
        return
    try:
        ready.wait(timeout=120)
    except threading.BrokenBarrierError:
        client.close()
        return
    t0, deadline, hard = clock["t0"], clock["deadline"], clock["hard"]
    i = (n * 7) % len(plan)  # sessions start at different questions
    try:
        while time.monotonic() < deadline:
            conv = plan[i % len(plan)]
            i += 1
            try:
                client.predict(api_name="/clear")  # "New chat"
            except Exception as exc:
                run.record(Request(n, "new-chat", "", "", time.monotonic() - t0, time.monotonic() - t0,
                                   "exception", f"new chat: {exc!r}"))
                continue
            for q in conv:
                if time.monotonic() >= deadline:
                    break
                req = Request(n, q.kind, q.id, q.text, time.monotonic() - t0)
                try:
                    req.outcome, req.error = ask_once(client, q.text, run.answer_mode, run.k, hard - time.monotonic())
                except Exception as exc:  # the client raises what the server or the network did
                    req.outcome, req.error = "exception", f"{type(exc).__name__}: {exc}"
                if req.outcome != "cut-off":
                    req.end = time.monotonic() - t0
                run.record(req)
                if req.outcome == "cut-off":
                    return
                if run.think:
                    time.sleep(run.think)
    finally:
        client.close()


def warm_up(url: str, question: str, answer_mode: str, k: int, timeout: float) -> float:
    """One question before the clock starts: the server loads its models on the first one."""
    t = time.monotonic()
    client = connect(url)
    try:
        outcome, error = ask_once(client, question, answer_mode, k, timeout)
    finally:
        client.close()
    if outcome not in OK:
        raise RuntimeError(f"the warm-up question failed ({outcome}): {error}")
    return time.monotonic() - t


# -- the UI process ----------------------------------------------------------------------------
def proc_status(pid: int, key: str) -> int | None:
    """A size field of /proc/<pid>/status in bytes (VmHWM: peak RSS, VmRSS: now); None if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ, RAG_DATA_DIR=str(data_dir), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def ingest_bundled(data_dir: Path) -> None:
    print(f"ingesting the bundled corpus into {data_dir} ...", file=sys.stderr, flush=True)
    cmd = [sys.executable, "-m", "rag.cli", "ingest", "--json"]
    subprocess.run(cmd, env=child_env(data_dir), check=True, stdout=subprocess.DEVNULL, timeout=1800)


def die_with_parent() -> None:
    """In the child: the kernel kills it if this script dies without cleaning up (Linux prctl)."""
    import ctypes

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: stop() in the finally clause still ends the server


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL after 15 s: nothing is left running."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass


@contextmanager
def served(data_dir: Path, startup: float = 180) -> Iterator[tuple[str, int]]:
    """`rag ui` on a free loopback port in its own process group: (url, pid), stopped on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tempfile.TemporaryFile()
    cmd = [sys.executable, "-m", "rag.cli", "ui", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, env=child_env(data_dir), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=die_with_parent,
    )
    try:
        end = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"the UI exited with code {proc.returncode} before serving:\n{tail}")
            try:
                with urllib.request.urlopen(url + "config", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"the UI did not answer on {url} within {startup:.0f} s")
            time.sleep(0.5)
        yield url, proc.pid
    finally:
        stop(proc)
        log.close()


# -- the run -----------------------------------------------------------------------------------
def run_load(
    url: str,
    *,
    sessions: int = 20,
    duration: float = 60.0,
    grace: float = 60.0,
    answer_mode: str = "extractive",
    k: int = 5,
    think: float = 0.0,
    pid: int | None = None,
    dataset: Path = DEFAULT_DATASET,
    warm: bool = True,
) -> dict:
    """Run the load against a serving UI and return the summary (and every request) as a dict."""
    plan = conversations(dataset)
    run = Run(url, sessions, duration, grace, answer_mode, k, think)
    warmup = warm_up(url, plan[0][0].text, answer_mode, k, 600) if warm else None
    rss_before = proc_status(pid, "VmRSS") if pid else None
    cpu_before = cpu_seconds(pid) if pid else None

    clock: dict[str, float] = {}

    def start_clock() -> None:  # runs once every session has connected, before any is released
        t0 = time.monotonic()
        clock.update(t0=t0, deadline=t0 + duration, hard=t0 + duration + grace)

    ready = threading.Barrier(sessions + 1, action=start_clock)
    threads = [
        threading.Thread(target=session, args=(run, n, plan, ready, clock), name=f"load-session-{n}", daemon=True)
        for n in range(sessions)
    ]
    for t in threads:
        t.start()
    try:
        ready.wait(timeout=180)  # every session connected; the clock starts now for all of them
    except threading.BrokenBarrierError:
        raise RuntimeError("sessions could not connect: " + "; ".join(run.setup_errors[:3])) from None
    t0 = clock["t0"]
    for t in threads:
        t.join(timeout=max(0.0, clock["hard"] + 5 - time.monotonic()))
    elapsed = time.monotonic() - t0
    stuck = sum(t.is_alive() for t in threads)
    with run.lock:
        requests = list(run.requests)
    return summarise(run, requests, elapsed, stuck, warmup, pid, rss_before, cpu_before)


def summarise(run, requests, elapsed, stuck, warmup, pid, rss_before, cpu_before) -> dict:
    ok = [r for r in requests if r.ok]
    bad = [r for r in requests if not r.ok]
    lat = [r.seconds for r in ok if r.seconds is not None]
    window = max([r.end for r in requests if r.end is not None] + [run.duration])
    errors = Counter(f"{r.outcome}: {r.error}" for r in bad)
    cpu_after = cpu_seconds(pid) if pid else None
    per_session = Counter(r.session for r in ok)
    summary = {
        "url": run.url,
        "sessions": run.sessions,
        "duration_s": run.duration,
        "grace_s": run.grace,
        "answer_mode": run.answer_mode,
        "k": run.k,
        "think_s": run.think,
        "warmup_s": round(warmup, 2) if warmup is not None else None,
        "elapsed_s": round(elapsed, 2),
        "requests": len(requests),
        "completed": len(ok),
        "errors": len(bad),
        "error_messages": [f"{n} x {msg}" for msg, n in errors.most_common(5)],
        "sessions_still_running_at_hard_stop": stuck,
        "outcomes": dict(Counter(r.outcome for r in requests)),
        "kinds": dict(Counter(r.kind for r in ok)),
        "completed_per_session_min": min((per_session[n] for n in range(run.sessions)), default=0),
        "throughput_per_min": round(len(ok) / window * 60, 2) if window else None,
        "latency_p50_s": _round(percentile(lat, 50)),
        "latency_p95_s": _round(percentile(lat, 95)),
        "latency_max_s": _round(max(lat, default=None)),
        "ui_pid": pid,
        "ui_rss_before_mb": _mb(rss_before),
        "ui_peak_rss_mb": _mb(proc_status(pid, "VmHWM") if pid else None),
        "ui_cpu_s": round(cpu_after - cpu_before, 1) if cpu_after is not None and cpu_before is not None else None,
        "cpu_count": os.cpu_count(),
    }
    summary["per_request"] = [dict(asdict(r), seconds=_round(r.seconds)) for r in requests]
    return summary


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def _mb(n: int | None) -> float | None:
    return None if n is None else round(n / 2**20, 1)


def print_table(s: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"UI load: {s['sessions']} sessions x {s['duration_s']:g} s, {s['answer_mode']} answers")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("requests started", s["requests"]),
        ("completed (cited or abstained)", f"{s['completed']}  {s['kinds']}"),
        ("errors", s["errors"]),
        ("outcomes", s["outcomes"]),
        ("fewest completed by one session", s["completed_per_session_min"]),
        ("throughput", f"{s['throughput_per_min']} answers/min"),
        ("latency p50 / p95 / max", f"{s['latency_p50_s']} / {s['latency_p95_s']} / {s['latency_max_s']} s"),
        ("warm-up (first answer, not counted)", f"{s['warmup_s']} s"),
        ("elapsed (incl. grace)", f"{s['elapsed_s']} s"),
        ("UI RSS before load / peak", f"{s['ui_rss_before_mb']} / {s['ui_peak_rss_mb']} MB"),
        ("UI CPU during load", f"{s['ui_cpu_s']} s on {s['cpu_count']} cores"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console = Console()
    console.print(table)
    for msg in s["error_messages"]:
        console.print(f"  error: {msg}", markup=False)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sessions", type=int, default=20, help="concurrent simulated users (default 20)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds during which sessions ask (default 60)")
    p.add_argument("--grace", type=float, default=None,
                   help="seconds answers still running may take after --duration (default 60; 600 with llm)")
    p.add_argument("--answer-mode", choices=["extractive", "llm"], default="extractive")
    p.add_argument("--k", type=int, default=5, help="papers to retrieve per question (the page's slider)")
    p.add_argument("--think", type=float, default=0.0, help="seconds a user waits between questions (default 0)")
    p.add_argument("--url", help="an already running UI (not stopped by this script)")
    p.add_argument("--pid", type=int, help="with --url: the UI's process id, for its peak RSS and CPU")
    p.add_argument("--data-dir", type=Path, help="serve this existing index instead of ingesting the bundled corpus")
    p.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="questions (JSONL, default eval/gold.jsonl)")
    p.add_argument("--out", type=Path, help="write the summary and every request as JSON here")
    p.add_argument("--no-warm-up", dest="warm", action="store_false",
                   help="skip the warm-up question: all sessions' first questions reach a cold server together")
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the finally clauses stop the server
    if args.sessions < 1 or args.duration <= 0:
        p.error("--sessions must be at least 1 and --duration positive")
    grace = args.grace if args.grace is not None else (600.0 if args.answer_mode == "llm" else 60.0)
    if args.answer_mode == "llm":
        print(
            "note: the local model writes one answer at a time, so latency (p95) grows with the number "
            "of sessions; answers still running after duration + grace count as errors",
            file=sys.stderr,
        )
    common = dict(sessions=args.sessions, duration=args.duration, grace=grace, answer_mode=args.answer_mode,
                  k=args.k, think=args.think, dataset=args.dataset, warm=args.warm)
    if args.url:
        summary = run_load(args.url, pid=args.pid, **common)
    else:
        tmp = None
        data_dir = args.data_dir
        if data_dir is None:
            tmp = Path(tempfile.mkdtemp(prefix="load-ui-"))
            data_dir = tmp / "data"
        try:
            if tmp is not None:
                ingest_bundled(data_dir)
            with served(data_dir) as (url, pid):
                print(f"serving {data_dir} at {url} (pid {pid})", file=sys.stderr, flush=True)
                summary = run_load(url, pid=pid, **common)
        finally:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    print_table(summary)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2))
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
