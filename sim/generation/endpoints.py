"""Where requests to an OpenAI-compatible server go, and which secrets go with them.

A scenario file is shared between people (worlds, sweeps, imports), so it may
name servers but never decides where a secret goes: the API key (from the
variable the user names, ``$OPENAI_API_KEY`` by default) is sent only to the
servers the user named (``--base-url``, or listed in ``$AGENTVILLE_TRUSTED_SERVERS``).
A server only the scenario names is asked without the key.

Credentials written into a URL (``http://user:key@host/v1``, ``?api-key=…``)
are taken out of it: they go with each request to that server as they would
have, while the URL that is logged, stored and printed carries neither. Every
secret is ``remember``ed, so the store and the messages redact it wherever it
comes back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from agentville.sim.core import secrets
from agentville.sim.core.errors import UserError

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
TRUSTED_ENV = "AGENTVILLE_TRUSTED_SERVERS"
BY_USER, BY_SCENARIO = "you", "the scenario"


@dataclass(frozen=True)
class Server:
    """One replica: the URL as it is shown (``http://host:port/v1``), and what goes with each request to it."""

    url: str
    key: str | None = field(default=None, repr=False)  # sent as a bearer token
    auth: tuple[str, str] | None = field(default=None, repr=False)  # from the URL's user:password
    params: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # from the URL's query
    named_by: str = BY_USER

    @property
    def sends(self) -> dict[str, Any]:
        """What goes with every request to this replica: keyword arguments of httpx's request methods."""
        return {"headers": {"Authorization": f"Bearer {self.key}"} if self.key else None,
                "auth": self.auth, "params": self.params or None}


def normalise_base_url(url: str) -> str:
    """``host:port``, ``http://host:port/`` and ``http://host:port/v1`` all become ``http://host:port/v1``
    (without credentials or query: ``server`` keeps those)."""
    return server(url).url


def server(url: str, key: str | None = None, named_by: str = BY_USER) -> Server:
    """The replica a URL names, its credentials and query taken out of the URL and remembered as secrets."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise UserError(f"server URL {_shown(url)!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UserError(f"server URL {_shown(url)!r}: not an http(s) URL with a host")
    auth = (unquote(parts.username or ""), unquote(parts.password or "")) if parts.username is not None else None
    params = tuple(parse_qsl(parts.query, keep_blank_values=True))
    for secret in [key, *(auth or ()), *(value for _, value in params)]:
        secrets.remember(secret)
    netloc = f"[{host}]" if ":" in host else host
    path = parts.path.rstrip("/")
    shown = urlunsplit((parts.scheme, netloc + (f":{port}" if port is not None else ""),
                        path if path.endswith("/v1") else f"{path}/v1", "", ""))
    return Server(shown, key, auth, params, named_by)


def servers(named_by_user: Sequence[str] | None, named_by_scenario: Sequence[str], *,
            key_env: str = DEFAULT_KEY_ENV, environ: Mapping[str, str] = os.environ) -> list[Server]:
    """The replicas to use, each with the key if the user named it: the user's URLs replace the scenario's."""
    key = environ.get(key_env) or None
    if named_by_user:
        return [server(url, key) for url in named_by_user]
    trusted = {server(url).url for url in _listed(environ.get(TRUSTED_ENV, ""))}
    found = [server(url, None, BY_SCENARIO) for url in named_by_scenario]
    return [server(url, key) if plain.url in trusted else plain for url, plain in zip(named_by_scenario, found)]


def destinations(replicas: Iterable[Server], key_env: str) -> str:
    """One line saying where requests go and which of those servers get the key."""
    parts = []
    for replica in replicas:
        if replica.key:
            parts.append(f"{replica.url} (named by {replica.named_by}; sends ${key_env})")
        elif replica.named_by == BY_SCENARIO:
            parts.append(f"{replica.url} (named by the scenario; no key sent: name it with --base-url or in "
                         f"${TRUSTED_ENV} to send ${key_env})")
        else:
            parts.append(f"{replica.url} (named by {replica.named_by}; no key: ${key_env} is not set)")
    return "requests go to " + ", ".join(parts)


def scenario_destinations(urls: Sequence[str], key_env: str = DEFAULT_KEY_ENV) -> str:
    """Where a scenario's own servers would get its requests (and whether the key would follow): for
    ``validate`` and a sweep, which say it once before any run."""
    return destinations(servers(None, urls, key_env=key_env), key_env)


def _listed(text: str) -> list[str]:
    return [url for url in text.replace(",", " ").split() if url]


def _shown(url: str) -> str:
    """A URL as an error may quote it: without its credentials and query."""
    return re.sub(r"//[^/?#]*@", "//", url).split("?")[0]
