"""Download verification on local file:// URLs and a mirror served over http on 127.0.0.1 (no network)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import json
import logging
import os
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from steper.cli import main
from steper.data.download import RECORDED_NAME, SOURCES, SUMS_PATH, ChecksumError, Source, download, load_sums, mirrored
from steper.io import OWNER_MARKER, InputError
from steper.settings import schema_default

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


def _sums(tmp_path: Path, sums: dict) -> Path:
    path = tmp_path / "sha256.json"
    path.write_text(json.dumps(sums), encoding="utf-8")
    return path


def _source(path: Path, unzip: bool = False) -> Source:
    return Source(path.resolve().as_uri(), path.name, unzip)


def test_matching_sum_is_accepted(tmp_path):
    original = FIXTURES / "2wikimultihopqa" / "dev.json"
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    out = tmp_path / "raw"
    result = download("2wikimultihopqa", out, _sums(tmp_path, {"dev.json": digest}), [_source(original)])
    assert result == {"dev.json": digest}
    assert (out / "dev.json").read_bytes() == original.read_bytes()
    assert not (out / RECORDED_NAME).exists()


def test_mismatch_stops_showing_both_sums(tmp_path):
    original = FIXTURES / "2wikimultihopqa" / "dev.json"
    actual = hashlib.sha256(original.read_bytes()).hexdigest()
    wrong = "0" * 64
    out = tmp_path / "raw"
    with pytest.raises(ChecksumError) as error:
        download("2wikimultihopqa", out, _sums(tmp_path, {"dev.json": wrong}), [_source(original)])
    assert wrong in str(error.value) and actual in str(error.value)
    assert list(out.iterdir()) == []  # nothing kept, not even the temporary file


def test_unknown_sum_is_recorded_and_zip_unpacked(tmp_path, caplog):
    archive = tmp_path / "data_ids.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(FIXTURES / "2wikimultihopqa" / "dev.json", "data_ids/dev.json")
        zipped.write(FIXTURES / "2wikimultihopqa" / "id_aliases.json", "data_ids/id_aliases.json")
        zipped.writestr("__MACOSX/data_ids/._dev.json", b"junk")
    out = tmp_path / "raw"
    download("2wikimultihopqa", out, _sums(tmp_path, {"data_ids.zip": None}), [_source(archive, unzip=True)])
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert (out / RECORDED_NAME).read_text() == f"{digest}  data_ids.zip\n"
    assert "NO KNOWN SHA256" in caplog.text
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["data_ids.zip", "dev.json", "id_aliases.json", RECORDED_NAME, OWNER_MARKER]
    )


def test_html_page_instead_of_zip_is_refused(tmp_path):
    page = tmp_path / "musique_v1.0.zip"
    page.write_text("<!DOCTYPE html><html>Google Drive can't scan this file for viruses</html>")
    with pytest.raises(InputError) as error:
        download("musique", tmp_path / "raw", _sums(tmp_path, {"musique_v1.0.zip": None}), [_source(page, unzip=True)])
    assert "not a zip archive" in str(error.value)
    assert not (tmp_path / "raw" / RECORDED_NAME).exists()


def test_every_official_file_has_an_entry_in_the_repository_sums():
    sums = load_sums()
    for sources in SOURCES.values():
        for source in sources:
            assert source.name in sums
    assert SOURCES["2wikimultihopqa"][0].url.endswith("dl=1")


def test_missing_entry_in_sums_is_an_error(tmp_path):
    with pytest.raises(InputError) as error:
        download(
            "hotpotqa", tmp_path / "raw", _sums(tmp_path, {}), [_source(FIXTURES / "2wikimultihopqa" / "dev.json")]
        )
    assert getattr(error.value, "field", None) == "dev.json"


def test_unreachable_url_is_reported(tmp_path):
    missing = Source((tmp_path / "nowhere.json").as_uri(), "nowhere.json")
    with pytest.raises(InputError) as error:
        download("hotpotqa", tmp_path / "raw", _sums(tmp_path, {"nowhere.json": None}), [missing])
    assert "download failed" in str(error.value)
    assert not (tmp_path / "raw" / "nowhere.json").exists()


def test_mirror_keeps_the_official_names_under_the_dataset():
    sources = mirrored("hotpotqa-wiki", SOURCES["hotpotqa-wiki"], "http://mirror.example/steper/")
    assert [source.url for source in sources] == [
        "http://mirror.example/steper/hotpotqa-wiki/enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2"
    ]
    assert [(s.name, s.unzip) for s in sources] == [(s.name, s.unzip) for s in SOURCES["hotpotqa-wiki"]]
    (musique,) = mirrored("musique", SOURCES["musique"], "file:///srv/copy")
    assert musique.url == "file:///srv/copy/musique/musique_v1.0.zip" and musique.unzip


def test_mirror_that_is_not_a_url_is_refused():
    with pytest.raises(InputError) as error:
        mirrored("hotpotqa", SOURCES["hotpotqa"], "/srv/copy")
    assert error.value.field == "mirror" and "/srv/copy" in str(error.value)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        self.requested.append(self.path)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A threaded http server on 127.0.0.1 (free port) serving tmp_path/mirror: its URL, root and request log."""
    root = tmp_path / "mirror"
    root.mkdir()
    requested: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requested": requested})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mirror_over_http_is_verified_and_unpacked(tmp_path, mirror):
    url, root, requested = mirror
    (root / "hotpotqa").mkdir()
    train = root / "hotpotqa" / "hotpot_train_v1.1.json"
    dev = root / "hotpotqa" / "hotpot_dev_distractor_v1.json"
    train.write_bytes((FIXTURES / "2wikimultihopqa" / "dev.json").read_bytes())
    dev.write_text("[]\n")
    (root / "2wikimultihopqa").mkdir()
    archive = root / "2wikimultihopqa" / "data_ids.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(FIXTURES / "2wikimultihopqa" / "dev.json", "data_ids/dev.json")
        zipped.write(FIXTURES / "2wikimultihopqa" / "id_aliases.json", "data_ids/id_aliases.json")
    sums = _sums(tmp_path, {path.name: _sha256(path) for path in (train, dev, archive)})

    hotpot = download("hotpotqa", tmp_path / "hotpotqa", sums, mirror=url)
    twowiki = download("2wikimultihopqa", tmp_path / "2wiki", sums, mirror=url)

    assert hotpot == {train.name: _sha256(train), dev.name: _sha256(dev)}
    assert twowiki == {"data_ids.zip": _sha256(archive)}
    assert (tmp_path / "hotpotqa" / train.name).read_bytes() == train.read_bytes()
    assert sorted(p.name for p in (tmp_path / "2wiki").iterdir()) == [OWNER_MARKER, "data_ids.zip", "dev.json", "id_aliases.json"]
    assert (tmp_path / "2wiki" / "id_aliases.json").read_bytes() == (FIXTURES / "2wikimultihopqa" / "id_aliases.json").read_bytes()
    assert sorted(requested) == [
        "/2wikimultihopqa/data_ids.zip",
        "/hotpotqa/hotpot_dev_distractor_v1.json",
        "/hotpotqa/hotpot_train_v1.1.json",
    ]


def test_mirror_serving_other_bytes_fails_the_checksum(tmp_path, mirror):
    url, root, _ = mirror
    (root / "musique").mkdir()
    with zipfile.ZipFile(root / "musique" / "musique_v1.0.zip", "w") as zipped:
        zipped.writestr("data/musique_ans_v1.0_dev.jsonl", "{}\n")
    expected = "1" * 64
    out = tmp_path / "raw"
    with pytest.raises(ChecksumError) as error:
        download("musique", out, _sums(tmp_path, {"musique_v1.0.zip": expected}), mirror=url)
    assert "musique_v1.0.zip" in str(error.value) and expected in str(error.value)
    assert str(error.value).startswith(f"{url}/musique/musique_v1.0.zip")
    assert list(out.iterdir()) == []


def _download_commands(tmp_path: Path, overlay: dict) -> list[str]:
    """The shell lines of the paper tier's download jobs (dry run), with `overlay` as a last config file."""
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    targets = [f"results/paper/raw/{name}" for name in ("hotpotqa", "hotpotqa-wiki", "2wikimultihopqa", "musique")]
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         *targets, "-n", "-p", "--configfile", str(ROOT / "config" / "config.yaml"), str(path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = (result.stdout + result.stderr).splitlines()
    commands = [line[line.index("steper data download") :] for line in lines if "steper data download" in line]
    assert len(commands) == len(targets), result.stdout[-3000:]
    return commands


def test_download_rule_passes_the_mirror_and_its_sums(tmp_path):
    overlay = {"data": {"download": {"mirror": "http://127.0.0.1:8765", "sha256": "mirror sums/sha256.json"}}}
    for command in _download_commands(tmp_path, overlay):
        assert " --mirror http://127.0.0.1:8765 --sums 'mirror sums/sha256.json' " in command, command


def test_download_rule_uses_the_official_urls_by_default(tmp_path):
    for command in _download_commands(tmp_path, {"data": {"download": {"mirror": None}}}):
        assert "--mirror" not in command and "--sums" not in command, command


# --- a server that lies, drops the connection or redirects elsewhere ---------------------------

class _Hostile(http.server.BaseHTTPRequestHandler):
    """Serves `body` at every path, misbehaving as `mode` says; `requests` logs (path, Range)."""

    body: bytes
    mode: str
    requests: list[tuple[str, str | None]]
    redirect: str = ""

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        pass

    def do_GET(self) -> None:  # noqa: N802 (the base class's name)
        wanted = self.headers.get("Range")
        self.requests.append((self.path, wanted))
        if self.mode == "redirect" and not self.path.startswith("/final/"):
            self.send_response(302)
            self.send_header("Location", (self.redirect or "/final") + self.path)  # relative: the same host
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.mode == "lies":  # announces the whole file, sends 50 bytes and hangs up
            self._send(200, self.body[:50], announced=len(self.body))
            return
        first_try = len(self.requests) == 1
        if self.mode in ("drops", "ignores-range") and first_try:  # half the file, then the connection drops
            self._send(200, self.body[: len(self.body) // 2], announced=len(self.body))
            return
        if self.mode == "drops" and wanted:
            start = int(wanted.removeprefix("bytes=").rstrip("-"))
            self._send(206, self.body[start:], extra={"Content-Range": f"bytes {start}-{len(self.body) - 1}/{len(self.body)}"})
            return
        self._send(200, self.body)

    def _send(self, status: int, payload: bytes, announced: int | None = None, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload) if announced is None else announced))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture
def hostile(monkeypatch) -> Iterator:
    """start(mode, body) -> (url, request log) of a threaded http server on 127.0.0.1."""
    import steper.data.download as module

    monkeypatch.setattr(module, "RETRY_PAUSE", 0.0)
    servers = []

    def start(mode: str, body: bytes, redirect: str = "") -> tuple[str, list]:
        requests: list = []
        handler = type("Handler", (_Hostile,), {"body": body, "mode": mode, "requests": requests, "redirect": redirect})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", requests

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


WIKI = "enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2"


def _tarball(path: Path, members: int = 40) -> bytes:
    """A real .tar.bz2 of incompressible members, so a cut anywhere is a damaged archive."""
    with tarfile.open(path, "w:bz2") as archive:
        for index in range(members):
            data = os.urandom(2000)
            info = tarfile.TarInfo(f"AA/wiki_{index:02d}.bz2")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def _cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, "\n".join(line for line in err.splitlines() if line.startswith("error:"))


def test_a_server_announcing_more_bytes_than_it_sends_is_refused(tmp_path, hostile, capsys):
    """The issue's reproduction: Content-Length 3000, 50 bytes sent: exit 0 and the truncated
    file's sum recorded, ready to be pinned."""
    body = os.urandom(3000)
    url, requests = hostile("lies", body)
    out = tmp_path / "raw"
    sums = _sums(tmp_path, {WIKI: None})
    code, error = _cli(capsys, "data", "download", "--dataset", "hotpotqa-wiki", "--output-dir", out, "--mirror", url, "--sums", sums)
    assert code == 2
    assert error == (f"error: {url}/hotpotqa-wiki/{WIKI}: download failed after 5 attempts "
                     "(received 50 of the 3000 bytes announced (the connection ended early))")
    assert not out.exists() or not list(out.iterdir())  # neither the file nor a recorded sum
    assert len(requests) == 5 and requests[1][1] == "bytes=50-"  # each retry asked for the rest


def test_a_dropped_connection_is_resumed_where_it_stopped(tmp_path, hostile, caplog):
    body = _tarball(tmp_path / WIKI)
    url, requests = hostile("drops", body)
    out = tmp_path / "raw"
    result = download("hotpotqa-wiki", out, _sums(tmp_path, {WIKI: None}), mirror=url)
    assert (out / WIKI).read_bytes() == body
    assert result == {WIKI: hashlib.sha256(body).hexdigest()}
    assert [wanted for _, wanted in requests] == [None, f"bytes={len(body) // 2}-"]
    assert f"retrying from byte {len(body) // 2}" in caplog.text


def test_a_server_ignoring_the_range_restarts_from_zero(tmp_path, hostile):
    body = _tarball(tmp_path / WIKI)
    url, requests = hostile("ignores-range", body)
    out = tmp_path / "raw"
    download("hotpotqa-wiki", out, _sums(tmp_path, {WIKI: None}), mirror=url)
    assert (out / WIKI).read_bytes() == body
    assert len(requests) == 2


def test_a_truncated_archive_served_whole_is_refused(tmp_path, hostile):
    """An honest server with a damaged file: the length matches, the archive does not read to its end."""
    body = _tarball(tmp_path / WIKI)
    url, _ = hostile("honest", body[: len(body) * 2 // 3])
    out = tmp_path / "raw"
    with pytest.raises(InputError) as error:
        download("hotpotqa-wiki", out, _sums(tmp_path, {WIKI: None}), mirror=url)
    assert f"{WIKI} is a damaged or truncated archive" in str(error.value)
    assert not (out / WIKI).exists() and not (out / RECORDED_NAME).exists()


def test_a_zip_with_a_damaged_member_is_refused(tmp_path, hostile):
    archive = tmp_path / "data_ids.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("data_ids/dev.json", os.urandom(4000))
    body = bytearray(archive.read_bytes())
    body[100] ^= 0xFF  # inside the stored member's data: its CRC no longer matches
    url, _ = hostile("honest", bytes(body))
    with pytest.raises(InputError) as error:
        download("2wikimultihopqa", tmp_path / "raw", _sums(tmp_path, {"data_ids.zip": None}), mirror=url)
    assert "data_ids.zip is a damaged" in str(error.value)


def test_a_redirect_to_another_host_is_refused(tmp_path, hostile):
    body = b"[]\n"
    elsewhere, served = hostile("honest", body)
    port = elsewhere.rsplit(":", 1)[1]
    url, _ = hostile("redirect", body, redirect=f"http://localhost:{port}/final")
    with pytest.raises(InputError) as error:
        download("hotpotqa", tmp_path / "raw", _sums(tmp_path, {"hotpot_train_v1.1.json": None, "hotpot_dev_distractor_v1.json": None}), mirror=url)
    assert f"redirected to http://localhost:{port}/final/hotpotqa/hotpot_train_v1.1.json, outside the allowed hosts (127.0.0.1)" in str(error.value)
    assert not served
    assert not (tmp_path / "raw").exists() or not list((tmp_path / "raw").iterdir())


def test_a_redirect_on_the_same_host_is_followed_and_logged(tmp_path, hostile, caplog):
    caplog.set_level(logging.INFO, logger="steper.data.download")
    body = b"[]\n"
    url, requests = hostile("redirect", body)
    sums = {"hotpot_train_v1.1.json": hashlib.sha256(body).hexdigest(), "hotpot_dev_distractor_v1.json": None}
    download("hotpotqa", tmp_path / "raw", _sums(tmp_path, sums), mirror=url)
    assert f"3 bytes from {url}/final/hotpotqa/hotpot_train_v1.1.json" in caplog.text
    assert [path for path, _ in requests][:2] == ["/hotpotqa/hotpot_train_v1.1.json", "/final/hotpotqa/hotpot_train_v1.1.json"]


def test_official_redirect_hosts_are_the_sources_own():
    allowed = {source.name: source.redirect_hosts for sources in SOURCES.values() for source in sources}
    assert allowed["data_ids.zip"] == (".dl.dropboxusercontent.com",)
    assert allowed["musique_v1.0.zip"] == ("drive.usercontent.google.com",)
    assert all(not source.redirect_hosts for source in mirrored("musique", SOURCES["musique"], "http://mirror.example"))


# --- IRCoT's annotations: fetched only with their pinned sum ----------------------------------

ANNOTATIONS = FIXTURES / "frameworks" / "annotations.jsonnet"


def _annotations(capsys, url: str, sums: Path, output: Path) -> tuple[int, str]:
    return _cli(capsys, "teacher", "annotations", "--dataset", "hotpotqa", "--input", url, "--sums", sums, "--output", output)


def test_annotations_over_the_network_match_their_sum(tmp_path, mirror, capsys):
    url, root, _ = mirror
    (root / "hotpotqa.jsonnet").write_bytes(ANNOTATIONS.read_bytes())
    sums = _sums(tmp_path, {"hotpotqa.jsonnet": _sha256(ANNOTATIONS)})
    code, error = _annotations(capsys, f"{url}/hotpotqa.jsonnet", sums, tmp_path / "demos.jsonl")
    assert (code, error) == (0, "")
    assert (tmp_path / "demos.jsonl").read_text(encoding="utf-8").count("\n") == 2


def test_annotations_with_other_bytes_or_without_a_sum_are_refused(tmp_path, mirror, capsys):
    url, root, _ = mirror
    (root / "hotpotqa.jsonnet").write_bytes(ANNOTATIONS.read_bytes() + b"\n")
    pinned = _sums(tmp_path, {"hotpotqa.jsonnet": _sha256(ANNOTATIONS)})
    code, error = _annotations(capsys, f"{url}/hotpotqa.jsonnet", pinned, tmp_path / "demos.jsonl")
    assert code == 2 and error.startswith(f"error: {url}/hotpotqa.jsonnet: sha256 mismatch for hotpotqa.jsonnet: expected {_sha256(ANNOTATIONS)}")
    unpinned = _sums(tmp_path, {"hotpotqa.jsonnet": None})
    code, error = _annotations(capsys, f"{url}/hotpotqa.jsonnet", unpinned, tmp_path / "demos.jsonl")
    assert code == 2 and error == (f"error: {unpinned}: field 'hotpotqa.jsonnet' has no sha256 for hotpotqa.jsonnet "
                                   f"(fetched from {url}/hotpotqa.jsonnet); a file fetched over the network must be pinned")
    assert not (tmp_path / "demos.jsonl").exists()


def test_annotations_on_an_unreachable_host_are_one_clear_error(tmp_path, hostile, capsys):
    """Today: a urllib traceback."""
    url, _ = hostile("honest", b"")
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert closed != port
    target = f"http://127.0.0.1:{closed}/hotpotqa.jsonnet"
    code, error = _annotations(capsys, target, SUMS_PATH, tmp_path / "demos.jsonl")
    assert code == 2
    assert error.startswith(f"error: {target}: download failed after 5 attempts (") and len(error.splitlines()) == 1


def test_the_configured_annotations_are_pinned():
    """The default URL's files (IRCoT at its pinned commit) have their sums in the repository; the
    sums were computed from that commit's blobs, the bytes raw.githubusercontent.com serves."""
    url = schema_default("data.annotations.url")
    assert "/3c1820f698eea5eeddb4fba3c56b64c961e063e4/" in url
    sums = load_sums()
    for dataset in ("hotpotqa", "2wikimultihopqa", "musique"):
        name = url.format(dataset=dataset).rsplit("/", 1)[1]
        assert sums[name] is not None and len(sums[name]) == 64


def test_annotations_rule_passes_a_mirrors_sums(tmp_path):
    """The rehearsal serves stand-in annotations: its sums file pins them (cluster/rehearsal/fixtures.py)."""
    overlay = {"data": {"download": {"mirror": "http://127.0.0.1:8765", "sha256": "mirror/sha256.json"}}}
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump(overlay))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "results/paper/raw/annotations/hotpotqa.jsonl", "-n", "-p", "--configfile", str(ROOT / "config" / "config.yaml"), str(path)],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    commands = [line for line in (result.stdout + result.stderr).splitlines() if "steper teacher annotations" in line]
    assert commands and all(" --sums mirror/sha256.json " in command for command in commands), commands
