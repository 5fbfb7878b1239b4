"""Writing output files: atomically, only when changed, never outside ``output/``.

Each file is written to a temporary name in the same folder, flushed to disk and
renamed over the old one, so a reader (or a web server syncing the folder) sees
either the old file or the new one, never half of one. A file whose bytes did not
change is not touched, so its mtime (and the ETag derived from it) stays.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from aggregator.errors import AggregatorError


@contextmanager
def publish_lock(path: Path) -> Iterator[None]:
    """One publish at a time on this machine (the worker and a CLI run may overlap)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class OutputWriter:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.written: list[str] = []
        self.unchanged: list[str] = []
        self._seen: set[str] = set()

    def remove_leftovers(self) -> list[Path]:
        """Delete temporary files a killed publish left behind (call under the lock)."""
        removed = []
        if self.root.is_dir():
            for path in self.root.rglob(".*.tmp"):
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def path_for(self, name: str) -> Path:
        rel = PurePosixPath(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise AggregatorError(f"refusing to write {name!r} outside the output folder")
        return self.root.joinpath(*rel.parts)

    def write(self, name: str, data: bytes) -> bool:
        """Write ``data`` to ``name`` (relative, '/'-separated); True if the file changed."""
        self._claim(name)
        path = self.path_for(name)
        if _bytes_if_size(path, len(data)) == data:
            self.unchanged.append(name)
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # public files; mkstemp makes them 0600
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.written.append(name)
        return True

    def keep(self, name: str) -> None:
        """Leave ``name`` as it is without reading it: the caller knows it is up to date."""
        self._claim(name)
        self.unchanged.append(name)

    def _claim(self, name: str) -> None:
        if name in self._seen:  # two renderers claiming one file is a bug, not a race
            raise AggregatorError(f"output file {name!r} written twice in one publish")
        self._seen.add(name)


def _bytes_if_size(path: Path, size: int) -> bytes | None:
    """The file's bytes if it has ``size`` of them; None if not (it differs: not read)."""
    try:
        return path.read_bytes() if path.stat().st_size == size else None
    except FileNotFoundError:
        return None
