"""The local runtime's moto is pinned and guarded, and its speed-ups can be switched off.

- constraints.txt pins the packages local/patches.py was written for, and `patches.WRITTEN_FOR`
  (what the guard checks) lists the same versions;
- the guard refuses to patch another moto, and only warns with LOCAL_ALLOW_UNPINNED=1;
- with the speed-ups off, moto's own functions are back in their places (the same functions a
  fresh interpreter that never imported the patches finds there), and the fixes stay on;
- the mode the tests run in is the one LOCAL_SPEEDUPS asks for.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _constraints() -> tuple[dict[str, str], dict[str, str]]:
    """constraints.txt's pins: the guarded block's, and all of them (names normalized)."""
    guarded: dict[str, str] = {}
    pins: dict[str, str] = {}
    block = ""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.startswith("#"):
            block = line if line.startswith("# guarded") or line.startswith("# pinned") else block
            continue
        if not line.strip():
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
        assert match, f"constraints.txt: not an exact pin: {line!r}"
        name = re.sub(r"[-_.]+", "-", match.group(1)).lower()
        pins[name] = match.group(2)
        if block.startswith("# guarded"):
            guarded[name] = match.group(2)
    return guarded, pins


def test_the_guard_checks_what_constraints_txt_pins() -> None:
    from local import patches

    guarded, _ = _constraints()
    assert guarded == patches.WRITTEN_FOR
    for required in ("moto", "chalice", "werkzeug", "boto3", "botocore", "s3transfer"):
        assert required in guarded


def test_this_environment_has_the_pinned_versions() -> None:
    from local import patches

    _, pins = _constraints()
    wrong = {name: (patches._installed_version(name), wanted) for name, wanted in pins.items()
             if patches._installed_version(name) not in (None, wanted)}
    assert wrong == {}, "reinstall with `.venv/bin/pip install -c constraints.txt -e '.[dev]'`"
    assert patches.version_mismatches() == []


def test_pyproject_moto_range_admits_the_pin() -> None:
    from packaging.requirements import Requirement

    text = (ROOT / "pyproject.toml").read_text()
    line = next(m.group(1) for m in re.finditer(r'"(moto\[[^"]+)"', text))
    requirement = Requirement(line)
    assert requirement.specifier.contains(_constraints()[0]["moto"])


def _unpinned_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    from local import patches

    real = patches._installed_version
    monkeypatch.setattr(patches, "_installed_version", lambda name: "5.3.0" if name == "moto" else real(name))


def test_the_guard_refuses_an_unpinned_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    from local import patches

    monkeypatch.delenv(patches.ALLOW_UNPINNED, raising=False)
    _unpinned_moto(monkeypatch)
    with pytest.raises(patches.UnpinnedDependencies) as refused:
        patches.behave_like_aws()
    message = str(refused.value)
    assert "moto 5.3.0 is installed, the patches were written for moto==5.2.5" in message
    assert "LOCAL_ALLOW_UNPINNED=1" in message
    assert "pip install -c constraints.txt" in message


def test_the_override_only_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    from local import patches

    monkeypatch.setenv(patches.ALLOW_UNPINNED, "1")
    _unpinned_moto(monkeypatch)
    with pytest.warns(patches.UnpinnedDependenciesWarning, match=r"moto 5\.3\.0 is installed"):
        patches.behave_like_aws()


_REFUSAL = """
import json, sys
from local import patches
from moto.dynamodb.responses import DynamoHandler
before = DynamoHandler.call_action
real = patches._installed_version
patches._installed_version = lambda name: "5.3.0" if name == "moto" else real(name)
try:
    patches.behave_like_aws()
    outcome = "started"
except patches.UnpinnedDependencies as refused:
    outcome = str(refused)
print(json.dumps({"outcome": outcome, "patched": DynamoHandler.call_action is not before,
                  "speedups": sum(map(len, patches._speedup_swaps.values()))}))
"""


def test_a_refused_start_patches_nothing() -> None:
    """In a fresh interpreter: the guard runs before the first patch."""
    env = {k: v for k, v in os.environ.items() if k != "LOCAL_ALLOW_UNPINNED"}
    done = subprocess.run([sys.executable, "-c", _REFUSAL], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["outcome"].startswith("local/patches.py refuses to patch moto: moto 5.3.0 is installed")
    assert answer["patched"] is False and answer["speedups"] == 0


# -- speed-ups off means moto's own code --------------------------------------------------------

def _describe(value: Any) -> str:
    """Where a function was defined: enough to tell moto's own from anything else."""
    function = getattr(value, "__func__", value)
    code = getattr(function, "__code__", None)
    if code is None:
        return f"{type(function).__name__}:{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
    return f"{function.__module__}.{function.__qualname__}@{Path(code.co_filename).name}:{code.co_firstlineno}"


_FRESH = """
import importlib, json, sys
targets = json.loads(sys.argv[1])
sys.path.insert(0, sys.argv[2])
from tests.integration.test_local_guard import _describe
found = {}
for label, module, qualname, name in targets:
    owner = importlib.import_module(module)
    for part in filter(None, qualname.split(".")):
        owner = getattr(owner, part)
    found[label] = _describe(vars(owner)[name]) if name in vars(owner) else "absent"
print(json.dumps(found))
"""


def test_with_speedups_off_moto_own_functions_are_in_place(aws: None) -> None:
    from local import patches

    fix_of = {id(swap.replacement): swap for swap in patches._fix_swaps}
    targets, here = [], {}
    with patches.speedups(False):
        assert patches.moto_own_code_problems() == []
        for swaps in patches._speedup_swaps.values():
            for swap in swaps:
                module, qualname = ((swap.owner.__module__, swap.owner.__qualname__) if isinstance(swap.owner, type)
                                    else (swap.owner.__name__, ""))
                targets.append((swap.label, module, qualname, swap.name))
                current = swap.current()
                if id(current) in fix_of:  # a fix: moto's function is the one it wraps
                    assert _describe(current).startswith("local.patches."), swap.label
                    current = fix_of[id(current)].original
                here[swap.label] = "absent" if current is patches._ABSENT else _describe(current)
    done = subprocess.run([sys.executable, "-c", _FRESH, json.dumps(targets), str(ROOT)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    fresh = json.loads(done.stdout.strip().splitlines()[-1])
    assert here == fresh
    assert all(not where.startswith("local.") for where in here.values())
    assert len(here) >= 20  # every speed-up's names, Step Functions modules included


def test_with_speedups_on_every_replacement_is_in_place(aws: None) -> None:
    from local import patches

    with patches.speedups(True):
        assert all(swap.current() is swap.replacement for swaps in patches._speedup_swaps.values() for swap in swaps)
        assert patches.speedups_enabled()
    assert {f.__name__ for f in patches.FIXES} >= {"serialize_dynamodb", "route_lambda_invokes",
                                                   "dynamodb_limit_rule", "transactions_all_or_nothing"}
    assert len(patches.SPEED_UPS) == 17


def test_the_run_is_in_the_mode_local_speedups_asks_for(aws: None) -> None:
    """`LOCAL_SPEEDUPS=0 pytest tests/integration tests/workflow` runs on moto's own code: this
    test is in that run, and fails if the speed-ups were on (or moto's code was not back)."""
    from local import patches

    wanted = os.environ.get("LOCAL_SPEEDUPS", "1") != "0"
    assert patches.speedups_wanted() is wanted
    assert patches.speedups_enabled() is wanted, patches.mode()
    if not wanted:
        assert patches.moto_own_code_problems() == []
        assert patches.mode().startswith("moto speed-ups off")
        # Shown in the run's warnings summary, so its output says which moto it ran on.
        warnings.warn(f"this run: {patches.mode()}", UserWarning, stacklevel=1)
