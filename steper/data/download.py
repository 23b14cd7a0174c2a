"""Official dataset files (paper tier), streamed to a temporary name and verified by sha256.

Known sums live in `steper/data/sha256.json` (file name -> sum). A mismatch stops with both sums.
A file whose sum is not known yet (null) is accepted once, its sum appended to
`<output-dir>/SHA256SUMS.recorded` and logged loudly, so it can be copied into sha256.json.

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

import hashlib
import logging
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from steper.io import InputError, atomic_path, read_json

log = logging.getLogger(__name__)

SUMS_PATH = Path(__file__).with_name("sha256.json")
RECORDED_NAME = "SHA256SUMS.recorded"
_GDRIVE = "https://drive.google.com/uc?export=download&confirm=t&id="
MIRROR_SCHEMES = ("http", "https", "file")


@dataclass(frozen=True)
class Source:
    url: str
    name: str
    unzip: bool = False


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
        Source("https://www.dropbox.com/s/7ep3h8unu2njfxv/data_ids.zip?dl=1", "data_ids.zip", unzip=True),
    ],
    "musique": [
        Source(_GDRIVE + "1tGdADlNjWFaHLeZZGShh2IRcpO6Lv24h", "musique_v1.0.zip", unzip=True),
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
        replace(source, url=f"{base}/{urllib.parse.quote(dataset)}/{urllib.parse.quote(source.name)}")
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


def fetch(url: str, target: str | os.PathLike, expected: str | None, recorded: str | os.PathLike) -> str:
    """Download `url` to `target` (atomic) and verify it; returns the sha256."""
    target = Path(target)
    digest = hashlib.sha256()
    with atomic_path(target) as tmp:
        request = urllib.request.Request(url, headers={"User-Agent": "steper-data-download"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response, open(tmp, "wb") as handle:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, disable=None) as bar:
                    while chunk := response.read(1 << 20):
                        digest.update(chunk)
                        handle.write(chunk)
                        bar.update(len(chunk))
        except urllib.error.URLError as error:
            raise InputError(url, f"download failed ({error.reason})") from None
        actual = digest.hexdigest()
        if expected is not None and actual != expected:
            raise ChecksumError(url, f"sha256 mismatch for {target.name}: expected {expected}, got {actual}")
        if target.suffix == ".zip" and not zipfile.is_zipfile(tmp):
            raise InputError(url, f"{target.name} is not a zip archive (a download page instead of the file?)")
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


def unzip_flat(archive: str | os.PathLike, output_dir: str | os.PathLike) -> list[str]:
    """Extract every file of `archive` straight into `output_dir` (like `unzip -j`), skipping macOS debris."""
    names = []
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            name = Path(info.filename).name
            if info.is_dir() or not name or name == ".DS_Store" or "__MACOSX" in info.filename:
                continue
            with atomic_path(Path(output_dir) / name) as tmp, zipped.open(info) as source, open(tmp, "wb") as handle:
                shutil.copyfileobj(source, handle)
            names.append(name)
    return names


def download(
    dataset: str,
    output_dir: str | os.PathLike,
    sums_path: str | os.PathLike = SUMS_PATH,
    sources: list[Source] | None = None,
    mirror: str | None = None,
) -> dict[str, str]:
    """Fetch, verify and unpack the files of `dataset` (from `mirror` if given, see the module
    docstring); returns file name -> sha256."""
    if sources is None:
        if dataset not in SOURCES:
            raise InputError("--dataset", f"unknown dataset {dataset!r} (known: {', '.join(SOURCES)})", field="dataset")
        sources = SOURCES[dataset]
    if mirror is not None:
        sources = mirrored(dataset, sources, mirror)
    sums = load_sums(sums_path)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    result = {}
    for source in sources:
        if source.name not in sums:
            raise InputError(sums_path, "has no entry (use null for a sum not known yet)", field=source.name)
        target = output_dir / source.name
        log.info("downloading %s -> %s", source.url, target)
        result[source.name] = fetch(source.url, target, sums[source.name], output_dir / RECORDED_NAME)
        if source.unzip:
            extracted = unzip_flat(target, output_dir)
            log.info("unpacked %s: %s", source.name, ", ".join(extracted))
    return result
