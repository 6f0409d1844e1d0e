"""Which secrets each named connector needs, under the names its vendor's documentation uses.

``ekklesia connect add NAME`` asks for these and stores them (:func:`~ekklesia.connectors.secrets.
store_secret`); the connectors read them back with :func:`~ekklesia.connectors.secrets.secret`,
which also finds them in the environment or in ``$EKKLESIA_SECRETS_FILE``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ekklesia.errors import UserError

__all__ = ["CONNECTORS", "Credential", "Field", "credential"]


@dataclass(frozen=True)
class Field:
    secret: str
    """The variable it is stored as."""
    prompt: str
    hidden: bool = True


@dataclass(frozen=True)
class Credential:
    name: str
    kind: str
    """``search`` (a search provider) or ``data`` (a business data connector)."""
    fields: tuple[Field, ...]


CONNECTORS: dict[str, Credential] = {
    c.name: c
    for c in (
        Credential("tavily", "search", (Field("TAVILY_API_KEY", "Tavily API key"),)),
        Credential("exa", "search", (Field("EXA_API_KEY", "Exa API key"),)),
        Credential("serper", "search", (Field("SERPER_API_KEY", "Serper API key"),)),
        Credential("perplexity", "search", (Field("PERPLEXITY_API_KEY", "Perplexity API key"),)),
        # a HubSpot private app's access token, sent as a Bearer token
        Credential("hubspot", "data", (Field("HUBSPOT_ACCESS_TOKEN", "HubSpot access token"),)),
        # an OAuth access token and the org's instance URL (https://MyDomain.my.salesforce.com)
        Credential(
            "salesforce",
            "data",
            (
                Field("SALESFORCE_INSTANCE_URL", "Salesforce instance URL", hidden=False),
                Field("SALESFORCE_ACCESS_TOKEN", "Salesforce access token"),
            ),
        ),
        # Gong's access key and access key secret, sent as HTTP Basic auth
        Credential(
            "gong",
            "data",
            (
                Field("GONG_ACCESS_KEY", "Gong access key"),
                Field("GONG_ACCESS_KEY_SECRET", "Gong access key secret"),
            ),
        ),
    )
}


def credential(name: str) -> Credential:
    found = CONNECTORS.get(name.lower())
    if found is None:
        raise UserError(f"unknown connector {name!r} (known: {', '.join(CONNECTORS)})")
    return found
