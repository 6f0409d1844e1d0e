"""The research team's vocabulary: sources, claims, verdicts, and how they travel in messages.

A :class:`Source` is one passage a search returned, numbered ``id`` (the ``n`` of ``[n]``) in the
order the team first saw it. A :class:`Claim` is one sentence the researcher asserts, citing
sources by id, with the fact-checker's :data:`Verdict`. Agents pass them to each other as a
:class:`Findings` object in a fenced ``json`` block at the end of their message, written and read
only by code here — what a model wrote is parsed once, by :mod:`ekklesia.research.parsing`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "VERDICTS",
    "Claim",
    "Findings",
    "Source",
    "Verdict",
    "confidence",
    "findings_block",
    "read_findings",
]

Verdict = Literal["supported", "contradicted", "unverifiable"]
VERDICTS: tuple[Verdict, ...] = ("supported", "contradicted", "unverifiable")
#: What each verdict adds to the report's confidence: a contradicted claim costs more than an
#: unverifiable one gains nothing.
_WEIGHT: dict[str, float] = {"supported": 1.0, "unverifiable": 0.0, "contradicted": -1.0}
_BLOCK = re.compile(r"```json research\n(.*?)\n```", re.DOTALL)


class Source(BaseModel):
    """One passage found: verbatim from the provider (a web page's snippet, a file's chunk)."""

    model_config = ConfigDict(frozen=True)

    id: int = Field(ge=1)
    url: str = ""
    path: str | None = None
    title: str = ""
    passage: str
    provider: str = ""
    query: str = ""

    @property
    def where(self) -> str:
        return self.path or self.url


class Claim(BaseModel):
    """One claim of the report, with the ids of the sources it cites and its verdict."""

    model_config = ConfigDict(frozen=True)

    text: str
    citations: tuple[int, ...] = ()
    verdict: Verdict = "unverifiable"
    note: str = ""


class Findings(BaseModel):
    """What the team knows at one point: the question, the sources, the claims, an answer."""

    model_config = ConfigDict(frozen=True)

    question: str
    subquestions: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    claims: tuple[Claim, ...] = ()
    answer: str | None = None
    checked: bool = False

    def source(self, id: int) -> Source | None:
        return next((s for s in self.sources if s.id == id), None)


def confidence(claims: Sequence[Claim]) -> float:
    """The report's confidence from its claims' verdicts: the mean of +1 (supported), 0
    (unverifiable) and -1 (contradicted), clipped to [0, 1]; 0 for a report without claims."""
    if not claims:
        return 0.0
    mean = sum(_WEIGHT[c.verdict] for c in claims) / len(claims)
    return round(min(1.0, max(0.0, mean)), 4)


def findings_block(findings: Findings) -> str:
    """``findings`` as the fenced block that ends an agent's message."""
    return f"```json research\n{findings.model_dump_json()}\n```"


def read_findings(texts: Iterable[str]) -> Findings | None:
    """The last findings block in ``texts`` (messages in the order heard), if any."""
    found: Findings | None = None
    for text in texts:
        for block in _BLOCK.findall(text):
            try:
                found = Findings.model_validate(json.loads(block))
            except (ValueError, ValidationError):
                continue
    return found


def merge_sources(known: Sequence[Source], new: Iterable[Source]) -> tuple[Source, ...]:
    """``known`` followed by the new passages not already among them, numbered on."""
    seen = {(s.where, s.passage) for s in known}
    out = list(known)
    for source in new:
        key = (source.where, source.passage)
        if key in seen or not source.passage.strip():
            continue
        seen.add(key)
        out.append(source.model_copy(update={"id": len(out) + 1}))
    return tuple(out)
