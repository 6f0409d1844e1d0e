"""ensure_ray and dead Ray addresses.

The suite shares one Ray instance in-process, so nothing here starts Ray in the pytest process:
the choice of where to go is tested with ``ray.init`` replaced, and the two real cases (a dead
recorded cluster, a dead RAY_ADDRESS) run in a subprocess each. Ray's bootstrap file is redirected
with RAY_TMPDIR, so the machine's own /tmp/ray is never read or written.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray

import ekklesia
from ekklesia.errors import UserError
from ekklesia.runtime import ray_support
from ekklesia.runtime.ray_support import cluster_answers, ensure_ray

SRC = Path(ekklesia.__file__).resolve().parents[1]
START_ONE = "start one with `ray start --head` or unset RAY_ADDRESS to run locally"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def listening() -> Iterator[str]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield f"127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def ray_tmp() -> Iterator[Path]:
    # Short and under /tmp: a Ray session under it must keep its socket paths within 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="ekr-", dir="/tmp" if os.path.isdir("/tmp") else None))
    (path / "ray").mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


def record(ray_tmp: Path, address: str) -> None:
    """Write what ``ray start --head`` leaves in Ray's bootstrap file."""
    (ray_tmp / "ray" / "ray_current_cluster").write_text(address)


# --- the probe -------------------------------------------------------------------------------


def test_the_probe_answers_for_a_listening_socket(listening: str) -> None:
    assert cluster_answers(listening)
    assert cluster_answers(f"ray://{listening}")


def test_the_probe_gives_up_on_a_closed_port_at_once() -> None:
    started = time.monotonic()
    assert not cluster_answers(f"127.0.0.1:{closed_port()}")
    assert time.monotonic() - started < 1.5


def test_the_probe_gives_up_on_a_silent_host_within_its_timeouts() -> None:
    # A listener whose accept queue is full drops new SYNs, as a host behind a firewall does.
    # (A remote test address would not do: some sandboxes accept every outbound connection.)
    with socket.create_server(("127.0.0.1", 0), backlog=0) as server:
        address = f"127.0.0.1:{server.getsockname()[1]}"
        with socket.create_connection(server.getsockname()):  # fills the queue
            started = time.monotonic()
            assert not cluster_answers(address, timeout_s=0.3, tries=2)
            elapsed = time.monotonic() - started
    assert 2 * 0.3 <= elapsed < 2 * 0.3 + 1.0


def test_the_probe_reads_ipv6_addresses() -> None:
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with server:
        assert cluster_answers(f"[::1]:{server.getsockname()[1]}")


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:", ":6379", "host:port", "ray://x"])
def test_an_address_without_host_and_port_is_a_user_error(address: str) -> None:
    with pytest.raises(UserError, match="is not host:port"):
        cluster_answers(address)


# --- where ensure_ray goes, with ray.init replaced ----------------------------------------


@pytest.fixture
def inits(monkeypatch: pytest.MonkeyPatch, ray_tmp: Path) -> list[dict[str, Any]]:
    """The calls ensure_ray makes to ray.init, none of them real."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("RAY_TMPDIR", str(ray_tmp))
    return calls


def test_no_record_starts_a_local_instance(inits: list[dict[str, Any]]) -> None:
    ensure_ray(num_cpus=3)
    assert inits == [
        {
            "address": "local",
            "num_cpus": 3,
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
    ]


def test_a_recorded_cluster_that_answers_is_joined(
    inits: list[dict[str, Any]], ray_tmp: Path, listening: str
) -> None:
    record(ray_tmp, listening)
    ensure_ray(num_cpus=3)
    # no address: ray.init reads the record itself; no num_cpus: Ray refuses it when joining
    assert inits == [{"logging_level": logging.WARNING, "log_to_driver": False}]


def test_a_dead_record_is_reported_and_a_local_instance_started(
    inits: list[dict[str, Any]], ray_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    address = f"127.0.0.1:{closed_port()}"
    record(ray_tmp, address)
    with caplog.at_level(logging.WARNING, logger="ekklesia.runtime"):
        ensure_ray(num_cpus=1)
    assert [(call["address"], call["num_cpus"]) for call in inits] == [("local", 1)]
    assert [r.getMessage() for r in caplog.records] == [
        f"the Ray cluster recorded at {address} (by `ray start`) is gone; started a local "
        "instance instead (`ray stop` clears the record)"
    ]


def test_ray_address_local_starts_a_local_instance_whatever_is_recorded(
    inits: list[dict[str, Any]], ray_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record(ray_tmp, f"127.0.0.1:{closed_port()}")
    monkeypatch.setenv("RAY_ADDRESS", "local")
    ensure_ray()
    assert [call["address"] for call in inits] == ["local"]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_ray_address_that_answers_is_joined(
    inits: list[dict[str, Any]], listening: str, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", scheme + listening)
    ensure_ray(num_cpus=2)
    assert inits == [{"logging_level": logging.WARNING, "log_to_driver": False}]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_a_dead_ray_address_is_one_user_error(
    inits: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    address = f"{scheme}127.0.0.1:{closed_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    with pytest.raises(UserError) as caught:
        ensure_ray()
    assert str(caught.value) == f"no Ray cluster answers at {address} (RAY_ADDRESS); {START_ONE}"
    assert inits == []


def test_ray_address_auto_naming_a_dead_record_is_one_user_error(
    inits: list[dict[str, Any]], ray_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ray._private import services

    # Ray's "auto" prefers a lone GCS process it finds running over the record; the tests' own
    # Ray may be one, so there is none to find here.
    monkeypatch.setattr(services, "find_gcs_addresses", frozenset)
    address = f"127.0.0.1:{closed_port()}"
    record(ray_tmp, address)
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    with pytest.raises(UserError) as caught:
        ensure_ray()
    assert (
        str(caught.value) == f"no Ray cluster answers at {address} (RAY_ADDRESS=auto); {START_ONE}"
    )
    (ray_tmp / "ray" / "ray_current_cluster").unlink()
    with pytest.raises(UserError, match=r"^RAY_ADDRESS=auto but no Ray cluster runs here; start"):
        ensure_ray()
    assert inits == []


def test_a_malformed_ray_address_is_a_user_error(
    inits: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAY_ADDRESS", "somewhere")
    with pytest.raises(UserError, match="'somewhere' is not host:port"):
        ensure_ray()
    assert inits == []


# --- the real thing, in subprocesses ---------------------------------------------------------


def run_python(args: list[str], **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environ = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    environ["PYTHONPATH"] = os.pathsep.join([str(SRC), environ.get("PYTHONPATH", "")])
    environ.update(env)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *args], env=environ, capture_output=True, text=True, timeout=90
    )
    return done, time.monotonic() - started


DRIVER = """
from ekklesia.runtime.ray_support import ensure_ray, ray_cpus
import ray
ensure_ray(num_cpus=1)
print("cpus", ray_cpus(), ray.get(ray.remote(lambda: 42).remote()))
ray.shutdown()
"""


def test_a_killed_ray_start_leaves_a_record_that_costs_one_line(ray_tmp: Path) -> None:
    address = f"127.0.0.1:{closed_port()}"
    record(ray_tmp, address)
    done, seconds = run_python(["-c", DRIVER], RAY_TMPDIR=str(ray_tmp))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cpus", "1", "42"]
    about_it = [line for line in done.stderr.splitlines() if address in line]
    assert about_it == [
        f"the Ray cluster recorded at {address} (by `ray start`) is gone; started a local "
        "instance instead (`ray stop` clears the record)"
    ]
    assert "Traceback" not in done.stderr
    assert seconds < 30


def test_a_dead_ray_address_is_one_line_from_the_cli(tmp_path: Path) -> None:
    address = f"127.0.0.1:{closed_port()}"
    done, seconds = run_python(
        ["-m", "ekklesia", "run", "--tasks", "1", "--agents", "1", "--rounds", "1"],
        RAY_ADDRESS=address,
        EKKLESIA_HOME=str(tmp_path / "home"),
        COLUMNS="300",  # rich wraps at 80 columns when stderr is no terminal
    )
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line.strip()] == [
        f"error: no Ray cluster answers at {address} (RAY_ADDRESS); {START_ONE}"
    ]
    assert seconds < 30


def test_probe_defaults_stay_within_the_promised_few_seconds() -> None:
    assert ray_support.PROBE_TRIES * ray_support.PROBE_TIMEOUT_S <= 5
