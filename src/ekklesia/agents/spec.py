"""Model specs: one string names a model everywhere a model is named (Python, CLI, config files).

``sim``, ``sim:skill=0.8,conformity=0.3`` — a :class:`SimulatedModel`. Other schemes (for
example ``portkey:@openai/gpt-4o-mini`` or ``openai:http://127.0.0.1:8000/v1#model``) are
registered by the connectors with :func:`register_model_scheme`, lazily by import path, so
that naming a simulated model never imports an HTTP client. An unknown or malformed spec is a
:class:`~ekklesia.errors.SpecError` raised before anything starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ekklesia.agents.model import Model
from ekklesia.agents.simulated import SimulatedModel
from ekklesia.errors import SpecError

__all__ = ["model_from_spec", "parse_options", "register_model_scheme"]

ModelFactory = Callable[[str], Model]

_factories: dict[str, ModelFactory | str] = {}


def register_model_scheme(scheme: str, factory: ModelFactory | str) -> None:
    """Make ``scheme:rest`` specs build models with ``factory(rest)``.

    ``factory`` may be a callable or an import path ``"package.module:function"`` resolved on first
    use.
    """
    _factories[scheme] = factory


def parse_options(text: str, *, spec: str) -> dict[str, str]:
    """Parse ``key=value,key=value`` into a dict, with errors that quote the whole spec."""
    options: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SpecError(f"malformed model spec {spec!r}: expected key=value, got {part!r}")
        options[key.strip()] = value.strip()
    return options


def _simulated(rest: str) -> Model:
    spec = f"sim:{rest}" if rest else "sim"
    options = parse_options(rest, spec=spec)
    floats = {
        "skill": "skill",
        "conformity": "conformity",
        "correlation": "correlation",
        "latency": "latency_s",
    }
    kwargs: dict[str, object] = {}
    for key, value in options.items():
        try:
            if key in floats:
                kwargs[floats[key]] = float(value)
            elif key == "seed":
                kwargs["seed"] = int(value)
            elif key == "price_as":
                kwargs["price_as"] = value
            else:
                known = ", ".join([*floats, "seed", "price_as"])
                raise SpecError(f"unknown option {key!r} in model spec {spec!r} (known: {known})")
        except ValueError as exc:
            raise SpecError(f"bad value {value!r} for {key!r} in model spec {spec!r}") from exc
    return SimulatedModel(**kwargs)  # type: ignore[arg-type]


register_model_scheme("sim", _simulated)
register_model_scheme("portkey", "ekklesia.connectors.portkey:model_from_spec")
register_model_scheme("openai", "ekklesia.connectors.openai_compat:model_from_spec")


def model_from_spec(spec: str | Model) -> Model:
    """Build the model a spec names; a :class:`Model` passes through unchanged."""
    if isinstance(spec, Model):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(f"a model spec must be a non-empty string, got {spec!r}")
    scheme, _, rest = spec.strip().partition(":")
    factory = _factories.get(scheme)
    if factory is None:
        known = ", ".join(sorted(_factories))
        raise SpecError(f"unknown model spec {spec!r}: the scheme {scheme!r} is not one of {known}")
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise SpecError(f"model scheme {scheme!r} is not available: {exc}") from exc
        _factories[scheme] = factory
    assert callable(factory)
    return factory(rest)
