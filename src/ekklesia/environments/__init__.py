"""Environments: ready-made simulations with a game master, e.g. "guess 2/3 of the average"."""

from ekklesia.environments.two_thirds import (
    DummyPlayer,
    GuessPlayer,
    Moderator,
    averages,
    guess_two_thirds,
)

__all__ = ["DummyPlayer", "GuessPlayer", "Moderator", "averages", "guess_two_thirds"]
