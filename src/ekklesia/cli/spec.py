"""``ekklesia spec schema|validate``, ``ekklesia swarm create`` and ``ekklesia init``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml

from ekklesia.cli._common import console, fail, one_line_errors
from ekklesia.cli.config import CONFIG_TEMPLATE, config_path
from ekklesia.core.paths import data_home, timeline_dir
from ekklesia.patterns.library import library
from ekklesia.patterns.spec import SPEC_VERSION, RunSpec, load_spec_file

__all__ = ["SWARM_TEMPLATE", "register"]

spec_app = typer.Typer(
    help="The RunSpec: its JSON Schema, and checking a file.", no_args_is_help=True
)
swarm_app = typer.Typer(help="Swarm spec files.", no_args_is_help=True)

SWARM_TEMPLATE = """\
# A swarm, as `ekklesia run --spec {file}` runs it (flags given beside --spec override it).
# Every field is optional; `ekklesia spec schema` lists them and `ekklesia spec validate {file}`
# checks this file without running it.
version: {version}
name: {name}

# How the agents work: a library pattern ({patterns}) or "package.module:my_pattern".
pattern: debate

# A number of agents sharing `model` and `role`, or a list:
#   agents:
#     - {{name: alice, role: solver, model: "sim:skill=0.8"}}
#     - {{name: bob, role: solver, model: "openai:http://127.0.0.1:8000/v1#llama-3.1-8b"}}
agents: 3
model: sim                # sim, sim:skill=0.8, openai:URL#MODEL, portkey:@provider/model
# role: solver
# tools: [python_sandbox] # tools every agent may call

graph: complete           # complete, ring, star, chain, tree, random:P, independent, [[u, v]]
rounds: 2
aggregate: majority       # majority, confidence, judge (adds a judge agent), last
stop_on_consensus: true   # stop early when every agent gives the same answer

budget:                   # per run; a step that would spend more is not taken
  max_usd: null
  max_tokens: null

seed: 0                   # the same seed, spec and model answers give the same timeline
memory: null              # a shared memory's name, under $EKKLESIA_HOME/memory/<name>
options: {{}}              # the pattern's own options
"""


@spec_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a RunSpec."""
    typer.echo(json.dumps(RunSpec.model_json_schema(by_alias=True), indent=2))


@spec_app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="A spec file (YAML or JSON).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the validated spec as JSON.")
    ] = False,
) -> None:
    """Check a spec file without running it; a wrong one exits 2 with one line naming the field."""
    with one_line_errors():
        spec = load_spec_file(file)
    if as_json:
        typer.echo(json.dumps(spec.to_data()))
    else:
        console.print(f"{file}: valid (pattern {spec.pattern}, spec version {spec.version})")


@swarm_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The swarm's name; the file is NAME.yaml.")],
    out: Annotated[Path | None, typer.Option(help="Where to write (default: ./NAME.yaml).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented spec file to start from."""
    with one_line_errors():
        RunSpec.of({"name": name}, source="the swarm name")
        path = out or Path(f"{name}.yaml")
        if path.exists() and not force:
            fail(f"{path} exists; pass --force to overwrite it")
        text = SWARM_TEMPLATE.format(
            file=path, version=SPEC_VERSION, name=name, patterns=", ".join(library)
        )
        RunSpec.of(yaml.safe_load(text), source=str(path))  # the template is itself valid
        path.write_text(text, encoding="utf-8")
    console.print(f"wrote {path}: run it with `ekklesia run --spec {path}`")


def init(
    force: Annotated[
        bool, typer.Option("--force", help="Rewrite config.yaml if it exists.")
    ] = False,
) -> None:
    """Create $EKKLESIA_HOME (~/.ekklesia) with a config file that explains itself."""
    with one_line_errors():
        home = data_home()
        for folder in (home, timeline_dir(), home / "memory"):
            folder.mkdir(parents=True, exist_ok=True)
        path = config_path()
        if path.exists() and not force:
            console.print(f"{path} exists (kept; --force rewrites it)")
        else:
            path.write_text(CONFIG_TEMPLATE, encoding="utf-8")
            console.print(f"wrote {path}")
    console.print(f"ekklesia home: {home}  (timelines in {timeline_dir()})")


def register(app: typer.Typer) -> None:
    app.add_typer(spec_app, name="spec")
    app.add_typer(swarm_app, name="swarm")
    app.command("init")(init)
