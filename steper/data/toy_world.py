"""The toy world: invented countries, towns, people and works, and one short passage per entity.

Passages are written like Wikipedia leads with one fact per sentence and full names instead of
pronouns, and a gold chain step is the passage sentence it rests on, word for word, so that a
135M-parameter teacher follows a chain by finding and copying sentences. Each passage knows
which sentence states which fact, so supporting facts and gold chains are exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from steper.data.toy_names import OCCUPATIONS, OTHER_OCCUPATIONS, ROLES, NamePools


@dataclass(eq=False)
class Country:
    id: str
    name: str
    demonym: str
    capital: Town | None = None


@dataclass(eq=False)
class Town:
    id: str
    name: str
    country: Country
    population: int


@dataclass(eq=False)
class Person:
    id: str
    name: str
    first: str
    surname: str
    gender: str
    birth_year: int
    birthplace: Town
    nationality: Country
    occupation: str
    father: Person | None = None
    alias: str | None = None


@dataclass(eq=False)
class Work:
    id: str
    title: str
    kind: str
    year: int
    creator: Person
    words: tuple[str, ...] = ()

    @property
    def role(self) -> str:
        return ROLES[self.kind][0]

    @property
    def relation(self) -> str:
        return ROLES[self.kind][2]

    @property
    def released(self) -> str:
        return "published" if self.kind == "novel" else "released"


@dataclass
class Passage:
    """A world passage; `facts` maps a fact name to the index of the sentence stating it."""

    title: str
    sentences: list[str]
    facts: dict[str, int]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass
class World:
    countries: list[Country]
    towns: list[Town]
    people: list[Person]
    works: list[Work]
    passages: dict[str, Passage] = field(default_factory=dict)
    entities: dict[str, Country | Town | Person | Work] = field(default_factory=dict)

    def passage(self, title: str) -> Passage:
        return self.passages[title]


def _join(head: str, tail: str) -> str:
    """'Marrow' + 'wick' -> 'Marrowick' (no doubled letter at the seam)."""
    return head + (tail[1:] if head[-1].lower() == tail[0] else tail)


class _Ids:
    """Wikidata-like ids (Q-numbers), unique within a world."""

    def __init__(self, start: int):
        self.next = start

    def __call__(self) -> str:
        self.next += 1
        return f"Q{self.next}"


def build_world(
    rng: random.Random, pools: NamePools, n_entities: int, id_start: int = 100000, exclude: frozenset[str] = frozenset()
) -> World:
    """Countries, towns, people (some in three-generation families) and their works; no entity is
    named like a name in `exclude` (another world's names), and an empty `exclude` changes nothing."""
    new_id = _Ids(id_start)
    free_countries = [pair for pair in pools.countries if pair[0] not in exclude]
    n_countries = max(3, min(len(free_countries), n_entities // 35))
    n_towns = max(2 * n_countries, n_entities // 8)
    n_works = max(6, int(n_entities * 0.35))
    n_people = n_entities - n_countries - n_towns - n_works
    if n_people < 12:
        raise ValueError(f"n_entities={n_entities} is too small for a toy world (need at least about 60)")

    countries = [Country(new_id(), name, demonym) for name, demonym in rng.sample(free_countries, n_countries)]
    town_names = [name for h in pools.town_heads for t in pools.town_tails if (name := _join(h, t)) not in exclude]
    towns = [
        Town(new_id(), name, countries[i % n_countries], rng.randrange(20, 900) * 100)
        for i, name in enumerate(rng.sample(town_names, n_towns))
    ]
    for country in countries:
        country.capital = next(t for t in towns if t.country is country)

    people = _people(rng, pools, towns, countries, n_people, new_id, exclude)
    works = _works(rng, pools, people, n_works, new_id, exclude)
    world = World(countries, towns, people, works)
    for entity in [*countries, *towns, *people, *works]:
        passage = describe(entity)
        world.passages[passage.title] = passage
        world.entities[passage.title] = entity
    return world


def _people(rng, pools, towns, countries, n_people, new_id, exclude) -> list[Person]:
    surnames = [_join(h, t) for h in pools.surname_heads for t in pools.surname_tails]
    rng.shuffle(surnames)
    by_gender = {sex: [f for f, g in pools.first_names if g == sex] for sex in "fm"}
    # first names not used yet, so that a name shares a word only with relatives while names last
    fresh = {sex: rng.sample(names, len(names)) for sex, names in by_gender.items()}
    kinds = list(OCCUPATIONS.values())
    used_names: set[str] = set(exclude)

    def person(surname: str, born: int, gender: str | None = None, father: Person | None = None) -> Person:
        while True:
            sex = gender or rng.choice("fm")
            first = fresh[sex].pop() if fresh[sex] else rng.choice(by_gender[sex])
            if f"{first} {surname}" not in used_names:
                break
        used_names.add(f"{first} {surname}")
        town = rng.choice(towns)
        nationality = town.country if rng.random() < 0.5 else rng.choice(countries)
        occupation = rng.choice(kinds) if rng.random() < 0.8 else rng.choice(OTHER_OCCUPATIONS)
        alias = f"{first[0]}. {surname}" if rng.random() < 0.3 else None
        return Person(
            new_id(), f"{first} {surname}", first, surname, sex, born, town, nationality, occupation, father, alias
        )

    people: list[Person] = []
    n_families = n_people // 7
    for _ in range(n_families):
        surname = surnames.pop()
        grandfather = person(surname, rng.randint(1860, 1900), "m")
        father = person(surname, grandfather.birth_year + rng.randint(24, 38), "m", grandfather)
        child = person(surname, father.birth_year + rng.randint(24, 38), None, father)
        people += [grandfather, father, child]
    while len(people) < n_people:
        people.append(person(surnames.pop(), rng.randint(1900, 1990)))
    for kind in kinds:
        if not any(p.occupation == kind for p in people):
            rng.choice(people).occupation = kind
    return people


# no film before cinema, no album before records
_FIRST_YEAR = {"novel": 1800, "film": 1905, "album": 1925}


def _works(rng, pools, people, n_works, new_id, exclude) -> list[Work]:
    """Titles repeat neither a noun nor an adjective while the lists last: a small teacher mixes up
    titles that share a word. The ones that do are near-duplicates that the question
    builder uses as deliberate distractors."""
    nouns = list(pools.nouns)
    rng.shuffle(nouns)
    adjectives = [
        a
        for _ in range(n_works // len(pools.adjectives) + 1)
        for a in rng.sample(pools.adjectives, len(pools.adjectives))
    ]
    creators = {kind: [p for p in people if p.occupation == occupation] for kind, occupation in OCCUPATIONS.items()}
    kinds = list(OCCUPATIONS)
    works: list[Work] = []
    titles: set[str] = set(exclude)
    for index in range(n_works):
        kind = kinds[index % len(kinds)]
        noun = nouns[index % len(nouns)]
        adjective = adjectives[index]
        while _title(kind, adjective, noun) in titles:
            adjective = rng.choice(pools.adjectives)
        title = _title(kind, adjective, noun)
        titles.add(title)
        creator = rng.choice(creators[kind])
        year = min(2022, max(_FIRST_YEAR[kind], creator.birth_year + rng.randint(22, 55)))
        works.append(Work(new_id(), title, kind, year, creator, (adjective, noun)))
    return works


def _title(kind: str, adjective: str, noun: str) -> str:
    return f"{adjective} {noun}" if kind == "album" else f"The {adjective} {noun}"


def describe(entity: Country | Town | Person | Work) -> Passage:
    """The entity's passage: plain sentences, one fact each, so every chain step is one sentence."""
    if isinstance(entity, Country):
        return Passage(
            entity.name,
            [f"{entity.name} is a sovereign country.", f"The capital of {entity.name} is {entity.capital.name}."],
            {"capital": 1},
        )
    if isinstance(entity, Town):
        return Passage(
            entity.name,
            [
                f"{entity.name} is a town in {entity.country.name}.",
                f"{entity.name} has a population of about {entity.population:,}.",
            ],
            {"country": 0},
        )
    if isinstance(entity, Person):
        article = "an" if entity.nationality.demonym[0] in "AEIOU" else "a"
        sentences = [
            f"{entity.name} is {article} {entity.nationality.demonym} {entity.occupation}.",
            f"{entity.name} was born in {entity.birth_year}.",
            f"{entity.name} was born in {entity.birthplace.name}.",
        ]
        facts = {"nationality": 0, "birth_year": 1, "birthplace": 2}
        if entity.father is not None:
            child = "son" if entity.gender == "m" else "daughter"
            sentences.append(f"{entity.name} is the {child} of {entity.father.name}.")
            facts["father"] = 3
        return Passage(entity.name, sentences, facts)
    verb = ROLES[entity.kind][1]
    article = "an" if entity.kind[0] in "aeiou" else "a"
    return Passage(
        entity.title,
        [
            f"{entity.title} is {article} {entity.kind} {verb} {entity.creator.name}.",
            f"{entity.title} was {entity.released} in {entity.year}.",
        ],
        {"creator": 0, "year": 1},
    )


def statement(entity: Country | Town | Person | Work, fact: str) -> str:
    """The passage sentence that states `fact`: a gold chain step copies it word for word."""
    passage = describe(entity)
    return passage.sentences[passage.facts[fact]]
