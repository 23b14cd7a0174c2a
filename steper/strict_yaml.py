"""YAML and JSON read so that a mistake in them cannot pass silently.

Plain `yaml.safe_load` keeps the last of two equal keys (a pasted block overrides a setting without
a word), expands aliases without bound (a few lines of `&a [*b, *b, ...]` become a billion values
that every later walk of the config, and every error message printing it, has to go through), and
reads an empty file as None. Here each of these is one InputError naming the file and the line:
a repeated key, a document whose aliases expand past `MAX_VALUES` values or refer to themselves,
nesting deeper than the parser can follow, an empty document. Aliases themselves stay allowed
(config/rehearsal.yaml shares one tiny model spec between seven names).
"""

from __future__ import annotations

import json
import os
from typing import Any

import yaml

from steper.io import InputError, open_text

# A config or settings document expanded (aliases followed) holds at most this many values; the
# largest tier (config/config.yaml) holds under a thousand.
MAX_VALUES = 100_000
MERGE_TAG = "tag:yaml.org,2002:merge"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root: yaml.Node, source: str, limit: int = MAX_VALUES) -> int:
    """How many values `root` holds with every alias expanded; past `limit`, or an alias inside
    its own anchor, is an InputError. Shared nodes are sized once, so this never expands anything."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            if sizes[key] > limit:
                raise InputError(
                    source, f"expands to more than {limit} values (YAML aliases repeated inside aliases?); refusing to read it",
                    line=node.start_mark.line + 1,
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise InputError(source, "holds an alias inside its own anchor (a value that contains itself)", line=node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


class _StrictLoader(yaml.SafeLoader):
    source = "YAML"

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        expanded_size(node, self.source)
        return node

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the base constructor names it
                    continue
                line = key_node.start_mark.line + 1
                if first is not None:
                    raise InputError(
                        self.source, f"is given twice in one mapping (first on line {first}); YAML would silently keep the last",
                        line=line, field=str(key),
                    )
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _yaml_problem(error: yaml.YAMLError) -> tuple[str, int | None]:
    """One line and the line number of a parser error (PyYAML's own message spans several lines)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return " ".join(str(problem).split())[:200], (mark.line + 1 if mark is not None else None)


def _no_duplicate_pairs(source: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key, value in pairs:
            if key in data:
                raise InputError(source, "is given twice in one JSON object; JSON readers would silently keep the last", field=key)
            data[key] = value
        return data

    return hook


def loads_json(text: str, source: str) -> Any:
    """JSON text; a repeated key or nesting too deep to parse is an InputError naming `source`."""
    try:
        return _parse_json(text, source)
    except json.JSONDecodeError as error:
        raise InputError(source, f"malformed JSON ({error.msg}, column {error.colno})", line=error.lineno) from None


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_pairs(source))
    except RecursionError:
        raise InputError(source, "is nested too deeply to read") from None


def loads_yaml(text: str, source: str) -> Any:
    """YAML (or JSON) text read strictly: see the module docstring. An empty document is an error."""
    loader = _StrictLoader(text)
    loader.source = source
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as error:
        problem, line = _yaml_problem(error)
        raise InputError(source, f"malformed YAML ({problem})", line=line) from None
    except RecursionError:
        raise InputError(source, "is nested too deeply to read") from None
    finally:
        loader.dispose()
    if data is None:
        raise InputError(source, "is empty (no settings in it)")
    return data


def load_file(path: str | os.PathLike) -> Any:
    """A JSON or YAML file read strictly; a missing, non-UTF-8 or empty file is an InputError naming it.

    JSON is tried first, as Snakemake reads config files, so a JSON file's repeated keys are caught
    too; text that is not JSON (YAML flow style `{a: 1}` included) is read as YAML."""
    with open_text(path) as handle:
        text = handle.read()
    source = os.fspath(path)
    if not text.strip():
        raise InputError(source, "is empty (no settings in it)")
    try:
        return _parse_json(text, source)
    except json.JSONDecodeError:
        return loads_yaml(text, source)
