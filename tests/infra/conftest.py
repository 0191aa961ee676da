"""Packaging fixtures: `infra/package.py` runs once per session per stage, into a temp dir.

The wheelhouse (dist/wheelhouse) is downloaded once if missing (PyPI); after that packaging
is offline. chalice's dependency zip is cached under dist/.cache so reruns take seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "infra" / "package.py"
WHEELHOUSE = ROOT / "dist" / "wheelhouse"
CACHE = ROOT / "dist" / ".cache"
ASL = ROOT / "infra" / "statemachines" / "activity.asl.json"
# Until the workflow exists (its definition, and app.py declaring its functions): a one-state
# machine, so the packaging and deploy wiring are still proven.
STAND_IN_ASL = {"Comment": "stand-in", "StartAt": "Accept", "States": {"Accept": {"Type": "Pass", "End": True}}}


@dataclass(frozen=True)
class Packaged:
    stage: str
    out: Path
    asl: Path

    @property
    def template(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "sam.json").read_text()))

    @property
    def zip(self) -> Path:
        return self.out / "deployment.zip"

    @property
    def stand_in(self) -> bool:
        return self.asl != ASL


def workflow_wired() -> bool:
    import app as app_module

    return ASL.exists() and bool(app_module.app.pure_lambda_functions)


def ensure_wheelhouse() -> Path:
    if not any(WHEELHOUSE.glob("*.whl")):
        subprocess.run([sys.executable, str(PACKAGE), "--wheelhouse-only", "--wheelhouse", str(WHEELHOUSE)],
                       check=True)
    return WHEELHOUSE


@pytest.fixture(scope="session")
def package_stage(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Packaged]:
    made: dict[str, Packaged] = {}

    def build(stage: str) -> Packaged:
        if stage in made:
            return made[stage]
        wheelhouse = ensure_wheelhouse()
        tmp = tmp_path_factory.mktemp(f"package-{stage}")
        asl = ASL
        if not workflow_wired():
            asl = tmp / "stand-in.asl.json"
            asl.write_text(json.dumps(STAND_IN_ASL))
        out = tmp / "dist"
        run = subprocess.run(
            [sys.executable, str(PACKAGE), "--stage", stage, "--out", str(out),
             "--build-dir", str(CACHE / f"build-{stage}"), "--wheelhouse", str(wheelhouse), "--asl", str(asl)],
            cwd=ROOT, capture_output=True, text=True,
        )
        if run.returncode:
            pytest.fail(f"infra/package.py failed:\n{run.stdout}\n{run.stderr}")
        made[stage] = Packaged(stage, out, asl)
        return made[stage]

    return build


@pytest.fixture(scope="session")
def packaged(package_stage: Callable[[str], Packaged]) -> Packaged:
    return package_stage("dev")
