"""`make bench`: run every benchmark under bench/ and write docs/benchmarks.md.

Each benchmark runs as its own process (they start local stacks, import-time measurements
need a fresh interpreter) one after the other, so they do not compete for the cores. Their
output is kept verbatim under a heading each, with the exit code and wall time, after the
machine (CPU model, cores, memory, Python) and the date.

Benchmarks that talk to a running stack (console.py) use PORT/LOCAL_TOKEN when they name
one; otherwise a stack is started for them (`python -m local`, no demo seed) and stopped after.

    python tools/bench_report.py [--quick] [--only soak,engine] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
# (file, arguments, quick arguments, needs a running stack, timeout seconds)
BENCHMARKS: list[tuple[str, list[str], list[str], bool, int]] = [
    ("engine.py", [], ["--runs", "300"], False, 900),
    ("cold_start.py", [], ["--runs", "3"], False, 900),
    ("reads.py", [], ["--calls", "10", "--sizes", "10,1000"], False, 1800),
    ("activities.py", [], ["--quick"], False, 1800),
    ("rollup.py", [], ["--sizes", "1000"], False, 1800),
    ("leaderboards.py", [], ["--sizes", "1000,10000", "--changed", "200"], False, 1800),
    ("console.py", [], [], True, 1800),
    ("soak.py", ["--minutes", "2"], ["--minutes", "0.5"], False, 1800),
    ("cost.py", [], [], False, 900),
    # runs bench/cost.py twice: thread mode for the counts, the Lambda-like mode for durations
    ("capacity.py", [], ["--thread-durations"], False, 1800),
]
# Modules under bench/ that benchmarks import, not benchmarks themselves.
HELPERS = {"history.py", "aws_prices.py", "aws_quotas.py", "ddb_units.py", "meter.py"}
# Hand-written sections of the report (a heading and everything up to the next `## `), carried
# over from the file being replaced: figures measured once, such as the before/after of a rewrite.
KEPT_SECTIONS = ("## Cost and capacity (bench/cost.py, bench/capacity.py)",
                 "## Leaderboards at 10,000 and 100,000 users (bench/leaderboards.py, issue 19)")


def kept_sections(text: str) -> list[str]:
    """The KEPT_SECTIONS found in `text`, each as its lines."""
    lines, kept, current = text.splitlines(), [], None
    for line in lines:
        if line.startswith("## "):
            if current is not None:
                kept.append(current)
            current = [line] if line.strip() in KEPT_SECTIONS else None
        elif current is not None:
            current.append(line)
    if current is not None:
        kept.append(current)
    return ["\n".join(section).rstrip() + "\n" for section in kept]


def machine() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [f"- CPU: {cpu}", f"- Cores: {os.cpu_count()}", f"- Memory: {memory}",
            f"- Python: {platform.python_version()} ({platform.python_implementation()}), {platform.platform()}",
            f"- Load average when the run started: {load} (shared machine: figures move with it)"]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as res:
            return res.status == 200
    except OSError:
        return False


def _start_stack() -> tuple[subprocess.Popen[bytes], str, str]:
    from local.stack import free_port

    port, token = str(free_port()), secrets.token_urlsafe(16)
    env = {**os.environ, "PORT": port, "LOCAL_TOKEN": token, "SEED": "0"}
    process = subprocess.Popen([sys.executable, "-m", "local"], cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _healthy(f"http://127.0.0.1:{port}"):
        if process.poll() is not None:
            raise RuntimeError("the local stack exited early")
        time.sleep(0.3)
    return process, port, token


def run_one(name: str, args: list[str], env: dict[str, str], timeout: int) -> tuple[int, float, str]:
    started = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, str(BENCH / name), *args], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=timeout)
        code, text = out.returncode, out.stdout + (f"\n[stderr]\n{out.stderr[-3000:]}" if out.returncode else "")
    except subprocess.TimeoutExpired as err:
        partial = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        code, text = -1, partial + f"\n[timed out after {timeout} s]"
    return code, time.perf_counter() - started, text.rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs of each benchmark")
    parser.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    wanted = {n.strip().removesuffix(".py") for n in args.only.split(",") if n.strip()}
    chosen = [b for b in BENCHMARKS if (BENCH / b[0]).exists() and (not wanted or b[0][:-3] in wanted)]
    extra = sorted(p.name for p in BENCH.glob("*.py") if p.name not in {b[0] for b in BENCHMARKS} | HELPERS)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Benchmarks", "", f"Generated by `make bench` (tools/bench_report.py{' --quick' if args.quick else ''}) "
             f"on {date}.", "", "## Machine", "", *machine(), ""]
    env = {**os.environ, "POWERTOOLS_LOG_LEVEL": "ERROR", "PYTHONPATH": str(ROOT)}
    port, token = os.environ.get("PORT", ""), os.environ.get("LOCAL_TOKEN", "")
    stack = None
    failures = 0
    summary: list[str] = []
    sections: list[str] = []
    try:
        for name, full, quick, needs_stack, timeout in chosen:
            run_env = dict(env)
            if needs_stack:
                if stack is None and not (port and token and _healthy(f"http://127.0.0.1:{port}")):
                    stack, port, token = _start_stack()
                run_env.update({"PORT": port, "LOCAL_TOKEN": token})
            else:  # in-process stacks of their own; soak must not attach to a running one
                run_env.pop("PORT", None)
                run_env.pop("LOCAL_TOKEN", None)
            bench_args = quick if args.quick else full
            print(f"bench: {name} {' '.join(bench_args)}", flush=True)
            code, took, text = run_one(name, bench_args, run_env, timeout)
            failures += code != 0
            status = "ok" if code == 0 else f"exit {code}"
            summary.append(f"| `bench/{name}` | {took:.0f} s | {status} |")
            sections += [f"## bench/{name}", "", f"`python bench/{name} {' '.join(bench_args)}`: {status}, "
                         f"{took:.0f} s", "", "```", text, "```", ""]
    finally:
        if stack is not None:
            os.killpg(stack.pid, signal.SIGTERM)
            stack.wait(timeout=30)
    lines += ["## Runs", "", "| benchmark | wall time | result |", "|---|---|---|", *summary, ""]
    if extra:
        lines += [f"Not run (unknown to tools/bench_report.py): {', '.join(extra)}", ""]
    if args.out.exists():
        lines += kept_sections(args.out.read_text())
    lines += sections
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"bench: wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
          f" ({failures} benchmark(s) failed)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
