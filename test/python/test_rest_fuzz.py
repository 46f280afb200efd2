"""A seeded fuzz of the REST API (issue 10, "Done when"): a few thousand generated requests over
every route and method of ``/carto-credentials/`` on the in-process jupyter_server, asserting

- no answer is a 5xx (CARTO is faked in-process: no network, no 502/504 to expect);
- an error answer is ``{"error": {"code", "message"}}`` (our routes) and leaves the store file's
  bytes unchanged;
- the log holds no traceback and no error, and no key sent in a body.

Deterministic: ``CARTO_FUZZ_SEED`` (default 20261130) picks the inputs, ``CARTO_FUZZ_CASES``
(default 3000) how many, ``CARTO_FUZZ_SECONDS`` (default 45) bounds the run; a failure names the
seed, the case number and the request, so it can be replayed.
"""

import json
import logging
import os
import random
import time
from urllib.parse import quote

import pytest
from conftest import carto_server_config

from carto_credentials.server import carto3, validate
from carto_credentials.server.errors import CredentialsError

SEED = int(os.environ.get("CARTO_FUZZ_SEED", "20261130"))
CASES = int(os.environ.get("CARTO_FUZZ_CASES", "3000"))
SECONDS = float(os.environ.get("CARTO_FUZZ_SECONDS", "45"))
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# What each route answers; other methods are 405 (tried too, less often).
ROUTES = {
    "accounts": ("GET", "POST"),
    "account": ("PATCH", "DELETE"),
    "key": ("GET",),
    "default": ("PUT",),
    "validate": ("POST",),
    "grants": ("GET", "PUT", "DELETE"),
    "import": ("GET", "POST"),
    "boot": ("GET",),
    "oauth_start": ("POST",),
    "oauth_exchange": ("POST",),
    "oauth_login": ("GET",),
    "oauth_callback": ("GET",),
}


@pytest.fixture
def jp_base_url():
    return "/user/alice/"


@pytest.fixture
def jp_server_config():
    return carto_server_config(validate_timeout=1.0, io_timeout=5.0, oauth_client_id="fuzz-client")


# Access tokens the fake CARTO 3 token endpoint handed out: none may reach the log.
ISSUED_TOKENS = []


@pytest.fixture
def no_network(monkeypatch):
    """CARTO answers in-process: a key starting with "good" is alice's, any other is refused."""

    def fake_fetch(base_url, username, api_key, timeout, check_peer=True):
        if api_key.startswith("good"):
            body = {"user_data": {"username": "alice", "name": "A" * 500, "id": "u1"}}
            return 200, {}, json.dumps(body).encode()
        return 401, {}, b""

    monkeypatch.setattr(validate, "_fetch_me", fake_fetch)
    monkeypatch.setattr(validate, "_resolve", lambda host, port: (), raising=False)

    def fake_token(token_url, form, timeout):
        # CARTO 3's token endpoint: a client secret or a login code starting with "good" works.
        secret = form.get("client_secret") or form.get("code") or ""
        if secret.startswith("good"):
            token = "good-token-%08x" % random.getrandbits(32)
            ISSUED_TOKENS.append(token)
            return token, int(time.time()) + 3600
        kind = "bad_client" if form["grant_type"] == "client_credentials" else "bad_code"
        raise CredentialsError(400, kind, "CARTO refused it.")

    def fake_discover(accounts_url, token, timeout, allow_http, check_peer=True):
        return "https://api.example", {"tenant_domain": "tenant.example"}

    monkeypatch.setattr(carto3, "request_token", fake_token)
    monkeypatch.setattr(carto3, "discover_api_base_url", fake_discover)


# --- the generator ---------------------------------------------------------------------------

TEXTS = [
    "",
    " ",
    "a",
    "alice",
    "Alice",
    "alice\n",
    "ali ce",
    "al\u202eice",
    "\x00",
    "\x7f",
    "\x85",
    "\u2028",
    "\ud800",
    "\ufeff",
    "😀",
    "地図",
    "null",
    "true",
    "0",
    "-1",
    "%01",
    "%00",
    "..",
    "../a.ipynb",
    "/abs.ipynb",
    "a/../../b",
    "a.ipynb",
    " nb.ipynb",
    "nb.ipynb ",
    "work/map.ipynb",
    "x" * 300,
    "y" * 5000,
    "https://alice.carto.com",
    "https://alice.carto.com/",
    "http://127.0.0.1:1/user/alice/",
    "https://onprem.example/user/alice",
    "https://onprem.example/u/alice/",
    "http://169.254.169.254/",
    "http://metadata.google.internal/",
    "http://[fe80::1]/",
    "https://user:pw@h.example/",
    "https://h.example/?q=1",
    "https://h.example/#f",
    "https:",
    "javascript:alert(1)",
    "ftp://h.example/",
    "default_public",
    "acc-0000000000000000",
    "/etc/passwd",
    "/tmp/x.json",
    "~/.config/cartoframes/creds.json",
    "creds.json",
    "nope.JSON",
    "allow",
    "deny",
    "maybe",
]
FIELDS = [
    "username",
    "base_url",
    "api_key",
    "label",
    "validate",
    "allow_non_https",
    "account_id",
    "path",
    "decision",
    "extra",
    "",
    "__proto__",
    "api_key ",
]


class Fuzzer:
    def __init__(self, seed):
        self.rnd = random.Random(seed)
        self.account_ids = []
        self.states = []
        self.sent_keys = set()

    def key(self):
        r = self.rnd.random()
        if r < 0.1:
            return "default_public"
        if r < 0.55:
            key = "good-key-%08x" % self.rnd.getrandbits(32)
        else:
            key = "fuzz-key-%08x" % self.rnd.getrandbits(32)
        return key

    def text(self):
        r = self.rnd.random()
        if r < 0.7:
            return self.rnd.choice(TEXTS)
        if r < 0.85:  # random code points, some unprintable
            return "".join(
                chr(self.rnd.choice([self.rnd.randint(0, 0x7F), self.rnd.randint(0, 0x10FFFF)]))
                for _ in range(self.rnd.randint(0, 12))
            )
        return self.rnd.choice(TEXTS) + self.rnd.choice(TEXTS)

    def value(self, depth=0):
        r = self.rnd.random()
        if r < 0.35 or depth > 3:
            return self.text()
        if r < 0.45:
            return self.rnd.choice([None, True, False])
        if r < 0.55:
            return self.rnd.choice([0, -1, 1, 2**31, 2**64, 10**400, 1.5, -0.0, 1e308])
        if r < 0.65:
            return self.key()
        if r < 0.7 and self.account_ids:
            return self.rnd.choice(self.account_ids)
        if r < 0.85:
            return [self.value(depth + 1) for _ in range(self.rnd.randint(0, 3))]
        return {
            self.rnd.choice(FIELDS): self.value(depth + 1) for _ in range(self.rnd.randint(0, 3))
        }

    def template(self, method, route):
        """A valid-looking body for (method, route), or None."""
        rnd = self.rnd
        if route == "accounts" and method == "POST":
            body = {"api_key": self.key(), "validate": rnd.random() < 0.3}
            if rnd.random() < 0.6:
                body["username"] = rnd.choice(["alice", "bob", "carol", "fake_user"])
            if rnd.random() < 0.5:
                body["base_url"] = rnd.choice(TEXTS[32:40])
                body["allow_non_https"] = rnd.random() < 0.5
            if rnd.random() < 0.3:
                body["label"] = rnd.choice(["Work", "  Home  ", "x" * 100, "x" * 101])
            return body
        if route == "validate" and method == "POST":
            return {"username": "alice", "api_key": self.key()}
        if route == "account" and method == "PATCH":
            return rnd.choice([{"label": "Renamed"}, {"api_key": self.key()}, {}])
        if route == "default" and method == "PUT":
            ids = self.account_ids + [None, "acc-0000000000000000"]
            return {"account_id": rnd.choice(ids)}
        if route == "grants" and method == "PUT":
            return {
                "path": rnd.choice(["a.ipynb", "work/map.ipynb", " nb.ipynb", "Console 1"]),
                "decision": rnd.choice(["allow", "deny"]),
            }
        if route == "import" and method == "POST":
            return rnd.choice([{}, {"path": "/nonexistent/creds.json"}])
        if route == "accounts" and method == "POST" and rnd.random() < 0.3:
            body = {"kind": "m2m"}
            if rnd.random() < 0.7:
                body["credentials"] = {
                    "api_base_url": rnd.choice(TEXTS[32:40]),
                    "client_id": rnd.choice(["c1", "client-abc", " ", ""]),
                    "client_secret": self.key(),
                }
            else:
                body["path"] = rnd.choice(["/nonexistent/m2m.json", "/etc/passwd", "m2m.json"])
            return body
        if route == "oauth_start" and method == "POST":
            body = {"flow": rnd.choice(["paste", "redirect", "implicit"])}
            if rnd.random() < 0.4:
                body["org"] = rnd.choice(["org-demo", "", "a b", "x" * 300])
            if rnd.random() < 0.4:
                body["api_base_url"] = rnd.choice(TEXTS[32:40])
            if rnd.random() < 0.2 and self.account_ids:
                body["account_id"] = rnd.choice(self.account_ids)
            return body
        if route == "oauth_exchange" and method == "POST":
            code = rnd.choice(["good-code", "bad-code", "https://app/t?code=good1", "a b", ""])
            return {"state": self.state(), "code": code}
        return None

    @staticmethod
    def quoted(text):
        return quote(text.encode("utf-8", "surrogatepass"), safe="")

    def state(self):
        if self.states and self.rnd.random() < 0.7:
            return self.rnd.choice(self.states)
        return self.rnd.choice(["", "x", "%00", "s" * 150, self.text()])

    def mutate(self, body):
        rnd = self.rnd
        body = dict(body)
        r = rnd.random()
        if r < 0.3 and body:
            body.pop(rnd.choice(sorted(body)))
        elif r < 0.5:
            body[rnd.choice(FIELDS)] = self.value()
        elif r < 0.8 and body:
            body[rnd.choice(sorted(body))] = self.value()
        else:
            return self.value()
        return body

    def raw_body(self, body):
        """Bytes on the wire: JSON of ``body``, or something that is not quite JSON."""
        rnd = self.rnd
        r = rnd.random()
        if body is None and r < 0.5:
            return None
        text = json.dumps(body if body is not None else self.value())
        if r < 0.8:
            return text.encode("utf-8", "surrogatepass")
        choice = rnd.randrange(9)
        if choice == 0:
            return bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 40)))
        if choice == 1:
            return text.encode()[: rnd.randint(0, len(text))]
        if choice == 2:
            n = rnd.choice([21, 100, 999, 2000, 30000])
            return b"[" * n + b"]" * n
        if choice == 3:
            return b'{"path": ' + b'{"a": ' * 1200 + b"1" + b"}" * 1200 + b"}"
        if choice == 4:
            return rnd.choice([b"NaN", b"Infinity", b"-Infinity", b'{"a": NaN}', b"1e999"])
        if choice == 5:
            return b"\xef\xbb\xbf" + text.encode()  # a BOM
        if choice == 6:
            return b'{"label": "' + b"x" * 70000 + b'"}'
        if choice == 7:
            return b"9" * rnd.choice([10, 4400, 20000])
        return text.encode("utf-16")

    def account_segment(self):
        rnd = self.rnd
        if self.account_ids and rnd.random() < 0.5:
            return rnd.choice(self.account_ids)
        return rnd.choice(
            [
                "acc-0000000000000000",
                "%00",
                "%ff",
                "%2e%2e",
                "a%2Fb",
                "..%2F..%2Fetc",
                quote(self.text().encode("utf-8", "surrogatepass"), safe="") or "x",
                "x" * 3000,
            ]
        )

    def query(self):
        rnd = self.rnd
        r = rnd.random()
        if r < 0.3:
            return ""
        if r < 0.6:
            return "?path=" + quote(
                self.text().encode("utf-8", "surrogatepass"), safe=rnd.choice(["", "/", "%&=+"])
            )
        return "?" + rnd.choice(
            [
                "path",
                "path=",
                "path=a.ipynb&path=b.ipynb",
                "path=a.ipynb&x=1",
                "path=%zz",
                "path=%",
                "&&",
                "=",
                "path=%E2%80%AE.ipynb",
                "path=+a.ipynb",
                "path=a.ipynb;b",
                "path=" + "a" * 20000,
                "token=&path=a.ipynb",
                "%ff=1",
            ]
        )

    def request(self, i):
        """(method, path and query, body bytes or None) for case ``i``."""
        rnd = self.rnd
        routes = sorted(ROUTES)
        route = routes[i % len(routes)]
        served = ROUTES[route]
        method = served[(i // len(routes)) % len(served)]
        if rnd.random() < 0.15:
            method = rnd.choice(METHODS)
        path = {
            "accounts": "accounts",
            "account": "accounts/" + self.account_segment(),
            "key": "accounts/%s/key" % self.account_segment(),
            "default": "default",
            "validate": "validate",
            "grants": "grants",
            "import": "import",
            "boot": "kernel-bootstrap",
            "oauth_start": "oauth/start",
            "oauth_exchange": "oauth/exchange",
            "oauth_login": "oauth/logins/" + (self.quoted(self.state()) or "x"),
            "oauth_callback": "oauth/callback",
        }[route]
        if route == "oauth_callback":
            path += "?" + "&".join(
                "%s=%s" % (name, self.quoted(value))
                for name, value in [
                    ("state", self.state()),
                    rnd.choice(
                        [("code", "good-code"), ("code", "bad"), ("error", "access_denied")]
                    ),
                ]
                if rnd.random() < 0.8
            )
        if route == "grants" or (route != "oauth_callback" and rnd.random() < 0.1):
            path += self.query()
        template = self.template(method, route)
        if template is not None and rnd.random() < 0.5:
            body = template
        elif template is not None:
            body = self.mutate(template)
        else:
            body = self.value() if rnd.random() < 0.5 else None
        if isinstance(body, dict):
            credentials = body.get("credentials")
            secrets = [body.get("api_key")]
            if isinstance(credentials, dict):
                secrets.append(credentials.get("client_secret"))
            for secret in secrets:
                if isinstance(secret, str) and secret.startswith(("good-key-", "fuzz-key-")):
                    self.sent_keys.add(secret)
        raw = self.raw_body(body)
        if method in ("GET", "HEAD", "OPTIONS", "DELETE") and rnd.random() < 0.7:
            raw = None
        return method, path, raw


def store_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


async def test_rest_fuzz(carto_rest, carto_store_path, no_network, caplog, jp_root_dir):
    # INFO: our lines and every refused request's access line (successes are DEBUG, and slow).
    caplog.set_level(logging.INFO)
    fuzz = Fuzzer(SEED)
    (jp_root_dir / "a.ipynb").write_text("{}")
    for i in range(3):
        answer = await carto_rest.post(
            "accounts", {"username": "seed%d" % i, "api_key": "seed-key-%d" % i, "validate": False}
        )
        assert answer.status == 201, answer
        fuzz.account_ids.append(answer.json["id"])
    started = time.monotonic()
    statuses = {}
    ran = 0
    for i in range(CASES):
        if time.monotonic() - started > SECONDS:
            break
        method, path, raw = fuzz.request(i)
        before = store_bytes(carto_store_path)
        answer = await carto_rest.raw(method, path, raw)
        ran += 1
        statuses[answer.status] = statuses.get(answer.status, 0) + 1
        where = "seed %d case %d: %s %s %r -> %r" % (
            SEED,
            i,
            method,
            path[:200],
            (raw or b"")[:200],
            answer,
        )
        assert answer.status < 500, where
        if answer.status >= 400:
            assert store_bytes(carto_store_path) == before, where
            if answer.json is not None and "error" in answer.json:
                error = answer.json["error"]
                assert isinstance(error.get("code"), str), where
                assert isinstance(error.get("message"), str) and error["message"], where
        elif answer.status == 201 and answer.json and "id" in answer.json:
            fuzz.account_ids.append(answer.json["id"])
        elif method == "POST" and path == "oauth/start" and answer.status == 200:
            fuzz.states.append(answer.json["state"])
        elif method == "DELETE" and answer.status == 204 and path.startswith("accounts/"):
            gone = path[len("accounts/") :]
            if gone in fuzz.account_ids:
                fuzz.account_ids.remove(gone)
    took = time.monotonic() - started
    print("REST fuzz: %d requests in %.1f s, statuses %s" % (ran, took, sorted(statuses.items())))
    assert ran >= min(CASES, 500), "only %d requests ran within %g s" % (ran, SECONDS)
    # Every kind of answer was reached: successes and refusals.
    assert any(200 <= s < 300 for s in statuses) and 400 in statuses

    records = caplog.get_records("call")
    logged = "\n".join(r.getMessage() for r in records)
    for r in records:
        assert r.exc_info is None and r.exc_text is None, r.getMessage()
        assert r.levelno < logging.ERROR, r.getMessage()
    assert "Traceback" not in logged
    for key in fuzz.sent_keys:
        assert key not in logged, key
    assert ISSUED_TOKENS, "no CARTO 3 login or M2M client succeeded"
    for token in ISSUED_TOKENS:
        assert token not in logged, token
