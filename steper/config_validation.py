"""The one validator of the config schema: the workflow's config and every stage's `--settings`.

JSON Schema as Python's jsonschema applies it lets through what steper must refuse: NaN and
infinity pass every `minimum`/`maximum` (they compare False), a float such as 4.0 is an "integer",
and `pattern` is searched with Python's `re`, whose `$` also matches before a final newline, so
`run: "smoke\\n"` is a valid name. Here a number must be finite, an integer must be an int, and a
pattern must match the whole string (as the schema's `^...$` means in JSON Schema's own regex
dialect). Messages are one short line per problem, naming the key; a value is shown cut to a few
dozen characters, so a huge value cannot make a huge message.
"""

from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from steper.io import InputError
from steper.strict_yaml import load_file

# The config schema is the one place a default lives; the package ships it (a link to
# workflow/schemas/config.schema.yaml in a checkout, a copy in a wheel).
SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")
MAX_PROBLEMS = 20
SHOWN_CHARS = 60


@functools.cache
def config_schema() -> dict[str, Any]:
    return load_file(SCHEMA_PATH)


class ConfigError(ValueError):
    """The config breaks the schema; the message lists each problem as `key: what is wrong`."""


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}...({len(text)} characters)"


def _finite_number(checker: Any, instance: Any) -> bool:
    return isinstance(instance, (int, float)) and not isinstance(instance, bool) and math.isfinite(instance)


def _integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def resolve(node: dict[str, Any], until_default: bool = False) -> dict[str, Any]:
    """A schema node with its `$ref` followed (to the first node with a default, if asked)."""
    while "$ref" in node and not (until_default and "default" in node):
        target: Any = config_schema()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _full_match(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not re.fullmatch(pattern, instance):
        yield ValidationError(f"{short(instance)} does not match {pattern}")


def _make_validator_class(fill_defaults: bool) -> type:
    base = Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many({"number": _finite_number, "integer": _integer})
    keywords: dict[str, Any] = {"pattern": _full_match}
    if fill_defaults:
        check_properties = base.VALIDATORS["properties"]

        def properties(validator: Any, props: dict[str, Any], instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
            if validator.is_type(instance, "object"):
                for name, subschema in props.items():
                    node = resolve(subschema, until_default=True)
                    if name not in instance and "default" in node:
                        instance[name] = copy.deepcopy(node["default"])
            yield from check_properties(validator, props, instance, schema)

        keywords["properties"] = properties
    return validators.extend(base, keywords, type_checker=checker)


_STRICT = _make_validator_class(fill_defaults=False)
_FILLING = _make_validator_class(fill_defaults=True)


def _where(error: ValidationError, prefix: str) -> str:
    where = prefix
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where or "(top level)"


def _message(error: ValidationError) -> str:
    if error.validator == "type":
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        finite = " (finite)" if "number" in types and isinstance(error.instance, float) else ""
        return f"expected {' or '.join(types)}{finite}, got {short(error.instance)}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        unknown = sorted(str(key) for key in error.instance if key not in known)
        return f"unknown key {', '.join(map(short, unknown[:3]))}" + (f" (known: {', '.join(known)})" if known else "")
    if error.validator == "enum":
        return f"{short(error.instance)} is not one of {', '.join(map(str, error.validator_value))}"
    message = " ".join(error.message.split())
    return message if len(message) <= 200 else f"{message[:200]}..."


def problems(instance: Any, schema: dict[str, Any] | None = None, where: str = "", fill_defaults: bool = False) -> list[str]:
    """Every way `instance` breaks `schema` (a node of the config schema, default the whole schema),
    as `key: what is wrong` lines; with `fill_defaults` missing keys get the schema's default first."""
    root = config_schema()
    schema = root if schema is None else {**schema, "$defs": root["$defs"]}
    validator = (_FILLING if fill_defaults else _STRICT)(schema)
    found = sorted(validator.iter_errors(instance), key=lambda error: [str(part) for part in error.absolute_path])
    return [f"{_where(error, where)}: {_message(error)}" for error in found]


def validate_config(config: dict[str, Any]) -> None:
    """Check the workflow's config against the schema and fill in its defaults; ConfigError lists
    the problems (the first `MAX_PROBLEMS` of them)."""
    found = problems(config, fill_defaults=True)
    if found:
        more = f"\n  ... and {len(found) - MAX_PROBLEMS} more" if len(found) > MAX_PROBLEMS else ""
        raise ConfigError("Invalid config:\n  " + "\n  ".join(found[:MAX_PROBLEMS]) + more)


def read_config_files(paths: list[str | Path]) -> list[dict[str, Any]]:
    """Re-read each config file strictly (steper.strict_yaml): Snakemake reads them with plain YAML,
    which keeps the last of two equal keys and expands aliases without bound. A problem is a
    ConfigError naming the file and line, raised before the merged config is validated."""
    found = []
    for path in paths:
        try:
            data = load_file(path)
        except InputError as error:
            raise ConfigError(f"Invalid config file: {error}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"Invalid config file: {path}: expected a mapping of config keys, got {type(data).__name__}")
        found.append(data)
    return found

