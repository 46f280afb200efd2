"""File work of the server extension: only regular files, off the event loop, with a time bound.

A request handler never touches a file itself: it hands the work to ``Offloader.run``, which runs it
in a small thread pool of its own and waits at most ``timeout`` seconds. A stalled file system (a
hung network mount, a lock another process never releases) then becomes a ``504 io_timeout`` /
``503 store_busy`` answer naming the path, while every other Jupyter endpoint keeps answering.

``read_regular_file`` opens with ``O_NONBLOCK`` (opening a FIFO for reading would otherwise wait for
a writer) and reads only if ``fstat`` says the descriptor is a regular file: FIFOs, sockets, devices
and directories are refused with ``NotRegularFile``, before any read.

Standard library only (no Jupyter import), so the kernel side may import it as well.
"""

import asyncio
import concurrent.futures
import os
import stat

from .errors import CredentialsError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISLNK, "a symbolic link"),
)


def file_kind(mode):
    """What a ``st_mode`` is, in words: ``"a regular file"``, ``"a directory"``, …"""
    if stat.S_ISREG(mode):
        return "a regular file"
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


class NotRegularFile(OSError):
    """``path`` exists but is ``kind`` (e.g. ``"a named pipe (FIFO)"``), not a regular file."""

    def __init__(self, path, kind):
        super().__init__("%s is %s, not a regular file" % (path, kind))
        self.path = path
        self.kind = kind


class FileTooLarge(OSError):
    """``path`` is a regular file larger than ``limit`` bytes."""

    def __init__(self, path, limit):
        super().__init__("%s is larger than %d bytes" % (path, limit))
        self.path = path
        self.limit = limit


def open_regular(path, flags=os.O_RDONLY, mode=0o600, follow_symlinks=True):
    """A descriptor of ``path`` opened without blocking, checked to be a regular file.

    ``flags`` are ``os.open`` flags; ``O_NONBLOCK`` and ``O_CLOEXEC`` are added, and ``O_NOFOLLOW``
    when ``follow_symlinks`` is false (then a symbolic link raises ``OSError(ELOOP)``). Raises
    ``NotRegularFile`` (descriptor closed) or the ``OSError`` of ``os.open``/``os.fstat``. The
    caller closes the descriptor.
    """
    flags |= os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    fd = os.open(path, flags, mode)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(path, file_kind(st.st_mode))
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_file(path, limit, follow_symlinks=True):
    """The bytes of the regular file ``path``, at most ``limit`` bytes.

    Raises ``FileNotFoundError``, ``PermissionError``, ``NotRegularFile``, ``FileTooLarge`` (the file
    holds more than ``limit`` bytes) or another ``OSError``. Blocking: call it through
    ``Offloader.run``.
    """
    fd = open_regular(path, follow_symlinks=follow_symlinks)
    try:
        chunks, size = [], 0
        while True:
            chunk = os.read(fd, min(1024 * 1024, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(path, limit)
        return b"".join(chunks)
    finally:
        os.close(fd)


class Offloader:
    """Runs blocking file work in threads of its own, waiting at most ``timeout`` seconds.

    ``workers`` threads: a call that stalls for good keeps its thread; later calls still get their
    bounded answer (a call still queued when its time is up is cancelled).
    """

    def __init__(self, timeout, workers=4):
        self.timeout = float(timeout)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="carto-credentials-io"
        )

    async def run(self, path, func, *args):
        """``func(*args)`` in a worker thread; its result, or its exception re-raised.

        After ``timeout`` seconds: ``CredentialsError(504, "io_timeout")`` whose message names
        ``path`` (the file the work is about).
        """
        future = self._executor.submit(func, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except asyncio.TimeoutError:
            future.cancel()
            raise CredentialsError(
                504,
                "io_timeout",
                "Reading or writing %s did not finish within %g seconds: its file system may be "
                "stalled (a hung network mount?). The request was abandoned; a change it made may "
                "still land when the file system recovers." % (path, self.timeout),
            ) from None

    def shutdown(self):
        self._executor.shutdown(wait=False, cancel_futures=True)
