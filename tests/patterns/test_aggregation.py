import pytest

import ekklesia as ek
from ekklesia.patterns.aggregation import Vote, aggregate_votes


def test_majority_and_its_tie_break() -> None:
    votes = [Vote("b", "7"), Vote("a", "9"), Vote("c", "7")]
    assert aggregate_votes(votes, "majority") == ("7", {"7": 2.0, "9": 1.0})
    # a tie goes to the answer whose first supporter comes first by name, in any input order
    tie = [Vote("c", "7"), Vote("b", "9")]
    assert aggregate_votes(tie, "majority")[0] == "9"
    assert aggregate_votes(list(reversed(tie)), "majority")[0] == "9"


def test_confidence_weighted() -> None:
    votes = [Vote("a", "7", 0.9), Vote("b", "9", 0.3), Vote("c", "9", 0.3)]
    assert aggregate_votes(votes, "confidence")[0] == "7"
    assert aggregate_votes(votes, "majority")[0] == "9"
    assert aggregate_votes([Vote("a", "1")], "confidence")[1] == {"1": 0.5}


def test_nobody_answered_and_unknown_method() -> None:
    assert aggregate_votes([], "majority") == (None, {})
    with pytest.raises(ek.SpecError):
        aggregate_votes([], "plurality")
