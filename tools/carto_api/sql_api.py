"""The SQL API's other endpoints: ``copyto``, ``copyfrom`` and Batch SQL jobs.

What CARTOframes' ``read_carto`` (``COPY … TO``), ``to_carto`` (``COPY … FROM`` then a Batch job
running ``CDB_CartodbfyTable``) and carto-python's ``CopySQLClient`` / ``BatchSQLClient`` call,
with CARTO-SQL-API's request and answer shapes. The server resolves the user and key first
(``server._resolve``); errors here are ``sql.SqlError`` and leave as ``{"error": [message]}``.
"""

import datetime
import gzip
import time
import uuid
import zlib

from . import sql

COPYTO_ROUTE = "/api/v2/sql/copyto"
COPYFROM_ROUTE = "/api/v2/sql/copyfrom"
JOB_ROUTE = "/api/v2/sql/job"
ROUTES = (COPYTO_ROUTE, COPYFROM_ROUTE, JOB_ROUTE)


def read_chunked(rfile):
    """The body of a ``Transfer-Encoding: chunked`` request (what requests sends for a generator)."""
    out = bytearray()
    while True:
        line = rfile.readline(65537)
        try:
            size = int(line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            raise sql.SqlError("Invalid chunked request body") from None
        if size == 0:
            # Trailer headers, up to the empty line.
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += rfile.read(size)
        rfile.readline(65537)  # the CRLF after each chunk


def handle(handler, route, user, authorized, params):
    if route == COPYTO_ROUTE:
        _copyto(handler, user, authorized, params)
    elif route == COPYFROM_ROUTE:
        _copyfrom(handler, user, authorized, params)
    else:
        _job(handler, route, user, authorized, params)


def _copyto(handler, user, authorized, params):
    query = params.get("q")
    data = sql.copy_to(query, user, authorized, handler.server.catalog)
    filename = params.get("filename") or "carto-sql-copyto.dmp"
    handler._send(
        200,
        data,
        "application/octet-stream",
        headers={"Content-Disposition": "attachment; filename=%s" % filename},
    )


def _copyfrom(handler, user, authorized, params):
    if handler.command != "POST":
        raise sql.SqlError("Cannot %s %s" % (handler.command, COPYFROM_ROUTE), 404)
    started = time.monotonic()
    query = params.get("q")
    if not isinstance(query, str) or not query:
        raise sql.SqlError("SQL is missing")
    payload = handler.raw_body
    if (handler.headers.get("Content-Encoding") or "").strip().lower() == "gzip":
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError, zlib.error):
            raise sql.SqlError("incorrect header check") from None
    rows = sql.copy_from(query, payload, user, authorized, handler.server.catalog)
    if not rows:
        raise sql.SqlError("No rows copied")
    handler._send(200, {"time": round(time.monotonic() - started, 6), "total_rows": rows})


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def _job(handler, route, user, authorized, params):
    # The Batch API is for the owner's (master) key only.
    if not authorized:
        raise sql.SqlError("permission denied", 403)
    jobs = handler.server.jobs
    job_id = route[len(JOB_ROUTE) :].strip("/")
    if job_id:
        job = jobs.get(job_id)
        if job is None or job["user"] != user["username"] or handler.command != "GET":
            raise sql.SqlError("Job with id %s not found" % job_id, 404)
        handler._send(200, job)
        return
    if handler.command != "POST":
        raise sql.SqlError("Cannot %s %s" % (handler.command, JOB_ROUTE), 404)
    body = handler.json_body or {}
    query = body.get("query", params.get("query"))
    queries = query if isinstance(query, list) else [query]
    if not queries or not all(isinstance(q, str) and q.strip() for q in queries):
        raise sql.SqlError("You must indicate a valid SQL")
    job = {
        "job_id": str(uuid.uuid4()),
        "user": user["username"],
        "query": query,
        "status": "running",
        "created_at": _now(),
        "updated_at": _now(),
    }
    # The job runs before the answer, so the answer already says "done" or "failed" (CARTO's
    # says "pending" and the client polls GET …/job/{id}, which answers the same job here).
    statuses = []
    for q in queries:
        if job["status"] == "failed":
            statuses.append({"query": q, "status": "pending"})
            continue
        try:
            sql.run(q, user, authorized, handler.server.catalog)
            statuses.append({"query": q, "status": "done"})
        except sql.SqlError as err:
            job["status"] = "failed"
            job["failed_reason"] = str(err)
            statuses.append({"query": q, "status": "failed", "failed_reason": str(err)})
    if job["status"] != "failed":
        job["status"] = "done"
    if isinstance(query, list):
        job["query"] = {"query": statuses}
    job["updated_at"] = _now()
    jobs[job["job_id"]] = job
    handler._send(201, job)
