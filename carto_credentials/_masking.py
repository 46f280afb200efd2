"""The one home of the key-masking rule, and the kernel's output filter (docs/kernel-api.md, Masking).

The rule: a *known* key (``remember``) is any API key other than ``default_public`` of at least
``MIN_KEY_LENGTH`` characters (as ``src/redact.ts``: shorter strings would eat ordinary words);
it is found raw and in the forms it takes inside URLs, JSON strings and HTML, and replaced by
``mask_key(key)`` (``rules.json`` ``key_mask``, shared with the panel: what ``repr(Credentials)``
shows, ``***`` and, for keys of 16+ characters, the last 4). ``scrub`` (error texts, any secret)
lives here too.

The filter (``install``): every message the kernel sends goes through its ``Session.send``, the
one choke point ipykernel 6.29 and 7.x share (``_ipykernel_compat.wrap_session_send``): stream,
``display_data`` / ``execute_result`` / ``update_display_data`` of any MIME type (nested JSON
included), ``error`` and ``execute_reply`` tracebacks (verbose values too, and a key that a
shortened ``repr`` cut at ``...``), other targets' comm
messages (widget state), replies. Not masked: this package's own ``carto.credentials`` comm
messages (they carry a key only when code set it, by design) and binary buffers. Streams hold
back a tail that could be the start of a key until the next message, so a key split across two
writes is still masked. With no known key a message costs one global lookup.

Known keys: every ``Credentials`` built in this process (pushed, code-set, environment, store,
``creds.json``, explicit), every CARTO 3 access token pushed or handed out (``kernel``,
``carto3``), plus ``CARTO_API_KEY`` and the keys, access tokens and M2M client secrets of the
account store and the key of ``creds.json``, read at install and re-read (when changed) before
each cell.
``CARTO_CREDENTIALS_MASK_OUTPUTS=0`` in the kernel's environment turns the filter off.
"""

import json
import os
import re
import threading

from . import _deck_output
from .rules import KEY_MASK, mask_key
from .rules import PUBLIC_API_KEY as DEFAULT_PUBLIC

MIN_KEY_LENGTH = KEY_MASK["min_key_length"]
SWITCH_ENV = "CARTO_CREDENTIALS_MASK_OUTPUTS"
# Shown above a cartoframes map whose embedded key was masked (its layers cannot load without it).
MAP_NOTICE = (
    '<div class="carto-credentials-masked-map" style="padding:6px 10px;margin:0 0 4px;'
    'border-left:4px solid #d9822b;background:#fff7e6;color:#333;font:13px sans-serif">'
    "<b>This map needs a re-run to show its data.</b> The CARTO API key it embeds was masked "
    "before it left the kernel (jupyterlab-carto-credentials), so layers that need the key "
    "cannot load, here or in a saved copy. Re-run it in a kernel started with "
    "<code>CARTO_CREDENTIALS_MASK_OUTPUTS=0</code> (the key is then part of the output), or "
    "draw the same layers with <code>carto_credentials.Map</code>, which never embeds a key.</div>"
)
_MAP_MARKERS = ("carto-vl", "cartoframes")


def qualifies(key, min_length=MIN_KEY_LENGTH):
    """Whether ``key`` is masked in text: a string, not ``default_public``, long enough."""
    return isinstance(key, str) and len(key) >= min_length and key != DEFAULT_PUBLIC


def key_forms(key):
    """The ways ``key`` is written in outputs: raw, URL-encoded, in a JSON string, in HTML, and
    inside Base64 (``base64_forms``)."""
    import html
    from urllib.parse import quote, quote_plus

    forms = {key, quote(key, safe=""), quote_plus(key), json.dumps(key)[1:-1], html.escape(key)}
    return forms | base64_forms(key)


def base64_forms(key):
    """The Base64 text (standard and URL-safe alphabets) that ``key`` becomes inside any encoded
    text, at each of the three byte alignments: an HTTP Basic ``Authorization`` header is
    ``base64("user:" + key)``, which ``http.client``'s debug output and logged requests show.
    Only the characters that depend on the key's bytes alone are kept, so each form is found
    whatever precedes or follows the key."""
    import base64

    raw = key.encode("utf-8")
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode("ascii")
        start = (offset * 8 + 5) // 6
        end = (offset + len(raw)) * 8 // 6
        fragment = encoded[start:end]
        forms.add(fragment)
        forms.add(fragment.replace("+", "-").replace("/", "_"))
    return forms


class Masker:
    """Finds and masks a fixed set of keys in strings and nested JSON-like values."""

    def __init__(self, keys, replacement=None):
        """``replacement``: what a key is replaced by: ``mask_key(key)`` (None), one text for
        every key, or a function of the key."""
        self.keys = frozenset(keys)
        self.forms = {}
        for key in sorted(self.keys, key=len, reverse=True):
            if replacement is None:
                shown = mask_key(key)
            else:
                shown = replacement(key) if callable(replacement) else replacement
            for form in key_forms(key):
                self.forms.setdefault(form, shown)
        # Longest first: a key that contains another key is masked whole.
        ordered = sorted(self.forms, key=len, reverse=True)
        self.regex = re.compile("|".join(re.escape(f) for f in ordered))
        self.longest = max(len(f) for f in ordered)

    def _replace(self, match):
        return self.forms[match.group()]

    def text(self, text):
        """``(masked, changed)``."""
        masked, count = self.regex.subn(self._replace, text)
        return (masked, True) if count else (text, False)

    def value(self, value):
        """``(masked, changed)`` through dicts (keys too), lists and tuples; same object if not."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            changed, result = False, {}
            for name, item in value.items():
                new_name, c1 = self.value(name) if isinstance(name, str) else (name, False)
                new_item, c2 = self.value(item)
                changed = changed or c1 or c2
                result[new_name] = new_item
            return (result, True) if changed else (value, False)
        if isinstance(value, (list, tuple)):
            changed, result = False, []
            for item in value:
                new_item, c = self.value(item)
                changed = changed or c
                result.append(new_item)
            return (type(value)(result), True) if changed else (value, False)
        return value, False

    def continued(self, before, text):
        """``text`` masked, including a key that starts at the end of ``before`` (already sent)."""
        if not before:
            return self.text(text)[0]
        joined, offset = before + text, len(before)
        out, pos = [], offset
        for match in self.regex.finditer(joined):
            if match.end() <= offset:
                continue
            start = max(match.start(), offset)
            out.append(joined[pos:start])
            out.append(self.forms[match.group()])
            pos = match.end()
        out.append(joined[pos:])
        return "".join(out)

    def cut(self, text, min_part=6):
        """``text`` with the part of a key that a ``...`` cut left (``repr`` truncated by
        verbose tracebacks) replaced by ``***``: a key start before ``...``, a key end after it."""
        if "..." not in text:
            return text
        pieces = text.split("...")
        for i in range(len(pieces) - 1):
            before = self.open_tail(pieces[i])
            if before >= min_part:
                pieces[i] = pieces[i][:-before] + "***"
            after = self._close_head(pieces[i + 1])
            if after >= min_part:
                pieces[i + 1] = "***" + pieces[i + 1][after:]
        return "...".join(pieces)

    def _close_head(self, text):
        """Length of the longest start of ``text`` that is the end of a key (0 if none)."""
        best = 0
        for form in self.forms:
            for n in range(min(len(form) - 1, len(text)), best, -1):
                if form.endswith(text[:n]):
                    best = n
                    break
        return best

    def open_tail(self, text):
        """Length of the longest end of ``text`` that is the start of a key (0 if none)."""
        best = 0
        for form in self.forms:
            first, start = form[0], max(0, len(text) - len(form) + 1)
            i = text.find(first, start)
            while i != -1 and len(text) - i > best:
                if form.startswith(text[i:]):
                    best = len(text) - i
                    break
                i = text.find(first, i + 1)
        return best


def scrub(text, secret):
    """``text`` with ``secret`` (any length but ``default_public``) in any form replaced by ``***``."""
    text = str(text)
    if not qualifies(secret, min_length=1):
        return text
    return Masker([secret], replacement="***").text(text)[0]


# -- the keys this process knows ----------------------------------------------------------------

_lock = threading.RLock()
_keys = set()
_masker = None  # a Masker of _keys; None while no key is known (the filter's fast path)
_token_accounts = {}  # CARTO 3 access token -> its login's account id (pydeck outputs)
_enabled = True
_file_stamps = {}  # path -> (mtime_ns, size) of the files whose keys were read


def remember(key, account_id=None):
    """Mask ``key`` in everything this kernel emits from now on (ignored if it does not qualify).

    ``account_id``: the stored account whose CARTO 3 login ``key`` is the access token of, so a
    pydeck map drawing with it can be shown with the login's current token (``_deck_output``).
    """
    global _masker
    if not qualifies(key):
        return
    if isinstance(account_id, str) and account_id:
        with _lock:
            _token_accounts[key] = account_id
    if key in _keys:
        return
    with _lock:
        if key not in _keys:
            _keys.add(key)
            _masker = Masker(_keys)


def known_count():
    """How many keys are masked (never the keys themselves)."""
    return len(_keys)


def mask(value):
    """``value`` (a string or JSON-like) with every known key masked."""
    masker = _masker
    return value if masker is None else masker.value(value)[0]


def refresh_sources():
    """Learn the keys of ``CARTO_API_KEY``, the account store and ``creds.json`` (when changed)."""
    from . import paths

    remember(os.environ.get("CARTO_API_KEY"))
    for path, reader in (
        (paths.store_path(), _store_keys),
        (paths.cartoframes_creds_path(), _creds_keys),
    ):
        try:
            st = os.stat(path)
        except OSError:
            continue
        stamp = (st.st_mtime_ns, st.st_size)
        if _file_stamps.get(path) == stamp:
            continue
        _file_stamps[path] = stamp
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        for key in reader(data):
            remember(key)


# What a stored account holds that outputs must not show: API keys, CARTO 3 access tokens and
# M2M client secrets.
_STORE_SECRETS = ("api_key", "access_token", "client_secret")


def _store_keys(data):
    accounts = data.get("accounts") if isinstance(data, dict) else None
    return [a.get(field) for a in accounts or () if isinstance(a, dict) for field in _STORE_SECRETS]


def _creds_keys(data):
    return [data.get("api_key")] if isinstance(data, dict) else []


# -- the kernel's filter ------------------------------------------------------------------------

_MIME_MESSAGES = ("display_data", "execute_result", "update_display_data")
_TRACEBACK_MESSAGES = ("error", "execute_reply")


def _parent_id(msg):
    parent = msg.get("parent_header")
    return parent.get("msg_id") if isinstance(parent, dict) else None


class SendFilter:
    """Stands in for ``session.send``: masks each message, then sends it with the original."""

    def __init__(self, original, session, is_own_comm):
        self.original = original
        self.session = session
        self.is_own_comm = is_own_comm
        self.lock = threading.RLock()
        self.held = {}  # stream name -> (socket, parent_header, ident, text not sent yet)
        self.sent = {}  # stream name -> (parent msg_id, end of the text sent last)

    def __call__(
        self,
        stream,
        msg_or_type,
        content=None,
        parent=None,
        ident=None,
        buffers=None,
        track=False,
        header=None,
        metadata=None,
    ):
        masker = _masker
        if masker is None or not _enabled:
            return self.original(
                stream, msg_or_type, content, parent, ident, buffers, track, header, metadata
            )
        if isinstance(msg_or_type, str):
            msg = self.session.msg(
                msg_or_type, content=content, parent=parent, header=header, metadata=metadata
            )
        else:
            msg = dict(msg_or_type)
        header_ = msg.get("header") or {}
        msg_type = header_.get("msg_type")
        content = msg.get("content")
        if (
            msg_type in ("comm_open", "comm_msg", "comm_close")
            and isinstance(content, dict)
            and self.is_own_comm(content.get("comm_id"))
        ):
            return self.original(stream, msg, ident=ident, buffers=buffers, track=track)
        with self.lock:
            if (
                msg_type == "stream"
                and isinstance(content, dict)
                and isinstance(content.get("text"), str)
            ):
                return self._stream(masker, stream, msg, ident)
            self._flush_held(masker)
            msg = _masked_message(masker, msg, msg_type)
            return self.original(stream, msg, ident=ident, buffers=buffers, track=track)

    def _stream(self, masker, stream, msg, ident):
        content = msg["content"]
        name, parent_id = content.get("name"), _parent_id(msg)
        held = self.held.pop(name, None)
        if held is not None and _parent_id({"parent_header": held[1]}) != parent_id:
            self.held[name] = held
            held = None
        self._flush_held(masker)
        text = (held[3] if held else "") + content["text"]
        sent = self.sent.get(name)
        before = sent[1] if sent and sent[0] == parent_id else ""
        text = masker.continued(before, text)
        keep = masker.open_tail(text)
        if keep:
            self.held[name] = (stream, msg.get("parent_header"), ident, text[-keep:])
            text = text[:-keep]
        if not text:
            return msg
        self.sent[name] = (parent_id, (before + text)[-masker.longest :])
        msg["content"] = dict(content, text=text)
        return self.original(stream, msg, ident=ident)

    def _flush_held(self, masker):
        """Send every held stream tail now (another message is about to go out)."""
        while self.held:
            name, (stream, parent, ident, text) = self.held.popitem()
            msg = self.session.msg("stream", {"name": name, "text": text}, parent=parent)
            before = self.sent.get(name)
            self.sent[name] = (
                _parent_id(msg),
                ((before[1] if before else "") + text)[-masker.longest :],
            )
            self.original(stream, msg, ident=ident)


def _masked_message(masker, msg, msg_type):
    """``msg`` (a shallow copy when changed) with content and metadata masked."""
    result = msg
    for field in ("content", "metadata"):
        value = msg.get(field)
        if value is None:
            continue
        masked, changed = masker.value(value)
        if field == "content" and msg_type in _TRACEBACK_MESSAGES:
            masked, cut = _cut_traceback(masker, masked)
            changed = changed or cut
        if not changed:
            continue
        if field == "content" and msg_type in _MIME_MESSAGES:
            masked = _with_deck_bundle(value, _with_map_notice(masked))
        if result is msg:
            result = dict(msg)
        result[field] = masked
    return result


def _cut_traceback(masker, content):
    """Verbose tracebacks shorten long values with ``...``: mask a key cut in two there too."""
    lines = content.get("traceback") if isinstance(content, dict) else None
    if not isinstance(lines, list):
        return content, False
    cut = [masker.cut(line) if isinstance(line, str) else line for line in lines]
    if cut == lines:
        return content, False
    return dict(content, traceback=cut), True


def _with_deck_bundle(original, content):
    """A pydeck map drawing with a CARTO 3 login gets ``_deck_output.DECK_MIME`` too."""
    if not _token_accounts or not isinstance(content, dict) or not isinstance(original, dict):
        return content
    data = _deck_output.with_deck_bundle(
        original.get("data"), content.get("data"), dict(_token_accounts), Masker
    )
    return content if data is content.get("data") else dict(content, data=data)


def _with_map_notice(content):
    """A masked HTML that embeds map code (cartoframes) gets the re-run notice on top."""
    data = content.get("data") if isinstance(content, dict) else None
    html = _deck_output.html_text(data)
    if html is None or "carto-credentials-masked-map" in html:
        return content
    if not any(marker in html for marker in _MAP_MARKERS):
        return content
    return dict(content, data=dict(data, **{"text/html": MAP_NOTICE + html}))


_installed = {}  # id(kernel) -> SendFilter


def install(kernel, owns_comm):
    """Mask known keys in everything ``kernel`` sends; called by ``kernel.register_target``, which
    passes its ``owns_comm(comm_id)`` (messages on the channel's own comms are not masked).

    Returns whether the filter is in place. Never raises into a kernel start.
    """
    global _enabled
    if os.environ.get(SWITCH_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        _enabled = False
        return False
    if id(kernel) in _installed:
        return True
    from . import _ipykernel_compat

    def make(original, session):
        return SendFilter(original, session, owns_comm)

    send_filter = _ipykernel_compat.wrap_session_send(kernel, make)
    if send_filter is None:
        return False
    _installed[id(kernel)] = send_filter
    try:
        refresh_sources()
    except Exception:
        pass
    shell = getattr(kernel, "shell", None)
    events = getattr(shell, "events", None)
    if events is not None:
        events.register("pre_run_cell", _before_cell)
    return True


def _before_cell(info=None):
    try:
        refresh_sources()
    except Exception:
        pass
