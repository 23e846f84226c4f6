"""The serving-engine boundary without a server: URLs and privacy warnings, the one-line
messages for each failure, connect retries, the API key in the keyring (never in settings),
and the Session building the HTTP engine that the settings name."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from desktop import settings as settings_mod
from desktop.config import Config
from desktop.engine import secrets
from desktop.engine.endpoint import Endpoint, status_error
from desktop.errors import ServerError
from desktop.session import Session
from desktop.settings import Settings
from tests.fakes import ScriptedEngine, fake_registry
from tests.llama_server import free_port

pytestmark = pytest.mark.fast


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps keys in a dict (the OS one, where a desktop has it)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.keys[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.keys.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self.keys.pop((service, username), None) is None:
            raise PasswordDeleteError("none")


@pytest.fixture()
def memory_keyring():  # type: ignore[no-untyped-def]
    before = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(before)


@pytest.fixture()
def no_keyring():  # type: ignore[no-untyped-def]
    from keyring.backends import fail

    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def test_urls_are_normalised_and_loopback_is_told_apart() -> None:
    assert Endpoint("http://127.0.0.1:8080/v1/").url == "http://127.0.0.1:8080"
    assert Endpoint("http://localhost:11434").is_loopback
    assert Endpoint("http://[::1]:8000").is_loopback
    assert not Endpoint("https://gpu.lan:8000").is_loopback
    assert Endpoint("http://127.0.0.1:1").warnings() == []
    assert Endpoint("https://gpu.lan").where == "server: gpu.lan"
    with pytest.raises(ServerError, match="must look like http://HOST:PORT"):
        Endpoint("gpu.lan:8000")


def test_a_remote_server_warns_and_plain_http_warns_twice() -> None:
    https = Endpoint("https://gpu.lan:8000").warnings()
    assert len(https) == 1 and "leave this computer" in https[0]
    http = Endpoint("http://10.0.0.5:8000").warnings()
    assert len(http) == 2 and "not encrypted" in http[1]


def test_the_api_key_never_shows_in_a_repr() -> None:
    assert "s3cret" not in repr(Endpoint("http://127.0.0.1:1", api_key="s3cret"))


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, '{"error": {"code": 401, "message": "Invalid API Key"}}', "refused the API key"),
        (429, '{"error": {"message": "busy"}}', "overloaded or still loading (429"),
        (503, '{"error": {"message": "Loading model"}}', "overloaded or still loading (503"),
        (
            400,
            '{"error": {"type": "exceed_context_size_error", "message": "the request exceeds '
            'the available context size (2048 tokens)"}}',
            "do not fit the server model's context",
        ),
        (
            400,
            '{"object": "error", "message": "This model\'s maximum context length is 2048 '
            'tokens. However, you requested 3000 tokens"}',
            "do not fit the server model's context",
        ),
        (404, '{"error": {"message": "The model `big` does not exist."}}', "has no model 'big'"),
        (500, "oops", "answered HTTP 500: oops"),
    ],
)
def test_each_failure_is_one_clear_line(status: int, body: str, expected: str) -> None:
    message = str(status_error(Endpoint("http://10.1.2.3:8000"), status, body, "big"))
    assert expected in message and "\n" not in message


def test_an_unreachable_server_is_retried_with_backoff_then_named() -> None:
    from desktop.engine.remote import RemoteEngine

    url = f"http://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    with pytest.raises(ServerError, match=f"cannot reach the engine server at {url}"):
        RemoteEngine(Endpoint(url))
    waited = time.perf_counter() - started
    assert 0.7 <= waited < 5, f"three tries with backoff take ~0.75 s, took {waited:.2f}"


def test_the_key_lives_in_the_keyring_never_in_the_settings_file(
    memory_keyring: MemoryKeyring, tmp_path: Path
) -> None:
    url = "http://127.0.0.1:8080"
    secrets.store_key(url, "s3cret")
    assert secrets.stored_key(url) == "s3cret"
    path = tmp_path / "settings.json"
    settings_mod.save(Settings(engine_url=url), path)
    assert "s3cret" not in path.read_text()
    assert json.loads(path.read_text())["engine_url"] == url
    assert secrets.forget_key(url) and secrets.stored_key(url) is None


def test_without_a_keyring_the_alternative_is_said_plainly(no_keyring: None) -> None:
    assert not secrets.has_keyring()
    assert secrets.stored_key("http://127.0.0.1:8080") is None
    with pytest.raises(ServerError, match="FOLIO_ENGINE_API_KEY"):
        secrets.store_key("http://127.0.0.1:8080", "s3cret")


def test_the_session_builds_the_engine_the_settings_name(fake_config: Config) -> None:
    built: list[Config] = []
    registry = fake_registry()

    def remote(config: Config) -> ScriptedEngine:
        built.append(config)
        return ScriptedEngine(model_path=Path("served-model"))

    registry.remote_chat_engine = remote
    with Session(fake_config, registry) as s:
        local = s.engine
        assert not built and local.model_path.name == "scripted.gguf"
        s.configure(s.settings.with_changes(engine_url="http://127.0.0.1:8080"))
        assert not s.engine_is_current(), "a new endpoint is a new engine"
        assert s.engine.model_path.name == "served-model" and len(built) == 1
        assert local.closed  # type: ignore[attr-defined]


def test_settings_reject_a_url_without_a_scheme() -> None:
    with pytest.raises(ValueError, match="engine URL"):
        Settings(engine_url="gpu.lan:8000")
