"""The only module that reaches into ipykernel's private internals, behind an explicit version check.

(Also ``wrap_session_send``, at the end: the choke point the output masking of ``_masking`` uses.)

What it is for: a cell blocked in ``get_default_credentials()`` waits (bounded, see
``kernel.PUSH_WAIT_SECONDS``) for JupyterLab's push, whose ``comm_open``/``comm_msg`` sits on the
*main* shell, queued behind that very cell. ``pump(...)`` handles those messages from inside the
waiting cell, and only those: every other queued message keeps its place and runs after the cell,
as usual (never nested). Measured facts behind it: ``shared/reference/comm-mechanics.md`` §3 (b2)
and §5 (a cell queued during an auto-restart: 0/3 without the pump, 3/3 with it).

How each supported ipykernel line queues shell messages while the main thread runs a cell:

- **6.x** (``kernelbase.Kernel.start``/``schedule_dispatch``, checked on 6.29.5): the shell
  ``ZMQStream`` (main thread) feeds ``kernel.msg_queue``, a tornado ``Queue`` of
  ``(index, dispatch_shell, (raw_frames,))`` that ``dispatch_queue`` drains one at a time. The
  pump flushes the stream into the queue, takes everything out, handles ours and puts the rest
  back in order.
- **7.x** (checked on 7.4.0): ``msg_queue`` is gone. ``kernelapp.init_kernel`` always creates a
  ``ShellChannelThread`` that reads the shell socket and forwards main-shell messages over an
  inproc PAIR socket (``kernel.shell_channel_thread.manager.get_shell_channel_to_subshell_pair(None)``,
  the same one ``ipykernel.eventloops.get_shell_stream`` hands to the GUI loops); a
  ``ZMQStream`` of the main thread reads it and starts one asyncio task per message
  (``Kernel.shell_main``), serialised by ``Kernel._main_asyncio_lock``. A blocked cell blocks
  that loop, so a queued message is either still in the PAIR socket, or was read just before the
  cell started and waits as a task that cannot run. The pump therefore (1) takes ours from the
  messages the stream read but did not dispatch yet, which a recorder wrapped around the
  stream's receive callback (``install``) keeps track of, and (2) receives everything still in
  the PAIR socket (main thread: the socket's owner), handles ours and hands every other message,
  in order, to the stream's own callback, so it is dispatched after the cell exactly as if the
  stream had read it. It drains the socket down to ``EAGAIN`` each time, so the socket's
  edge-triggered descriptor never strands a message (the "wedge" ``SubshellManager`` describes).
  Without subshells (``shell_channel_thread`` is ``None``, e.g. custom kernel apps) the same is
  done on ``kernel.shell_stream``.

Messages are only peeked at (raw JSON frames) unless consumed: ``Session.deserialize`` records the
HMAC, and the real dispatch would then drop the message as a duplicate. Consumed messages go
straight to ``kernel.comm_manager.comm_open``/``comm_msg`` (public methods) without
``set_parent`` and without busy/idle status, as ipykernel 7.4's own concurrent comm dispatch
does (``Kernel.shell_main``), so the cell's output keeps its parent.

Any other ipykernel major version, a missing attribute, or a call from a thread other than the
main one: ``supported`` is ``False`` and the caller waits on its Event alone (that works when comm
messages run on a subshell thread).
"""

import json
import logging
import threading
import time

log = logging.getLogger(__name__)

SUPPORTED_MAJORS = (6, 7)
# How many of ours the pump handled, by where they waited (for tests and debugging).
handled = {"queue": 0, "read_not_dispatched": 0, "socket": 0}


def ipykernel_major():
    """Major version of the imported ipykernel (int), or ``None`` when it is not importable."""
    try:
        import ipykernel

        return int(str(ipykernel.__version__).split(".")[0])
    except Exception:
        return None


def _main_shell_stream(kernel):
    """The main thread's ``ZMQStream`` of shell messages on ipykernel 7, or ``None``."""
    channel = getattr(kernel, "shell_channel_thread", None)
    if channel is None:
        return getattr(kernel, "shell_stream", None)
    try:
        return channel.manager.get_shell_channel_to_subshell_pair(None).to_stream
    except Exception:
        return None


def supported(kernel):
    """True when ``pump`` can run here: ipykernel 6 or 7 with the expected internals, main thread."""
    if threading.current_thread() is not threading.main_thread():
        return False
    major = ipykernel_major()
    if major == 6:
        return (
            getattr(kernel, "msg_queue", None) is not None
            and getattr(kernel, "shell_stream", None) is not None
        )
    if major == 7:
        return (
            _main_shell_stream(kernel) is not None and getattr(kernel, "session", None) is not None
        )
    return False


# -- peeking --------------------------------------------------------------------------------------


def _frame_bytes(frame):
    return frame.bytes if hasattr(frame, "bytes") else frame


def _peek(kernel, raw):
    """``(msg_type, content)`` of raw shell frames without deserializing them; ``None`` if unsure."""
    try:
        _, frames = kernel.session.feed_identities(raw, copy=False)
        header = json.loads(_frame_bytes(frames[1]))
        msg_type = header.get("msg_type")
        if msg_type not in ("comm_open", "comm_msg"):
            return msg_type, None
        return msg_type, json.loads(_frame_bytes(frames[4]))
    except Exception:
        return None


def _consume(kernel, raw, msg_type):
    """Deserialize ``raw`` (ours) and hand it to the comm manager; failures are logged, not raised.

    A message the normal dispatch already handled fails ``Session.deserialize``'s duplicate
    check and is not handled again.
    """
    try:
        idents, frames = kernel.session.feed_identities(raw, copy=False)
        try:
            msg = kernel.session.deserialize(frames, content=True, copy=False)
        except ValueError as exc:
            if "Duplicate Signature" in str(exc):
                return False
            raise
        getattr(kernel.comm_manager, msg_type)(None, idents, msg)
        return True
    except Exception as exc:
        log.warning("Could not handle a queued %s: %s", msg_type, type(exc).__name__)
    return False


# -- ipykernel 7: the recorder ---------------------------------------------------------------------


class _Recorder:
    """Wraps the main shell stream's receive callback; remembers ours until they are dispatched.

    The wrapper is synchronous, so a message is recorded the moment the stream reads it, before
    the tasks that dispatch it can run (ipykernel's callback is ``_async_in_context``: a task
    that starts another task running ``Kernel.shell_main``). A message stays recorded until that
    whole chain has finished, because the cell may block between any two of its steps. If the
    pump takes it first, the chain either skips it (not started yet) or, when it had started,
    ``Session.deserialize`` drops it as a duplicate (the pump's own deserialize recorded its HMAC
    in ``digest_history``): a message is never handled twice. That second case costs one
    "Invalid Message" line in the kernel's log.
    """

    def __init__(self, kernel, stream, original, is_ours):
        self.kernel = kernel
        self.stream = stream
        self.original = original
        self.is_ours = is_ours
        self.pending = []  # [raw, msg_type, consumed] read by the stream, not finished yet

    def __call__(self, raw):
        peeked = _peek(self.kernel, raw)
        if peeked is None or peeked[1] is None or not self.is_ours(*peeked):
            return self.original(raw)
        entry = [raw, peeked[0], False]
        self.pending.append(entry)
        return self._dispatch_unless_consumed(entry)

    async def _dispatch_unless_consumed(self, entry):
        try:
            if entry[2]:
                return None
            return await self.original(entry[0])
        finally:
            if entry in self.pending:
                self.pending.remove(entry)

    def take_pending(self):
        """Ours that were read and not finished yet, in order; the stream's chain skips them."""
        taken = [e for e in self.pending if not e[2]]
        for entry in taken:
            entry[2] = True
        return [(e[0], e[1]) for e in taken]

    def requeue(self, raw):
        """Dispatch ``raw`` after the running cell, exactly as if the stream had just read it."""
        import asyncio

        result = self(raw)
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(result).add_done_callback(_log_failure)


def _log_failure(future):
    # What ZMQStream._run_callback does for the tasks it starts itself.
    if not future.cancelled() and future.exception() is not None:
        log.error("Uncaught exception in a requeued shell message", exc_info=future.exception())


_recorders = {}  # id(kernel) -> _Recorder


def installed(kernel):
    """Whether the ipykernel 7 recorder wraps this kernel's main shell stream."""
    return id(kernel) in _recorders


def install(kernel, is_ours):
    """Prepare ``pump`` on ipykernel 7 (nothing to do on 6). Safe to call more than once.

    ``is_ours(msg_type, content)`` says which ``comm_open``/``comm_msg`` the pump may handle.
    Called from the IPython startup file (before ``Kernel.start`` has wired the stream: then it
    retries on the first turn of the event loop, before any message is read) or later from a cell.
    """
    if ipykernel_major() != 7 or getattr(kernel, "session", None) is None:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    if id(kernel) in _recorders:
        _recorders[id(kernel)].is_ours = is_ours
        return True
    stream = _main_shell_stream_if_started(kernel)
    if stream is None:
        try:
            from tornado.ioloop import IOLoop

            IOLoop.current().add_callback(_install_now, kernel, is_ours)
        except Exception:
            return False
        return True
    return _install_now(kernel, is_ours)


def _main_shell_stream_if_started(kernel):
    channel = getattr(kernel, "shell_channel_thread", None)
    if channel is not None and getattr(channel, "_manager", None) is None:
        return None  # Kernel.start() creates the manager; touching it earlier would create it here
    stream = _main_shell_stream(kernel)
    if stream is None or getattr(stream, "_recv_callback", None) is None:
        return None
    return stream


def _install_now(kernel, is_ours):
    if id(kernel) in _recorders:
        return True
    stream = _main_shell_stream_if_started(kernel)
    if stream is None:
        log.debug("ipykernel 7 main shell stream not found: the credentials wait cannot pump")
        return False
    recorder = _Recorder(kernel, stream, stream._recv_callback, is_ours)
    stream.on_recv(recorder, copy=False)
    _recorders[id(kernel)] = recorder
    return True


# -- the pump --------------------------------------------------------------------------------------


def pump(kernel, is_ours, done, timeout, step=0.005):
    """Handle our queued messages until ``done()`` or ``timeout`` seconds; ``False`` if unsupported.

    ``is_ours(msg_type, content)`` selects the ``comm_open``/``comm_msg`` to handle now (checked
    again on every round, so a ``comm_msg`` for a comm opened in the same round is caught);
    ``done()`` says the wait is over. Other messages are never run here.
    """
    if not supported(kernel):
        return False
    major = ipykernel_major()
    if major == 6:
        one_round = _round_6
    else:
        recorder = _recorders.get(id(kernel))
        if recorder is None and not _install_now(kernel, is_ours):
            return False
        recorder = _recorders[id(kernel)]
        recorder.is_ours = is_ours
        one_round = _round_7
    deadline = time.monotonic() + timeout
    while not done():
        one_round(kernel, is_ours)
        remaining = deadline - time.monotonic()
        if done() or remaining <= 0:
            break
        time.sleep(min(step, remaining))
    return True


def _round_6(kernel, is_ours):
    from asyncio import QueueEmpty as AsyncioQueueEmpty

    from tornado.queues import QueueEmpty

    kernel.shell_stream.flush()
    taken = []
    while True:
        try:
            taken.append(kernel.msg_queue.get_nowait())
        except (QueueEmpty, AsyncioQueueEmpty):
            break
    for item in taken:
        if not _handle_if_ours_6(kernel, item, is_ours):
            kernel.msg_queue.put_nowait(item)


def _handle_if_ours_6(kernel, item, is_ours):
    try:
        _, dispatch, args = item
        if getattr(dispatch, "__name__", "") != "dispatch_shell" or len(args) != 1:
            return False
    except Exception:
        return False
    peeked = _peek(kernel, args[0])
    if peeked is None or peeked[1] is None or not is_ours(*peeked):
        return False
    handled["queue"] += 1
    _consume(kernel, args[0], peeked[0])
    return True


def _round_7(kernel, is_ours):
    import zmq

    recorder = _recorders[id(kernel)]
    for raw, msg_type in recorder.take_pending():
        handled["read_not_dispatched"] += 1
        _consume(kernel, raw, msg_type)
    socket = recorder.stream.socket
    received = []
    while True:
        try:
            received.append(socket.recv_multipart(zmq.NOBLOCK, copy=False))
        except zmq.Again:
            break
    for raw in received:
        peeked = _peek(kernel, raw)
        if peeked is not None and peeked[1] is not None and is_ours(*peeked):
            handled["socket"] += 1
            _consume(kernel, raw, peeked[0])
        else:
            recorder.requeue(raw)


# -- the send choke point (output masking) ---------------------------------------------------------


def wrap_session_send(kernel, make_filter):
    """Route every message ``kernel`` sends through ``make_filter(original_send, session)``.

    ``kernel.session`` is the one ``jupyter_client.Session`` whose ``send`` every sender of
    ipykernel 6.29 and 7.x calls: replies on shell/control, and on IOPub the streams
    (``OutStream``), ``display_pub``, the display hook, tracebacks (``_showtraceback``), comms and
    status (checked on 6.29.5 and 7.4.0). The filter is set on the instance, so nothing else is
    touched. Returns the filter (the one already there, if any), or ``None`` without a session.
    """
    session = getattr(kernel, "session", None)
    original = getattr(session, "send", None)
    if session is None or not callable(original):
        return None
    current = session.__dict__.get("send")
    if current is not None and getattr(current, "_carto_credentials_filter", False):
        return current
    send_filter = make_filter(original, session)
    send_filter._carto_credentials_filter = True
    session.send = send_filter
    return send_filter
