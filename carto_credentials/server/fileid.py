"""Which file a notebook grant was given to: its inode, birth time and device.

A grant is recorded with the identity of the file at its path (``identity``) and holds only while
the file at that path is still that one (``same_file``): a notebook deleted and replaced by another
under the same name — by Jupyter, a terminal, git — is a different notebook. Saves keep the identity
(Jupyter writes notebooks in place), renames keep it too.

The birth time tells a new file from an old one that got the same inode number back (ext4 reuses
them at once). It comes from ``st_birthtime`` where Python has it (macOS, BSD, Windows), else from
Linux ``statx(2)``; without either, inode + device is all we compare.

Standard library only (no Jupyter import): the kernel side may use it to honour grants read from
the store file.
"""

import ctypes
import os
import struct
import sys

_AT_FDCWD = -100
_STATX_INO = 0x100
_STATX_BTIME = 0x800
# struct statx (linux/stat.h): stx_mask u32 at 0, stx_ino u64 at 32, stx_btime {i64 sec, u32 nsec}
# at 80. 256 bytes in all.
_STATX_SIZE = 256
_statx = None


def _linux_statx():
    global _statx
    if _statx is None:
        _statx = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                func = libc.statx
                func.argtypes = [
                    ctypes.c_int,
                    ctypes.c_char_p,
                    ctypes.c_int,
                    ctypes.c_uint,
                    ctypes.c_char_p,
                ]
                func.restype = ctypes.c_int
                _statx = func
            except (OSError, AttributeError):  # musl before 1.2.5, old glibc
                pass
    return _statx


def _birth_ns(os_path, st):
    """The birth time of ``os_path`` in ns since the epoch, or None when the platform hides it."""
    birth_ns = getattr(st, "st_birthtime_ns", None)
    if birth_ns is not None:
        return birth_ns
    birth = getattr(st, "st_birthtime", None)
    if birth is not None:
        return int(birth * 1e9)
    statx = _linux_statx()
    if not statx:
        return None
    buf = ctypes.create_string_buffer(_STATX_SIZE)
    if statx(_AT_FDCWD, os.fsencode(os_path), 0, _STATX_INO | _STATX_BTIME, buf) != 0:
        return None
    mask = struct.unpack_from("=I", buf, 0)[0]
    ino = struct.unpack_from("=Q", buf, 32)[0]
    if not mask & _STATX_BTIME or ino != st.st_ino:  # no birth time here, or replaced meanwhile
        return None
    sec, nsec = struct.unpack_from("=qI", buf, 80)
    return sec * 1_000_000_000 + nsec


def identity(os_path):
    """``{"dev": int, "ino": int, "btime_ns": int or None}`` of the file at ``os_path`` (symbolic
    links followed), or None when there is nothing there.

    Raises ``OSError`` for anything but a missing file (e.g. ``PermissionError``). Blocking.
    """
    try:
        st = os.stat(os_path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return {"dev": st.st_dev, "ino": st.st_ino, "btime_ns": _birth_ns(os_path, st)}


def same_file(recorded, current):
    """Whether two ``identity`` values name the same file (None: no file; None == None).

    Inode and birth time when both have a birth time (the device number may change across reboots
    of a container), else inode and device.
    """
    if recorded is None or current is None:
        return recorded is None and current is None
    if recorded.get("ino") != current.get("ino"):
        return False
    born, now = recorded.get("btime_ns"), current.get("btime_ns")
    if born is not None and now is not None:
        return born == now
    return recorded.get("dev") == current.get("dev")


def is_identity(value):
    """Whether ``value`` has the shape ``identity`` returns (for the store's shape check)."""
    if value is None:
        return True
    return (
        isinstance(value, dict)
        and isinstance(value.get("ino"), int)
        and isinstance(value.get("dev"), int)
        and (value.get("btime_ns") is None or isinstance(value.get("btime_ns"), int))
    )
