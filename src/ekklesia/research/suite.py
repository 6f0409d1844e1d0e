"""The research corpus as a suite: its questions as tasks over an index of its documents, and the
figures a set of reports scores on it (what ``benchmarks/research.py`` and ``ekklesia pattern run
research`` report).

:func:`suite` generates the corpus of a seed (:func:`~ekklesia.research.corpus.corpus`, one
question per task), writes its documents under ``$EKKLESIA_HOME/research/`` and indexes them as
the index ``research-corpus-s<seed>-e<entities>-q<n>`` (once: the corpus is a function of its seed
and size, so a later suite of the same ones reuses it), and returns the questions as research
tasks that search that index in ``text`` mode (BM25), so no run waits for an embedding model in
its host.

:func:`score` reads the reports against the corpus:

- accuracy: the report's answer is the gold one;
- citation precision: of the (claim, cited passage) pairs the report asserts (claims not marked
  contradicted), the share whose passage states the claim's facts;
- citation recall: of the gold facts (one per organisation a question compares), the share the
  report states truly, citing a passage that states it;
- contradiction detection: of the claims stating a false value (a distractor's), the share marked
  contradicted; false alarms: true claims marked contradicted;
- tokens and USD per question.
"""

from __future__ import annotations

from ekklesia.core.aio import run_sync
from ekklesia.core.paths import data_home
from ekklesia.core.task import Task
from ekklesia.errors import UserError
from ekklesia.memory.indexer import index_home, open_indexer
from ekklesia.research.corpus import ATTRIBUTES, Corpus, corpus, statements
from ekklesia.research.patterns import normalise
from ekklesia.research.run import ResearchReport, research_task

__all__ = ["FIGURES", "asuite", "index_name", "score", "suite"]

#: The figures :func:`score` gives, in the order reports print them.
FIGURES = (
    "accuracy",
    "citation_precision",
    "citation_recall",
    "contradiction_detection",
    "false_alarms",
    "false_claims",
    "tokens_per_question",
    "usd_per_question",
)


def index_name(seed: int, questions: int, entities: int = 12) -> str:
    """The name of the index that holds the corpus of ``seed`` of that size."""
    return f"research-corpus-s{seed}-e{entities}-q{questions}"


async def asuite(
    n: int, seed: int = 0, *, entities: int = 12, depth: str = "balanced"
) -> tuple[Corpus, list[Task]]:
    """The corpus of ``seed`` with ``n`` questions, indexed, and its questions as tasks."""
    if n < 1:
        raise UserError(f"--tasks must be >= 1, got {n}")
    world = corpus(seed, entities=entities, questions=n)
    name = index_name(seed, n, entities)
    if not (index_home(name) / "index.sqlite").exists():
        folder = world.write(data_home() / "research" / name)
        await open_indexer(name, on_ray=False).index(folder)
    tasks = [
        research_task(task, provider="local", index=name, mode="text", depth=depth)
        for task in world.tasks()
    ]
    return world, tasks


def suite(
    n: int, seed: int = 0, *, entities: int = 12, depth: str = "balanced"
) -> tuple[Corpus, list[Task]]:
    """:func:`asuite`, from sync code."""
    return run_sync(asuite(n, seed, entities=entities, depth=depth), "suite()", "await asuite(...)")


def score(world: Corpus, reports: list[ResearchReport]) -> dict[str, float]:
    """The figures of the module docstring, for reports on the questions of ``world``."""
    truth = {(e.name, a): e.fact(a).value for e in world.entities for a in ATTRIBUTES}
    gold = {q.id: q for q in world.questions}
    correct = pairs = stated = facts = recalled = false = detected = true = alarms = 0
    tokens = usd = 0.0
    for report in reports:
        question = gold[report.result.task_id]
        correct += report.answer is not None and normalise(report.answer) == normalise(
            question.answer
        )
        passages = {s.id: statements(s.passage) for s in report.sources}
        for claim in report.claims:
            said = statements(claim.text)
            if not said:
                continue
            is_true = all(truth.get((f.entity, f.attribute)) == f.value for f in said)
            if is_true:
                true += 1
                alarms += claim.verdict == "contradicted"
            else:
                false += 1
                detected += claim.verdict == "contradicted"
            if claim.verdict == "contradicted":
                continue
            for cited in claim.citations:
                pairs += 1
                stated += all(f in passages.get(cited, []) for f in said)
        for fact in question.facts:
            facts += 1
            recalled += any(
                claim.verdict != "contradicted"
                and fact in statements(claim.text)
                and any(fact in passages.get(i, []) for i in claim.citations)
                for claim in report.claims
            )
        tokens += report.usage.input_tokens + report.usage.output_tokens
        usd += report.usage.usd
    n = max(len(reports), 1)
    return {
        "accuracy": correct / n,
        "citation_precision": stated / pairs if pairs else 0.0,
        "citation_recall": recalled / facts if facts else 0.0,
        "contradiction_detection": detected / false if false else 0.0,
        "false_alarms": alarms / true if true else 0.0,
        "false_claims": float(false),
        "tokens_per_question": tokens / n,
        "usd_per_question": usd / n,
    }
