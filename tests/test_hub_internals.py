"""huggingface_hub's private parts are used in one module, written for its 1.x series:
this fails loudly when the bound in pyproject.toml or the signatures move."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import constants
from huggingface_hub.file_download import http_get

from desktop.models import hub_internals
from tests.conftest import modules_mentioning

pytestmark = pytest.mark.fast

DESKTOP = Path(__file__).resolve().parent.parent / "desktop"


def test_the_installed_release_is_of_the_series_the_helpers_were_written_for() -> None:
    assert huggingface_hub.__version__.startswith(hub_internals.WRITTEN_FOR)
    assert hub_internals.version_problem() is None
    pyproject = (DESKTOP.parent / "pyproject.toml").read_text()
    assert re.search(r'"huggingface-hub>=1\.\d+,<2"', pyproject)


def test_http_get_and_the_constants_still_have_their_shape() -> None:
    params = inspect.signature(http_get).parameters
    assert {"resume_size", "headers", "expected_size", "displayed_filename", "tqdm_class"} <= set(
        params
    )
    assert isinstance(constants.HF_HUB_OFFLINE, bool)
    assert isinstance(constants.DOWNLOAD_CHUNK_SIZE, int) and constants.ENDPOINT


def test_online_lifts_offline_mode_only_for_its_duration() -> None:
    saved = constants.HF_HUB_OFFLINE, constants.DOWNLOAD_CHUNK_SIZE
    with hub_internals.online(12345):
        assert constants.HF_HUB_OFFLINE is False and constants.DOWNLOAD_CHUNK_SIZE == 12345
    assert (constants.HF_HUB_OFFLINE, constants.DOWNLOAD_CHUNK_SIZE) == saved


def test_no_other_module_touches_huggingface_hubs_private_parts() -> None:
    private = ("file_download", "huggingface_hub.constants", "import constants", "utils.tqdm")
    assert modules_mentioning(private, "hub_internals.py", "huggingface_hub") == []
