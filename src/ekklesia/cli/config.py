"""``$EKKLESIA_HOME/config.yaml``: the user's defaults, as ``ekklesia init`` writes them.

Its ``run:`` section is a partial :class:`~ekklesia.patterns.spec.RunSpec` under every
``ekklesia run`` (a ``--spec`` file and the flags override it). A missing file means no defaults.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ekklesia.core.paths import data_home
from ekklesia.errors import SpecError
from ekklesia.patterns.spec import RunSpec

__all__ = ["CONFIG_TEMPLATE", "base_spec", "config_path"]

CONFIG_TEMPLATE = """\
# ekklesia's configuration: $EKKLESIA_HOME/config.yaml (~/.ekklesia by default).
# Timelines go to timelines/ and memories to memory/<name>/ beside this file.

# Defaults for every `ekklesia run`: any RunSpec field (`ekklesia spec schema` lists them).
# A --spec file overrides these, and the command's flags override both.
run:
  model: sim              # e.g. "openai:http://127.0.0.1:8000/v1#llama-3.1-8b" or
                          #      "portkey:@openai/gpt-4o-mini" (keys come from the environment)
  # budget:
  #   max_usd: 1.0        # per run; a run that would spend more stops with stop_reason "budget"
  # seed: 0
"""


def config_path() -> Path:
    return data_home() / "config.yaml"


def base_spec() -> RunSpec:
    """The ``run:`` defaults of the config file, as a spec (the plain defaults without one)."""
    path = config_path()
    if not path.exists():
        return RunSpec()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: cannot read the config: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("run", {}) or {}, dict):
        raise SpecError(f"{path}: the config is a mapping with a `run:` mapping")
    return RunSpec.of(data.get("run") or {}, source=f"{path} (run:)")
