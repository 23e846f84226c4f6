"""Where a serving engine lives and how to talk to it: the URL, the key, the HTTP client, the
retries, and the one translation of its failures into messages a person can act on.

Used by the HTTP chat engine (desktop/engine/remote.py) and the HTTP embedder
(desktop/embed/remote_embedder.py). Servers speak OpenAI's API (`/v1/...`); llama-server adds
`/props`, `/lora-adapters`, `/tokenize`, which are used where present.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from desktop.errors import ServerError

T = TypeVar("T")

CONNECT_TIMEOUT_S = 5.0
# A first token can wait for a long prompt on a busy server; each later token comes fast.
READ_TIMEOUT_S = 300.0
CONNECT_ATTEMPTS = 3

# Only a connection that never opened is retried: a request the server may have started
# (a stream half read, a read timeout) is never sent twice.
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class Endpoint:
    """An OpenAI-compatible server.

    Args:
        url: its base URL, with or without the trailing `/v1`.
        model: the model id to ask for ("" = the one the server serves).
        api_key: sent as a Bearer token; never shown in a repr, a log or an error.
    """

    url: str
    model: str = ""
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ServerError(f"the engine URL must look like http://HOST:PORT, got {self.url!r}")
        root = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        object.__setattr__(self, "url", root.removesuffix("/v1"))

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def is_loopback(self) -> bool:
        """True if the server runs on this machine (127.0.0.0/8, ::1, localhost)."""
        host = self.host
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    @property
    def where(self) -> str:
        """Where answers are computed, as the window shows it."""
        return "This computer (server)" if self.is_loopback else f"server: {self.host}"

    def warnings(self) -> list[str]:
        """What a person must hear before using this endpoint (empty for loopback)."""
        if self.is_loopback:
            return []
        out = [
            f"answers are computed on {self.host}: your questions and the passages of your "
            "documents leave this computer"
        ]
        if urlsplit(self.url).scheme == "http":
            out.append(
                f"the connection to {self.host} is plain http://, not encrypted: anyone on the "
                "network path can read the passages and the API key; use https://"
            )
        return out

    def client(self, read_timeout_s: float = READ_TIMEOUT_S) -> httpx.Client:
        """An HTTP client for this server (close it)."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        timeout = httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)


def with_connect_retries(send: Callable[[], T]) -> T:
    """`send()`, tried again with backoff while the connection cannot be opened."""
    retrying = retry(
        retry=retry_if_exception_type(_CONNECT_ERRORS),
        stop=stop_after_attempt(CONNECT_ATTEMPTS),
        wait=wait_exponential(multiplier=0.25, max=2.0),
        reraise=True,
    )
    return retrying(send)()


def _server_message(body: str) -> str:
    """The error text a server put in its body (OpenAI and llama-server shapes)."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return " ".join(body.split())[:200]
    error = data.get("error", data) if isinstance(data, dict) else data
    if isinstance(error, dict):
        return str(error.get("message") or error.get("detail") or error)[:200]
    return str(error)[:200]


def _error_type(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return str(error.get("type", "")) if isinstance(error, dict) else ""


def status_error(endpoint: Endpoint, status: int, body: str, model: str = "") -> ServerError:
    """The one-line message for an HTTP error status from `endpoint`."""
    host, said = endpoint.host, _server_message(body)
    lowered = said.lower()
    if status in (401, 403):
        return ServerError(
            f"the server at {host} refused the API key ({status}): set the right key in "
            "Settings › Engine or with `folio engines key`"
        )
    if status in (429, 503):
        return ServerError(
            f"the server at {host} is overloaded or still loading ({status}: {said}); "
            "try again in a moment"
        )
    if (
        "exceed_context" in _error_type(body)
        or "context" in lowered
        and ("exceed" in lowered or "too long" in lowered or "maximum" in lowered)
    ):
        return ServerError(
            f"the question and its passages do not fit the server model's context ({said}); "
            "lower 'passages per answer' or the answer length in Settings"
        )
    if status == 404 and model and "model" in lowered:
        return ServerError(
            f"the server at {host} has no model '{model}' ({said}); "
            f"see `folio engines test {endpoint.url}` for what it serves"
        )
    return ServerError(f"the server at {host} answered HTTP {status}: {said}")


def transport_error(endpoint: Endpoint, exc: httpx.HTTPError, midway: bool = False) -> ServerError:
    """The one-line message for a connection failure talking to `endpoint`."""
    if midway:
        return ServerError(
            f"the connection to the server at {endpoint.host} broke in the middle of the "
            f"answer ({type(exc).__name__}); the answer above is incomplete. Is the server "
            "still running?"
        )
    if isinstance(exc, _CONNECT_ERRORS):
        return ServerError(
            f"cannot reach the engine server at {endpoint.url} ({_reason(exc)}): is it "
            "running, and is the address right? (Settings › Engine, or --engine)"
        )
    if isinstance(exc, httpx.TimeoutException):
        return ServerError(f"the server at {endpoint.host} did not answer in time ({exc!r})")
    return ServerError(f"talking to the server at {endpoint.host} failed: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())[:160]


def get_json(
    client: httpx.Client, endpoint: Endpoint, path: str, optional: bool = False
) -> Any | None:
    """GET `path` as JSON. With `optional`, a 404 (or 501) gives None: a feature the server
    lacks."""
    try:
        response = with_connect_retries(lambda: client.get(path))
    except httpx.HTTPError as exc:
        raise transport_error(endpoint, exc) from exc
    if optional and response.status_code in (404, 405, 501):
        return None
    if response.status_code >= 400:
        raise status_error(endpoint, response.status_code, response.text)
    try:
        return response.json()
    except ValueError as exc:
        raise ServerError(f"the server at {endpoint.host} sent bad JSON for {path}") from exc


def post_json(client: httpx.Client, endpoint: Endpoint, path: str, body: dict[str, Any]) -> Any:
    """POST `body` to `path` and return the JSON answer (errors translated)."""
    try:
        response = with_connect_retries(lambda: client.post(path, json=body))
    except httpx.HTTPError as exc:
        raise transport_error(endpoint, exc) from exc
    if response.status_code >= 400:
        raise status_error(endpoint, response.status_code, response.text, str(body.get("model")))
    try:
        return response.json()
    except ValueError as exc:
        raise ServerError(f"the server at {endpoint.host} sent bad JSON for {path}") from exc
