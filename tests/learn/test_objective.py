"""The objective is parsed, never evaluated as Python; bad expressions are one-line errors."""

from pathlib import Path

import pytest

from ekklesia.errors import SpecError
from ekklesia.learn import Objective, load_strategies

FIGURES = {"accuracy": 1.0, "score": 0.5, "usd": 0.001, "tokens": 800.0}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("accuracy", 1.0),
        ("accuracy - 200 * usd", 0.8),
        ("-(score) + 2 * (accuracy - tokens / 1000)", -0.1),
        ("min(accuracy, score) - max(usd, 0.01, 0)", 0.49),
        ("+accuracy / 4", 0.25),
    ],
)
def test_expressions_over_a_runs_figures(expression: str, value: float) -> None:
    assert Objective.parse(expression).value(FIGURES) == pytest.approx(value)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("__import__('os').system('true')", "the only functions are min and max"),
        ("accuracy ** 2", "operator Pow is not allowed"),
        ("latency", "unknown name 'latency'"),
        ("accuracy.real", "Attribute is not allowed"),
        ("'a' + accuracy", "only numbers are allowed"),
        ("accuracy -", "is not an expression"),
        ("min(accuracy)", "min() takes two or more plain arguments"),
        ("not accuracy", "only unary minus is allowed"),
        ("accuracy if usd else 0", "IfExp is not allowed"),
    ],
)
def test_anything_else_is_refused_naming_the_problem(expression: str, problem: str) -> None:
    with pytest.raises(SpecError) as caught:
        Objective.parse(expression, source="s.yaml")
    message = str(caught.value)
    assert message.startswith("s.yaml: ") and problem in message and "\n" not in message


def test_a_strategies_file_names_itself_in_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "strategies.yaml"
    path.write_text("strategies:\n  - {name: a}\nobjective: accuracy * * usd\n")
    with pytest.raises(SpecError, match=rf"^{path}: objective 'accuracy \* \* usd' is not an"):
        load_strategies(path)
    path.write_text("strategies:\n  - {name: a, rounds: 0}\n")
    with pytest.raises(SpecError, match=r"strategies\[0\] \(a\): rounds: "):
        load_strategies(path)
    path.write_text("strategies:\n  - {name: a}\n  - {name: a}\n")
    with pytest.raises(SpecError, match="used twice"):
        load_strategies(path)
    path.write_text('{"strategies": [{"name": "a", "rounds": 3}]}')
    json_path = path.with_suffix(".json")
    path.rename(json_path)
    loaded = load_strategies(json_path)
    assert loaded.objective.expression == "accuracy"
    assert loaded["a"].spec.rounds == 3


def test_a_digest_ignores_the_name_and_seed_but_not_the_rest() -> None:
    strategies = load_strategies(
        {
            "strategies": [
                {"name": "a", "rounds": 2},
                {"name": "b", "rounds": 2, "seed": 5},
                {"name": "c", "rounds": 3},
            ]
        }
    )
    a, b, c = strategies.strategies
    assert a.digest == b.digest != c.digest
