"""A serving engine's API key, kept in the OS keyring (the `keyring` library), never in the
settings file, the library or the logs."""

from __future__ import annotations

import logging

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from desktop.errors import ServerError

log = logging.getLogger(__name__)

SERVICE = "folio-engine"
NO_KEYRING = (
    "no OS keyring is available here (a headless Linux has no Secret Service running), so "
    "the API key cannot be saved. Give it for each run instead in the environment variable "
    "FOLIO_ENGINE_API_KEY, or start a keyring (gnome-keyring, KWallet) and try again"
)


def has_keyring() -> bool:
    """True if this machine has a keyring backend that can keep a key."""
    try:
        backend = keyring.get_keyring()
    except KeyringError:
        return False
    return not type(backend).__module__.startswith("keyring.backends.fail")


def store_key(url: str, key: str) -> None:
    """Keep `key` for the server at `url`.

    Raises:
        ServerError: no keyring backend (the message names the alternative).
    """
    try:
        keyring.set_password(SERVICE, url, key)
    except NoKeyringError as exc:
        raise ServerError(NO_KEYRING) from exc
    except KeyringError as exc:
        raise ServerError(f"the OS keyring refused to keep the key: {exc}") from exc


def stored_key(url: str) -> str | None:
    """The key kept for `url`, or None (none kept, or no keyring on this machine)."""
    if not url:
        return None
    try:
        return keyring.get_password(SERVICE, url)
    except KeyringError as exc:
        log.info("no API key from the keyring for %s: %s", url, type(exc).__name__)
        return None


def forget_key(url: str) -> bool:
    """Remove the key kept for `url`; False if there was none."""
    try:
        keyring.delete_password(SERVICE, url)
    except PasswordDeleteError:
        return False
    except NoKeyringError as exc:
        raise ServerError(NO_KEYRING) from exc
    return True
