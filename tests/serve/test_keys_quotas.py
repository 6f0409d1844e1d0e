"""The key store keeps only hashes; quotas hold reservations like the run ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ekklesia.errors import UserError
from ekklesia.serve.keys import KeyStore
from ekklesia.serve.quotas import QuotaExceeded, QuotaKeeper


def test_only_the_hash_of_a_key_is_stored(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    made = store.create("member", name="ci", rpm=10)
    text = (tmp_path / "keys.json").read_text()
    assert made.key not in text and made.key.split("_")[2] not in text
    assert json.loads(text)["keys"][0]["name"] == "ci"
    assert store.verify(made.key) is not None
    assert store.verify(made.key + "x") is None
    assert store.verify("not a key") is None
    assert KeyStore(tmp_path / "keys.json").verify(made.key) is not None  # another process
    with pytest.raises(UserError, match="--role"):
        store.create("god")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="no API key"):
        store.revoke("nope")


def test_reservations_cannot_overshoot_and_settle_to_what_was_spent(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key = store.get(store.create("member", tokens_per_hour=100, usd_per_day=1.0).id)
    quotas = QuotaKeeper()
    first = quotas.reserve(key, 60, 0.5, now=1000.0)
    with pytest.raises(QuotaExceeded) as refused:
        quotas.reserve(key, 50, 0.0, now=1000.0)  # 60 held + 50 > 100
    assert refused.value.retry_after >= 1
    assert refused.value.remaining["x-ratelimit-remaining-tokens"] == "40"
    quotas.settle(first, 20, 0.1, now=1001.0)  # spent less than it held: the rest is free again
    second = quotas.reserve(key, 80, 0.9, now=1002.0)
    with pytest.raises(QuotaExceeded, match=r"\$1.0 per day"):
        quotas.reserve(key, 0, 0.01, now=1002.0)
    quotas.settle(second, 80, 0.9, now=1003.0)
    assert quotas.headroom(key, now=1003.0) == (0, pytest.approx(0.0))
    assert quotas.headroom(key, now=1003.0 + 3601) == (100, pytest.approx(0.0))  # an hour on
    assert quotas.headroom(key, now=1003.0 + 86401) == (100, pytest.approx(1.0))  # a day on
