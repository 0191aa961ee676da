"""The packaged Lambda zip: exactly the runtime dependencies, and every module imports from it alone."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.infra.conftest import CACHE, Packaged

pytestmark = pytest.mark.timeout(240)

DEV_ONLY = ("moto", "pytest", "hypothesis", "playwright", "cfnlint", "samtranslator", "aws_xray_sdk",
            "schemathesis", "mypy", "ruff", "local", "tests", "bench", "werkzeug", "flask")

IMPORT_ALL = r"""
import importlib, json, pkgutil, sys
import app
import chalicelib
names = [m.name for m in pkgutil.walk_packages(chalicelib.__path__, "chalicelib.")]
for name in names:
    importlib.import_module(name)
handlers = [f.name for f in app.app.pure_lambda_functions]
print(json.dumps({"modules": names, "handlers": handlers,
                  "loaded": sorted({m.split(".")[0] for m in sys.modules}),
                  "files": {m: getattr(sys.modules[m], "__file__", None) for m in ("pydantic_core", "boto3")}}))
"""


def bare_python() -> Path:
    """A virtualenv with nothing installed (no system site-packages), cached under dist/."""
    home = CACHE / "bare-venv"
    python = home / "bin" / "python"
    if not python.exists():
        venv.EnvBuilder(with_pip=False, system_site_packages=False, clear=True).create(home)
    return python


def test_zip_holds_the_runtime_dependencies_and_nothing_from_dev(packaged: Packaged) -> None:
    with zipfile.ZipFile(packaged.zip) as zf:
        tops = {n.split("/")[0] for n in zf.namelist()}
    for needed in ("app.py", "chalicelib", "chalice", "pydantic", "pydantic_core", "aws_lambda_powertools", "boto3",
                   "botocore"):
        assert needed in tops, f"{needed} missing from the zip"
    leaked = sorted(t for t in tops if t.split(".")[0].split("-")[0] in DEV_ONLY)
    assert leaked == [], f"dev-only code in the zip: {leaked}"
    # the wheel built for Lambda: CPython 3.11 on x86_64 manylinux
    with zipfile.ZipFile(packaged.zip) as zf:
        natives = [n for n in zf.namelist() if n.endswith(".so")]
    assert natives and all("cpython-311-x86_64-linux-gnu" in n for n in natives), natives


def test_every_module_imports_from_the_unpacked_zip_in_a_bare_interpreter(packaged: Packaged,
                                                                          tmp_path: Path) -> None:
    unpacked = tmp_path / "task"
    with zipfile.ZipFile(packaged.zip) as zf:
        zf.extractall(unpacked)
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "t", "STAGE": "dev",
           "POWERTOOLS_METRICS_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(unpacked)}
    run = subprocess.run([str(bare_python()), "-c", IMPORT_ALL], cwd=unpacked, env=env,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["handlers"], "the app declares its workflow functions"
    assert not {"moto", "aws_xray_sdk", "pytest", "local"} & set(report["loaded"])
    for module, path in report["files"].items():
        assert path.startswith(str(unpacked)), f"{module} came from {path}, not the zip"
    assert sys.prefix not in json.dumps(report["files"])
