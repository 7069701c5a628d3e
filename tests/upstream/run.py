"""Run DBOS's own client tests (from the dbos 3.4.0 source distribution) against dbos_client.

    .venv-upstream/bin/python tests/upstream/run.py [--backend postgres|sqlite|both] [-k EXPR]

The source distribution is downloaded at run time (pip download, cached under
build/upstream/) and never copied into this repository. ``swap_client.py`` makes every
``DBOSClient`` those tests create ours; nothing else changes. The run prints the pass
counts per backend and writes them to build/upstream/results-<backend>.json.

``expected.txt`` beside this file lists the upstream tests known to pass with our client
(one node id per line, ``backend::nodeid``). The run fails if any of them fails: a
ratchet that only moves up. ``--update-expected`` rewrites the list from this run.
Runs in the venv made by scripts/setup-upstream-venv.sh (dbos 3.4.0 with its test
dependencies and this package, editable), which ``make upstream`` creates.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from pathlib import Path

DBOS_VERSION = "3.4.0"
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
CACHE = REPO / "build" / "upstream"
EXPECTED = HERE / "expected.txt"


def sdist_dir() -> Path:
    """The extracted source distribution, downloaded once."""
    root = CACHE / f"dbos-{DBOS_VERSION}"
    if (root / "tests" / "conftest.py").exists():
        return root
    CACHE.mkdir(parents=True, exist_ok=True)
    # .venv-upstream has no pip of its own (setup-upstream-venv.sh installs with the dev venv's).
    dev_python = REPO / ".venv" / "bin" / "python"
    pip_python = str(dev_python) if dev_python.exists() else sys.executable
    subprocess.run(
        [pip_python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--no-binary", ":all:", f"dbos=={DBOS_VERSION}", "-d", str(CACHE)],
        check=True,
    )  # fmt: skip
    with tarfile.open(CACHE / f"dbos-{DBOS_VERSION}.tar.gz") as archive:
        archive.extractall(CACHE, filter="data")
    return root


def run_backend(backend: str, source: Path, extra: list[str], modules: bool = True) -> dict[str, str]:
    """Run the client tests on one kind of system database; node id -> outcome."""
    report = CACHE / f"junit-{backend}.xml"
    # This checkout's package first, ahead of the venv's editable install (which may be another worktree's).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join((str(HERE), str(REPO))), PGPASSWORD=os.environ.get("PGPASSWORD", "dbos"))
    if backend == "sqlite":
        env["DBOS_DATABASE"] = "SQLITE"
    else:
        env.pop("DBOS_DATABASE", None)
    # Only the modules that make a client: the others need services this machine lacks (Kafka).
    selected = (
        sorted(str(p.relative_to(source)) for p in (source / "tests").glob("test_*.py") if "DBOSClient" in p.read_text())
        if modules
        else []
    )
    cmd = [
        sys.executable, "-m", "pytest", "-p", "swap_client", "-p", "no:cacheprovider", *selected,
        "-o", "addopts=", "-o", "log_cli=false", "-q", "--timeout", "120", f"--junitxml={report}", *extra,
    ]  # fmt: skip
    subprocess.run(cmd, cwd=source, env=env, check=False)
    return outcomes(report)


def outcomes(report: Path) -> dict[str, str]:
    results: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "").replace(".", "/")
        nodeid = f"{classname}.py::{case.get('name')}"
        kinds = {child.tag for child in case}
        results[nodeid] = (
            "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgres", "sqlite", "both"), default="both")
    parser.add_argument("--update-expected", action="store_true", help="rewrite expected.txt from this run")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (e.g. -k EXPR)")
    args = parser.parse_args()
    source = sdist_dir()
    backends = ("postgres", "sqlite") if args.backend == "both" else (args.backend,)
    expected = {line.strip() for line in EXPECTED.read_text().splitlines() if line.strip() and not line.startswith("#")}
    passed: set[str] = set()
    regressions: list[str] = []
    summary = {}
    for backend in backends:
        results = run_backend(backend, source, args.pytest_args)
        counts = {k: sum(1 for v in results.values() if v == k) for k in ("passed", "failed", "skipped")}
        summary[backend] = counts
        (CACHE / f"results-{backend}.json").write_text(json.dumps({"counts": counts, "results": results}, indent=1))
        passed |= {f"{backend}::{n}" for n, outcome in results.items() if outcome == "passed"}
        ran = {f"{backend}::{n}" for n in results}
        suspects = sorted((expected & ran) - passed)
        if suspects:
            # DBOS's own suite has timing-sensitive tests: a regression must fail twice.
            print(f"re-running {len(suspects)} expected test(s) that failed on {backend}")
            again = run_backend(backend, source, [n.split("::", 1)[1] for n in suspects], modules=False)
            passed |= {f"{backend}::{n}" for n, outcome in again.items() if outcome == "passed"}
            regressions += [n for n in suspects if n not in passed]
    for backend, counts in summary.items():
        ran = counts["passed"] + counts["failed"]
        print(f"upstream dbos {DBOS_VERSION} client tests on {backend}: {counts['passed']} of {ran} passed"
              f" ({counts['skipped']} skipped)")  # fmt: skip
    if args.update_expected:
        EXPECTED.write_text(
            "# Upstream client tests known to pass with dbos_client (written by run.py --update-expected).\n"
            + "".join(f"{n}\n" for n in sorted(passed))
        )
    if regressions:
        print(f"{len(regressions)} upstream test(s) that passed before now fail:", *regressions, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
