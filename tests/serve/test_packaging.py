"""The application deploys with Ray's own tools: ``ekklesia.serve:app`` and ``serve.yaml``."""

from __future__ import annotations

from pathlib import Path

import yaml
from ray.serve.schema import ServeDeploySchema

ROOT = Path(__file__).resolve().parents[2]


def test_serve_yaml_is_a_valid_deploy_config_naming_every_deployment() -> None:
    config = ServeDeploySchema.model_validate(yaml.safe_load((ROOT / "serve.yaml").read_text()))
    (application,) = config.applications
    assert application.import_path == "ekklesia.serve:app" and application.route_prefix == "/"
    names = {d.name for d in application.deployments}
    assert names == {"ingress", "runs", "embeddings", "memory"}
    assert config.http_options.host == "127.0.0.1"
    assert all(d.ray_actor_options is not None for d in application.deployments)


def test_the_import_path_is_a_bound_application() -> None:
    from ray.serve import Application

    import ekklesia.serve.application  # a submodule of that name would shadow the attribute

    assert isinstance(ekklesia.serve.app, Application)
