"""Reaching OpenAI-compatible replicas: which ones answer, and one-line reasons when they do not.

A replica that cannot be reached at the start (refused, timed out, HTTP 5xx)
is an outage: it is dropped with a warning and the run starts on the others. A
replica that answers but does not serve the model, or refuses the key, is a
setting to fix: that stops at once. Every reason passes through ``redact``,
because servers and proxies echo headers, keys included.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence

import httpx

from agentville.sim.core import secrets

from .endpoints import BY_SCENARIO, TRUSTED_ENV, Server
from .wire import MODELS_BYTES, WireFault, attempt_deadline, fetch

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 5.0
_BEARER = re.compile(r"(?i)\bbearer\s+[^\s\"',;]+")
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}")  # OpenAI-style keys


class BackendUnavailable(RuntimeError):
    """The server cannot be used at all (unreachable, or not serving the model)."""


def reachable_replicas(client: httpx.Client, replicas: Sequence[Server], model: str,
                       timeout_s: float) -> list[Server]:
    """The replicas that serve ``model`` now; the unreachable ones are logged and left out."""
    reachable, down = [], []
    for replica in replicas:
        base = replica.url
        try:
            with attempt_deadline(timeout_s):  # a dripping or endless list is an outage too
                status, said = fetch(client, "GET", f"{base}/models", cap=MODELS_BYTES, **replica.sends)
        except httpx.TransportError as exc:
            down.append(f"cannot reach the OpenAI-compatible server at {base} ({describe(exc, replica.key)})")
            continue
        except WireFault as exc:
            down.append(f"cannot use the OpenAI-compatible server at {base} ({redact(exc.reason, replica.key)})")
            continue
        if status >= 500:
            down.append(f"the server at {base} answered HTTP {status} to GET /v1/models")
            continue
        if status != 200:
            hint = _key_hint(replica) if status in (401, 403) else ""
            raise BackendUnavailable(f"the server at {base} answered HTTP {status} to GET /v1/models{hint}")
        served = _served_models(said)
        if served is None:
            raise BackendUnavailable(f"the server at {base} did not answer GET /v1/models with a model list")
        if model not in served:
            raise BackendUnavailable(f"model '{model}' is not served at {base}; "
                                     f"it serves: {', '.join(served) or 'nothing'}")
        reachable.append(replica)
    if not reachable:
        raise BackendUnavailable("; ".join(down) + ("; is it running?" if len(down) == 1 else "; are they running?"))
    for reason in down:
        log.warning("agentville: %s; going on with %d of %d replicas", reason, len(reachable), len(replicas))
    return reachable


def _key_hint(replica: Server) -> str:
    if replica.named_by == BY_SCENARIO and not replica.key:
        return (f" (no API key was sent: the scenario, not you, named this server; pass --base-url {replica.url} "
                f"or list it in ${TRUSTED_ENV} to send the key)")
    return " (check the API key)"


def _served_models(said: str) -> list[str] | None:
    try:
        return [str(entry["id"]) for entry in json.loads(said)["data"]]
    except (ValueError, KeyError, TypeError):
        return None


def describe(exc: httpx.TransportError, api_key: str | None) -> str:
    """A short reason for a network failure, for one-line messages."""
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return redact(text.split("] ")[-1] or type(exc).__name__, api_key)


def redact(text: str, api_key: str | None, limit: int | None = None) -> str:
    """Belt and braces: a server that echoes headers must not leak the key into our messages.

    The key, any bearer token and anything shaped like an API key are
    replaced before the text is cut to ``limit``: cut first, a key that
    straddled the cut would survive in part.
    """
    if api_key:
        text = text.replace(api_key, "[redacted]")
    text = secrets.redact(text)
    text = _KEY_LIKE.sub("[redacted]", _BEARER.sub("Bearer [redacted]", text))
    return text if limit is None else text[:limit]
