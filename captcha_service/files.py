"""Files written as the most trusted stores write them: whole or not at all, whatever kills the process."""

import ctypes
import errno
import os
import pathlib
import secrets

PARTIAL_SUFFIX = ".partial"  # what a write in progress is called: no reader of a folder takes it for a file of its own


def write_atomically(path, data):
    """Write ``data`` to ``path``: a temporary file in the same folder, fsynced, renamed over ``path``.

    Readers see the old file or the new one, never a part; a failed write (a full or read-only
    disk) leaves no temporary file behind and raises the OSError.
    """
    path = pathlib.Path(path)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    try:
        with open(partial, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def fsync_folder(folder):
    """Make a rename in ``folder`` survive a crash of the machine, not only of the process."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def install_folder(new, target):
    """Put the folder ``new`` in ``target``'s place at once: readers see the old folder or the new one, whole.

    ``new`` must be in ``target``'s parent. Linux swaps the two in one step (renameat2's
    RENAME_EXCHANGE); elsewhere the old folder is moved aside first, a moment without either.
    """
    new, target = pathlib.Path(new), pathlib.Path(target)
    if not target.exists():
        os.rename(new, target)
    else:
        old = new
        if not _exchange(new, target):
            old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
            os.rename(target, old)
            os.rename(new, target)
        remove_folder(old)
    fsync_folder(target.parent)


def remove_folder(folder):
    for path in pathlib.Path(folder).iterdir():
        path.unlink()
    pathlib.Path(folder).rmdir()


AT_FDCWD, RENAME_EXCHANGE = -100, 2


def _exchange(first, second):
    """Swap two paths atomically with Linux's renameat2; False where it is not available."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    done = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0
    failure = ctypes.get_errno()
    if not done and failure not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # else: not supported here
        raise OSError(failure, os.strerror(failure), str(second))
    return done
