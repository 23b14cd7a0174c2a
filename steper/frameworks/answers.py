"""Answer extraction rules of the two frameworks.

IRCoT reads the answer with the regex `.* answer is:? (.*)\\.?` and drops the final full stop;
Self-Ask reads it after "So the final answer is:". Both return None when the chain never states
an answer, so the caller can tell a missing answer from an empty one.
"""

from __future__ import annotations

import re

_IRCOT = re.compile(r".* answer is:? (.*)\.?")
_SELFASK = re.compile(r"So the final answer is:\s*(.*)")


def _clean(answer: str) -> str:
    answer = answer.strip()
    return answer[:-1].strip() if answer.endswith(".") else answer


def ircot_answer(text: str) -> str | None:
    """The answer stated in an IRCoT chain (its last "answer is" line), or None."""
    found = None
    for line in text.splitlines():
        match = _IRCOT.match(line)
        if match:
            found = _clean(match.group(1))
    return found


def selfask_answer(text: str) -> str | None:
    """The answer after the last "So the final answer is:", or None."""
    found = None
    for line in text.splitlines():
        match = _SELFASK.search(line)
        if match:
            found = _clean(match.group(1))
    return found
