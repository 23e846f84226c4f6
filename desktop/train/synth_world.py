"""A made-up world of towns, firms, people, bridges, rivers, species, books, festivals and
clubs, each with facts stated in varied sentences and asked about in varied questions.

The demo adapters' training data is built from it (desktop.train.demo_sets). Every name is
assembled from syllables by a seeded generator, so no real document, and no evaluation
text, is ever trained on; the model must read the answer from the passage.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

_ONSET = "b br c d dr f g gr h k kl l m n p pr r s st t tr v w z".split()
_VOWEL = "a e i o u a e o ai ei ou".split()
_CODA = ["", "", "n", "r", "l", "s", "th", "m", "nd", "rk", "st", "x"]
_ENDS = ["", "", "a", "ia", "on", "or", "wick", "holm", "mere", "stad", "by", "ton", "ell"]
FIRST_NAMES = (
    "Anna Tomas Elena Jonas Mira Pavel Ines Oskar Lena Felix Sara Marek Ida Viktor Nora "
    "Emil Rosa Lukas Hana Aron Clara Matteo Vera Bruno Alma Hugo Eva Leon Zofia Otto"
).split()
PRODUCTS = [
    "glassware",
    "woollen cloth",
    "blue cheese",
    "pocket watches",
    "copper pots",
    "cider",
    "paper lanterns",
    "rope",
    "salted fish",
    "clay pipes",
    "violins",
    "honey cakes",
    "leather boots",
    "wooden toys",
    "printed maps",
    "olive soap",
]
FIELDS = "chemistry astronomy botany geology linguistics mathematics medicine physics".split()
MATERIALS = ["granite", "limestone", "red brick", "cast iron", "sandstone", "steel", "oak"]
GENRES = ["mystery novel", "travel memoir", "historical novel", "book of poems", "comic novel"]
DIETS = ["insects", "small fish", "seeds and berries", "freshwater snails", "pollen", "algae"]
MONTHS = "January February March April May June July August September October".split()
COLOURS = ["green and white", "red and black", "blue and gold", "orange and grey"]
FISH = ["trout", "eels", "salmon", "pike", "carp", "perch", "sturgeon"]
# Sentences that belong to an entity's text but answer none of the questions.
FILLERS = (
    "{E} appears on many old maps of the region.",
    "Local guides often mention {e} to visitors.",
    "A short history of {e} was printed in {y}.",
    "Photographs of {e} from {y} are kept in the archive of {x}.",
    "Several songs have been written about {e}.",
    "{E} is often compared with similar cases elsewhere.",
)


@dataclass(frozen=True)
class Fact:
    """One fact about an entity: the answer span, a sentence stating it, questions asking it."""

    entity: str
    attribute: str
    value: str
    sentence: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Entity:
    """A named thing, every fact the world holds about it, and sentences that say nothing."""

    name: str
    kind: str
    facts: tuple[Fact, ...]
    fillers: tuple[str, ...] = ()

    def fact(self, attribute: str) -> Fact:
        return next(f for f in self.facts if f.attribute == attribute)


class Namer:
    """Invented names, never the same twice within one world."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def word(self, syllables: int = 2) -> str:
        while True:
            parts = [self.rng.choice(_ONSET) + self.rng.choice(_VOWEL) for _ in range(syllables)]
            w = ("".join(parts) + self.rng.choice(_CODA) + self.rng.choice(_ENDS)).capitalize()
            if 4 <= len(w) <= 12 and w not in self.used:
                self.used.add(w)
                return w

    def person(self) -> str:
        return f"{self.rng.choice(FIRST_NAMES)} {self.word()}"

    def place(self) -> str:
        return self.word(self.rng.choice((1, 2, 2, 3)))


# (attribute, value maker, sentence templates, question templates); {e} entity, {v} value,
# {x} another place, {p} another person, {y} another year.
Template = tuple[str, Callable[[random.Random, Namer], str], tuple[str, ...], tuple[str, ...]]


def _year(lo: int, hi: int) -> Callable[[random.Random, Namer], str]:
    return lambda r, _n: str(r.randint(lo, hi))


def _count(lo: int, hi: int, unit: str = "") -> Callable[[random.Random, Namer], str]:
    def make(r: random.Random, _n: Namer) -> str:
        v = r.randint(lo, hi)
        v = round(v, -2) if v > 5000 else v
        return f"{v:,}{unit}"

    return make


def _pick(items: list[str]) -> Callable[[random.Random, Namer], str]:
    return lambda r, _n: r.choice(items)


def _person(r: random.Random, n: Namer) -> str:
    return n.person()


def _place(r: random.Random, n: Namer) -> str:
    return n.place()


# fmt: off
KINDS: dict[str, tuple[str, tuple[Template, ...]]] = {
    "town": ("{w}", (
        ("founded", _year(1100, 1950), (
            "{e} was founded in {v} by settlers from {x}.",
            "Records show that {e} was granted its market charter in {v}.",
            "The town of {e} dates from {v}, when a mill was built on the river.",
        ), ("When was {e} founded?", "In what year did {e} receive its charter?",
            "What year does the town of {e} date from?")),
        ("population", _count(900, 250000), (
            "{e} has a population of {v}.",
            "At the census of {y}, {v} people lived in {e}.",
            "The population of {e} grew to {v} after the railway arrived.",
        ), ("What is the population of {e}?", "How many people live in {e}?",
            "How many residents did {e} have at the census?")),
        ("river", _place, (
            "{e} lies on the banks of the {v} River.",
            "The {v} River runs through the centre of {e}.",
        ), ("Which river flows through {e}?", "On what river is {e} located?")),
        ("mayor", _person, (
            "The mayor of {e} is {v}, who was elected in {y}.",
            "Since {y}, the town council of {e} has been led by {v}.",
        ), ("Who is the mayor of {e}?", "Who leads the town council of {e}?")),
        ("product", _pick(PRODUCTS), (
            "{e} is best known for its {v}, sold across the region.",
            "Workshops in {e} have made {v} for generations.",
        ), ("What is {e} best known for?", "What do the workshops of {e} make?",
            "What product is {e} famous for?")),
    )),
    "company": ("{w} {s}", (
        ("founded", _year(1850, 2015), (
            "{e} was founded in {v}.",
            "{e} opened its first office in {v}.",
        ), ("When was {e} founded?", "In what year did {e} open its first office?")),
        ("founder", _person, (
            "{e} was started by {v}, a former engineer from {x}.",
            "{e} was founded by {v}.",
        ), ("Who founded {e}?", "Who started the company {e}?")),
        ("headquarters", _place, (
            "{e} has its headquarters in {v}.",
            "The head office of {e} is in the city of {v}.",
        ), ("Where is {e} headquartered?", "In which city is the head office of {e}?")),
        ("employees", _count(40, 90000), (
            "{e} employs about {v} people.",
            "By {y} the workforce of {e} had reached {v}.",
        ), ("How many people work for {e}?", "How many employees does {e} have?")),
        ("product", _pick(PRODUCTS), (
            "The main product of {e} is {v}.",
            "{e} makes most of its money selling {v}.",
        ), ("What does {e} sell?", "What is the main product of {e}?")),
    )),
    "person": ("{p}", (
        ("born", _year(1780, 1995), (
            "{e} was born in {v} in the village of {x}.",
            "Born in {v}, {e} grew up near the coast.",
        ), ("When was {e} born?", "In what year was {e} born?")),
        ("birthplace", _place, (
            "{e} was born in {v}, a small town in the north.",
            "{e} spent an early childhood in {v}, where the family ran a bakery.",
        ), ("Where was {e} born?", "In which town did {e} grow up?")),
        ("field", _pick(FIELDS), (
            "{e} studied {v} at the University of {x}.",
            "{e} became a professor of {v} in {y}.",
        ), ("What did {e} study?", "What subject did {e} teach?")),
        ("award", lambda r, n: f"the {n.word()} Medal", (
            "In {y}, {e} received {v} for a lifetime of research.",
            "{e} was awarded {v} in {y}.",
        ), ("What award did {e} receive?", "Which prize was {e} given?")),
        ("spouse", _person, (
            "{e} married {v} in {y}.",
            "{e} was married to the painter {v}.",
        ), ("Who did {e} marry?", "Who was the spouse of {e}?")),
    )),
    "bridge": ("the {w} Bridge", (
        ("opened", _year(1820, 2020), (
            "{E} opened to traffic in {v}.",
            "Construction of {e} was completed in {v}.",
        ), ("When did {e} open?", "In what year was {e} completed?")),
        ("architect", _person, (
            "{E} was designed by the architect {v}.",
            "The design of {e} came from {v}, who won a competition in {y}.",
        ), ("Who designed {e}?", "Which architect designed {e}?")),
        ("length", _count(60, 3200, " metres"), (
            "{E} is {v} long.",
            "With a length of {v}, {e} crosses the whole valley.",
        ), ("How long is {e}?", "What is the length of {e}?")),
        ("material", _pick(MATERIALS), (
            "{E} is built of {v}.",
            "The arches of {e} are made of {v} brought from {x}.",
        ), ("What is {e} made of?", "What material was used to build {e}?")),
    )),
    "river": ("the {w} River", (
        ("length", _count(40, 2800, " kilometres"), (
            "{E} is {v} long.",
            "{E} flows for {v} before it reaches the sea.",
        ), ("How long is {e}?", "What is the length of {e}?")),
        ("source", lambda r, n: f"the {n.word()} Mountains", (
            "{E} rises in {v}.",
            "The source of {e} lies high in {v}.",
        ), ("Where does {e} begin?", "Where is the source of {e}?")),
        ("mouth", lambda r, n: f"{n.word()} Bay", (
            "{E} empties into {v}.",
            "At its mouth, {e} meets the sea at {v}.",
        ), ("Where does {e} end?", "Into which bay does {e} flow?")),
        ("fish", _pick(FISH), (
            "The waters of {e} are rich in {v}, which feed the herons.",
        ), ("What are the waters of {e} rich in?",)),
    )),
    "species": ("the {w} {a}", (
        ("habitat", lambda r, n: f"the wetlands of {n.place()}", (
            "{E} lives mainly in {v}.",
            "{E} is found only in {v}.",
        ), ("Where does {e} live?", "What is the habitat of {e}?")),
        ("size", _count(3, 180, " centimetres"), (
            "An adult {e0} grows to about {v} long.",
            "{E} reaches a length of {v}.",
        ), ("How big does {e} grow?", "How long is an adult {e0}?")),
        ("diet", _pick(DIETS), (
            "{E} feeds on {v}.",
            "The diet of {e} consists mostly of {v}.",
        ), ("What does {e} eat?", "What is the diet of {e}?")),
        ("described", _person, (
            "{E} was first described by {v} in {y}.",
            "The naturalist {v} gave {e} its name.",
        ), ("Who first described {e}?", "Who named {e}?")),
    )),
    "book": ("{w} of {x}", (
        ("author", _person, (
            "{e} was written by {v}.",
            "{v} wrote {e} while living in {x}.",
        ), ("Who wrote {e}?", "Who is the author of {e}?")),
        ("published", _year(1800, 2022), (
            "{e} was first published in {v}.",
            "The first edition of {e} appeared in {v}.",
        ), ("When was {e} published?", "In what year did {e} first appear?")),
        ("genre", _pick(GENRES), (
            "{e} is a {v}.",
            "Critics describe {e} as a {v} set in a port city.",
        ), ("What kind of book is {e}?", "What genre is {e}?")),
        ("pages", _count(90, 900, " pages"), (
            "{e} runs to {v}.",
            "{e} has {v}.",
        ), ("How many pages does {e} have?", "How long is the book {e}?")),
    )),
    "festival": ("the {w} Festival", (
        ("month", _pick(MONTHS), (
            "{E} takes place every year in {v}.",
            "Each {v}, {e} fills the streets with music.",
        ), ("When is {e} held?", "In which month does {e} take place?")),
        ("first", _year(1900, 2015), (
            "{E} was first held in {v}.",
            "The first edition of {e} took place in {v}.",
        ), ("When was {e} first held?", "In what year did {e} begin?")),
        ("visitors", _count(800, 400000), (
            "About {v} visitors attend {e}.",
            "{E} draws some {v} people each year.",
        ), ("How many people attend {e}?", "How many visitors does {e} draw?")),
        ("venue", lambda r, n: f"{n.word()} Square", (
            "The main stage of {e} stands in {v}.",
            "Most concerts of {e} are held in {v}.",
        ), ("Where is the main stage of {e}?", "Where are the concerts of {e} held?")),
    )),
    "club": ("{w} {c}", (
        ("founded", _year(1870, 2010), (
            "{e} was founded in {v}.",
            "{e} played its first match in {v}.",
        ), ("When was {e} founded?", "In what year did {e} play its first match?")),
        ("stadium", lambda r, n: f"{n.word()} Park", (
            "{e} plays its home games at {v}.",
            "The home ground of {e} is {v}.",
        ), ("Where does {e} play its home games?", "What is the home ground of {e}?")),
        ("titles", _count(1, 40), (
            "{e} has won the national league {v} times.",
            "{e} has collected {v} league titles.",
        ), ("How many league titles has {e} won?", "How many times has {e} won the league?")),
        ("colours", _pick(COLOURS), (
            "{e} plays in {v}.",
            "The colours of {e} are {v}.",
        ), ("What colours does {e} wear?", "What are the colours of {e}?")),
    )),
}
_SUFFIX = {"s": ("Works", "Foods", "Textiles", "Instruments", "Press", "Mills"),
           "a": ("beetle", "heron", "newt", "moth", "orchid", "trout"),
           "c": ("Athletic", "Rovers", "United", "Wanderers")}
# fmt: on


def _entity_name(kind: str, rng: random.Random, namer: Namer) -> str:
    pattern = KINDS[kind][0]
    return pattern.format(
        w=namer.word(rng.choice((1, 2, 2))),
        p=namer.person(),
        x=namer.place(),
        s=rng.choice(_SUFFIX["s"]),
        a=rng.choice(_SUFFIX["a"]),
        c=rng.choice(_SUFFIX["c"]),
    )


def _fill(template: str, name: str, value: str, rng: random.Random, namer: Namer) -> str:
    cap = name[0].upper() + name[1:]
    bare = name.removeprefix("the ")
    return template.format(
        e=name, E=cap, e0=bare, v=value, x=namer.place(), p=namer.person(),
        y=rng.randint(1900, 2022),
    )  # fmt: skip


def make_entity(rng: random.Random, namer: Namer, kind: str | None = None) -> Entity:
    """A new entity of `kind` (random when None) with every fact its kind has."""
    kind = kind or rng.choice(sorted(KINDS))
    name = _entity_name(kind, rng, namer)
    facts = []
    for attribute, value_of, sentences, questions in KINDS[kind][1]:
        value = value_of(rng, namer)
        sentence = _fill(rng.choice(sentences), name, value, rng, namer)
        qs = tuple(_fill(q, name, value, rng, namer) for q in questions)
        facts.append(Fact(name, attribute, value, sentence, qs))
    fillers = [_fill(t, name, "", rng, namer) for t in rng.sample(FILLERS, 2)]
    return Entity(name, kind, tuple(facts), tuple(fillers))
