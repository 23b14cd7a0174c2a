"""The conda environments (workflow/envs/*.yaml, environment.yml) agree with pyproject.toml.

`snakemake --use-conda` builds the rules' environments from these files, and a cluster user builds
the GPU one; a pin here that pyproject.toml forbids, an extra that does not exist, or a Python
that `requires-python` excludes would only show up as a failed job on the cluster.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
ENV_FILES = sorted((ROOT / "workflow" / "envs").glob("*.yaml")) + [ROOT / "environment.yml"]
# What the GPU rules import: each pinned exactly, so a cluster install is the tested one.
GPU_PINNED = {"vllm", "torch", "transformers", "deepspeed"}


def requirements(names: list[str]) -> dict[str, list[Requirement]]:
    out: dict[str, list[Requirement]] = {}
    for text in names:
        req = Requirement(text)
        out.setdefault(canonicalize_name(req.name), []).append(req)
    return out


CORE = requirements(PYPROJECT["dependencies"])
EXTRAS = {name: requirements(deps) for name, deps in PYPROJECT["optional-dependencies"].items()}


def env_spec(path: Path) -> tuple[str, list[str]]:
    """(the conda python version, the pip lines) of an environment file."""
    env = yaml.safe_load(path.read_text())
    python, pip = None, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip", []))
        elif dep.startswith("python="):
            python = dep.split("=", 1)[1]
    assert python, f"{path}: no python=X.Y dependency"
    return python, pip


def editable_extras(path: Path, pip: list[str]) -> list[str]:
    """The extras of the `--editable <repo>[extras]` line, checking that it points at this repository."""
    lines = [line for line in pip if line.startswith("--editable")]
    assert len(lines) == 1, f"{path}: one --editable line expected, got {lines}"
    target, extras = re.fullmatch(r"--editable\s+([^\[\]]+)(?:\[([\w,]+)\])?", lines[0].strip()).groups()
    base = ROOT if path.name == "environment.yml" else path.parent
    assert (base / target).resolve() == ROOT, f"{path}: --editable {target} is not the repository"
    return extras.split(",") if extras else []


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_environment_matches_pyproject(path):
    python, pip = env_spec(path)
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(f"{python}.0"), f"{path}: python {python}"
    extras = editable_extras(path, pip)
    for extra in extras:
        assert extra in EXTRAS, f"{path}: extra [{extra}] is not in pyproject.toml"
    allowed = dict(CORE)
    for extra in extras:
        for name, reqs in EXTRAS[extra].items():
            allowed[name] = allowed.get(name, []) + reqs
    for line in pip:
        if line.startswith("-c "):
            assert (path.parent / line[3:].split("#")[0].strip()).is_file(), f"{path}: {line}: no such constraints file"
        if line.startswith("-"):
            continue
        pin = Requirement(line)
        versions = [spec.version for spec in pin.specifier if spec.operator == "=="]
        for version in versions:
            for req in allowed.get(canonicalize_name(pin.name), []):
                assert req.specifier.contains(version, prereleases=True), f"{path}: {line} conflicts with {req}"


def test_rule_environments_exist_and_gpu_rules_get_the_gpu_extra():
    # ENV_CPU / ENV_GPU: paths relative to workflow/rules (a rule's `conda:` is read from its file's
    # directory), defined in the rule files or in the Python the Snakefile loads
    sources = [*(ROOT / "workflow" / "rules").glob("*.smk"), *(ROOT / "steper").rglob("*.py")]
    envs = dict(match for path in sources for match in re.findall(r'^(ENV_\w+) = "([^"]+)"', path.read_text(), flags=re.M))
    assert set(envs) == {"ENV_CPU", "ENV_GPU"}
    rules_dir = ROOT / "workflow" / "rules"
    for relative in envs.values():
        assert (rules_dir / relative).resolve().is_file(), relative
    gpu_path = (rules_dir / envs["ENV_GPU"]).resolve()
    cpu_path = (rules_dir / envs["ENV_CPU"]).resolve()
    assert "gpu" in editable_extras(gpu_path, env_spec(gpu_path)[1])
    assert "gpu" not in editable_extras(cpu_path, env_spec(cpu_path)[1])


def test_gpu_extra_is_pinned_inside_the_core_ranges():
    gpu = EXTRAS["gpu"]
    for name in GPU_PINNED:
        (req,) = gpu[name]
        (spec,) = req.specifier
        assert spec.operator == "==", f"gpu extra: {req} is not an exact pin"
        for core in CORE.get(name, []):
            assert core.specifier.contains(spec.version), f"gpu extra: {req} is outside the core's {core}"


def test_gpu_constraints_pin_every_dependency_inside_pyproject():
    lines = (ROOT / "cluster" / "gpu-constraints.txt").read_text().splitlines()
    pins = {canonicalize_name(req.name): req for req in (Requirement(line) for line in lines if line and not line.startswith("#"))}
    for group in (CORE, EXTRAS["gpu"], EXTRAS["cluster"]):
        for name, reqs in group.items():
            assert name in pins, f"cluster/gpu-constraints.txt has no pin for {name}"
            (spec,) = pins[name].specifier
            for req in reqs:
                assert req.specifier.contains(spec.version, prereleases=True), f"{pins[name]} is outside pyproject's {req}"


def test_the_preflight_holds_a_node_to_the_cuda_of_the_constraints():
    """The CUDA runtime the constraints resolve (the wheels' own) is the one whose driver the preflight
    asks for: a regenerated constraints file on another CUDA must move steper/preflight/stack.py too."""
    from steper.preflight.stack import MIN_CUDA, pinned_versions

    lines = (ROOT / "cluster" / "gpu-constraints.txt").read_text().splitlines()
    pins = {canonicalize_name(req.name): str(next(iter(req.specifier)).version) for req in (Requirement(line) for line in lines if line and not line.startswith("#"))}
    assert ".".join(pins["nvidia-cuda-runtime"].split(".")[:2]) == MIN_CUDA
    assert pins["torch"] == pinned_versions()["torch"] and pins["vllm"] == pinned_versions()["vllm"]
