"""Mutation score of the modules that decide the paper's numbers: how many planted bugs the tests catch.

For each group of `benchmarks/mutation.toml`, a clean copy of the checkout at `--rev` (a commit, or
`worktree` for the files as they are now, untracked ones included) is made under `--workdir`, mutmut
3 is configured in that copy's pyproject.toml to mutate the group's modules and run the group's fast
unit tests, and `mutmut run` decides every mutant. The copy keeps the measurement away from files
others edit meanwhile and from the checkout's own pyproject.toml.

Score = (killed + timed out) / (mutants - skipped - equivalent), per group; `equivalent` in the config
lists the mutants that compute the same result as the original (no test can kill them), with why.
Every other mutant not killed is listed in the output JSON as a survivor with its diff.

    nice -n 15 python benchmarks/mutation.py --output benchmarks/mutation.json [--group metrics ...]

It runs at nice 15 whatever the caller did (the machine is shared), one mutant at a time unless
`--max-children` says otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "mutation.toml"
KILLED = ("killed", "timeout")
PYTEST_ARGS = ["-q", "-p", "no:cacheprovider", "-m", "not slow and not slurm"]
RESULT = re.compile(r"^\s+(\S+): (.+)$")


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def snapshot(rev: str, dest: Path) -> str:
    """Copy the checkout at `rev` (or its working tree) to `dest`; return what was copied."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if rev == "worktree":
        for name in git("ls-files", "-co", "--exclude-standard", "-z").split("\0"):
            source = ROOT / name
            if name and source.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest / name)
        return f"worktree of {git('rev-parse', '--short', 'HEAD').strip()}"
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return git("rev-parse", "--short", rev).strip()


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def configure(dest: Path, group: dict, patterns: list[str]) -> list[str]:
    """Append the group's [tool.mutmut] to the copy's pyproject.toml; return the test files it runs."""
    tests = [test for test in group["tests"] if (dest / test).exists()]
    if not tests:
        raise SystemExit(f"none of {group['tests']} exists in the copy")
    pyproject = (dest / "pyproject.toml").read_text()
    if "[tool.mutmut]" in pyproject:
        raise SystemExit("pyproject.toml already has [tool.mutmut]; this script writes its own per group")
    others = sorted(path.name for path in dest.iterdir() if path.name not in ("steper", "tests", "mutants"))
    section = "\n".join([
        "",
        "[tool.mutmut]",
        'source_paths = ["steper"]',
        f"only_mutate = {toml_list(group['modules'])}",
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}",
        f"pytest_add_cli_args = {toml_list(PYTEST_ARGS + [arg for test in group.get('deselect', []) for arg in ('--deselect', test)])}",
        f"also_copy = {toml_list(others)}",
        f"do_not_mutate_patterns = {toml_list(patterns)}",
        "",
    ])
    (dest / "pyproject.toml").write_text(pyproject + section)
    return tests


def mutmut(dest: Path, *args: str) -> subprocess.CompletedProcess:
    """mutmut with progress bars off: a mutant that breaks a bar's display raises inside tqdm's
    refresh, which holds tqdm's process-shared lock and never releases it, so every later test
    process that draws a bar hangs until its time limit (counted as a timeout, i.e. killed). Torch
    on one thread: mutmut forks a child per mutant from a parent whose torch thread pool is already
    running, and such a child blocks forever on the pool's lock."""
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=dest, capture_output=True, text=True, env=env)


def results(dest: Path) -> dict[str, str]:
    """mutmut's status of every mutant."""
    statuses = {}
    for line in mutmut(dest, "results", "--all", "true").stdout.splitlines():
        match = RESULT.match(line)
        if match:
            statuses[match.group(1)] = match.group(2)
    return statuses


DIFFS = """
import json, sys
import mutmut.__main__ as mutmut
names = json.load(sys.stdin)
print(json.dumps([mutmut.get_diff_for_mutant(name, path=mutmut.find_mutant(name).path) for name in names]))
"""


def diffs(dest: Path, names: list[str]) -> list[str]:
    """Each mutant's diff, read in one process (`mutmut show` takes a second per mutant)."""
    if not names:
        return []
    shown = subprocess.run([sys.executable, "-c", DIFFS], cwd=dest, input=json.dumps(names), capture_output=True, text=True, check=True)
    return json.loads(shown.stdout)


def run_group(name: str, group: dict, config: dict, rev: str, workdir: Path, max_children: int) -> dict:
    equivalent = config.get("equivalent", {})
    dest = workdir / name
    copied = snapshot(rev, dest)
    tests = configure(dest, group, config.get("do_not_mutate_patterns", []))
    started = time.perf_counter()
    run = mutmut(dest, "run", "--max-children", str(max_children))
    if run.returncode != 0:
        raise SystemExit(f"mutmut run failed in {dest}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    statuses = results(dest)
    # A test process that hangs on a lock a killed one left held (see `mutmut`) would pass for a
    # kill: each timeout is rerun once, by a fresh mutmut with fresh locks.
    timeouts = sorted(m for m, status in statuses.items() if status == "timeout")
    for start in range(0, len(timeouts), 50):
        mutmut(dest, "run", "--max-children", str(max_children), *timeouts[start : start + 50])
    if timeouts:
        statuses = results(dest)
    seconds = time.perf_counter() - started
    mine = {mutant: reason for mutant, reason in equivalent.items() if mutant in statuses}
    killed_equivalent = sorted(m for m in mine if statuses[m] in KILLED)
    counted = {m: s for m, s in statuses.items() if m not in mine and s != "skipped"}
    killed = sum(status in KILLED for status in counted.values())
    survivors = {m: s for m, s in counted.items() if s not in KILLED}
    return {
        "rev": copied,
        "modules": group["modules"],
        "tests": tests,
        "mutants": len(statuses),
        "equivalent": len(mine),
        "skipped": sum(status == "skipped" for status in statuses.values()),
        "counted": len(counted),
        "killed": killed,
        "timeouts": sum(status == "timeout" for status in counted.values()),
        "timeouts_rerun": len(timeouts),
        "score": round(100 * killed / len(counted), 1) if counted else None,
        "survivors": {m: {"status": s, "diff": diff} for (m, s), diff in zip(sorted(survivors.items()), diffs(dest, sorted(survivors)))},
        "equivalent_but_killed": killed_equivalent,
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rev", default="HEAD", help="commit to measure, or 'worktree'")
    parser.add_argument("--group", action="append", help="group(s) of benchmarks/mutation.toml (default: all)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/steper-mutation"))
    parser.add_argument("--max-children", type=int, default=1)
    parser.add_argument("--output", type=Path, help="JSON with every group's counts and survivors (merged into an existing file)")
    args = parser.parse_args()
    os.nice(max(0, 15 - os.nice(0)))
    config = tomllib.loads(CONFIG.read_text())
    groups = args.group or list(config["groups"])
    unknown = [name for name in groups if name not in config["groups"]]
    if unknown:
        raise SystemExit(f"unknown group(s) {unknown} (known: {', '.join(config['groups'])})")
    results = json.loads(args.output.read_text()) if args.output and args.output.exists() else {"groups": {}}
    for name in groups:
        result = run_group(name, config["groups"][name], config, args.rev, args.workdir, args.max_children)
        result["date"] = datetime.date.today().isoformat()
        result["command"] = " ".join(["nice -n 15 python benchmarks/mutation.py", "--rev", args.rev, "--group", name])
        results["groups"][name] = result
        print(f"{name} ({result['rev']}): {result['killed']}/{result['counted']} killed = {result['score']}% "
              f"({result['mutants']} mutants, {result['equivalent']} equivalent, {result['skipped']} skipped, "
              f"{result['timeouts']} timeouts after rerunning {result['timeouts_rerun']}, {result['seconds']} s)", flush=True)
        for mutant, survivor in result["survivors"].items():
            print(f"  {survivor['status']}: {mutant}")
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
