"""The local-folder state store: the default, for `make run`, tests and one-node setups.

A key is a relative path under the root. Writes go to a dot-named temporary
file in the same folder, are fsynced and then `os.replace`d, so a reader never
sees half an object (the same guarantee as an S3 PUT). Unlike S3, a key cannot
also be a folder of other keys (`a` and `a/b`): that is refused as InvalidInput.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from urllib.parse import quote

from shared.errors import InvalidInput, Unavailable
from shared.state import StateStore, _check_prefix, check_key

_CLASH = (IsADirectoryError, NotADirectoryError, FileExistsError)


def _unavailable(op: str, key: str, exc: OSError) -> Unavailable:
    reason = exc.strerror or type(exc).__name__  # strerror never holds the path
    return Unavailable(f"state store cannot {op} {key or 'keys'}: {reason}")


class LocalStore(StateStore):
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        uri = self.root.as_uri()
        self._root_uri = uri if uri.endswith("/") else uri + "/"

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                with suppress(OSError):
                    os.unlink(tmp)
                raise
        except _CLASH as exc:
            raise InvalidInput(f"state key {key} clashes with a folder of keys") from exc
        except OSError as exc:
            raise _unavailable("write", key, exc) from exc

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, *_CLASH):
            return None
        except OSError as exc:
            raise _unavailable("read", key, exc) from exc

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except _CLASH:
            return
        except OSError as exc:
            raise _unavailable("delete", key, exc) from exc

    def list(self, prefix: str = "") -> Iterator[str]:
        prefix = _check_prefix(prefix)
        folders = prefix.split("/")[:-1]  # the whole segments: start the walk there
        start = self.root.joinpath(*folders)
        return self._walk(start, "".join(f + "/" for f in folders), prefix)

    def _walk(self, folder: Path, rel: str, prefix: str) -> Iterator[str]:
        """Depth first with each folder sorted as 'name/': that is plain key order."""
        try:
            with os.scandir(folder) as entries:
                items = []
                for entry in entries:
                    if entry.name.startswith("."):  # temporary files, never keys
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        items.append((entry.name + "/", True))
                    elif entry.is_file():
                        items.append((entry.name, False))
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            raise _unavailable("list", prefix, exc) from exc
        for name, is_dir in sorted(items):
            full = rel + name
            if is_dir:
                if full.startswith(prefix) or prefix.startswith(full):
                    yield from self._walk(folder / name[:-1], full, prefix)
            elif full.startswith(prefix):
                yield full

    def url(self, key: str = "") -> str:
        if not key:
            return self._root_uri
        return self._root_uri + quote(check_key(key))
