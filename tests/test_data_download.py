"""Download verification on local file:// URLs (no network)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from steper.data.download import RECORDED_NAME, SOURCES, ChecksumError, Source, download, load_sums
from steper.io import InputError

FIXTURES = Path(__file__).parent / "fixtures"


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
        ["data_ids.zip", "dev.json", "id_aliases.json", RECORDED_NAME]
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
