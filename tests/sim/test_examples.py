"""The examples in the docstrings of the population modules run as written."""

import inspect
import textwrap
from types import ModuleType

import pytest

import ekklesia
import ekklesia.agents.population
import ekklesia.simulation

pytestmark = pytest.mark.usefixtures("ray_session")


def examples(module: ModuleType) -> list[str]:
    """The indented blocks that follow a line ending in '::'."""
    lines = inspect.getdoc(module).splitlines()  # type: ignore[union-attr]
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].rstrip().endswith("::"):
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or lines[j].startswith("    ")):
                j += 1
            blocks.append(textwrap.dedent("\n".join(lines[i + 1 : j])))
            i = j
        else:
            i += 1
    return blocks


def run(code: str) -> None:
    # a module name no host can import, so that classes defined here travel by value
    exec(compile(code, "<example>", "exec"), {"__name__": "ekklesia_example"})


@pytest.mark.parametrize("module", [ekklesia.agents.population, ekklesia.simulation])
def test_docstring_examples_run(module: ModuleType) -> None:
    found = examples(module)
    assert found
    for code in found:
        run(code)


README_EXAMPLE = '''
import numpy as np
import ekklesia as ek
from ekklesia.environments import averages, guess_two_thirds

result = guess_two_thirds(agents=100_000, rounds=5, seed=0).run()
print(averages(result))                            # the moderator's average, round by round
guesses = result.final_states("players")["guess"]  # every player's last guess

class Opinion(ek.AgentKind):
    """Each agent moves halfway towards the mean opinion it heard last round."""

    columns = {"x": "float64"}

    def init(self, state, ctx):
        state["x"][:] = ctx.rng.uniform(-1, 1)

    async def step(self, state, inbox, ctx):
        if len(inbox.broadcast):
            state["x"] += 0.5 * (inbox.broadcast["mean"][-1] - state["x"])
        return ctx.mail(to=ctx.agent("pollster"), x=state["x"])

class Pollster(ek.AgentKind):
    phase = 1  # steps after the agents of the same round
    columns = {"mean": "float64"}

    async def step(self, state, inbox, ctx):
        state["mean"][:] = inbox.direct["x"].mean()
        return ctx.mail(to=ctx.everyone("people"), mean=state["mean"][0])

sim = ek.Simulation(
    [ek.Population(Opinion, n=50_000, name="people"), ek.Population(Pollster, name="pollster")],
    rounds=6,
    seed=7,
)
result = sim.run()
spread = result.column("people", "x", "max")[-1] - result.column("people", "x", "min")[-1]
assert spread < 0.1  # opinions converge: the spread halves every round
'''


@pytest.mark.skipif(
    not hasattr(ekklesia, "Simulation"), reason="ek.Simulation is not exported from ekklesia yet"
)
def test_readme_example_runs() -> None:
    run(README_EXAMPLE)
