"""Plain words for filesystem errors a user-supplied path runs into.

Every place a request's path reaches the filesystem turns an ``OSError`` into a 4xx whose
message says what is wrong with the path (too long, a loop of symlinks, a file where a
directory should be, no permission...), never a 500.
"""

from __future__ import annotations

import errno

NAME_MAX = 255  # bytes per path component on Linux filesystems (ext4, xfs, btrfs, tmpfs)
PATH_MAX = 4096  # bytes per whole path on Linux


def shown(path: object, limit: int = 120) -> str:
    """``path`` quoted for a message, shortened in the middle past ``limit`` characters."""
    text = str(path)
    if len(text) > limit:
        text = f"{text[: limit // 2]}…{text[-limit // 2:]} ({len(text)} characters)"
    return repr(text)


def os_error_reason(exc: OSError, path: object = None) -> str:
    """What is wrong, in words a user can act on, for an error raised while using ``path``."""
    code = exc.errno
    if code == errno.ENAMETOOLONG:
        return _too_long(str(path if path is not None else exc.filename or ""))
    reasons = {
        errno.ENOENT: "it does not exist",
        errno.ENOTDIR: "a part of it is a file, not a directory",
        errno.ELOOP: "it runs into a loop of symbolic links (or too many of them)",
        errno.EACCES: "permission denied: the server's user may not read it",
        errno.EPERM: "permission denied: the server's user may not read it",
        errno.EISDIR: "it is a directory, not a file",
        errno.EINVAL: "it is not a valid path",
        errno.EIO: "the disk reported an I/O error reading it",
    }
    return reasons.get(code or -1, exc.strerror or str(exc))


def _too_long(path: str) -> str:
    for part in path.split("/"):
        size = len(_encoded(part))
        if size > NAME_MAX:
            return (f"it is too long: the component {shown(part, 40)} is {size} bytes, "
                    f"more than the {NAME_MAX} a file name may have")
    return f"it is too long: {len(_encoded(path))} bytes, more than the {PATH_MAX} a path may have"


def _encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # how many bytes the name takes on disk
