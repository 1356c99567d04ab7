"""Plain tar archives of run directories, packed and unpacked without trusting the other side.

Workers and the app exchange dataset exports, checkpoints and finished runs as uncompressed
tar (safetensors and WAV do not compress). Unpacking accepts only regular files and
directories with relative, ``..``-free names, within a size and a member-count limit, and
writes every file itself (never ``tarfile.extract``): a hostile archive cannot write outside
the target, create links or devices, or fill the disk.
"""

from __future__ import annotations

import errno
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

MAX_MEMBERS = 100_000
CHUNK = 1 << 20


class UnsafeArchive(ValueError):
    """The archive is unreadable or holds something we refuse (the message says what)."""


def pack(root: Path, dest: IO[bytes], paths: Iterable[str] | None = None, exclude_top: Iterable[str] = ()) -> None:
    """Write a tar of ``root``'s files to ``dest`` (names relative to ``root``).

    Args:
        paths: only these files or directories under ``root`` (missing ones are skipped);
            default: everything.
        exclude_top: top-level names left out (e.g. ``checkpoints``).
    """
    skip = set(exclude_top)
    tops = [root / p for p in paths] if paths is not None else sorted(root.iterdir())
    with tarfile.open(fileobj=dest, mode="w|") as tar:
        for top in tops:
            if not top.exists() or top.relative_to(root).parts[0] in skip:
                continue
            files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
            for path in files:
                if path.is_symlink():
                    continue
                tar.add(str(path), arcname=path.relative_to(root).as_posix(), recursive=False)


def pack_file(root: Path, dest: Path, paths: Iterable[str] | None = None, exclude_top: Iterable[str] = ()) -> Path:
    """:func:`pack` into the file ``dest`` (written aside and renamed)."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    with tmp.open("wb") as fh:
        pack(root, fh, paths, exclude_top)
    tmp.replace(dest)
    return dest


def member_path(name: str) -> PurePosixPath:
    """The checked relative path of a member name, or :class:`UnsafeArchive`."""
    if not name or "\\" in name or "\0" in name:
        raise UnsafeArchive(f"refused archive member {name!r}: not a plain relative name")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeArchive(f"refused archive member {name!r}: absolute paths and '..' are not allowed")
    parts = [p for p in path.parts if p not in ("", ".")]
    if not parts:
        raise UnsafeArchive(f"refused archive member {name!r}: empty name")
    if len(name.encode()) > 1024 or any(len(p.encode()) > 255 for p in parts):
        raise UnsafeArchive(f"refused archive member {name[:100]!r}...: name too long")
    return PurePosixPath(*parts)


def extract(source: IO[bytes], dest: Path, max_bytes: int, max_members: int = MAX_MEMBERS) -> list[str]:
    """Unpack the tar stream ``source`` into the (new or empty) directory ``dest``.

    Returns the files written (relative names). Raises :class:`UnsafeArchive` on anything but
    regular files and directories with safe names, more than ``max_bytes`` of content or
    ``max_members`` entries, or an unreadable archive; ``dest`` may then hold part of it
    (callers extract into a scratch directory and remove it).
    """
    dest.mkdir(parents=True, exist_ok=True)
    written, total, count = [], 0, 0
    try:
        with tarfile.open(fileobj=source, mode="r|") as tar:
            for member in tar:
                count += 1
                if count > max_members:
                    raise UnsafeArchive(f"refused archive: more than {max_members} entries")
                rel = member_path(member.name)
                if member.isdir():
                    _mkdir(dest / rel, member.name)
                    continue
                if not member.isreg():
                    raise UnsafeArchive(f"refused archive member {member.name!r}: only regular files and directories "
                                        "are allowed (no links or devices)")
                total += member.size
                if total > max_bytes:
                    raise UnsafeArchive(f"refused archive: its files exceed {max_bytes} bytes")
                target = dest / rel
                if target.is_dir():
                    raise UnsafeArchive(f"refused archive member {member.name!r}: a directory of that name exists")
                _mkdir(target.parent, member.name)
                fh = tar.extractfile(member)
                if fh is None:
                    raise UnsafeArchive(f"refused archive member {member.name!r}: unreadable")
                try:
                    out = target.open("wb")
                except OSError as exc:
                    if exc.errno not in (errno.ENAMETOOLONG, errno.EISDIR, errno.ENOTDIR):
                        raise
                    raise UnsafeArchive(f"refused archive member {member.name[:200]!r}: {exc.strerror}") from exc
                with out:
                    shutil.copyfileobj(fh, out, CHUNK)
                written.append(rel.as_posix())
    except (tarfile.TarError, EOFError) as exc:  # an OSError (e.g. a full disk) is ours, not the archive's
        raise UnsafeArchive(f"not a readable tar archive: {exc}") from exc
    if not written and count == 0:
        raise UnsafeArchive("empty archive")
    return written


def _mkdir(path: Path, name: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise UnsafeArchive(f"refused archive member {name!r}: a file of that name is in its way") from exc
