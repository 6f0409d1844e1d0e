import pytest

import ekklesia as ek
from ekklesia.core.events import Usage


def test_reservations_never_let_spending_pass_the_budget() -> None:
    ledger = ek.Ledger(ek.Budget(max_usd=1.0, max_tokens=1000))
    first = ledger.reserve(0.6, 100)
    assert first is not None
    assert ledger.reserve(0.6, 100) is None  # would overrun while the first is open
    ledger.settle(first, Usage(usd=0.2, input_tokens=50, output_tokens=10, calls=1))
    assert ledger.spent.usd == pytest.approx(0.2)
    second = ledger.reserve(0.6, 100)
    assert second is not None
    assert ledger.remaining_usd() == pytest.approx(0.2)
    ledger.release(second)
    assert ledger.remaining_usd() == pytest.approx(0.8)
    assert ledger.reserve(0.1, 2000) is None  # tokens bind too
    with pytest.raises(ValueError):
        ledger.settle(second, Usage())


def test_no_budget_means_no_limit_and_unknown_costs_reserve_no_dollars() -> None:
    ledger = ek.Ledger()
    assert ledger.reserve(1e9, 10**9) is not None
    capped = ek.Ledger(ek.Budget(max_usd=0.01))
    assert capped.reserve(None, 10) is not None


@pytest.mark.parametrize(
    "kwargs", [{"max_usd": 0}, {"max_usd": -1}, {"max_tokens": 0}, {"max_usd": float("inf")}]
)
def test_bad_budgets(kwargs: dict[str, float]) -> None:
    with pytest.raises((ek.SpecError, ValueError)):
        ek.Budget(**kwargs)
