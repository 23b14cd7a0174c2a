"""IRCoT-shaped prompts for the generation benchmarks, fixed in advance so every system gets the same text.

Step s of a question is prompted as IRCoT prompts it: few-shot demonstrations, the passages
retrieved at steps 1..s (two per step, gold and distractor), the question, and the chain of
thought written so far (here the correct sentences, so the prompts do not depend on any model).
"""

from __future__ import annotations

from dataclasses import dataclass

from steper.models.prompting import Prompt

PEOPLE = [
    ("Tamsin Everhart", "Millbrook", "novelist"), ("Ravel Quinton", "Eastcliff", "film director"),
    ("Maren Ashdown", "Corriford", "singer"), ("Oswin Calloway", "Fernhollow", "painter"),
    ("Isolde Penrose", "Larkhaven", "poet"), ("Caspian Marlowe", "Westbury Cross", "composer"),
    ("Delia Thornfield", "Redwater", "playwright"), ("Jasper Wrenwood", "Kestrel Bay", "sculptor"),
    ("Rosalind Fairweather", "Ambervale", "novelist"), ("Gideon Halloway", "Stonemere", "film director"),
    ("Elowen Brightwater", "Harrowgate Mills", "singer"), ("Fenwick Ashcombe", "Duncliffe", "architect"),
    ("Marigold Keswick", "Tillbrook", "poet"), ("Lucian Pemberton", "Oakhurst", "composer"),
    ("Wilhelmina Crane", "Saltmarsh", "playwright"), ("Barnaby Thistlewood", "Glenmoor", "painter"),
]
WORKS = [
    "The Hollow Orchard", "Silver Lanterns", "Northern Tides", "A Garden of Clocks", "The Glass Meridian",
    "Winter at Kellan Hall", "The Copper Staircase", "Songs of the Low Country", "The Quiet Harbour",
    "Lanterns Over Ashby", "The Paper Orchestra", "Bright Water Ballads", "The Last Cartographer",
    "Evening in Marrow Street", "The Velvet Almanac", "Harvest of Small Hours",
]
DEMOS = [
    ("Cyrus Bellamy", "Pennick Hollow", "novelist", "The Amber Gate", "Orla Vance", "Dunmore", "The Salt Road"),
    ("Helena Moorcroft", "Ashgrove", "film director", "Midnight at Carrow", "Tobias Reed", "Fallowfield", "Paper Kites"),
    ("Arlo Fenner", "Brackenfield", "composer", "The Tin Nocturne", "Sybil Dray", "Wyndham Cross", "Low Tide Suite"),
    ("Nell Carraway", "Oxley Marsh", "poet", "A Ledger of Rooks", "Edmund Sayle", "Pellham", "The Long Field"),
]


def passage_work(work: str, person: str, role: str, year: int) -> str:
    kind = {"novelist": "a novel", "film director": "a film", "singer": "an album"}.get(role, "a work")
    return (
        f"Wikipedia Title: {work}\n{work} is {kind} released in {year}. It was created by the {role} {person} "
        f"and received wide praise from critics for its careful structure, its memorable characters and its "
        f"portrait of everyday life in a small coastal region during a period of rapid change."
    )


def passage_person(person: str, town: str, role: str, year: int) -> str:
    return (
        f"Wikipedia Title: {person}\n{person} (born {year}) is a {role} who was born in {town}. "
        f"After studying at a regional college, {person.split()[0]} moved to the capital, where the early "
        f"works that made the name known were written, performed and shown to the public."
    )


def demonstration(person, town, role, work, distractor, distractor_town, distractor_work) -> str:
    passages = [
        passage_work(work, person, role, 1951),
        passage_person(distractor, distractor_town, role, 1933),
        passage_person(person, town, role, 1920),
        passage_work(distractor_work, distractor, role, 1962),
    ]
    return (
        "\n\n".join(passages)
        + f"\n\nQ: Where was the {role} of {work} born?\nA: {work} was created by {person}. "
        f"{person} was born in {town}. So the answer is: {town}.\n\n\n"
    )


@dataclass
class Question:
    question: str
    answer: str
    steps: list[Prompt]  # the prompt of each IRCoT step


def questions(count: int, steps: int = 3) -> list[Question]:
    """`count` questions (person i with work i + k, so up to 16 * 16 distinct ones) and their step prompts."""
    demos = "".join(demonstration(*demo) for demo in DEMOS)
    made = []
    for index in range(count):
        person, town, role = PEOPLE[index % len(PEOPLE)]
        work = WORKS[(index + index // len(PEOPLE)) % len(WORKS)]
        other, other_town, _ = PEOPLE[(index + 5) % len(PEOPLE)]
        third, third_town, _ = PEOPLE[(index + 9) % len(PEOPLE)]
        retrieved = [
            [passage_work(work, person, role, 1950 + index % 40), passage_person(other, other_town, role, 1930 + index % 30)],
            [passage_person(person, town, role, 1920 + index % 30), passage_work(WORKS[(index + 3) % len(WORKS)], other, role, 1960)],
            [passage_person(third, third_town, role, 1925), passage_work(WORKS[(index + 7) % len(WORKS)], third, role, 1970)],
        ]
        chain = [f"{work} was created by {person}.", f"{person} was born in {town}."]
        question = f"Where was the {role} of {work} born?"
        prompts = []
        for step in range(steps):
            shown = [passage for found in retrieved[: step + 1] for passage in found]
            header = "\n\n".join(shown) + f"\n\nQ: {question}\nA:"
            prompts.append(Prompt(demos + header, "".join(" " + sentence for sentence in chain[:step])))
        made.append(Question(question, town, prompts))
    return made
