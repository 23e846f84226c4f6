"""`pull` against a local stand-in for the Hugging Face hub, on 127.0.0.1.

The fake hub speaks the parts of the hub protocol huggingface_hub 1.x uses to download a
file (see `huggingface_hub.file_download.get_hf_file_metadata` and `http_get`):

- `HEAD|GET /{owner}/{repo}/resolve/{revision}/{path}`: for an LFS file a 302 to the CDN
  carrying `X-Repo-Commit`, `X-Linked-Etag` (the sha256) and `X-Linked-Size`; for a small
  git file a 200 with `ETag` (its git object id), `X-Repo-Commit` and the content.
- The CDN is the same server reached as `localhost`, so huggingface_hub treats it as another
  host and stops at the redirect, as it does with the real hub. It honours `Range`.
- A missing file answers 404 with `X-Error-Code: EntryNotFound`.

Every request is logged with its `Range` header and the bytes sent, which is how the tests
prove that an interrupted download is continued rather than restarted.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import huggingface_hub.constants as hf_constants
import pytest

from desktop.errors import Cancelled, ModelError, NetworkError
from desktop.models import verify
from desktop.models.pull import DOWNLOAD_CHUNK, pull
from desktop.models.spec import ModelSpec

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    content: bytes
    lfs: bool = True
    served: bytes | None = None  # what is actually sent, when it should differ from content

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def etag(self) -> str:
        if self.lfs:
            return self.sha256
        blob = b"blob %d\0" % len(self.content) + self.content
        return hashlib.sha1(blob).hexdigest()


@dataclass
class Logged:
    method: str
    path: str
    range: str | None
    status: int
    sent: int


@dataclass
class FakeHub:
    """Files by (repo, path); knobs to break the transfer; a log of every request."""

    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    cut_at: int | None = None  # GET bodies stop at this file offset...
    cuts_left: int = 0  # ...this many times
    corrupt: bool = False  # the CDN serves other bytes than the metadata describes
    port: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add(self, repo: str, path: str, content: bytes, lfs: bool = True) -> HubFile:
        self.files[(repo, path)] = HubFile(content, lfs)
        return self.files[(repo, path)]

    def gets(self, path_part: str) -> list[Logged]:
        return [e for e in self.log if e.method == "GET" and path_part in e.path]

    def by_sha(self, sha: str) -> HubFile | None:
        return next((f for f in self.files.values() if f.sha256 == sha), None)


_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def _handler(hub: FakeHub) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # a stuck client cannot hold a server thread forever

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        def _serve(self, body: bool) -> None:
            match = _RESOLVE.match(self.path)
            if match:
                self._resolve(match.group(1), match.group(2), match.group(3), body)
            elif self.path.startswith("/cdn/"):
                blob = hub.by_sha(self.path[len("/cdn/") :])
                if blob is None:
                    self._empty(404)
                else:
                    content = blob.served or blob.content
                    if hub.corrupt:
                        content = bytes([content[0] ^ 0xFF]) + content[1:]
                    self._bytes(content, body, {})
            else:
                self._empty(404)

        def _resolve(self, repo: str, revision: str, path: str, body: bool) -> None:
            blob = hub.files.get((repo, path))
            if not any(r == repo for r, _ in hub.files):
                self._empty(404, {"X-Error-Code": "RepoNotFound"})
            elif revision not in ("main", COMMIT):
                self._empty(404, {"X-Error-Code": "RevisionNotFound"})
            elif blob is None:
                self._empty(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
            elif blob.lfs:
                self._empty(
                    302,
                    {
                        "Location": f"http://localhost:{hub.port}/cdn/{blob.sha256}",
                        "X-Repo-Commit": COMMIT,
                        "ETag": f'"{blob.sha256}"',
                        "X-Linked-Etag": f'"{blob.sha256}"',
                        "X-Linked-Size": str(len(blob.content)),
                    },
                )
            else:
                headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{blob.etag}"'}
                self._bytes(blob.served or blob.content, body, headers)

        def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._log(status, 0)

        def _bytes(self, content: bytes, body: bool, headers: dict[str, str]) -> None:
            start, status = 0, 200
            ranged = self.headers.get("Range")
            if ranged:
                m = re.fullmatch(r"bytes=(\d+)-", ranged)
                assert m, f"unexpected Range header {ranged!r}"
                start, status = int(m.group(1)), 206
            chunk = content[start:]
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(chunk)))
            if status == 206:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}"
                )
            self.end_headers()
            if not body:
                self._log(status, 0)
                return
            if hub.cuts_left > 0 and hub.cut_at is not None:
                hub.cuts_left -= 1
                chunk = chunk[: max(0, hub.cut_at - start)]
                self.close_connection = True  # the peer sees a body shorter than announced
            self.wfile.write(chunk)
            self.wfile.flush()
            self._log(status, len(chunk))

        def _log(self, status: int, sent: int) -> None:
            hub.log.append(Logged(self.command, self.path, self.headers.get("Range"), status, sent))

    return Handler


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A fake hub on 127.0.0.1, named by HF_ENDPOINT after huggingface_hub was imported."""
    fake = FakeHub()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", fake.endpoint)
    # As under the CLI: offline unless `pull` lifts it.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    # http_get waits a second between its own retries; no need to wait in tests.
    monkeypatch.setattr("huggingface_hub.file_download.time.sleep", lambda s: None)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def chat_spec(sha256: str = "", size: int = 0, **changes: object) -> ModelSpec:
    fields: dict[str, object] = dict(
        id="tiny-chat",
        kind="chat",
        name="Tiny chat",
        repo="folio-test/tiny-GGUF",
        file="tiny.Q4_0.gguf",
        revision="main",
        sha256=sha256,
        size=size,
        license="Apache-2.0",
        ram_gb=0.1,
        default=False,
        context=2048,
    )
    fields.update(changes)
    return ModelSpec(**fields)  # type: ignore[arg-type]


# Three and a half read chunks: a broken-off transfer keeps whole chunks only.
MODEL_BYTES = os.urandom(3 * DOWNLOAD_CHUNK + DOWNLOAD_CHUNK // 2)
SIZE = len(MODEL_BYTES)


def test_pull_checks_the_catalog_sha256(hub: FakeHub, tmp_path: Path) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    chunk_size = hf_constants.DOWNLOAD_CHUNK_SIZE

    path = pull(chat_spec(blob.sha256, len(MODEL_BYTES)), tmp_path, progress=False)

    assert path == tmp_path / "tiny.Q4_0.gguf"
    assert path.read_bytes() == MODEL_BYTES
    assert verify.stamped_sha256(path) == blob.sha256  # `models verify` need not rehash
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []
    # The HEAD went to the resolve URL, the bytes came from the CDN it redirected to.
    assert [(e.method, e.status) for e in hub.log] == [("HEAD", 302), ("GET", 200)]
    assert hub.log[1].path == f"/cdn/{blob.sha256}"
    # Offline mode is back on for everything else; huggingface_hub's settings are restored.
    assert hf_constants.HF_HUB_OFFLINE is True
    assert hf_constants.DOWNLOAD_CHUNK_SIZE == chunk_size
    assert hf_constants.ENDPOINT != hub.endpoint  # HF_ENDPOINT was read by pull, at call time


def test_second_pull_of_an_installed_model_makes_no_request(hub: FakeHub, tmp_path: Path) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    pull(chat_spec(blob.sha256), tmp_path, progress=False)
    hub.log.clear()

    pull(chat_spec(blob.sha256), tmp_path, progress=False)

    assert hub.log == []


def test_without_a_catalog_sha256_the_hub_reported_sha256_is_checked(
    hub: FakeHub, tmp_path: Path
) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)

    path = pull(chat_spec(sha256=""), tmp_path, progress=False)

    assert path.read_bytes() == MODEL_BYTES
    assert verify.stamped_sha256(path) == blob.sha256


def test_a_corrupt_download_is_deleted(hub: FakeHub, tmp_path: Path) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    hub.corrupt = True

    with pytest.raises(ModelError, match="corrupt and was deleted"):
        pull(chat_spec(blob.sha256), tmp_path, progress=False)

    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_download_is_deleted_when_checked_against_the_hub(
    hub: FakeHub, tmp_path: Path
) -> None:
    hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    hub.corrupt = True

    with pytest.raises(ModelError, match="sha256 the hub reports"):
        pull(chat_spec(sha256=""), tmp_path, progress=False)

    assert list(tmp_path.iterdir()) == []


def test_the_hub_serving_another_file_than_the_catalog_expects(
    hub: FakeHub, tmp_path: Path
) -> None:
    hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)

    with pytest.raises(ModelError, match="catalog entry is out of date"):
        pull(chat_spec("ab" * 32), tmp_path, progress=False)

    assert hub.gets("/cdn/") == []  # refused before downloading anything


def test_a_partial_file_from_an_earlier_run_is_continued(hub: FakeHub, tmp_path: Path) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    part = tmp_path / f"tiny.Q4_0.gguf.{blob.sha256[:16]}.part"
    part.write_bytes(MODEL_BYTES[:1_234_567])

    path = pull(chat_spec(blob.sha256), tmp_path, progress=False)

    assert path.read_bytes() == MODEL_BYTES
    [get] = hub.gets("/cdn/")
    assert (get.range, get.status, get.sent) == ("bytes=1234567-", 206, SIZE - 1_234_567)
    assert not part.exists()


def test_an_interrupted_pull_resumes_on_the_next_run(hub: FakeHub, tmp_path: Path) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    spec = chat_spec(blob.sha256)
    # The connection drops after 2.5 chunks, and huggingface_hub's own retries find it dead
    # too. The half chunk in flight is lost; two whole chunks are on disk.
    hub.cut_at, hub.cuts_left = 2 * DOWNLOAD_CHUNK + DOWNLOAD_CHUNK // 2, 99
    kept = 2 * DOWNLOAD_CHUNK

    with pytest.raises(
        NetworkError, match=rf"broke off at {kept} of {SIZE} bytes.*again to resume"
    ):
        pull(spec, tmp_path, progress=False)

    assert not (tmp_path / "tiny.Q4_0.gguf").exists()
    hub.cuts_left = 0
    hub.log.clear()

    path = pull(spec, tmp_path, progress=False)

    assert path.read_bytes() == MODEL_BYTES
    [get] = hub.gets("/cdn/")
    assert (get.range, get.status, get.sent) == (f"bytes={kept}-", 206, SIZE - kept)


def test_a_dropped_connection_is_resumed_within_the_same_pull(hub: FakeHub, tmp_path: Path) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    hub.cut_at, hub.cuts_left = DOWNLOAD_CHUNK + 1000, 1

    path = pull(chat_spec(blob.sha256), tmp_path, progress=False)

    assert path.read_bytes() == MODEL_BYTES
    first, second = hub.gets("/cdn/")
    assert (first.range, first.sent) == (None, DOWNLOAD_CHUNK + 1000)
    expected = (f"bytes={DOWNLOAD_CHUNK}-", 206, SIZE - DOWNLOAD_CHUNK)
    assert (second.range, second.status, second.sent) == expected


def test_a_stale_partial_of_another_version_is_not_resumed(hub: FakeHub, tmp_path: Path) -> None:
    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    stale = tmp_path / "tiny.Q4_0.gguf.deadbeefdeadbeef.part"
    stale.write_bytes(b"x" * 1000)

    pull(chat_spec(blob.sha256), tmp_path, progress=False)

    assert not stale.exists()
    [get] = hub.gets("/cdn/")
    assert get.range is None


def test_cancel_keeps_the_partial_file_for_later(hub: FakeHub, tmp_path: Path) -> None:
    from desktop.cancel import CancelToken

    blob = hub.add("folio-test/tiny-GGUF", "tiny.Q4_0.gguf", MODEL_BYTES)
    token = CancelToken()
    seen: list[tuple[int, int | None]] = []

    def on_progress(done: int, total: int | None) -> None:
        seen.append((done, total))
        token.cancel()

    with pytest.raises(Cancelled):
        pull(
            chat_spec(blob.sha256), tmp_path, progress=False, on_progress=on_progress, cancel=token
        )

    assert seen == [(DOWNLOAD_CHUNK, SIZE)]  # stopped after the first chunk
    assert not (tmp_path / "tiny.Q4_0.gguf").exists()
    part = tmp_path / f"tiny.Q4_0.gguf.{blob.sha256[:16]}.part"
    assert part.stat().st_size == 0  # the chunk in hand when cancelled is not written
    assert hf_constants.HF_HUB_OFFLINE is True


def test_an_embedding_model_and_its_tokenizer_files(hub: FakeHub, tmp_path: Path) -> None:
    onnx = hub.add("folio-test/tiny-onnx", "onnx/model.onnx", b"onnx" * 5000)
    hub.add("folio-test/tiny-onnx", "tokenizer.json", b'{"version": "1.0"}', lfs=False)
    config = b'{"hidden_size": 8}'
    hub.add("folio-test/tiny-onnx", "config.json", config, lfs=False)
    spec = ModelSpec(
        id="tiny-embed",
        kind="embedding",
        name="Tiny embedder",
        repo="folio-test/tiny-onnx",
        file="onnx/model.onnx",
        revision=COMMIT,
        sha256=onnx.sha256,
        size=len(onnx.content),
        license="MIT",
        ram_gb=0.1,
        default=False,
        dim=8,
        fastembed_name="BAAI/bge-small-en-v1.5",
        # tokenizer.json unknown to the catalog: checked against its git object id
        extra_files={"tokenizer.json": "", "config.json": hashlib.sha256(config).hexdigest()},
    )

    folder = pull(spec, tmp_path, progress=False)

    assert folder == tmp_path / "tiny-embed"
    assert (folder / "onnx" / "model.onnx").read_bytes() == onnx.content
    assert (folder / "tokenizer.json").read_bytes() == b'{"version": "1.0"}'
    assert (folder / "config.json").read_bytes() == config


def test_a_non_lfs_file_failing_its_git_object_id_is_deleted(hub: FakeHub, tmp_path: Path) -> None:
    hub.add("folio-test/tiny-onnx", "model.onnx", b"onnx" * 100)
    tok = hub.add("folio-test/tiny-onnx", "tokenizer.json", b"{}", lfs=False)
    tok.served = b"{ }"  # the body differs from the content the etag was computed for
    spec = ModelSpec(
        id="tiny-embed",
        kind="embedding",
        name="Tiny",
        repo="folio-test/tiny-onnx",
        file="model.onnx",
        revision="main",
        sha256="",
        size=0,
        license="MIT",
        ram_gb=0.1,
        default=False,
        dim=8,
        fastembed_name="x",
        extra_files={"tokenizer.json": ""},
    )

    with pytest.raises(ModelError, match="git object id the hub reports"):
        pull(spec, tmp_path, progress=False)

    assert not (tmp_path / "tiny-embed" / "tokenizer.json").exists()


def test_a_file_missing_on_the_hub(hub: FakeHub, tmp_path: Path) -> None:
    hub.add("folio-test/tiny-GGUF", "other.gguf", MODEL_BYTES)

    with pytest.raises(ModelError, match="the hub has no file folio-test/tiny-GGUF/tiny.Q4_0.gguf"):
        pull(chat_spec(), tmp_path, progress=False)


def test_an_unreachable_hub_is_a_clear_network_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")

    with pytest.raises(NetworkError) as info:
        pull(chat_spec(), tmp_path, progress=False)

    message = str(info.value)
    assert message.startswith(f"cannot reach the model hub (http://127.0.0.1:{port}: ConnectError")
    assert message.endswith("check your connection or use `folio models import PATH`")
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_imported_models_cannot_be_pulled(tmp_path: Path) -> None:
    spec = chat_spec(repo="", revision="", imported=True, sha256="ab" * 32)
    with pytest.raises(ModelError, match="nothing to pull"):
        pull(spec, tmp_path)


def test_nothing_but_pull_reaches_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Listing, finding, verifying and importing models open no socket at all, not even to
    loopback; and huggingface_hub stays in offline mode outside `pull`."""
    from desktop.models.catalog import load_catalog
    from desktop.models.installed import local_path
    from desktop.paths import Locations
    from tests.test_models_cli import run_cli

    def no_connect(self: socket.socket, address: object) -> None:
        raise AssertionError(f"unexpected connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", no_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", no_connect)

    from desktop.models.importer import import_model
    from tests.test_models_catalog import write_gguf

    where = Locations.from_environment()
    catalog = load_catalog(imported_from=where.user_models_dir)
    for spec in catalog:
        local_path(spec, where.models_search_path)
    import_model(write_gguf(tmp_path / "mine.gguf"), where.user_models_dir)
    assert run_cli(["models", "list", "--json"]) == 0
    assert run_cli(["models", "verify", "--json"]) == 0
    capsys.readouterr()
    assert hf_constants.HF_HUB_OFFLINE is True
