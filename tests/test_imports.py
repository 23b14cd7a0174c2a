"""The package's import graph has no circle, between modules or between stages (steper's top-level
packages and modules), so each stage can be read with only what is below it in mind."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "steper"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """module -> the steper modules it imports, at the top or inside a function."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                candidates = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            found |= {next(c for c in candidates if c in modules)} if any(c in modules for c in candidates) else set()
        graph[name] = found - {name}
    return graph


def stage(module: str) -> str:
    return ".".join(module.split(".")[:2])


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of `graph` (a list of nodes, the first repeated at the end), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for other in sorted(graph.get(node, ())):
            if state.get(other) == 1:
                return path[path.index(other):] + [other]
            if other not in state and (found := visit(other)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_module_imports_itself_round_a_circle():
    assert circle(imports()) is None


def test_no_stage_imports_a_stage_that_imports_it():
    graph: dict[str, set[str]] = {}
    for module, targets in imports().items():
        graph.setdefault(stage(module), set()).update(stage(t) for t in targets if stage(t) != stage(module))
    assert circle(graph) is None


# The stages in the order data flows through them; the workflow's plan and the preflight sit on top.
PIPELINE = ("data", "retrieval", "models", "frameworks", "finetune", "stepwise", "train", "evaluate", "paper", "plan", "preflight")


def test_no_stage_imports_a_later_stage_and_no_shared_module_imports_a_stage():
    """A stage reads only what is below it: earlier stages and the shared modules (io, layout, settings, ...)."""
    rank = {f"steper.{name}": index for index, name in enumerate(PIPELINE)}
    back = []
    for module, targets in imports().items():
        for target in targets:
            source, dest = stage(module), stage(target)
            if source == dest or dest not in rank or source == "steper.cli":
                continue
            if source not in rank or rank[dest] > rank[source]:
                back.append(f"{module} -> {target}")
    assert back == []
    assert {stage(module) for module in imports()} >= set(rank)  # every stage named here exists
