"""``ray job submit -- ekklesia sweep``: a sweep submitted as a Ray job to a separate cluster gives
the sweep this process computes itself."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ekklesia.learn import RunStore, sweep

STRATEGIES = """\
strategies:
  - {name: debate, agents: 3, rounds: 2, model: "sim:skill=0.6"}
  - {name: single, agents: 1, rounds: 1, graph: independent, model: "sim:skill=0.6"}
objective: accuracy - 200 * usd
"""
JOB = "ekklesia-sweep"
RAY = str(Path(sys.executable).with_name("ray"))
PORTS = (
    "--port",
    "--dashboard-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--metrics-export-port",
    "--runtime-env-agent-port",
    "--ray-client-server-port",
    "--node-manager-port",
    "--object-manager-port",
)


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture
def head() -> Iterator[tuple[str, dict[str, str]]]:
    """A Ray head on 127.0.0.1 with its job server, in its own temp dir; every port its own
    (the defaults of a second cluster on one machine collide). ``--block`` keeps its processes
    under one parent, so ending that parent ends this cluster alone (``ray stop`` would end
    every Ray process on the machine)."""
    temp = tempfile.mkdtemp(prefix="ekr", dir="/tmp")  # short: Ray's socket paths must be
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    command = [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1"]
    command += ["--num-cpus", "2", "--dashboard-host", "127.0.0.1", "--include-dashboard", "true"]
    command += ["--temp-dir", f"{temp}/ray", "--disable-usage-stats"]
    command += [str(x) for pair in ports.items() for x in pair]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True
    )
    try:
        yield f"http://127.0.0.1:{ports['--dashboard-port']}", env
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(temp, ignore_errors=True)


def submit(address: str, env: dict[str, str], runtime_env: str, *entrypoint: str) -> None:
    """``ray job submit --no-wait``, again while the head's job agent is still starting."""
    deadline = time.monotonic() + 180
    options = ["--address", address, "--submission-id", JOB, "--runtime-env-json", runtime_env]
    while True:
        done = subprocess.run(
            [RAY, "job", "submit", *options, "--no-wait", "--", *entrypoint],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return
        assert time.monotonic() < deadline, done.stderr[-2000:]
        time.sleep(2)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_a_sweep_submitted_as_a_ray_job_is_the_local_sweep(
    head: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    address, env = head
    strategies = tmp_path / "strategies.yaml"
    strategies.write_text(STRATEGIES)
    job_home = tmp_path / "job-home"
    # the job runs in this venv: its driver needs only the package's path and a home
    runtime_env = json.dumps(
        {"env_vars": {"EKKLESIA_HOME": str(job_home), "PYTHONPATH": os.pathsep.join(sys.path)}}
    )
    started = time.monotonic()
    sweep_command = ["-m", "ekklesia", "sweep", str(strategies), "--suite", "arithmetic"]
    submit(address, env, runtime_env, sys.executable, *sweep_command, "--tasks", "6", "--json")
    logs = subprocess.run(
        [RAY, "job", "logs", "--address", address, "--follow", JOB],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    status = subprocess.run(
        [RAY, "job", "status", "--address", address, JOB],
        env=env,
        capture_output=True,
        text=True,
    )
    print(f"ray job submit -- ekklesia sweep: {time.monotonic() - started:.1f} s")
    assert f"Job {JOB!r} succeeded" in status.stdout + status.stderr, logs.stdout[-3000:]
    (line,) = [x for x in logs.stdout.splitlines() if x.startswith('{"strategies"')]
    local = sweep(strategies, suite="arithmetic", tasks=6)
    assert json.loads(line) == json.loads(json.dumps(local.to_json()))
    assert RunStore(job_home / "learn" / "runs").count() == 12  # stored in the job's home
