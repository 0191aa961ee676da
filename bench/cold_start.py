"""Cold start: the import cost of the handler module against the baseline (design.md, "Costs").

The baseline is `import boto3` + one client + `import pydantic`; the handler module is
`app` (every function, the API's and the workflow steps', is `app.<name>`, so they share
it). Each figure is the median of several fresh interpreters, measured in the same run.
When dist/deployment.zip exists the pair is measured again from the unpacked zip with
PYTHONDONTWRITEBYTECODE=1 (/var/task is read-only on Lambda): as shipped (infra/package.py
adds precompiled .pyc, which is what Lambda runs) and with the .pyc removed (what a plain
`chalice package` zip costs). The exit status judges the shipped zip and the source tree.

    python bench/cold_start.py [--runs 9] [--zip dist/deployment.zip]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.2

BASELINE = "import boto3\nboto3.client('dynamodb', region_name='us-east-1')\nimport pydantic\n"
HANDLER = "import app\n"

TIMER = """
import sys, time
t0 = time.perf_counter()
exec(compile(sys.argv[1], "<measured>", "exec"))
print(time.perf_counter() - t0)
"""


def measure(code: str, cwd: Path, env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", TIMER, code], cwd=cwd, env=env, check=True,
                             capture_output=True, text=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def compare(label: str, cwd: Path, env: dict[str, str], runs: int) -> float:
    # interleave so drift on a busy machine hits both sides alike
    base = measure(BASELINE, cwd, env, runs)
    handler = measure(HANDLER, cwd, env, runs)
    ratio = handler / base
    verdict = "ok" if ratio <= TARGET else "OVER TARGET"
    print(f"{label:<28} baseline {base * 1000:7.1f} ms   app {handler * 1000:7.1f} ms   "
          f"ratio {ratio:4.2f} (target <= {TARGET}) {verdict}")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="import cost of the handler module vs the baseline")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--zip", type=Path, default=ROOT / "dist" / "deployment.zip")
    args = parser.parse_args(argv)
    env = {**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "TABLE_NAME": "bench", "STAGE": "dev",
           "POWERTOOLS_METRICS_DISABLED": "true", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    env.pop("PYTHONPATH", None)
    ratios = [compare("source tree (venv, .pyc)", ROOT, env, args.runs)]
    if args.zip.exists():
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(args.zip) as zf:
                zf.extractall(tmp)
            zip_env = {**env, "PYTHONPATH": tmp, "PYTHONDONTWRITEBYTECODE": "1"}
            shipped = any(Path(tmp).rglob("*.pyc"))
            if shipped:
                ratios.append(compare("unpacked zip (shipped .pyc)", Path(tmp), zip_env, args.runs))
                for pyc in Path(tmp).rglob("*.pyc"):
                    pyc.unlink()
            no_pyc = compare("unpacked zip (no .pyc)", Path(tmp), zip_env, args.runs)
            if not shipped:
                ratios.append(no_pyc)
    else:
        print(f"({args.zip} not found: run `make package` to measure the zip too)")
    return 0 if max(ratios) <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
