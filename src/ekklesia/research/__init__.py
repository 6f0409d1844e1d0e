"""The research team: cited reports, fact-checked, from the web or from your own documents.

The ``research`` pattern (:mod:`ekklesia.research.patterns`) plans sub-questions, searches every
chosen provider in parallel with the ``web_search`` tool (:mod:`ekklesia.research.search`: the
``local`` index and the connectors of :mod:`ekklesia.connectors.search`), reads the passages into
claims that cite them, fact-checks each claim against the sources, and writes a Markdown report
with inline ``[n]`` citations, a sources table and a confidence computed from the verdicts
(:mod:`ekklesia.research.team`). :func:`research` runs it on one question. A generated corpus with
gold answers (:mod:`ekklesia.research.corpus`) and a simulated team
(:mod:`ekklesia.research.simulated`) make it scorable offline.
"""

from ekklesia.research import simulated as _simulated
from ekklesia.research.corpus import Corpus, Document, Fact, Question, corpus, statements
from ekklesia.research.patterns import RESEARCH_PATTERNS, ResearchOptions, score_answer
from ekklesia.research.run import (
    DEPTHS,
    ResearchReport,
    aresearch,
    research,
    research_spec,
    research_task,
)
from ekklesia.research.search import PROVIDER_NAMES, SearchAnswer, SearchHit, web_search
from ekklesia.research.sources import Claim, Findings, Source, confidence
from ekklesia.research.team import FactChecker, Researcher, Writer

_simulated.register()

__all__ = [
    "DEPTHS",
    "PROVIDER_NAMES",
    "RESEARCH_PATTERNS",
    "Claim",
    "Corpus",
    "Document",
    "Fact",
    "FactChecker",
    "Findings",
    "Question",
    "ResearchOptions",
    "ResearchReport",
    "Researcher",
    "SearchAnswer",
    "SearchHit",
    "Source",
    "Writer",
    "aresearch",
    "confidence",
    "corpus",
    "research",
    "research_spec",
    "research_task",
    "score_answer",
    "statements",
    "web_search",
]
