"""``python -m tools.carto_api --port 0 --ready-file PATH``: run the local CARTO API until killed."""

import argparse
import os
import signal
import sys
import tempfile
import threading

from .carto3 import DEFAULT_M2M_TOKEN_LIFETIME, DEFAULT_OAUTH_TOKEN_LIFETIME
from .server import DEFAULT_SLOW_SECONDS, CartoApiServer


def _write_ready_file(path, port):
    # Written atomically so that a poller never reads a half-written port.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".carto-api-ready-")
    with os.fdopen(fd, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.carto_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", help="write the port to this file once listening")
    parser.add_argument(
        "--slow-seconds",
        type=float,
        default=DEFAULT_SLOW_SECONDS,
        help="how long requests for the user 'slowpoke' sleep",
    )
    parser.add_argument(
        "--oauth-token-lifetime",
        type=int,
        default=DEFAULT_OAUTH_TOKEN_LIFETIME,
        help="seconds a CARTO 3 OAuth (browser login) access token lives",
    )
    parser.add_argument(
        "--m2m-token-lifetime",
        type=int,
        default=DEFAULT_M2M_TOKEN_LIFETIME,
        help="seconds a CARTO 3 machine-to-machine access token lives",
    )
    parser.add_argument("--verbose", action="store_true", help="log requests (keys redacted)")
    args = parser.parse_args(argv)

    server = CartoApiServer(
        (args.host, args.port),
        slow_seconds=args.slow_seconds,
        quiet=not args.verbose,
        oauth_token_lifetime=args.oauth_token_lifetime,
        m2m_token_lifetime=args.m2m_token_lifetime,
    )
    port = server.server_address[1]

    def on_sigterm(*_):
        # shutdown() blocks until serve_forever returns, so it must run off the serving thread.
        server.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    if args.ready_file:
        _write_ready_file(args.ready_file, port)
    print("Local CARTO API listening on http://%s:%d/" % (args.host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
