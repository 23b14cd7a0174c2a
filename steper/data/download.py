"""Official dataset files (paper tier), streamed to a temporary name and verified before use.

A file is accepted only when every byte the server announced arrived (Content-Length), an archive
reads to its end without a CRC or structure error (zip, tar, bz2, gzip), and its sha256 matches the
one kept in `steper/data/sha256.json` (file name -> sum). A connection that drops mid-file is
resumed where it stopped (HTTP Range; from zero when the server ignores it), a few times, before the
download fails with one error. Redirects are followed only to the source's own host (or the hosts
its table entry names, e.g. Dropbox's content servers) or, with a mirror, to the mirror's host; the
URL the bytes finally came from is logged.

A file whose sum is not known yet (null) is accepted once, complete and intact, its sum appended to
`<output-dir>/SHA256SUMS.recorded` and logged loudly, so it can be copied into sha256.json. IRCoT's
annotation files, fetched by `steper teacher annotations`, go through the same fetch and must have
a sum (`fetch_pinned`).

A mirror (a site's copy of the downloads, an offline copy, the rehearsal's local server) replaces
only where the files come from, never their names or their checks: `--mirror URL` fetches every
file of a dataset from `<URL>/<dataset>/<file name>`, with the official file names, e.g.

    <URL>/hotpotqa/hotpot_train_v1.1.json
    <URL>/hotpotqa/hotpot_dev_distractor_v1.json
    <URL>/hotpotqa-wiki/enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2
    <URL>/2wikimultihopqa/data_ids.zip
    <URL>/musique/musique_v1.0.zip

URL may be http(s):// or file:// (a directory copied to a machine without internet). The files
are verified exactly as the official ones; a mirror holding other files than the official ones
(the rehearsal's stand-ins) comes with its own sums file (`--sums`).
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import http.client
import logging
import os
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from steper.io import InputError, OwnedFiles, atomic_path, owned_files, read_json

log = logging.getLogger(__name__)

SUMS_PATH = Path(__file__).with_name("sha256.json")
RECORDED_NAME = "SHA256SUMS.recorded"
_GDRIVE = "https://drive.google.com/uc?export=download&confirm=t&id="
MIRROR_SCHEMES = ("http", "https", "file")
ATTEMPTS = 5  # a dropped connection is resumed this many times in all
RETRY_PAUSE = 2.0  # seconds, times the attempt number
TIMEOUT = 120  # seconds without a byte
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    url: str
    name: str
    unzip: bool = False
    # Hosts besides the URL's own that its redirects may lead to (a leading '.' = any subdomain).
    redirect_hosts: tuple[str, ...] = ()


SOURCES: dict[str, list[Source]] = {
    "hotpotqa": [
        Source("http://curtis.ml.cmu.edu/datasets/hotpot/hotpot_train_v1.1.json", "hotpot_train_v1.1.json"),
        Source(
            "http://curtis.ml.cmu.edu/datasets/hotpot/hotpot_dev_distractor_v1.json", "hotpot_dev_distractor_v1.json"
        ),
    ],
    "hotpotqa-wiki": [
        Source(
            "https://nlp.stanford.edu/projects/hotpotqa/enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2",
            "enwiki-20171001-pages-meta-current-withlinks-abstracts.tar.bz2",
        ),
    ],
    "2wikimultihopqa": [
        Source("https://www.dropbox.com/s/7ep3h8unu2njfxv/data_ids.zip?dl=1", "data_ids.zip", unzip=True,
               redirect_hosts=(".dl.dropboxusercontent.com",)),
    ],
    "musique": [
        Source(_GDRIVE + "1tGdADlNjWFaHLeZZGShh2IRcpO6Lv24h", "musique_v1.0.zip", unzip=True,
               redirect_hosts=("drive.usercontent.google.com",)),
    ],
}


class ChecksumError(InputError):
    """A downloaded file's sha256 differs from the sum kept in the repository."""


def mirrored(dataset: str, sources: list[Source], mirror: str) -> list[Source]:
    """`sources` fetched from `<mirror>/<dataset>/<file name>` instead of their official URLs."""
    if urllib.parse.urlsplit(mirror).scheme not in MIRROR_SCHEMES:
        raise InputError(
            "--mirror", f"must be a URL ({', '.join(MIRROR_SCHEMES)}), got {mirror!r}", field="mirror"
        )
    base = mirror.rstrip("/")
    return [
        replace(source, url=f"{base}/{urllib.parse.quote(dataset)}/{urllib.parse.quote(source.name)}", redirect_hosts=())
        for source in sources
    ]


def load_sums(path: str | os.PathLike = SUMS_PATH) -> dict[str, str | None]:
    sums = read_json(path)
    if not isinstance(sums, dict):
        raise InputError(path, "must map file names to sha256 sums (or null)")
    for name, value in sums.items():
        if value is not None and not (isinstance(value, str) and len(value) == 64):
            raise InputError(path, "must be a 64-character hex sha256 or null", field=name)
    return sums


def _host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    host = (host or "").lower()
    return any(host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in allowed)


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to an allowed host: a hijacked or misconfigured server must not
    hand over a file from anywhere else."""

    def __init__(self, source: str, allowed: tuple[str, ...]):
        super().__init__()
        self.source = source
        self.allowed = allowed

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        target = urllib.parse.urljoin(req.full_url, newurl)
        if not _host_allowed(urllib.parse.urlsplit(target).hostname, self.allowed):
            raise InputError(self.source, f"redirected to {target}, outside the allowed hosts ({', '.join(self.allowed)}); refusing it")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Short(Exception):
    """The connection ended before the announced length arrived."""


def _retryable(error: Exception) -> bool:
    """A dropped or refused connection, a timeout or a server error is worth another try; a
    missing file, an unknown host or a client error is not."""
    if isinstance(error, urllib.error.HTTPError):
        return error.code >= 500 or error.code == 429
    if isinstance(error, urllib.error.URLError):
        reason = error.reason
        return isinstance(reason, OSError) and not isinstance(reason, FileNotFoundError | IsADirectoryError | PermissionError | socket.gaierror)
    return isinstance(error, _Short | http.client.HTTPException | OSError)


def _describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return str(error.reason)
    return str(error) or type(error).__name__


def _content_range_start(value: str | None) -> int | None:
    """The first byte of a `Content-Range: bytes start-end/total` answer."""
    if not value or not value.startswith("bytes "):
        return None
    start = value[6:].split("-", 1)[0]
    return int(start) if start.isdigit() else None


def fetch_to(url: str, handle: BinaryIO, allowed_hosts: tuple[str, ...] = (), label: str = "") -> str:
    """Write every byte of `url` to `handle` (an empty binary file open for writing); return its
    sha256. Raises InputError unless every announced byte arrived."""
    allowed = (urllib.parse.urlsplit(url).hostname or "", *allowed_hosts)
    opener = urllib.request.build_opener(_CheckedRedirects(url, allowed))
    digest, received, attempt = hashlib.sha256(), 0, 0
    with tqdm(unit="B", unit_scale=True, desc=label or url.rsplit("/", 1)[-1], disable=None) as bar:
        while True:
            attempt += 1
            headers = {"User-Agent": "steper-data-download"}
            if received:
                headers["Range"] = f"bytes={received}-"
            try:
                with opener.open(urllib.request.Request(url, headers=headers), timeout=TIMEOUT) as response:
                    resumed = received and getattr(response, "status", None) == 206
                    if resumed and _content_range_start(response.headers.get("Content-Range")) != received:
                        resumed = False
                    if received and not resumed:  # the server sent the whole file again
                        handle.seek(0)
                        handle.truncate()
                        digest, received = hashlib.sha256(), 0
                        bar.reset()
                    length = response.headers.get("Content-Length")
                    total = received + int(length) if length and length.isdigit() else None
                    bar.total = total
                    while chunk := response.read(_CHUNK):
                        digest.update(chunk)
                        handle.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
                    final = response.geturl()
                if total is not None and received != total:
                    raise _Short(f"received {received} of the {total} bytes announced (the connection ended early)")
                break
            except (_Short, urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
                if not _retryable(error):
                    raise InputError(url, f"download failed ({_describe(error)})") from None
                if attempt >= ATTEMPTS:
                    raise InputError(url, f"download failed after {attempt} attempts ({_describe(error)})") from None
                log.warning("%s: %s; retrying from byte %d (attempt %d of %d)", url, _describe(error), received, attempt + 1, ATTEMPTS)
                time.sleep(RETRY_PAUSE * attempt)
    handle.flush()
    log.info("%s: %d bytes from %s", label or url, received, final)
    return digest.hexdigest()


def check_archive(path: str | os.PathLike, name: str, source: str) -> None:
    """Read an archive to its end, so a truncated or corrupt one is caught by its own CRCs and
    structure before its sum is recorded or it is unpacked (formats without either: nothing to check)."""
    try:
        if name.endswith(".zip"):
            if not zipfile.is_zipfile(path):
                raise InputError(source, f"{name} is not a zip archive (a download page instead of the file?)")
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
            if bad is not None:
                raise InputError(source, f"{name} is a damaged zip archive (member {bad} fails its CRC)")
        elif name.endswith((".tar", ".tar.bz2", ".tbz2", ".tar.gz", ".tgz", ".tar.xz")):
            log.info("%s: reading the archive to its end", name)
            with tarfile.open(path, mode="r|*") as archive:
                for _ in archive:
                    pass
        elif name.endswith((".bz2", ".gz")):
            opener = bz2.open if name.endswith(".bz2") else gzip.open
            with opener(path, "rb") as stream:
                while stream.read(_CHUNK):
                    pass
    except (tarfile.TarError, EOFError, OSError, zlib.error, zipfile.BadZipFile) as error:
        raise InputError(source, f"{name} is a damaged or truncated archive ({error})") from None


def fetch(url: str, target: str | os.PathLike, expected: str | None, recorded: str | os.PathLike,
          allowed_hosts: tuple[str, ...] = ()) -> str:
    """Download `url` to `target` (atomic) and verify it (length, archive, sum); returns the sha256."""
    target = Path(target)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            actual = fetch_to(url, handle, allowed_hosts, label=target.name)
        if expected is not None and actual != expected:
            raise ChecksumError(url, f"sha256 mismatch for {target.name}: expected {expected}, got {actual}")
        check_archive(tmp, target.name, url)
    if expected is None:
        with open(recorded, "a", encoding="utf-8") as handle:
            handle.write(f"{actual}  {target.name}\n")
        log.warning(
            "NO KNOWN SHA256 for %s: recorded %s in %s; add it to steper/data/sha256.json",
            target.name,
            actual,
            recorded,
        )
    else:
        log.info("%s: sha256 verified", target.name)
    return actual


def fetch_pinned(url: str, sums_path: str | os.PathLike = SUMS_PATH) -> bytes:
    """The bytes of a small file fetched over the network, which must match the sum that `sums_path`
    keeps under the URL's file name: a file without a sum is refused, not fetched."""
    name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    expected = load_sums(sums_path).get(name)
    if expected is None:
        raise InputError(sums_path, f"has no sha256 for {name} (fetched from {url}); a file fetched over the network must be pinned", field=name)
    with tempfile.TemporaryFile() as handle:
        actual = fetch_to(url, handle, label=name)
        if actual != expected:
            raise ChecksumError(url, f"sha256 mismatch for {name}: expected {expected} ({sums_path}), got {actual}")
        handle.seek(0)
        return handle.read()


def unzip_flat(archive: str | os.PathLike, output_dir: OwnedFiles) -> list[str]:
    """Extract every file of `archive` straight into `output_dir` (like `unzip -j`), skipping macOS
    debris; every member's name is checked against what is already there before any is written."""
    with zipfile.ZipFile(archive) as zipped:
        members = []
        for info in zipped.infolist():
            name = Path(info.filename).name
            if info.is_dir() or not name or name == ".DS_Store" or "__MACOSX" in info.filename:
                continue
            members.append((info, output_dir.path(name)))
        for info, target in members:
            with atomic_path(target) as tmp, zipped.open(info) as source, open(tmp, "wb") as handle:
                shutil.copyfileobj(source, handle)
    return [target.name for _, target in members]


def download(
    dataset: str,
    output_dir: str | os.PathLike,
    sums_path: str | os.PathLike = SUMS_PATH,
    sources: list[Source] | None = None,
    mirror: str | None = None,
) -> dict[str, str]:
    """Fetch, verify and unpack the files of `dataset` (from `mirror` if given, see the module
    docstring); returns file name -> sha256. Only files steper wrote in `output_dir` are replaced."""
    if sources is None:
        if dataset not in SOURCES:
            raise InputError("--dataset", f"unknown dataset {dataset!r} (known: {', '.join(SOURCES)})", field="dataset")
        sources = SOURCES[dataset]
    if mirror is not None:
        sources = mirrored(dataset, sources, mirror)
    sums = load_sums(sums_path)
    for source in sources:
        if source.name not in sums:
            raise InputError(sums_path, "has no entry (use null for a sum not known yet)", field=source.name)
    result = {}
    with owned_files(output_dir, [source.name for source in sources] + [RECORDED_NAME]) as files:
        for source in sources:
            target = files.path(source.name)
            log.info("downloading %s -> %s", source.url, target)
            result[source.name] = fetch(source.url, target, sums[source.name], files.path(RECORDED_NAME), source.redirect_hosts)
            if source.unzip:
                extracted = unzip_flat(target, files)
                log.info("unpacked %s: %s", source.name, ", ".join(extracted))
    return result
