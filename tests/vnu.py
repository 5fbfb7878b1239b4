"""The Nu Html Checker (vnu.jar) for tests: find it, run it once over many files.

The jar comes from the npm package ``vnu-jar``::

    npm install --no-save --no-package-lock vnu-jar@26.9.16

(pinned: from 26.9.27 on the package downloads the jar in an install script instead
of shipping it, which needs the network and install scripts allowed)

and is looked for at ``$VNU_JAR``, else ``node_modules/vnu-jar/build/dist/vnu.jar``
under the repository root. Java 11+ runs it (``$JAVA_HOME/bin/java``, else ``java`` on
the PATH). Where either is missing, :func:`require_vnu` skips the test with the reason,
unless ``AGGREGATOR_REQUIRE_VNU=1`` (set by CI), which makes it fail instead.

The checker is slow to start (a JVM and a large schema), so :func:`check_html` runs one
process over all the files of a test run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
NPM_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
INSTALL_HINT = "npm install --no-save --no-package-lock vnu-jar@26.9.16 (or set $VNU_JAR)"
#: a deep thread stack (the schema is recursive) and a quick-starting JIT: ~2 s instead of ~4
JVM_OPTIONS = ("-Xss16m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


@dataclass(frozen=True, slots=True)
class VnuMessage:
    """One message of the checker, about one file."""

    path: Path | None
    line: int | None
    column: int | None
    type: str
    message: str
    extract: str = ""

    def format(self, root: Path | None = None) -> str:
        where = "?"
        if self.path is not None:
            where = str(self.path)
            if root is not None and self.path.is_relative_to(root):
                where = self.path.relative_to(root).as_posix()
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.type}: {self.message}"
        if self.extract:
            text += f"\n    {' '.join(self.extract.split())}"
        return text


def find_jar() -> Path | None:
    """``$VNU_JAR`` if set (even when wrong: then None), else the npm package's jar."""
    configured = os.environ.get("VNU_JAR")
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_file() else None
    return NPM_JAR if NPM_JAR.is_file() else None


def find_java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def unavailable_reason() -> str | None:
    """None when the checker can run, else why not."""
    if find_jar() is None:
        if os.environ.get("VNU_JAR"):
            return f"$VNU_JAR={os.environ['VNU_JAR']} is not a file"
        return f"vnu.jar not found at {NPM_JAR.relative_to(ROOT)}; run: {INSTALL_HINT}"
    if find_java() is None:
        return "no java to run vnu.jar ($JAVA_HOME/bin/java or java on the PATH; Java 11+)"
    return None


def require_vnu() -> tuple[str, Path]:
    """(java, jar), or skip the calling test (fail it under AGGREGATOR_REQUIRE_VNU=1)."""
    reason = unavailable_reason()
    if reason:
        if os.environ.get("AGGREGATOR_REQUIRE_VNU") == "1":
            pytest.fail(f"Nu Html Checker required (AGGREGATOR_REQUIRE_VNU=1): {reason}")
        pytest.skip(f"Nu Html Checker unavailable: {reason}")
    java, jar = find_java(), find_jar()
    assert java is not None and jar is not None
    return java, jar


def check_html(files: Sequence[Path], *, errors_only: bool = True,
               timeout: float = 300) -> list[VnuMessage]:
    """Every message of one checker run over ``files`` (HTML), in the checker's order.

    Problems of the run itself (unreadable file, I/O error) come back as messages of
    type ``non-document-error``; a checker that cannot start raises RuntimeError.
    """
    if not files:
        return []
    for f in files:  # the checker silently passes over missing files and other suffixes
        if not Path(f).is_file():
            raise FileNotFoundError(f)
        if Path(f).suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"{f}: vnu.jar checks only .html/.htm files as HTML")
    java, jar = require_vnu()
    command = [java, *JVM_OPTIONS, "-jar", str(jar), "--format", "json", "--exit-zero-always"]
    if errors_only:
        command.append("--errors-only")
    command += [str(Path(f).resolve()) for f in files]  # absolute: never taken for options
    result = subprocess.run(command, capture_output=True, text=True, encoding="utf-8",
                            timeout=timeout)
    report = _json_report(result.stderr) or _json_report(result.stdout)
    if report is None:
        raise RuntimeError(f"vnu.jar gave no JSON report (exit {result.returncode}):\n"
                           f"{result.stderr.strip()}\n{result.stdout.strip()}")
    messages = report.get("messages")
    if not isinstance(messages, list):
        raise RuntimeError(f"vnu.jar report without a list of messages: {report!r}")
    return [_message(m) for m in messages if isinstance(m, dict)]


def _json_report(text: str) -> dict[str, Any] | None:
    """The checker writes its JSON report to stderr; find it among anything else there."""
    start = text.find('{"')
    if start < 0:
        return None
    try:
        report, _ = json.JSONDecoder().raw_decode(text, start)
    except json.JSONDecodeError:
        return None
    return report if isinstance(report, dict) and "messages" in report else None


def _message(raw: dict[str, Any]) -> VnuMessage:
    url = str(raw.get("url") or "")
    path = Path(unquote(urlsplit(url).path)) if url.startswith("file:") else None
    line = raw.get("lastLine")
    column = raw.get("firstColumn", raw.get("lastColumn"))
    kind = str(raw.get("type", "error"))
    if raw.get("subType"):
        kind += f" ({raw['subType']})"
    return VnuMessage(
        path=path,
        line=line if isinstance(line, int) else None,
        column=column if isinstance(column, int) else None,
        type=kind,
        message=str(raw.get("message", "")),
        extract=str(raw.get("extract", "")),
    )
