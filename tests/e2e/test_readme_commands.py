"""The README's commands that talk to a running stack, run as a user runs them on a clean machine.

One stack (`python -m local`, as `make run` starts it) in an environment with no AWS
configuration at all: no AWS_* variable, a fresh HOME (no ~/.aws). Every command runs as a
subprocess in that same environment: the README's curl sequence (read from README.md itself),
`make rollup`, `make verify` and a short `make soak`; their exit codes and output are checked.
`make` runs with `-o .venv/.run-stamp -o .venv/.dev-stamp`: a test never re-creates the environment it runs in
(another engineer's pyproject.toml edit would otherwise start an install).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"


def clean_environment(home: Path) -> dict[str, str]:
    """What a fresh shell on a machine that never saw AWS has."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
            "LANG": "C.UTF-8", "POWERTOOLS_LOG_LEVEL": "ERROR"}


@pytest.fixture(scope="module")
def clean_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def readme_stack(clean_home: Path) -> Iterator[RunningStack]:
    running = start_stack(seed=False, environment=clean_environment(clean_home))
    try:
        yield running
    finally:
        stop_stack(running.process)


def make(target: str, stack: RunningStack, home: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = {**clean_environment(home), "PORT": stack.url.rsplit(":", 1)[1], "LOCAL_TOKEN": stack.token}
    assert not any(k.startswith("AWS_") for k in env)
    return subprocess.run(["make", "--no-print-directory", "-o", ".venv/.run-stamp", "-o", ".venv/.dev-stamp", target, *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def readme_curl_block() -> str:
    text = README.read_text()
    section = text[text.index("## Using the API with curl"):]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README's curl section has its sh block"
    return match.group(1)


def sh(script: str, home: Path) -> str:
    out = subprocess.run(["sh", "-ec", script], env=clean_environment(home), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out
    return out.stdout


def test_the_readme_curl_sequence(readme_stack: RunningStack, clean_home: Path) -> None:
    assert shutil.which("curl"), "the README's examples need curl"
    block = readme_curl_block()
    assert "make run LOCAL_TOKEN=dev" in README.read_text() and 'Bearer dev"' in block
    script = block.replace("http://127.0.0.1:8000", readme_stack.url).replace("Bearer dev", f"Bearer {readme_stack.token}")
    head, _, tail = script.partition("curl -s $API/sites/acme/activities/<id>")
    assert tail, "the README polls the activity it submitted"
    preamble = head.splitlines()[0]  # API=...; AUTH=...
    first = sh(head, clean_home).replace("\r", "")  # bodies end without a newline; headers in CRLF
    # Each command printed one JSON body: the site, the key (its secret shown once), the point
    # type, the behaviour, the user; then the activity's 202 with its Location.
    assert '"id": "acme"' in first and '"key": "gk.acme.' in first and '"uuid": "alice"' in first
    assert re.search(r"HTTP/1\.1 202 ", first), first
    location = re.search(r"^Location: (/sites/acme/activities/(\S+))\s*$", first, re.M)
    assert location, first
    activity_id = location.group(2)
    poll = preamble + "\ncurl -s $API/sites/acme/activities/<id>" + tail.splitlines()[0]
    deadline = time.monotonic() + 30
    while True:
        status = json.loads(sh(poll.replace("<id>", activity_id), clean_home))
        if status["status"] == "SUCCEEDED" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status["status"] == "SUCCEEDED", status
    assert status["result"]["awarded"]["points"] == [{"pointId": "xp", "points": 10}]
    reads = [line for line in tail.splitlines()[1:] if line.startswith("curl")]
    assert len(reads) == 2, tail
    summary, points = (json.loads(sh(preamble + "\n" + line, clean_home)) for line in reads)
    assert summary["user"]["uuid"] == "alice" and summary["stats"]["activities"]["count"] == 1, summary
    assert [(p["pointId"], p["balance"]) for p in points["items"]] == [("xp", 10)], points
    # The Idempotency-Key of the README: sending the same activity again answers the same id.
    again = sh(preamble + "\n" + head[head.index("curl -si"):], clean_home)
    assert f"/sites/acme/activities/{activity_id}" in again


def test_make_rollup(readme_stack: RunningStack, clean_home: Path) -> None:
    out = make("rollup", readme_stack, clean_home)
    assert out.returncode == 0, out
    for job in ("ranks:", "rollup:", "expiry:"):
        assert re.search(rf"^{job} \{{", out.stdout, re.M), out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_make_verify(readme_stack: RunningStack, clean_home: Path) -> None:
    readme_stack.api("POST", "/sites", {"id": "verified", "name": "Verified"})
    out = make("verify", readme_stack, clean_home)
    assert out.returncode == 0, out
    assert "(the local stack's moto)" in out.stdout and "no violations" in out.stdout, out.stdout
    assert re.search(r"checked: .*\b[1-9]\d* sites\b", out.stdout), out.stdout


def test_a_short_make_soak_against_the_running_stack(readme_stack: RunningStack, clean_home: Path) -> None:
    out = make("soak", readme_stack, clean_home, "SOAK_ARGS=--seconds 10 --users 6 --workers 3", timeout=100)
    assert out.returncode == 0, out
    assert f"Soak against the running stack on port {readme_stack.url.rsplit(':', 1)[1]}" in out.stdout
    assert "unexpected errors: 0" in out.stdout and "no violations" in out.stdout, out.stdout
    assert re.search(r"Soak: \d+ s, 6 users: [1-9]\d* activities", out.stdout), out.stdout


def test_without_the_stacks_endpoint_soak_and_verify_say_so_before_any_work(readme_stack: RunningStack,
                                                                            clean_home: Path) -> None:
    """The NoRegionError of issue 14: the soak ran its workload, then its checker found no region."""
    from local.stack import state_file

    state = state_file(int(readme_stack.url.rsplit(":", 1)[1]))
    aside = state.with_suffix(".aside")
    state.replace(aside)
    try:
        started = time.monotonic()
        soak = make("soak", readme_stack, clean_home, "SOAK_ARGS=--seconds 30", timeout=60)
        took = time.monotonic() - started
        verify = make("verify", readme_stack, clean_home)
    finally:
        aside.replace(state)
    assert soak.returncode == 2, soak
    assert "published no AWS endpoint" in soak.stderr and "Traceback" not in soak.stderr, soak.stderr
    assert took < 20, "it stopped before the 30 s workload"
    assert verify.returncode == 2, verify
    assert "no AWS region is configured" in verify.stderr and "Traceback" not in verify.stderr, verify.stderr


def test_the_readme_test_commands_select_tests(clean_home: Path) -> None:
    """`Run one test`: each command names tests that exist (a `-k` matching nothing exits 5)."""
    text = README.read_text()
    section = text[text.index("Run one test"):]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README's test section has its sh block"
    commands = [line.split() for line in match.group(1).splitlines() if line.startswith(".venv/bin/pytest")]
    assert len(commands) >= 2
    for command in commands:
        out = subprocess.run([str(ROOT / command[0]), *command[1:], "--collect-only", "-p", "no:cacheprovider"],
                             cwd=ROOT, env=clean_environment(clean_home), capture_output=True, text=True, timeout=120)
        # pytest exits 5 when nothing was collected, 4 for a node id that does not exist
        assert out.returncode == 0, (command, out.stdout[-2000:], out.stderr[-2000:])
