"""A research corpus generated from a seed: invented organisations, documents that state their
facts, distractor documents that contradict some, and questions that need two or three documents.

Every organisation has three facts — the year it was founded, the city it is headquartered in,
and how many people it employs — each stated by two documents in different words (a *profile* and
a *chronicle*). Some facts a question asks about are contradicted by a third document (a *guide*)
that gives another value, chosen where it can to change the question's answer. A question compares
two or three organisations on one fact (earliest founded, most staff, same city), so its answer
needs one document per organisation; its gold passages are the sentences that state the true facts.

The same seed gives the same corpus, byte for byte: :meth:`Corpus.write` puts it in a folder that
``ekklesia index`` indexes for the ``local`` provider, and :meth:`Corpus.tasks` gives the
questions as tasks carrying their gold answer and facts for scoring and for simulated models.
:func:`statements` reads the facts back out of any passage written in the corpus's sentences.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ekklesia.core.task import Task

__all__ = [
    "ATTRIBUTES",
    "Corpus",
    "Document",
    "Entity",
    "Fact",
    "Question",
    "corpus",
    "statements",
    "subquestion",
]

Attribute = Literal["founded", "city", "staff"]
ATTRIBUTES: tuple[Attribute, ...] = ("founded", "city", "staff")
_SYLLABLES = (
    "vel", "mor", "kes", "trel", "ban", "dor", "ist", "lan", "qui", "ven", "sor", "tal", "mar",
    "ren", "zel", "cor", "fin", "ash", "brum", "dal", "ket", "lor", "nim", "osk", "pell", "rav",
    "sim", "tov", "ulm", "wen", "yar", "zor",
)  # fmt: skip
_KINDS = ("Institute", "Works", "Society", "Foundry", "Guild", "Press", "Trust", "Company")
_NAME = r"(?P<name>[A-Z][a-z]+ (?:" + "|".join(_KINDS) + r"))"
_CITY = r"(?P<value>[A-Z][a-z]+)"
_YEAR = r"(?P<value>1[6-9]\d\d)"
_COUNT = r"(?P<value>\d+)"

#: The sentences of each kind of document, per fact: (template, pattern that reads it back).
_SENTENCES: dict[str, dict[Attribute, str]] = {
    "profile": {
        "founded": "{name} was founded in {value}.",
        "city": "{name} is headquartered in {value}.",
        "staff": "{name} employs {value} people.",
    },
    "chronicle": {
        "founded": "The founding of {name} dates to {value}.",
        "city": "The offices of {name} are in {value}.",
        "staff": "The staff of {name} numbers {value}.",
    },
    "guide": {
        "founded": "A visitors' guide states that {name} was founded in {value}.",
        "city": "A visitors' guide states that {name} is headquartered in {value}.",
        "staff": "A visitors' guide states that {name} employs {value} people.",
    },
}
_GROUPS = {"founded": _YEAR, "city": _CITY, "staff": _COUNT}
_READERS: list[tuple[Attribute, re.Pattern[str]]] = [
    (
        attribute,
        re.compile(
            re.escape(template.removesuffix("."))
            .replace(re.escape("{name}"), _NAME)
            .replace(re.escape("{value}"), _GROUPS[attribute])
            + r"\b"
        ),
    )
    for sentences in _SENTENCES.values()
    for attribute, template in sentences.items()
]


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True)

    entity: str
    attribute: Attribute
    value: str


def statements(text: str) -> list[Fact]:
    """Every fact ``text`` states in the corpus's sentences, in order."""
    found: list[tuple[int, Fact]] = []
    for attribute, pattern in _READERS:
        for match in pattern.finditer(text):
            found.append(
                (
                    match.start(),
                    Fact(entity=match["name"], attribute=attribute, value=match["value"]),
                )
            )
    unique = dict.fromkeys(fact for _, fact in sorted(found, key=lambda p: p[0]))
    return list(unique)


def sentence(fact: Fact, kind: str = "profile") -> str:
    return _SENTENCES[kind][fact.attribute].format(name=fact.entity, value=fact.value)


class Entity(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    founded: str
    city: str
    staff: str

    def fact(self, attribute: Attribute) -> Fact:
        return Fact(entity=self.name, attribute=attribute, value=str(getattr(self, attribute)))

    @property
    def slug(self) -> str:
        return self.name.lower().replace(" ", "-")


class Document(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str  # the file name
    title: str
    text: str
    distractor: bool = False

    @property
    def url(self) -> str:
        return f"https://corpus.example/{self.name.removesuffix('.txt')}"


class Question(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    answer: str
    op: Literal["earliest", "most_staff", "same_city"]
    facts: tuple[Fact, ...]
    """The true facts the answer rests on, one per organisation."""
    contradicted: tuple[Fact, ...] = ()
    """The false values distractor documents give for some of them."""
    subquestions: tuple[str, ...] = ()


def answer_of(op: str, values: dict[str, str]) -> str | None:
    """The answer a question's operation gives from the values found, by organisation."""
    if not values:
        return None
    if op == "earliest":
        return min(values, key=lambda name: (int(values[name]), name))
    if op == "most_staff":
        return max(values, key=lambda name: (int(values[name]), name))
    if op == "same_city":
        return "yes" if len(set(values.values())) == 1 else "no"
    return None


_SUBQUESTION = {
    "founded": "When was {name} founded?",
    "city": "Where is {name} headquartered?",
    "staff": "How many people does {name} employ?",
}


def subquestion(entity: str, attribute: str) -> str:
    """The sub-question that asks for one fact of one organisation."""
    return _SUBQUESTION[attribute].format(name=entity)


_QUESTION = {
    "earliest": "Which was founded first: {names}?",
    "most_staff": "Which employs the most people: {names}?",
    "same_city": "Are {names} headquartered in the same city?",
}
_OP_ATTRIBUTE: dict[str, Attribute] = {
    "earliest": "founded",
    "most_staff": "staff",
    "same_city": "city",
}


class Corpus(BaseModel):
    """The generated corpus; see the module docstring."""

    model_config = ConfigDict(frozen=True)

    seed: int
    entities: tuple[Entity, ...]
    documents: tuple[Document, ...]
    questions: tuple[Question, ...]

    def write(self, folder: str | Path) -> Path:
        """Write every document as ``<folder>/<name>``; returns the folder."""
        root = Path(folder)
        root.mkdir(parents=True, exist_ok=True)
        for doc in self.documents:
            (root / doc.name).write_text(doc.text, encoding="utf-8")
        return root

    def tasks(self) -> list[Task]:
        """Each question as a task: the gold answer expected, the facts in ``meta["gold"]``."""
        return [
            Task(
                id=q.id,
                prompt=q.text,
                expected=q.answer,
                suite="research-corpus",
                meta={"gold": q.model_dump(mode="json")},
            )
            for q in self.questions
        ]


def _names(rng: random.Random, count: int) -> list[str]:
    names: list[str] = []
    while len(names) < count:
        stem = "".join(rng.sample(_SYLLABLES, rng.choice((2, 3)))).capitalize()
        name = f"{stem} {rng.choice(_KINDS)}"
        if name not in names and not any(n.split()[0] == stem for n in names):
            names.append(name)
    return names


def _cities(rng: random.Random, count: int) -> list[str]:
    out: list[str] = []
    while len(out) < count:
        city = "".join(rng.sample(_SYLLABLES, 2)).capitalize()
        if city not in out:
            out.append(city)
    return out


def _listing(names: list[str]) -> str:
    return (
        names[0] + " or " + names[1]
        if len(names) == 2
        else ", ".join(names[:-1]) + " or " + names[-1]
    )


def corpus(seed: int = 0, *, entities: int = 12, questions: int = 20) -> Corpus:
    """The corpus of ``seed``; see the module docstring."""
    rng = random.Random(f"research-corpus:{seed}")
    cities = _cities(rng, max(3, entities // 3))
    people = [
        Entity(
            name=name,
            founded=str(rng.randint(1700, 1990)),
            city=rng.choice(cities),
            staff=str(rng.randint(12, 900)),
        )
        for name in _names(rng, entities)
    ]
    asked: list[Question] = []
    wrong: dict[tuple[str, Attribute], str] = {}
    for number in range(questions):
        op: Literal["earliest", "most_staff", "same_city"] = rng.choice(
            ("earliest", "most_staff", "same_city")
        )
        attribute = _OP_ATTRIBUTE[op]
        size = 2 if op == "same_city" else rng.choice((2, 3))
        group = rng.sample(people, size)
        names = [e.name for e in group]
        facts = tuple(e.fact(attribute) for e in group)
        truth = answer_of(op, {f.entity: f.value for f in facts})
        assert truth is not None
        contradicted: tuple[Fact, ...] = ()
        if rng.random() < 0.4:
            target = rng.choice(facts)
            key = (target.entity, attribute)
            if key not in wrong:
                wrong[key] = _false_value(rng, op, target, facts, cities)
            contradicted = (target.model_copy(update={"value": wrong[key]}),)
        text = _QUESTION[op].format(
            names=_listing(names) if op != "same_city" else " and ".join(names)
        )
        asked.append(
            Question(
                id=f"research-{seed}-{number}",
                text=text,
                answer=truth,
                op=op,
                facts=facts,
                contradicted=contradicted,
                subquestions=tuple(subquestion(n, attribute) for n in names),
            )
        )
    documents: list[Document] = []
    for entity in people:
        for kind in ("profile", "chronicle"):
            body = " ".join(sentence(entity.fact(a), kind) for a in ATTRIBUTES)
            title = f"{entity.name}: {kind}"
            documents.append(
                Document(name=f"{entity.slug}-{kind}.txt", title=title, text=f"{title}\n\n{body}\n")
            )
    for (name, wrong_attribute), value in sorted(wrong.items()):
        fact = Fact(entity=name, attribute=wrong_attribute, value=value)
        slug = name.lower().replace(" ", "-")
        title = f"{name}: visitors' guide"
        documents.append(
            Document(
                name=f"{slug}-guide-{wrong_attribute}.txt",
                title=title,
                text=f"{title}\n\n{sentence(fact, 'guide')}\n",
                distractor=True,
            )
        )
    return Corpus(
        seed=seed, entities=tuple(people), documents=tuple(documents), questions=tuple(asked)
    )


def _false_value(
    rng: random.Random, op: str, target: Fact, facts: tuple[Fact, ...], cities: list[str]
) -> str:
    """A wrong value for ``target`` that, where it can, changes the question's answer."""
    others = [int(f.value) for f in facts if f is not target] if op != "same_city" else []
    if op == "earliest":
        value = int(target.value)
        flipped = (
            min(others) - rng.randint(1, 15)
            if value > min(others)
            else max(others) + rng.randint(1, 15)
        )
        return str(flipped)
    if op == "most_staff":
        value = int(target.value)
        flipped = (
            max(others) + rng.randint(5, 60)
            if value < max(others)
            else max(1, min(others) - rng.randint(1, 10))
        )
        return str(flipped)
    other_city = next(f.value for f in facts if f is not target)
    if other_city != target.value:
        return other_city  # the guide makes them look alike
    return rng.choice([c for c in cities if c != target.value])
