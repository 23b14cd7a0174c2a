"""Multi-hop questions over the toy world, each with its gold chain of hops.

A hop is one fact lookup: a sub-question, its answer, the sentence that states it (used for the
CoT of demonstrations) and the passage and sentence it comes from (supporting facts, support
indices). Later hops may name an earlier answer; `after` records which one, so MuSiQue-style
"#1" references can be written.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from steper.data.toy_world import Country, Person, Town, Work, World, statement


@dataclass
class Hop:
    template: str  # sub-question with "{}" for the subject
    subject: str
    answer: str
    statement: str
    title: str  # gold passage
    fact: str  # key into the passage's facts
    relation: str  # Wikidata-style relation for 2Wiki evidences
    subject_id: str
    answer_id: str
    after: int | None = None  # index of the hop whose answer is this hop's subject

    @property
    def question(self) -> str:
        return self.template.format(self.subject)

    def question_with_refs(self) -> str:
        return self.template.format(self.subject if self.after is None else f"#{self.after + 1}")


@dataclass
class Question:
    question: str
    answer: str
    kind: str  # generic shape: bridge, comparison, inference, bridge_comparison, 3hop, 4hop
    hops: list[Hop]
    answer_id: str = ""
    answer_aliases: list[str] = field(default_factory=list)
    # comparisons: the sentence that turns the looked-up facts into the answer (a CoT step of its own)
    conclusion: str | None = None

    @property
    def gold_titles(self) -> list[str]:
        return list(dict.fromkeys(hop.title for hop in self.hops))


def creator_hop(work: Work, after: int | None = None) -> Hop:
    return Hop(
        template=f"Who is the {work.role} of {{}}?",
        subject=work.title,
        answer=work.creator.name,
        statement=statement(work, "creator"),
        title=work.title,
        fact="creator",
        relation=work.relation,
        subject_id=work.id,
        answer_id=work.creator.id,
        after=after,
    )


def birthplace_hop(person: Person, after: int | None = None) -> Hop:
    return Hop(
        template="Where was {} born?",
        subject=person.name,
        answer=person.birthplace.name,
        statement=statement(person, "birthplace"),
        title=person.name,
        fact="birthplace",
        relation="place of birth",
        subject_id=person.id,
        answer_id=person.birthplace.id,
        after=after,
    )


def birth_year_hop(person: Person, after: int | None = None) -> Hop:
    year = str(person.birth_year)
    return Hop(
        template="When was {} born?",
        subject=person.name,
        answer=year,
        statement=statement(person, "birth_year"),
        title=person.name,
        fact="birth_year",
        relation="date of birth",
        subject_id=person.id,
        answer_id=year,
        after=after,
    )


def nationality_hop(person: Person, after: int | None = None) -> Hop:
    demonym = person.nationality.demonym
    return Hop(
        template="What is the nationality of {}?",
        subject=person.name,
        answer=demonym,
        statement=statement(person, "nationality"),
        title=person.name,
        fact="nationality",
        relation="country of citizenship",
        subject_id=person.id,
        answer_id=person.nationality.id,
        after=after,
    )


def father_hop(person: Person, after: int | None = None) -> Hop:
    father = person.father
    return Hop(
        template="Who is the father of {}?",
        subject=person.name,
        answer=father.name,
        statement=statement(person, "father"),
        title=person.name,
        fact="father",
        relation="father",
        subject_id=person.id,
        answer_id=father.id,
        after=after,
    )


def country_hop(town: Town, after: int | None = None) -> Hop:
    return Hop(
        template="Which country is {} in?",
        subject=town.name,
        answer=town.country.name,
        statement=statement(town, "country"),
        title=town.name,
        fact="country",
        relation="country",
        subject_id=town.id,
        answer_id=town.country.id,
        after=after,
    )


def capital_hop(country: Country, after: int | None = None) -> Hop:
    capital = country.capital
    return Hop(
        template="What is the capital of {}?",
        subject=country.name,
        answer=capital.name,
        statement=statement(country, "capital"),
        title=country.name,
        fact="capital",
        relation="capital",
        subject_id=country.id,
        answer_id=capital.id,
        after=after,
    )


def year_hop(work: Work, after: int | None = None) -> Hop:
    return Hop(
        template=f"When was {{}} {work.released}?",
        subject=work.title,
        answer=str(work.year),
        statement=statement(work, "year"),
        title=work.title,
        fact="year",
        relation="publication date",
        subject_id=work.id,
        answer_id=str(work.year),
        after=after,
    )


def _of(work: Work) -> str:
    return f"the {work.role} of the {work.kind} {work.title}"


def _aliases(person: Person) -> list[str]:
    return [person.alias] if person.alias else []


# --- question builders: each returns a Question or None when the entity does not fit ---------------


def where_born(work: Work) -> Question:
    c = work.creator
    return Question(
        f"Where was {_of(work)} born?",
        c.birthplace.name,
        "bridge",
        [creator_hop(work), birthplace_hop(c, 0)],
        c.birthplace.id,
    )


def year_born(work: Work) -> Question:
    c = work.creator
    return Question(
        f"In what year was {_of(work)} born?", str(c.birth_year), "bridge", [creator_hop(work), birth_year_hop(c, 0)]
    )


def nationality_of(work: Work) -> Question:
    c = work.creator
    return Question(
        f"What nationality is {_of(work)}?",
        c.nationality.demonym,
        "bridge",
        [creator_hop(work), nationality_hop(c, 0)],
        c.nationality.id,
    )


def birth_country(person: Person) -> Question:
    town = person.birthplace
    return Question(
        f"In which country was {person.name} born?",
        town.country.name,
        "bridge",
        [birthplace_hop(person), country_hop(town, 0)],
        town.country.id,
    )


def father_of_creator(work: Work) -> Question | None:
    c = work.creator
    if c.father is None:
        return None
    return Question(
        f"Who is the father of {_of(work)}?",
        c.father.name,
        "bridge",
        [creator_hop(work), father_hop(c, 0)],
        c.father.id,
        _aliases(c.father),
    )


def grandfather(person: Person) -> Question | None:
    if person.father is None or person.father.father is None:
        return None
    g = person.father.father
    return Question(
        f"Who is the paternal grandfather of {person.name}?",
        g.name,
        "inference",
        [father_hop(person), father_hop(person.father, 0)],
        g.id,
        _aliases(g),
    )


def born_first(a: Person, b: Person) -> Question | None:
    if a.birth_year == b.birth_year:
        return None
    first = a if a.birth_year < b.birth_year else b
    return Question(
        f"Who was born first, {a.name} or {b.name}?",
        first.name,
        "comparison",
        [birth_year_hop(a), birth_year_hop(b)],
        first.id,
        _aliases(first),
        f"{first.name} was born first.",
    )


def same_nationality(a: Person, b: Person) -> Question:
    answer = "yes" if a.nationality is b.nationality else "no"
    return Question(
        f"Are {a.name} and {b.name} of the same nationality?",
        answer,
        "comparison",
        [nationality_hop(a), nationality_hop(b)],
        conclusion=f"{a.name} and {b.name} are {'' if answer == 'yes' else 'not '}of the same nationality.",
    )


def came_out_first(a: Work, b: Work) -> Question | None:
    if a.kind != b.kind or a.year == b.year:
        return None
    first = a if a.year < b.year else b
    return Question(
        f"Which {a.kind} came out first, {a.title} or {b.title}?",
        first.title,
        "comparison",
        [year_hop(a), year_hop(b)],
        first.id,
        conclusion=f"{first.title} came out first.",
    )


def creator_born_later(a: Work, b: Work) -> Question | None:
    if a.kind != b.kind or a.creator is b.creator or a.creator.birth_year == b.creator.birth_year:
        return None
    later = a if a.creator.birth_year > b.creator.birth_year else b
    return Question(
        f"Which {a.kind} has the {a.role} born later, {a.title} or {b.title}?",
        later.title,
        "bridge_comparison",
        [creator_hop(a), creator_hop(b), birth_year_hop(a.creator, 0), birth_year_hop(b.creator, 1)],
        later.id,
        conclusion=f"{later.creator.name}, the {later.role} of {later.title}, was born later.",
    )


def country_of_birthplace(work: Work) -> Question:
    c = work.creator
    return Question(
        f"In which country was {_of(work)} born?",
        c.birthplace.country.name,
        "3hop",
        [creator_hop(work), birthplace_hop(c, 0), country_hop(c.birthplace, 1)],
        c.birthplace.country.id,
    )


def father_birthplace(work: Work) -> Question | None:
    c = work.creator
    if c.father is None:
        return None
    f = c.father
    return Question(
        f"Where was the father of {_of(work)} born?",
        f.birthplace.name,
        "3hop",
        [creator_hop(work), father_hop(c, 0), birthplace_hop(f, 1)],
        f.birthplace.id,
    )


def capital_of_birth_country(work: Work) -> Question | None:
    c = work.creator
    country = c.birthplace.country
    if country.capital is c.birthplace:
        return None
    return Question(
        f"What is the capital of the country where {_of(work)} was born?",
        country.capital.name,
        "4hop",
        [creator_hop(work), birthplace_hop(c, 0), country_hop(c.birthplace, 1), capital_hop(country, 2)],
        country.capital.id,
    )


def father_birth_country(work: Work) -> Question | None:
    c = work.creator
    if c.father is None:
        return None
    f = c.father
    return Question(
        f"In which country was the father of {_of(work)} born?",
        f.birthplace.country.name,
        "4hop",
        [creator_hop(work), father_hop(c, 0), birthplace_hop(f, 1), country_hop(f.birthplace, 2)],
        f.birthplace.country.id,
    )


Builder = Callable[..., Question | None]
# builder -> what it takes: "work", "person", "people" (pair), "works" (pair)
ARGUMENTS: dict[Builder, str] = {
    where_born: "work",
    year_born: "work",
    nationality_of: "work",
    birth_country: "person",
    father_of_creator: "work",
    grandfather: "person",
    born_first: "people",
    same_nationality: "people",
    came_out_first: "works",
    creator_born_later: "works",
    country_of_birthplace: "work",
    father_birthplace: "work",
    capital_of_birth_country: "work",
    father_birth_country: "work",
}


def candidates(world: World, builder: Builder, rng: random.Random, pairs: int) -> list[Question]:
    """Every question `builder` can ask in `world` (for pair builders, `pairs` random pairs), shuffled."""
    kind = ARGUMENTS[builder]
    if kind == "work":
        found = [builder(w) for w in world.works]
    elif kind == "person":
        found = [builder(p) for p in world.people]
    else:
        items = world.people if kind == "people" else world.works
        found = [builder(*_pair(rng, items, _alike(builder, i))) for i in range(pairs)]
    found = [q for q in found if q is not None]
    rng.shuffle(found)
    return found


def _alike(builder: Builder, index: int) -> Callable:
    """What the `index`-th pair of a comparison shares: same occupation or kind, except that
    same-nationality pairs alternate between "yes" and "no", so a prior-only answer wins nothing."""
    if builder is same_nationality:
        return lambda a, b: (a.nationality is b.nationality) == (index % 2 == 0)
    if ARGUMENTS[builder] == "people":
        return lambda a, b: a.occupation == b.occupation
    return lambda a, b: a.kind == b.kind


def _pair(rng: random.Random, items: list, alike: Callable) -> tuple:
    """Two different items, preferably alike (same occupation / kind), as comparison questions pair them."""
    a = rng.choice(items)
    matching = [x for x in items if x is not a and alike(a, x)]
    b = rng.choice(matching or [x for x in items if x is not a])
    return a, b


def distractors(world: World, question: Question, rng: random.Random, n: int) -> list[str]:
    """Titles of passages that look relevant: near-duplicate titles, other works of the same creator,
    relatives, towns of the same country first; then other entities of the same kind."""
    gold = set(question.gold_titles)
    close: list[str] = []
    alike: list[str] = []
    for title in question.gold_titles:
        entity = world.entities[title]
        if isinstance(entity, Work):
            close += [
                w.title
                for w in world.works
                if w is not entity and (set(w.words) & set(entity.words) or w.creator is entity.creator)
            ]
            alike += [w.title for w in world.works if w.kind == entity.kind]
        elif isinstance(entity, Person):
            close += [
                p.name
                for p in world.people
                if p is not entity and (p.surname == entity.surname or p.birthplace is entity.birthplace)
            ]
            alike += [p.name for p in world.people if p.occupation == entity.occupation]
        elif isinstance(entity, Town):
            close += [t.name for t in world.towns if t.country is entity.country]
            alike += [t.name for t in world.towns]
        else:
            alike += [c.name for c in world.countries]
    chosen: list[str] = []
    for group in (close, alike):
        group = [t for t in dict.fromkeys(group) if t not in gold and t not in chosen]
        rng.shuffle(group)
        chosen += group[: n - len(chosen)]
    return chosen
