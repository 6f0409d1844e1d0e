"""The multiagent debate of Du et al. 2023, as one pattern among others.

Every agent whose role takes part in rounds answers the task; in each later round it reads what
its neighbours in the debate graph said in the last round (and its own last answer) and answers
again. The run stops after ``rounds`` rounds, or early when every agent gives the same answer
(``stop_on_consensus``); the final answers are aggregated by majority, by stated confidence, or by
a judge agent that reads them.
"""

from __future__ import annotations

from ekklesia.patterns.pattern import Pattern, Stage, consensus

__all__ = ["debate"]

debate = Pattern(
    name="debate",
    description=(
        "Agents answer, then read their graph neighbours' answers and answer again, round after "
        "round; stop at consensus or after the last round; aggregate the final answers."
    ),
    stages=(Stage("debate", hears="graph"),),
    stop_rules=(consensus,),
    aggregations=("majority", "confidence", "judge"),
    suite="arithmetic",
)
