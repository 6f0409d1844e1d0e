"""The one place ekklesia touches Ray's process-level API: starting or joining a cluster.

``ensure_ray()`` decides where the driver runs, and never lets a dead address cost a minute:

- ``RAY_ADDRESS`` set (as under ``ray job submit``): ``local`` starts a local instance; a
  ``host:port``, a ``ray://host:port`` client address, or ``auto`` (resolved the way Ray resolves
  it: the address ``ray start`` recorded, else a GCS found running on this machine) is probed
  first. One that does not answer raises ``UserError`` with one line saying what to run, instead
  of Ray retrying for about a minute and dying with a GCS log line.
- ``RAY_ADDRESS`` unset: the cluster ``ray start`` recorded in Ray's bootstrap file
  (``$RAY_TMPDIR/ray/ray_current_cluster``, by default under ``/tmp``) is joined if it answers.
  A record left behind by a cluster that died (``kill -9`` leaves it) is reported in one warning
  line on stderr (logger ``ekklesia.runtime``) and a fresh local instance is started instead;
  the record itself is Ray's and is left alone (``ray stop`` clears it). No record: a local
  instance.
- A local instance gets no dashboard and quiet logs; one already initialised is left as it is.

The probe (``cluster_answers``) is a TCP connect to the address's host and port: a closed port on
a live host is refused at once, a host that drops packets costs ``PROBE_TRIES`` connects of
``PROBE_TIMEOUT_S`` each. Something else listening on a dead cluster's port passes the probe;
Ray then reports that itself.
"""

from __future__ import annotations

import logging
import os
import socket
import time

import ray

from ekklesia.errors import UserError

__all__ = ["PROBE_TIMEOUT_S", "PROBE_TRIES", "cluster_answers", "ensure_ray", "ray_cpus"]

PROBE_TIMEOUT_S = 2.0
PROBE_TRIES = 2
_RETRY_PAUSE_S = 0.25
_START_ONE = "start one with `ray start --head` or unset RAY_ADDRESS to run locally"

log = logging.getLogger("ekklesia.runtime")


def ensure_ray(num_cpus: int | None = None) -> None:
    """Join the cluster at ``RAY_ADDRESS`` or the one ``ray start`` recorded, else start one here.

    ``num_cpus`` applies to a local instance only (Ray refuses it when joining a cluster).
    """
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    requested = os.environ.get("RAY_ADDRESS", "")
    if requested and requested != "local":
        address = _resolve(requested)
        if address is not None and not cluster_answers(address):
            where = "RAY_ADDRESS" if address == requested else f"RAY_ADDRESS={requested}"
            raise UserError(f"no Ray cluster answers at {address} ({where}); {_START_ONE}")
        ray.init(logging_level=logging.WARNING, log_to_driver=False)
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    recorded = None if requested else _recorded_address()
    if recorded is not None:
        if cluster_answers(recorded):
            ray.init(logging_level=logging.WARNING, log_to_driver=False)
            return
        log.warning(
            "the Ray cluster recorded at %s (by `ray start`) is gone; started a local instance "
            "instead (`ray stop` clears the record)",
            recorded,
        )
    # "local" explicitly: with address=None Ray would read the dead record again and join it.
    ray.init(
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )


def ray_cpus() -> int:
    """CPUs the cluster offers (at least 1)."""
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return max(1, int(resources.get("CPU", 1)))


def cluster_answers(
    address: str, *, timeout_s: float = PROBE_TIMEOUT_S, tries: int = PROBE_TRIES
) -> bool:
    """Whether anything accepts a TCP connection at ``address`` (``host:port``, ``[v6]:port``,
    ``ray://host:port``) within ``tries`` attempts of ``timeout_s`` each."""
    host, port = _host_port(address)
    for attempt in range(tries):
        if attempt:
            time.sleep(_RETRY_PAUSE_S)  # a GCS that is restarting gets a moment to listen again
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def _host_port(address: str) -> tuple[str, int]:
    bare = address.removeprefix("ray://").rstrip("/")
    host, sep, port = bare.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit():
        raise UserError(f"Ray address {address!r} is not host:port (or ray://host:port)")
    return host, int(port)


def _resolve(requested: str) -> str | None:
    """The address Ray will connect to for ``RAY_ADDRESS=requested``; None: not one to probe."""
    if requested.startswith("ray://"):
        return requested
    if "://" in requested:
        return None  # another client protocol: Ray hands it to its own module
    if requested != "auto":
        _host_port(requested)  # a malformed address is a UserError here, not a ValueError later
        return requested
    from ray._private import services  # private, but it is how ray.init itself resolves "auto"

    try:
        found: str = services.get_ray_address_from_environment("auto", None)
    except ConnectionError as exc:
        raise UserError(f"RAY_ADDRESS=auto but no Ray cluster runs here; {_START_ONE}") from exc
    return found


def _recorded_address() -> str | None:
    """The address of the last ``ray start`` on this machine, as ray.init would read it."""
    from ray._private.utils import read_ray_address

    recorded: str | None = read_ray_address()
    return recorded or None
