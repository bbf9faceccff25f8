"""Writing files so that a failed write never costs the data that was there.

This module owns the one primitive every taskloom writer goes through (``to_csv``,
``to_parquet``, ``Bag.to_textfiles``, ``to_npy_stack``): new content is written beside
the target and moved into place only once it is complete.

Policy
------
- **Staging.** A write goes to a hidden directory beside the target,
  ``.<name>.<random>.tmp/``, under the target's own file name: a writer that looks at
  the name (pandas picks ``.gz`` compression and a zip member's name from it, numpy adds
  ``.npy`` when it is missing) does exactly what it does for the real path. The directory
  is in the target's own directory, so the final move is an :func:`os.replace` on one
  filesystem: atomic, a reader sees the old file or the new one, never a part of either.
- **Failure.** The staging directory is removed and the exception propagates unchanged;
  the target is not touched.
- **Permissions.** A new file gets what ``open()`` gives (``0o666`` less the umask). A
  replaced file keeps its permission bits, and its owner and group where the process may
  set them. A symlink is written through: the file it points to is replaced, the link
  stays. Other hard links to a replaced file keep the old content (a rename makes a new
  file, as every atomic writer does).
- **Modes.** ``"w"`` replaces; ``"a"`` copies the existing file into staging, appends
  there, then replaces (a copy of the file is the price of keeping it whole on failure);
  ``"x"`` fails with :class:`FileExistsError` when the target exists, as ``open()`` does,
  and moves the new file in with :func:`os.link`, which never overwrites.
- **Targets.** A directory is an :class:`IsADirectoryError` before anything is written. A
  URL (``scheme://...``, as fsspec spells them) is not a local path: it is written
  directly, under the store's own rules (object stores replace an object whole).
- **Not covered.** Power loss: nothing is fsync'ed, which would cost a disk flush per
  file. A process killed mid-write leaves its target intact and a hidden staging
  directory behind; readers skip hidden names. Staging needs write permission on the
  target's directory, not only on the file: without it the write fails (with
  :class:`PermissionError`) rather than fall back to overwriting in place.

Examples
--------
>>> import os, tempfile
>>> from taskloom._files import atomic_write
>>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
>>> with atomic_write(path) as temp:
...     with open(temp, "w") as f:
...         _ = f.write("hello")
>>> open(path).read()
'hello'
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "atomic_write",
    "commit",
    "discard",
    "is_local",
    "stage",
    "staged_path",
    "staging_dir",
    "writing_mode",
]

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+://")
_NAME_KEPT = 100  # characters of the target's name kept in the staging directory's name


def is_local(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a local filesystem path (not a ``scheme://`` URL).

    Examples
    --------
    >>> is_local("data/part.0.csv"), is_local("s3://bucket/part.0.csv")
    (True, False)
    """
    return not _URL.match(os.fspath(path))


def _target(path: str | os.PathLike) -> str:
    """The file a write to ``path`` changes: a symlink's destination, else ``path``."""
    path = os.fspath(path)
    return os.path.realpath(path) if os.path.islink(path) else path


def writing_mode(mode: str) -> str:
    """The mode to open a staged file with for a write in ``mode``.

    The staged file is new, so an exclusive ``"x"`` becomes ``"w"`` there (exclusivity
    is checked against the target); ``"w"`` and ``"a"`` stay.

    Examples
    --------
    >>> writing_mode("x"), writing_mode("ab")
    ('w', 'ab')
    """
    return mode.replace("x", "w")


def staging_dir(path: str | os.PathLike) -> str:
    """A new, unused name for a staging directory beside ``path`` (not created yet).

    Examples
    --------
    >>> os.path.basename(staging_dir("/data/out.csv")).startswith(".out.csv.")
    True
    """
    target = _target(path)
    name = os.path.basename(target)[:_NAME_KEPT]
    return os.path.join(os.path.dirname(target), f".{name}.{secrets.token_hex(8)}.tmp")


def staged_path(path: str | os.PathLike, stage_dir: str) -> str:
    """Where the new content of ``path`` is written inside ``stage_dir``."""
    return os.path.join(stage_dir, os.path.basename(_target(path)))


def stage(path: str | os.PathLike, stage_dir: str, mode: str = "w") -> str:
    """Prepare to write ``path`` in ``mode``; return the staged path to write instead.

    Creates ``stage_dir`` if needed; for ``"a"`` the staged file starts as a copy of the
    existing target. Checks what ``open(path, mode)`` would refuse before anything is
    written.

    Raises
    ------
    IsADirectoryError
        If ``path`` is a directory.
    FileExistsError
        If ``mode`` is exclusive (``"x"``) and ``path`` exists.
    FileNotFoundError
        If the directory ``path`` would be in does not exist.
    """
    target = _target(path)
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    if "x" in mode and os.path.lexists(target):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path))
    try:
        os.mkdir(stage_dir, mode=0o700)  # not makedirs: a missing parent fails, as in open()
    except FileExistsError:
        pass  # a later link of a chained write, or a retry
    temp = staged_path(path, stage_dir)
    if "a" in mode and os.path.exists(target):
        shutil.copyfile(target, temp)
    return temp


def _keep_mode_and_owner(existing: os.stat_result, temp: str) -> None:
    os.chmod(temp, stat.S_IMODE(existing.st_mode))
    new = os.stat(temp)
    if (new.st_uid, new.st_gid) != (existing.st_uid, existing.st_gid):
        try:
            os.chown(temp, existing.st_uid, existing.st_gid)
        except OSError:
            pass  # only a privileged process may give a file away: keep our own


def commit(temp: str, path: str | os.PathLike, mode: str = "w") -> None:
    """Move the finished staged file ``temp`` into place as ``path``.

    An existing target's permission bits (and owner, where allowed) carry over. With an
    exclusive ``mode`` a target that appeared meanwhile is a :class:`FileExistsError`.
    """
    target = _target(path)
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    if "x" in mode:
        try:
            os.link(temp, target)  # fails if the target exists: never overwrites
        except FileExistsError:
            raise FileExistsError(
                errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path)
            ) from None
        except OSError:  # a filesystem without hard links: check, then rename
            if os.path.lexists(target):
                raise FileExistsError(
                    errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(path)
                ) from None
            os.replace(temp, target)
        else:
            os.unlink(temp)
        return
    if existing is not None:
        _keep_mode_and_owner(existing, temp)
    os.replace(temp, target)


def discard(stage_dir: str) -> None:
    """Remove a staging directory and whatever is left in it (missing is fine)."""
    shutil.rmtree(stage_dir, ignore_errors=True)


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[str]:
    """Write ``path`` whole or not at all: yields a staged path to write the content to.

    Open the yielded path with :func:`writing_mode` of ``mode`` (or hand it to a writer
    such as pandas or pyarrow). When the block ends normally the staged file replaces
    ``path``; when it raises, the staged file is removed, the exception propagates
    unchanged and ``path`` keeps its old content. A URL is yielded as it is (written
    directly).

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    mode : {"w", "a", "x"}
        Replace, append to, or create exclusively (``"b"``/``"t"`` may be added).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "log.txt")
    >>> with open(path, "w") as f:
    ...     _ = f.write("old\\n")
    >>> try:
    ...     with atomic_write(path, "a") as temp:
    ...         with open(temp, writing_mode("a")) as f:
    ...             _ = f.write("new\\n")
    ...             raise RuntimeError("the write fails")
    ... except RuntimeError:
    ...     pass
    >>> open(path).read(), os.listdir(os.path.dirname(path))
    ('old\\n', ['log.txt'])
    """
    if not is_local(path):
        yield os.fspath(path)
        return
    stage_dir = staging_dir(path)
    try:
        temp = stage(path, stage_dir, mode)
        yield temp
        commit(temp, path, mode)
    finally:
        discard(stage_dir)
