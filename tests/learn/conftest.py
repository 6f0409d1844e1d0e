"""The learners' named actors are detached (they outlive the driver that started them on a
cluster); in the one test session each test's home has its own, killed when the test ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ekklesia.learn.learner import NAMESPACE


@pytest.fixture(autouse=True)
def _learner_actors_end_with_the_test() -> Iterator[None]:
    yield
    import ray

    if not ray.is_initialized():
        return
    for found in ray.util.list_named_actors(all_namespaces=True):
        if found["namespace"] == NAMESPACE and found["name"].startswith("ekklesia-learner-"):
            ray.kill(ray.get_actor(found["name"], namespace=NAMESPACE), no_restart=True)
