"""llama-cpp-python's private state is used in one module, written for one release: this
fails loudly when the pin moves, before anything subtler breaks."""

from __future__ import annotations

import inspect
from pathlib import Path

import llama_cpp
import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from desktop.engine import llama_internals
from desktop.engine.llm import Engine
from tests.conftest import modules_mentioning

pytestmark = pytest.mark.fast

DESKTOP = Path(__file__).resolve().parent.parent / "desktop"
PYPROJECT = DESKTOP.parent / "pyproject.toml"


def test_the_installed_release_is_the_one_the_helpers_were_written_for() -> None:
    assert llama_cpp.__version__ == llama_internals.WRITTEN_FOR, (
        f"llama-cpp-python {llama_cpp.__version__} is installed but desktop/engine/"
        f"llama_internals.py was written for {llama_internals.WRITTEN_FOR}: re-read "
        "llama_cpp/llama.py (_stack, input_ids, n_tokens) and llama_chat_format.py "
        "(Jinja2ChatFormatter), adapt the helpers, then move WRITTEN_FOR"
    )
    assert llama_internals.version_problem() is None
    assert f'"llama-cpp-python=={llama_internals.WRITTEN_FOR}"' in PYPROJECT.read_text()


def test_the_private_parts_still_have_the_shape_the_helpers_expect() -> None:
    source = inspect.getsource(llama_cpp.Llama.__init__)
    assert "self._stack = contextlib.ExitStack()" in source
    assert "self.input_ids" in source and "self.n_tokens" in source
    params = inspect.signature(Jinja2ChatFormatter.__init__).parameters
    assert {"template", "eos_token", "bos_token", "stop_token_ids"} <= set(params)


def test_no_other_module_touches_the_private_state() -> None:
    private = ("._stack", ".input_ids", ".n_tokens", "Jinja2ChatFormatter")
    assert modules_mentioning(private, "llama_internals.py", "llama_cpp") == []


@pytest.mark.slow
def test_the_helpers_work_on_the_real_model(real_engine: Engine) -> None:
    llm = real_engine.llama
    "".join(real_engine.stream_chat([{"role": "user", "content": "Hi"}], max_tokens=2))
    held = llama_internals.evaluated_tokens(llm)
    assert held and llama_internals.holds_prefix(llm, held[:3])
    llama_internals.set_evaluated(llm, held[:3])
    assert llama_internals.evaluated_tokens(llm) == held[:3]
    formatter = llama_internals.chat_formatter(llm)
    assert formatter is not None
    prompt = formatter(messages=[{"role": "user", "content": "Hi"}]).prompt
    assert "<|im_start|>user\nHi" in prompt  # SmolLM2's ChatML template from its GGUF
