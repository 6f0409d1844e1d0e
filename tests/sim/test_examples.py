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
