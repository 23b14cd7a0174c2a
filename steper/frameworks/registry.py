"""Every framework the teacher and the evaluation can run, listed once.

`FRAMEWORKS` are the names the command line accepts, `RETRIEVING` those that need an index,
`MULTI_STEP` those that take the loop settings as given (the others are one-shot baselines, see
`steper.frameworks.baselines`). The frameworks students are distilled in are `steper.names.DISTILLED`.
"""

from __future__ import annotations

from steper.frameworks.baselines import ChainOfThought, Direct, IterRetGen, Rag
from steper.frameworks.chain import BaseStrategy
from steper.frameworks.ircot import QUERY_CLEANING, IRCoT
from steper.frameworks.react import ReAct
from steper.frameworks.selfask import SelfAsk
from steper.io import InputError

STRATEGIES: dict[str, type[BaseStrategy]] = {
    cls.name: cls for cls in (IRCoT, SelfAsk, Direct, ChainOfThought, Rag, IterRetGen, ReAct)
}
FRAMEWORKS = tuple(STRATEGIES)
RETRIEVING = tuple(name for name, cls in STRATEGIES.items() if cls.retrieves)
MULTI_STEP = ("ircot", "selfask", "react")


def make_strategy(name: str, passage_words: int | None, query_cleaning: str) -> BaseStrategy:
    if name not in STRATEGIES:
        raise InputError("--framework", f"unknown framework '{name}' (known: {', '.join(FRAMEWORKS)})")
    if query_cleaning not in QUERY_CLEANING:
        raise InputError("--settings", f"unknown query cleaning (known: {', '.join(QUERY_CLEANING)})", field="query_cleaning")
    return STRATEGIES[name](passage_words=passage_words, query_cleaning=query_cleaning)
