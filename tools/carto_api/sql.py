"""A small SQL engine over the users' tables, answering like CARTO's SQL API (PostgreSQL + PostGIS).

It understands what CARTOframes 1.2.5 and our own clients send, and little more:

- ``[WITH n AS (…), …] SELECT [DISTINCT] … [FROM t | (subquery) alias [[LEFT] JOIN … ON …]]
  [WHERE …] [GROUP BY …] [ORDER BY …] [LIMIT n] [OFFSET n]`` with column references, ``*``,
  literals, arithmetic, comparisons, ``AND``/``OR``/``NOT``, ``IS [NOT] NULL``, ``IN (…)``,
  ``[I]LIKE``, ``BETWEEN``, ``CASE``, scalar subqueries, ``::`` casts, ``ARRAY[…]`` and the
  functions in ``_FUNCTIONS`` / ``_AGGREGATES`` (``count``, ``ST_Extent``, ``ST_GeometryType``,
  ``current_schema()``, ``CDB_CartodbfyTable`` …); empty ``pg_catalog`` relations;
- ``EXPLAIN <select>`` (cartoframes' "does this table exist" probe);
- ``CREATE TABLE t (col type, …)``, ``TRUNCATE [TABLE] t``, ``ALTER TABLE t DROP COLUMN …,
  ADD COLUMN …`` / ``RENAME TO …``, ``BEGIN``/``COMMIT`` (no rollback), several statements
  separated by ``;`` (the answer is the last one's, as CARTO's);
- ``COPY (select) | t [(cols)] TO stdout`` and ``COPY t [(cols)] FROM stdin`` with ``FORMAT csv``,
  ``HEADER``, ``DELIMITER``, ``NULL`` options, through ``copy_to`` / ``copy_from`` (the SQL API's
  ``copyto`` / ``copyfrom`` endpoints; plain ``/api/v2/sql`` refuses ``COPY`` as CARTO does).

Tables may be schema-qualified (any schema but ``pg_catalog`` is the user's) or double-quoted.
Anything else is a CARTO-style ``syntax error`` (HTTP 400), so a test sees a real failure.
"""

import csv
import functools
import io
import operator
import re
import time

from . import catalog as cat
from .geom import Geometry, GeometryError

SCHEMA = "public"  # what current_schema() answers: the demo users are not in an organization


class SqlError(Exception):
    """A query CARTO would reject; ``status`` is the HTTP status CARTO answers with."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Result:
    def __init__(self, rows, fields, affected=None):
        self.rows = rows  # list of dicts in column order; geometries are geom.Geometry
        self.fields = fields  # name -> CARTO field dict
        self.total_rows = len(rows) if affected is None else affected

    @property
    def geometry(self):
        return any(f.get("type") == "geometry" for f in self.fields.values())


class Box:
    """PostGIS' box2d, what ST_Extent returns."""

    __slots__ = ("xmin", "ymin", "xmax", "ymax")

    def __init__(self, xmin, ymin, xmax, ymax):
        self.xmin, self.ymin, self.xmax, self.ymax = xmin, ymin, xmax, ymax

    def __str__(self):
        return "BOX(%s %s,%s %s)" % tuple(
            _num_text(v) for v in (self.xmin, self.ymin, self.xmax, self.ymax)
        )


# --- tokens -----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|--[^\n]*|/\*.*?\*/)
  | (?P<dollar>\$(?P<tag>[A-Za-z_]*)\$(?P<body>.*?)\$(?P=tag)\$)
  | (?P<string>[Ee]?'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")+")
  | (?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<op>::|<=|>=|<>|!=|\|\||[-+*/%=<>(),.;\[\]])
    """,
    re.S | re.X,
)

# Words that end an expression or a FROM item, so they are never taken as an alias.
_RESERVED = {
    "select", "from", "where", "group", "order", "by", "limit", "offset", "as", "on", "join",
    "left", "right", "inner", "outer", "cross", "full", "union", "and", "or", "not", "is", "in",
    "like", "ilike", "null", "true", "false", "asc", "desc", "distinct", "having", "to", "with",
    "between", "case", "when", "then", "else", "end", "array",
}  # fmt: skip


class _Tok:
    __slots__ = ("kind", "value", "raw")

    def __init__(self, kind, value, raw):
        self.kind, self.value, self.raw = kind, value, raw

    def __repr__(self):
        return "%s:%r" % (self.kind, self.value)


def _tokenize(text):
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise SqlError('syntax error at or near "%s"' % text[pos : pos + 10].split()[0])
        pos = m.end()
        kind = m.lastgroup
        if kind == "ws":
            continue
        raw = m.group(0)
        if kind == "dollar" or m.group("tag") is not None:
            tokens.append(_Tok("string", m.group("body"), raw))
        elif kind == "string":
            body = raw[1:] if raw[0] in "Ee" else raw
            tokens.append(_Tok("string", body[1:-1].replace("''", "'"), raw))
        elif kind == "qident":
            tokens.append(_Tok("qident", raw[1:-1].replace('""', '"'), raw))
        elif kind == "number":
            is_int = re.fullmatch(r"\d+", raw)
            tokens.append(_Tok("number", int(raw) if is_int else float(raw), raw))
        elif kind == "ident":
            tokens.append(_Tok("ident", raw.lower(), raw))
        else:
            tokens.append(_Tok("op", raw, raw))
    return tokens


def _split_statements(tokens):
    out, cur = [], []
    for t in tokens:
        if t.kind == "op" and t.value == ";":
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur:
        out.append(cur)
    return out


# --- parser -----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, tokens):
        self.t = tokens
        self.i = 0

    # helpers
    def peek(self, k=0):
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def at_end(self):
        return self.i >= len(self.t)

    def is_kw(self, *words, k=0):
        tok = self.peek(k)
        return tok is not None and tok.kind == "ident" and tok.value in words

    def is_op(self, *ops, k=0):
        tok = self.peek(k)
        return tok is not None and tok.kind == "op" and tok.value in ops

    def take(self):
        tok = self.peek()
        if tok is None:
            raise SqlError("syntax error at end of input")
        self.i += 1
        return tok

    def accept_kw(self, *words):
        if self.is_kw(*words):
            return self.take().value
        return None

    def accept_op(self, *ops):
        if self.is_op(*ops):
            return self.take().value
        return None

    def expect_kw(self, word):
        if not self.accept_kw(word):
            self.error()
        return word

    def expect_op(self, op):
        if not self.accept_op(op):
            self.error()
        return op

    def error(self):
        tok = self.peek()
        if tok is None:
            raise SqlError("syntax error at end of input")
        raise SqlError('syntax error at or near "%s"' % tok.raw)

    def ident(self):
        tok = self.take()
        if tok.kind == "qident" or (tok.kind == "ident" and tok.value not in _RESERVED):
            return tok.value
        self.i -= 1
        self.error()

    def qualified_name(self):
        """``a``, ``a.b`` -> (schema or None, name)."""
        first = self.ident()
        if self.accept_op("."):
            return first, self.ident()
        return None, first

    def done(self):
        if not self.at_end():
            self.error()

    # statements
    def statement(self):
        if self.is_kw("select", "with") or self.is_op("("):
            stmt = ("select", self.select())
        elif self.accept_kw("explain"):
            self.accept_kw("analyze")
            self.accept_kw("verbose")
            stmt = ("explain", self.select())
        elif self.accept_kw("begin", "commit", "end", "start"):
            self.accept_kw("transaction", "work")
            stmt = ("noop",)
        elif self.accept_kw("create"):
            stmt = self.create()
        elif self.accept_kw("truncate"):
            self.accept_kw("table")
            stmt = ("truncate", self.qualified_name()[1])
        elif self.accept_kw("alter"):
            stmt = self.alter()
        elif self.accept_kw("copy"):
            stmt = self.copy()
        else:
            self.error()
        self.done()
        return stmt

    def create(self):
        self.expect_kw("table")
        if_not_exists = False
        if self.accept_kw("if"):
            self.expect_kw("not")
            self.expect_kw("exists")
            if_not_exists = True
        name = self.qualified_name()[1]
        self.expect_op("(")
        columns = []
        while True:
            col = self.ident()
            columns.append((col, self.type_name()))
            if self.accept_op(")"):
                break
            self.expect_op(",")
        return ("create", name, columns, if_not_exists)

    def type_name(self):
        words, depth = [], 0
        while not self.at_end():
            if depth == 0 and (self.is_op(",") or self.is_op(")")):
                break
            tok = self.take()
            if tok.kind == "op" and tok.value == "(":
                depth += 1
            elif tok.kind == "op" and tok.value == ")":
                depth -= 1
            words.append(tok.raw)
        text = " ".join(words).replace(" (", "(")
        pgtype = cat.canonical_type(text)
        if pgtype is None:
            raise SqlError('type "%s" does not exist' % text.lower())
        return pgtype

    def alter(self):
        self.expect_kw("table")
        if self.accept_kw("if"):
            self.expect_kw("exists")
        name = self.qualified_name()[1]
        if self.accept_kw("rename"):
            if self.accept_kw("to"):
                return ("rename", name, self.ident())
            self.accept_kw("column")
            old = self.ident()
            self.expect_kw("to")
            return ("alter", name, [("rename_column", old, self.ident())])
        actions = []
        while True:
            if self.accept_kw("drop"):
                self.accept_kw("column")
                if_exists = bool(self.accept_kw("if") and self.expect_kw("exists"))
                actions.append(("drop", self.ident(), if_exists))
            elif self.accept_kw("add"):
                self.accept_kw("column")
                if_not = bool(
                    self.accept_kw("if") and self.expect_kw("not") and self.expect_kw("exists")
                )
                col = self.ident()
                actions.append(("add", col, self.type_name(), if_not))
            else:
                self.error()
            if not self.accept_op(","):
                break
        return ("alter", name, actions)

    def copy(self):
        if self.accept_op("("):
            source = ("query", self.select())
            self.expect_op(")")
        else:
            name = self.qualified_name()[1]
            cols = None
            if self.accept_op("("):
                cols = [self.ident()]
                while self.accept_op(","):
                    cols.append(self.ident())
                self.expect_op(")")
            source = ("table", name, cols)
        direction = self.accept_kw("to", "from")
        if direction is None:
            self.error()
        if not self.accept_kw("stdout", "stdin"):
            raise SqlError(
                "COPY to or from a file is not allowed: use STDIN or STDOUT through the "
                "copyfrom / copyto endpoints"
            )
        options = {"format": "text", "header": False, "delimiter": None, "null": None}
        self.accept_kw("with")
        if self.accept_op("("):
            while True:
                key = self.take().value
                value = True
                if not self.is_op(",", ")"):
                    value = self.take().value
                options[str(key).lower()] = value
                if self.accept_op(")"):
                    break
                self.expect_op(",")
        else:
            while not self.at_end():
                word = self.take().value
                if word in ("csv", "binary"):
                    options["format"] = word
                elif word == "header":
                    options["header"] = True
                elif word in ("delimiter", "null"):
                    self.accept_kw("as")
                    options[word] = self.take().value
                else:
                    self.i -= 1
                    self.error()
        return ("copy", direction, source, options)

    # SELECT
    def select(self):
        if self.accept_op("("):
            q = self.select()
            self.expect_op(")")
            return q
        ctes = []
        if self.accept_kw("with"):
            while True:
                name = self.ident()
                self.expect_kw("as")
                self.expect_op("(")
                ctes.append((name, self.select()))
                self.expect_op(")")
                if not self.accept_op(","):
                    break
        self.expect_kw("select")
        q = {
            "with": ctes,
            "distinct": bool(self.accept_kw("distinct")),
            "items": [],
            "from": None,
            "where": None,
            "group": [],
            "order": [],
            "limit": None,
            "offset": 0,
        }
        self.accept_kw("all")
        while True:
            q["items"].append(self.select_item())
            if not self.accept_op(","):
                break
        if self.accept_kw("from"):
            q["from"] = self.from_clause()
        if self.accept_kw("where"):
            q["where"] = self.expr()
        if self.accept_kw("group"):
            self.expect_kw("by")
            q["group"].append(self.expr())
            while self.accept_op(","):
                q["group"].append(self.expr())
        if self.accept_kw("order"):
            self.expect_kw("by")
            while True:
                e = self.expr()
                desc = self.accept_kw("asc", "desc") == "desc"
                if self.accept_kw("nulls"):
                    self.take()
                q["order"].append((e, desc))
                if not self.accept_op(","):
                    break
        while self.is_kw("limit", "offset"):
            if self.accept_kw("limit"):
                if not self.accept_kw("all"):
                    q["limit"] = self.int_value()
            else:
                self.take()
                q["offset"] = self.int_value()
        return q

    def int_value(self):
        tok = self.take()
        if tok.kind != "number" or not isinstance(tok.value, int):
            self.i -= 1
            self.error()
        return tok.value

    def select_item(self):
        if self.accept_op("*"):
            return ("star", None)
        if self.peek() and self.peek().kind in ("ident", "qident") and self.is_op(".", k=1):
            if self.is_op("*", k=2):
                qual = self.take().value
                self.i += 2
                return ("star", qual)
        e = self.expr()
        alias = None
        if self.accept_kw("as"):
            alias = self.ident()
        elif self.peek() is not None and (
            self.peek().kind == "qident"
            or (self.peek().kind == "ident" and self.peek().value not in _RESERVED)
        ):
            alias = self.ident()
        return ("expr", e, alias)

    def from_clause(self):
        left = self.from_item()
        while True:
            if self.accept_op(","):
                left = ("join", "cross", left, self.from_item(), None)
                continue
            kind = None
            if self.accept_kw("join"):
                kind = "inner"
            elif self.accept_kw("inner"):
                self.expect_kw("join")
                kind = "inner"
            elif self.accept_kw("left"):
                self.accept_kw("outer")
                self.expect_kw("join")
                kind = "left"
            elif self.accept_kw("cross"):
                self.expect_kw("join")
                kind = "cross"
            if kind is None:
                return left
            right = self.from_item()
            on = None
            if kind != "cross":
                self.expect_kw("on")
                on = self.expr()
            left = ("join", kind, left, right, on)

    def from_item(self):
        if self.accept_op("("):
            sub = self.select()
            self.expect_op(")")
            self.accept_kw("as")
            alias = self.ident()  # PostgreSQL requires an alias for a subquery in FROM
            return ("subquery", sub, alias)
        schema, name = self.qualified_name()
        alias = name
        if self.accept_kw("as"):
            alias = self.ident()
        elif self.peek() is not None and (
            self.peek().kind == "qident"
            or (self.peek().kind == "ident" and self.peek().value not in _RESERVED)
        ):
            alias = self.ident()
        return ("table", schema, name, alias)

    # expressions, by increasing precedence
    def expr(self):
        left = self.and_expr()
        while self.accept_kw("or"):
            left = ("bin", "or", left, self.and_expr())
        return left

    def and_expr(self):
        left = self.not_expr()
        while self.accept_kw("and"):
            left = ("bin", "and", left, self.not_expr())
        return left

    def not_expr(self):
        if self.accept_kw("not"):
            return ("not", self.not_expr())
        return self.comparison()

    def comparison(self):
        left = self.concat()
        while True:
            op = self.accept_op("=", "<>", "!=", "<", "<=", ">", ">=")
            if op:
                left = ("bin", "<>" if op == "!=" else op, left, self.concat())
                continue
            if self.accept_kw("is"):
                negate = bool(self.accept_kw("not"))
                if self.accept_kw("null"):
                    left = ("isnull", left, negate)
                elif self.accept_kw("true", "false"):
                    value = self.t[self.i - 1].value == "true"
                    left = ("is", left, value, negate)
                else:
                    self.error()
                continue
            negate = False
            if self.is_kw("not") and self.is_kw("in", "like", "ilike", "between", k=1):
                self.take()
                negate = True
            if self.accept_kw("in"):
                self.expect_op("(")
                items = [self.expr()]
                while self.accept_op(","):
                    items.append(self.expr())
                self.expect_op(")")
                left = ("in", left, items, negate)
            elif self.accept_kw("like", "ilike"):
                ci = self.t[self.i - 1].value == "ilike"
                left = ("like", left, self.concat(), ci, negate)
            elif self.accept_kw("between"):
                low = self.concat()
                self.expect_kw("and")
                high = self.concat()
                e = ("bin", "and", ("bin", ">=", left, low), ("bin", "<=", left, high))
                left = ("not", e) if negate else e
            else:
                return left

    def concat(self):
        left = self.additive()
        while self.accept_op("||"):
            left = ("bin", "||", left, self.additive())
        return left

    def additive(self):
        left = self.term()
        while True:
            op = self.accept_op("+", "-")
            if not op:
                return left
            left = ("bin", op, left, self.term())

    def term(self):
        left = self.unary()
        while True:
            op = self.accept_op("*", "/", "%")
            if not op:
                return left
            left = ("bin", op, left, self.unary())

    def unary(self):
        if self.accept_op("-"):
            return ("neg", self.unary())
        if self.accept_op("+"):
            return self.unary()
        return self.postfix()

    def postfix(self):
        e = self.primary()
        while self.accept_op("::"):
            e = ("cast", e, self.cast_type())
        return e

    def cast_type(self):
        words = [self.take().value]
        while self.is_kw("precision", "varying", "without", "with", "time", "zone"):
            words.append(self.take().value)
        if self.accept_op("("):
            while not self.accept_op(")"):
                self.take()
        if self.accept_op("["):
            self.expect_op("]")
            return "_array"
        name = " ".join(words)
        return cat.canonical_type(name) or name

    def primary(self):
        tok = self.take()
        if tok.kind == "number":
            return ("lit", tok.value)
        if tok.kind == "string":
            return ("lit", tok.value)
        if tok.kind == "op" and tok.value == "(":
            if self.is_kw("select", "with"):
                sub = self.select()
                self.expect_op(")")
                return ("scalar", sub)
            e = self.expr()
            self.expect_op(")")
            return e
        if tok.kind == "ident":
            if tok.value == "null":
                return ("lit", None)
            if tok.value in ("true", "false"):
                return ("lit", tok.value == "true")
            if tok.value == "array" and self.accept_op("["):
                items = []
                if not self.accept_op("]"):
                    items.append(self.expr())
                    while self.accept_op(","):
                        items.append(self.expr())
                    self.expect_op("]")
                return ("array", items)
            if tok.value == "case":
                return self.case()
            if tok.value in _RESERVED:
                self.i -= 1
                self.error()
        if tok.kind in ("ident", "qident"):
            if tok.kind == "ident" and self.accept_op("("):
                return self.call(tok.value)
            if self.accept_op("."):
                second = self.take()
                if second.kind == "ident" and self.accept_op("("):
                    return self.call(second.value)  # schema-qualified function: cartodb.f(...)
                if second.kind not in ("ident", "qident"):
                    self.i -= 1
                    self.error()
                return ("col", tok.value, second.value)
            return ("col", None, tok.value)
        self.i -= 1
        self.error()

    def case(self):
        whens, other = [], None
        subject = None if self.is_kw("when") else self.expr()
        while self.accept_kw("when"):
            cond = self.expr()
            self.expect_kw("then")
            whens.append((cond, self.expr()))
        if self.accept_kw("else"):
            other = self.expr()
        self.expect_kw("end")
        return ("case", subject, whens, other)

    def call(self, name):
        if self.accept_op("*"):
            self.expect_op(")")
            return ("func", name, [], False, True)
        distinct = bool(self.accept_kw("distinct"))
        args = []
        if not self.accept_op(")"):
            args.append(self.expr())
            while self.accept_op(","):
                args.append(self.expr())
            self.expect_op(")")
        return ("func", name, args, distinct, False)


# --- evaluation -------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, user, authorized, catalog):
        self.user = user
        self.authorized = authorized
        self.catalog = catalog
        self.ctes = {}  # WITH names in scope -> _Rel


class _Rel:
    """A relation while a query runs: ``cols`` ``[(qualifier, name, field)]``, ``rows`` tuples."""

    def __init__(self, cols, rows):
        self.cols = cols
        self.rows = rows

    def index(self, qualifier, name):
        found = [
            i
            for i, (q, n, _) in enumerate(self.cols)
            if n == name and (qualifier is None or q == qualifier)
        ]
        if not found:
            if qualifier is not None and not any(q == qualifier for q, _, _ in self.cols):
                raise SqlError('missing FROM-clause entry for table "%s"' % qualifier)
            raise SqlError('column "%s" does not exist' % name)
        if len(found) > 1:
            raise SqlError('column reference "%s" is ambiguous' % name)
        return found[0]


_NUMBER_F8 = {"type": "number", "pgtype": "float8"}
_TEXT = {"type": "string", "pgtype": "text"}
_BOOL = {"type": "boolean", "pgtype": "bool"}
_INT8 = {"type": "number", "pgtype": "int8"}


def _geom_arg(value, fname):
    if value is None or isinstance(value, Geometry):
        return value
    if isinstance(value, str):
        try:
            return Geometry.from_wkb(value)
        except GeometryError as err:
            raise SqlError(str(err)) from None
    raise SqlError("function %s does not exist" % fname)


def _bbox_of(value, fname):
    if isinstance(value, Box):
        return (value.xmin, value.ymin, value.xmax, value.ymax)
    g = _geom_arg(value, fname)
    return g.bbox() if g is not None else None


def _bbox_part(i):
    def f(ctx, v):
        box = _bbox_of(v, "st_xmin")
        return None if box is None else box[i]

    return f


def _cartodbfy(ctx, schema, name):
    if not ctx.authorized:
        raise SqlError("permission denied for function cdb_cartodbfytable", 403)
    table_name = re.findall(r'"[^"]+"|[^."]+', str(name))[-1].strip('"')
    table = ctx.catalog.get(ctx.user, table_name)
    if table is None:
        raise SqlError('relation "%s" does not exist' % table_name)
    # CARTO's cartodbfy puts cartodb_id and the_geom first; cartodb_id becomes a bigint with a
    # sequence, which fills the rows that have none.
    rest = [c for c in table.columns if c[0] not in ("cartodb_id", "the_geom")]
    table.columns = [("cartodb_id", "int8"), ("the_geom", "geometry")] + rest
    for row in table.rows:
        cid = row.get("cartodb_id")
        row["cartodb_id"] = int(cid) if isinstance(cid, (int, float)) and cid == cid else None
        row.setdefault("the_geom", None)
    table.serial = "cartodb_id"
    table.fill_serial(table.rows)
    return table.name


def _query_tables(ctx, text):
    found = []

    def walk(node):
        if isinstance(node, tuple):
            if node and node[0] == "table":
                found.append("%s.%s" % (node[1] or SCHEMA, node[2]))
                return
            for part in node:
                walk(part)
        elif isinstance(node, (list, dict)):
            for part in node.values() if isinstance(node, dict) else node:
                walk(part)

    for stmt in _split_statements(_tokenize(str(text))):
        walk(_Parser(stmt).statement())
    return sorted(set(found))


# name -> (function(ctx, *args), result field or None for "as the first argument")
_FUNCTIONS = {
    "current_schema": (lambda ctx: SCHEMA, {"type": "string", "pgtype": "name"}),
    "current_user": (lambda ctx: ctx.user["username"], {"type": "string", "pgtype": "name"}),
    "version": (lambda ctx: "PostgreSQL 12.0 (local CARTO API)", _TEXT),
    "postgis_version": (lambda ctx: "3.0 USE_GEOS=1 USE_PROJ=1 USE_STATS=1", _TEXT),
    "st_geometrytype": (
        lambda ctx, g: None if g is None else "ST_" + _geom_arg(g, "st_geometrytype").type,
        _TEXT,
    ),
    "geometrytype": (
        lambda ctx, g: None if g is None else _geom_arg(g, "geometrytype").type.upper(),
        _TEXT,
    ),
    "st_srid": (lambda ctx, g: None if g is None else _geom_arg(g, "st_srid").srid, _INT8),
    "st_x": (lambda ctx, g: None if g is None else _geom_arg(g, "st_x").coords[0], _NUMBER_F8),
    "st_y": (lambda ctx, g: None if g is None else _geom_arg(g, "st_y").coords[1], _NUMBER_F8),
    "st_xmin": (_bbox_part(0), _NUMBER_F8),
    "st_ymin": (_bbox_part(1), _NUMBER_F8),
    "st_xmax": (_bbox_part(2), _NUMBER_F8),
    "st_ymax": (_bbox_part(3), _NUMBER_F8),
    "st_asgeojson": (
        lambda ctx, g: None
        if g is None
        else __import__("json").dumps(_geom_arg(g, "st_asgeojson").geojson()),
        _TEXT,
    ),
    "lower": (lambda ctx, s: None if s is None else str(s).lower(), _TEXT),
    "upper": (lambda ctx, s: None if s is None else str(s).upper(), _TEXT),
    "length": (lambda ctx, s: None if s is None else len(str(s)), {"type": "number", "pgtype": "int4"}),
    "abs": (lambda ctx, x: None if x is None else abs(x), None),
    "round": (lambda ctx, x, n=0: None if x is None else round(x, n), {"type": "number", "pgtype": "numeric"}),
    "coalesce": (lambda ctx, *xs: next((x for x in xs if x is not None), None), None),
    "cdb_cartodbfytable": (_cartodbfy, {"type": "string", "pgtype": "regclass"}),
    "cdb_querytablestext": (_query_tables, {"type": "string[]", "pgtype": "_text"}),
}  # fmt: skip


def _agg_count(values):
    return sum(1 for v in values if v is not None)


def _agg_extent(values):
    boxes = [b for b in (_bbox_of(v, "st_extent") for v in values if v is not None) if b]
    if not boxes:
        return None
    return Box(
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _agg_sum(values):
    values = [v for v in values if v is not None]
    return sum(values) if values else None


def _agg_avg(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _agg_minmax(fn):
    def agg(values):
        values = [v for v in values if v is not None]
        return fn(values) if values else None

    return agg


_AGGREGATES = {
    "count": (_agg_count, _INT8),
    "st_extent": (_agg_extent, {"type": "string", "pgtype": "box2d"}),
    "sum": (_agg_sum, None),
    "avg": (_agg_avg, {"type": "number", "pgtype": "numeric"}),
    "min": (_agg_minmax(min), None),
    "max": (_agg_minmax(max), None),
}


def _has_aggregate(e):
    if isinstance(e, list):
        return any(_has_aggregate(x) for x in e)
    if not isinstance(e, tuple) or not e or e[0] == "scalar":
        return False
    if e[0] == "func" and e[1] in _AGGREGATES:
        return True
    return any(_has_aggregate(x) for x in e[1:] if isinstance(x, (tuple, list)))


def _cmp(op, a, b):
    if a is None or b is None:
        return None
    if isinstance(a, (int, float)) and isinstance(b, str):
        b = _to_number(b)
    elif isinstance(b, (int, float)) and isinstance(a, str):
        a = _to_number(a)
    try:
        if op == "=":
            return a == b
        if op == "<>":
            return a != b
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        return a >= b
    except TypeError:
        raise SqlError(
            "operator does not exist: %s %s %s" % (_pg_name(a), op, _pg_name(b))
        ) from None


def _pg_name(v):
    return {int: "integer", float: "double precision", str: "text", bool: "boolean"}.get(
        type(v), "geometry" if isinstance(v, Geometry) else "unknown"
    )


def _to_number(s):
    try:
        return int(s)
    except ValueError:
        try:
            return float(s)
        except ValueError:
            raise SqlError('invalid input syntax for type double precision: "%s"' % s) from None


def _arith(op, a, b):
    if a is None or b is None:
        return None
    if op == "||":
        return "%s%s" % (_text(a), _text(b))
    if isinstance(a, str):
        a = _to_number(a)
    if isinstance(b, str):
        b = _to_number(b)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        raise SqlError("division by zero")
    if op == "/":
        return a // b if isinstance(a, int) and isinstance(b, int) else a / b
    return a % b


def _cast(v, target):
    if v is None:
        return None
    try:
        if target in cat.INT_TYPES:
            return int(float(v)) if isinstance(v, str) else int(v)
        if target in cat.FLOAT_TYPES:
            return float(v)
        if target in ("text", "name", "regclass", "varchar"):
            return _text(v)
        if target == "bool":
            return v if isinstance(v, bool) else str(v).lower() in ("t", "true", "1", "yes", "on")
        if target == "geometry":
            return _geom_arg(v, "geometry")
    except (TypeError, ValueError):
        raise SqlError('invalid input syntax for type %s: "%s"' % (target, v)) from None
    return v


def _cast_field(target, inner):
    if target in cat.INT_TYPES or target in cat.FLOAT_TYPES or target in ("text", "bool"):
        return cat.field_for(target)
    if target == "geometry":
        return cat.field_for("geometry")
    return inner


def _like(value, pattern, ci):
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in str(pattern)
    )
    return re.fullmatch(regex, str(value), re.I | re.S if ci else re.S) is not None


def _truth(v):
    return v is True


class _Compiler:
    """Turns an expression into ``(fn(row, group) -> value, field, output name)``."""

    def __init__(self, ctx, rel):
        self.ctx = ctx
        self.rel = rel

    def compile(self, e):
        kind = e[0]
        if kind == "lit":
            v = e[1]
            if isinstance(v, bool):
                field = _BOOL
            elif isinstance(v, int):
                field = {"type": "number", "pgtype": "int4"}
            elif isinstance(v, float):
                field = {"type": "number", "pgtype": "numeric"}
            else:
                field = {"type": "string", "pgtype": "unknown"}
            return (lambda row, group: v), field, "?column?"
        if kind == "col":
            i = self.rel.index(e[1], e[2])
            return (lambda row, group: row[i]), self.rel.cols[i][2], e[2]
        if kind == "bin":
            op = e[1]
            fa, field_a, _ = self.compile(e[2])
            fb, field_b, _ = self.compile(e[3])
            if op == "and":

                def f(row, group):
                    a, b = fa(row, group), fb(row, group)
                    if a is False or b is False:
                        return False
                    return None if a is None or b is None else True

                return f, _BOOL, "?column?"
            if op == "or":

                def f(row, group):
                    a, b = fa(row, group), fb(row, group)
                    if a is True or b is True:
                        return True
                    return None if a is None or b is None else False

                return f, _BOOL, "?column?"
            if op in ("=", "<>", "<", "<=", ">", ">="):
                return (
                    (lambda row, group: _cmp(op, fa(row, group), fb(row, group))),
                    _BOOL,
                    "?column?",
                )
            field = _TEXT if op == "||" else (field_a if field_a == field_b else _NUMBER_F8)
            return (
                (lambda row, group: _arith(op, fa(row, group), fb(row, group))),
                field,
                "?column?",
            )
        if kind == "not":
            fa, _, _ = self.compile(e[1])

            def f(row, group):
                v = fa(row, group)
                return None if v is None else not v

            return f, _BOOL, "?column?"
        if kind == "neg":
            fa, field, _ = self.compile(e[1])
            return (
                (lambda row, group: None if fa(row, group) is None else -fa(row, group)),
                field,
                "?column?",
            )
        if kind == "isnull":
            fa, _, _ = self.compile(e[1])
            negate = e[2]
            return (lambda row, group: (fa(row, group) is None) != negate), _BOOL, "?column?"
        if kind == "is":
            fa, _, _ = self.compile(e[1])
            value, negate = e[2], e[3]
            return (lambda row, group: (fa(row, group) is value) != negate), _BOOL, "?column?"
        if kind == "in":
            fa, _, _ = self.compile(e[1])
            items = [self.compile(x)[0] for x in e[2]]
            negate = e[3]

            def f(row, group):
                v = fa(row, group)
                if v is None:
                    return None
                hit = any(_cmp("=", v, g(row, group)) for g in items)
                return hit != negate

            return f, _BOOL, "?column?"
        if kind == "like":
            fa, _, _ = self.compile(e[1])
            fp, _, _ = self.compile(e[2])
            ci, negate = e[3], e[4]

            def f(row, group):
                v, p = fa(row, group), fp(row, group)
                return None if v is None or p is None else _like(v, p, ci) != negate

            return f, _BOOL, "?column?"
        if kind == "cast":
            fa, inner, name = self.compile(e[1])
            target = e[2]
            return (
                (lambda row, group: _cast(fa(row, group), target)),
                _cast_field(target, inner),
                name,
            )
        if kind == "array":
            parts = [self.compile(x)[0] for x in e[1]]
            return (
                (lambda row, group: [p(row, group) for p in parts]),
                {"type": "number[]", "pgtype": "_float8"},
                "array",
            )
        if kind == "case":
            subject = self.compile(e[1])[0] if e[1] is not None else None
            whens = [(self.compile(c)[0], self.compile(v)[0]) for c, v in e[2]]
            field = self.compile(e[2][0][1])[1] if e[2] else _TEXT
            other = self.compile(e[3])[0] if e[3] is not None else (lambda row, group: None)

            def f(row, group):
                s = subject(row, group) if subject else None
                for cond, value in whens:
                    c = cond(row, group)
                    if (subject and _cmp("=", s, c)) or (not subject and c is True):
                        return value(row, group)
                return other(row, group)

            return f, field, "case"
        if kind == "scalar":
            result = _select(self.ctx, e[1])
            value = result.rows[0][0] if result.rows else None
            field = result.cols[0][2] if result.cols else _TEXT
            return (
                (lambda row, group: value),
                field,
                result.cols[0][1] if result.cols else "?column?",
            )
        if kind == "func":
            return self.func(e)
        raise SqlError("syntax error")

    def func(self, e):
        _, name, args, distinct, star = e
        if name in _AGGREGATES:
            agg, field = _AGGREGATES[name]
            if star:
                return (lambda row, group: len(group)), field, name
            if len(args) != 1:
                raise SqlError("function %s does not exist" % name)
            fa, arg_field, _ = self.compile(args[0])
            field = field or arg_field

            def f(row, group):
                if group is None:
                    raise SqlError("aggregate function calls cannot be nested")
                values = [fa(r, None) for r in group]
                if distinct:
                    values = list(dict.fromkeys(values))
                return agg(values)

            return f, field, name
        if name not in _FUNCTIONS:
            raise SqlError("function %s does not exist" % name)
        fn, field = _FUNCTIONS[name]
        compiled = [self.compile(a) for a in args]
        parts = [c[0] for c in compiled]
        if field is None:
            field = compiled[0][1] if compiled else _TEXT
        ctx = self.ctx

        def f(row, group):
            try:
                return fn(ctx, *[p(row, group) for p in parts])
            except TypeError:
                raise SqlError("function %s does not exist" % name) from None

        return f, field, name


def _catalog_tables(name):
    """Empty pg_catalog relations: enough for cartoframes' "does this function exist" probe."""
    cols = {
        "pg_proc": [("oid", "int4"), ("proname", "name"), ("pronamespace", "int4")],
        "pg_namespace": [("oid", "int4"), ("nspname", "name")],
        "pg_class": [("oid", "int4"), ("relname", "name"), ("relnamespace", "int4")],
    }.get(name)
    if cols is None:
        raise SqlError('relation "pg_catalog.%s" does not exist' % name)
    return cols


def _from(ctx, node):
    kind = node[0]
    if kind == "table":
        _, schema, name, alias = node
        if schema == "pg_catalog":
            cols = _catalog_tables(name)
            return _Rel([(alias, c, cat.field_for(t)) for c, t in cols], [])
        if schema is None and name in ctx.ctes:
            cte = ctx.ctes[name]
            return _Rel([(alias, n, f) for _, n, f in cte.cols], cte.rows)
        table = _lookup(ctx, name)
        names = table.column_names()
        cols = [(alias, c, table.field(c)) for c in names]
        get = operator.itemgetter(*names) if names else (lambda r: ())
        if len(names) == 1:
            return _Rel(cols, [(get(r),) for r in table.rows])
        return _Rel(cols, [get(r) for r in table.rows])
    if kind == "subquery":
        res = _select(ctx, node[1])
        return _Rel([(node[2], n, f) for _, n, f in res.cols], res.rows)
    _, jkind, left, right, on = node
    lrel, rrel = _from(ctx, left), _from(ctx, right)
    rel = _Rel(lrel.cols + rrel.cols, [])
    cond = _Compiler(ctx, rel).compile(on)[0] if on is not None else None
    nulls = (None,) * len(rrel.cols)
    for lrow in lrel.rows:
        matched = False
        for rrow in rrel.rows:
            row = lrow + rrow
            if cond is None or cond(row, None) is True:
                rel.rows.append(row)
                matched = True
        if jkind == "left" and not matched:
            rel.rows.append(lrow + nulls)
    return rel


def _lookup(ctx, name):
    table = ctx.catalog.get(ctx.user, name) if ctx.user else None
    if table is None:
        raise SqlError('relation "%s" does not exist' % name)
    if not table.public and not ctx.authorized:
        # CARTO's SQL API maps every "permission denied" to 403.
        raise SqlError("permission denied for relation %s" % name, status=403)
    return table


def _select(ctx, q):
    """Run a parsed SELECT: a ``_Rel`` whose cols carry the output names (qualifier None)."""
    if not q["with"]:
        return _select_body(ctx, q)
    outer = ctx.ctes
    ctx.ctes = dict(outer)
    try:
        for name, sub in q["with"]:
            ctx.ctes[name] = _select(ctx, sub)
        return _select_body(ctx, q)
    finally:
        ctx.ctes = outer


def _select_body(ctx, q):
    rel = _from(ctx, q["from"]) if q["from"] is not None else _Rel([], [()])
    comp = _Compiler(ctx, rel)
    items = []  # (fn, field, name)
    positions = []  # per item, the input column it copies, or None when it computes
    for item in q["items"]:
        if item[0] == "star":
            qual = item[1]
            chosen = [i for i, c in enumerate(rel.cols) if qual is None or c[0] == qual]
            if qual is not None and not chosen:
                raise SqlError('missing FROM-clause entry for table "%s"' % qual)
            for i in chosen:
                items.append((lambda row, group, i=i: row[i], rel.cols[i][2], rel.cols[i][1]))
                positions.append(i)
        else:
            fn, field, name = comp.compile(item[1])
            items.append((fn, field, item[2] or name))
            e = item[1]
            positions.append(rel.index(e[1], e[2]) if e[0] == "col" else None)
    rows = rel.rows
    if q["where"] is not None:
        cond = comp.compile(q["where"])[0]
        rows = [r for r in rows if cond(r, None) is True]
    aggregate = q["group"] or any(
        item[0] == "expr" and _has_aggregate(item[1]) for item in q["items"]
    )
    order_fns = []
    for e, desc in q["order"]:
        try:
            order_fns.append((comp.compile(e)[0], desc, None))
        except SqlError:
            # ORDER BY may name an output column (an alias) or give its position.
            names = [name for _, _, name in items]
            if e[0] == "col" and e[1] is None and e[2] in names:
                order_fns.append((None, desc, names.index(e[2])))
            else:
                raise
    for e, desc in list(q["order"]):
        if e[0] == "lit" and isinstance(e[1], int) and not isinstance(e[1], bool):
            if not 1 <= e[1] <= len(items):
                raise SqlError("ORDER BY position %d is not in select list" % e[1])
            idx = q["order"].index((e, desc))
            order_fns[idx] = (None, desc, e[1] - 1)
    if aggregate:
        keys = [comp.compile(e)[0] for e in q["group"]]
        groups = {}
        for r in rows:
            groups.setdefault(tuple(k(r, None) for k in keys), []).append(r)
        if not keys and not groups:
            groups[()] = []
        out = []
        for members in groups.values():
            first = members[0] if members else (None,) * len(rel.cols)
            out.append((tuple(fn(first, members) for fn, _, _ in items), first, members))
    elif all(pos is not None for pos in positions):
        # Only columns: a projection by position, without evaluating anything per value.
        if positions == list(range(len(rel.cols))):
            out = [(r, r, None) for r in rows]
        else:
            pick = operator.itemgetter(*positions) if len(positions) > 1 else None
            out = [((r[positions[0]],) if pick is None else pick(r), r, None) for r in rows]
    else:
        out = [(tuple(fn(r, None) for fn, _, _ in items), r, None) for r in rows]
    if q["distinct"]:
        seen, unique = set(), []
        for entry in out:
            key = tuple(_hashable(v) for v in entry[0])
            if key not in seen:
                seen.add(key)
                unique.append(entry)
        out = unique
    for fn, desc, position in reversed(order_fns):
        if fn is None:
            out.sort(key=lambda entry, p=position: _sort_key(entry[0][p]), reverse=desc)
        else:
            out.sort(key=lambda entry, fn=fn: _sort_key(fn(entry[1], entry[2])), reverse=desc)
    out = out[q["offset"] :]
    if q["limit"] is not None:
        out = out[: q["limit"]]
    return _Rel([(None, name, field) for _, field, name in items], [entry[0] for entry in out])


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, Box):
        return str(v)
    return v


def _sort_key(v):
    # PostgreSQL sorts NULLs last in ascending order.
    return (v is None, v if not isinstance(v, (Geometry, Box, list)) else str(v))


# --- statements -------------------------------------------------------------------------------


def _require_owner(ctx, message):
    if not ctx.authorized:
        raise SqlError(message, 403)


def _writable(ctx, name):
    table = ctx.catalog.get(ctx.user, name)
    if table is None:
        raise SqlError('relation "%s" does not exist' % name)
    _require_owner(ctx, "permission denied for relation %s" % name)
    return table


def _execute(ctx, stmt):
    kind = stmt[0]
    if kind == "select":
        rel = _select(ctx, stmt[1])
        return _result(rel)
    if kind == "explain":
        _select(ctx, stmt[1])
        plan = {"type": "string", "pgtype": "text"}
        return Result(
            [{"QUERY PLAN": "Result  (cost=0.00..0.01 rows=1 width=0)"}], {"QUERY PLAN": plan}
        )
    if kind == "noop":
        return Result([], {}, 0)
    if kind == "create":
        _, name, columns, if_not_exists = stmt
        _require_owner(ctx, "permission denied for schema %s" % SCHEMA)
        if ctx.catalog.get(ctx.user, name) is not None:
            if if_not_exists:
                return Result([], {}, 0)
            raise SqlError('relation "%s" already exists' % name)
        seen = set()
        for col, _ in columns:
            if col in seen:
                raise SqlError('column "%s" specified more than once' % col)
            seen.add(col)
        ctx.catalog.add(ctx.user, cat.Table(name, columns))
        return Result([], {}, 0)
    if kind == "truncate":
        table = _writable(ctx, stmt[1])
        table.rows = []
        return Result([], {}, 0)
    if kind == "rename":
        _writable(ctx, stmt[1])
        if ctx.catalog.get(ctx.user, stmt[2]) is not None:
            raise SqlError('relation "%s" already exists' % stmt[2])
        ctx.catalog.rename(ctx.user, stmt[1], stmt[2])
        return Result([], {}, 0)
    if kind == "alter":
        table = _writable(ctx, stmt[1])
        for action in stmt[2]:
            _alter(table, action)
        return Result([], {}, 0)
    if kind == "copy":
        raise SqlError("COPY is only available through the copyfrom and copyto endpoints")
    raise SqlError("syntax error")


def _alter(table, action):
    names = table.column_names()
    if action[0] == "drop":
        _, col, if_exists = action
        if col not in names:
            if if_exists:
                return
            raise SqlError('column "%s" of relation "%s" does not exist' % (col, table.name))
        table.columns = [c for c in table.columns if c[0] != col]
        for row in table.rows:
            row.pop(col, None)
    elif action[0] == "add":
        _, col, pgtype, if_not = action
        if col in names:
            if if_not:
                return
            raise SqlError('column "%s" of relation "%s" already exists' % (col, table.name))
        table.columns.append((col, pgtype))
        for row in table.rows:
            row[col] = None
    else:
        _, old, new = action
        if old not in names:
            raise SqlError('column "%s" does not exist' % old)
        table.columns = [(new if c == old else c, t) for c, t in table.columns]
        for row in table.rows:
            row[new] = row.pop(old, None)


def _result(rel):
    names = [n for _, n, _ in rel.cols]
    fields = {n: f for _, n, f in rel.cols}
    return Result([dict(zip(names, r)) for r in rel.rows], fields)


def _parse(query):
    if not isinstance(query, str) or not query.strip():
        raise SqlError("You must indicate a sql query")
    statements = [_Parser(toks).statement() for toks in _split_statements(_tokenize(query))]
    if not statements:
        raise SqlError("You must indicate a sql query")
    return statements


def _internal_errors(fn):
    """A bug or a construct the engine does not expect is a CARTO-shaped 500, not a dropped
    connection."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SqlError:
            raise
        except Exception as err:  # noqa: BLE001 - reported to the client, as CARTO's 500s are
            raise SqlError(
                "internal error in the local CARTO API: %s: %s" % (type(err).__name__, err), 500
            ) from err

    return wrapper


@_internal_errors
def run(query, user, authorized, catalog=None):
    """Run ``query`` for ``user``. ``authorized``: the caller holds the owner's key.

    ``catalog`` holds the tables (one per server); without one, a fresh catalog of the demo tables.
    """
    ctx = _Ctx(user, authorized, catalog or cat.Catalog())
    statements = _parse(query)
    with ctx.catalog.lock:
        result = None
        for stmt in statements:
            result = _execute(ctx, stmt)
        return result


# --- COPY -------------------------------------------------------------------------------------


def _copy_statement(query, direction):
    if not isinstance(query, str) or not query.strip():
        raise SqlError("SQL is missing")
    if not query.upper().lstrip().startswith("COPY "):
        raise SqlError("SQL must start with COPY")
    stmts = _parse(query)
    if len(stmts) != 1 or stmts[0][0] != "copy":
        raise SqlError("SQL must start with COPY")
    stmt = stmts[0]
    if stmt[1] != direction:
        raise SqlError(
            "COPY %s is not allowed here: use the %s endpoint"
            % (stmt[1].upper(), "copyto" if stmt[1] == "to" else "copyfrom")
        )
    options = stmt[3]
    fmt = str(options.get("format") or "text").lower()
    if fmt not in ("csv", "text"):
        raise SqlError('COPY format "%s" not recognized' % fmt)
    delimiter = options.get("delimiter") or ("," if fmt == "csv" else "\t")
    null = options.get("null")
    if null is None:
        null = "" if fmt == "csv" else "\\N"
    header = options.get("header") in (True, "true", "on", 1, "1")
    return stmt[2], fmt, delimiter, null, header


@_internal_errors
def copy_to(query, user, authorized, catalog=None):
    """``COPY … TO stdout``: the CSV (or text) bytes CARTO's ``copyto`` streams."""
    ctx = _Ctx(user, authorized, catalog or cat.Catalog())
    source, fmt, delimiter, null, header = _copy_statement(query, "to")
    with ctx.catalog.lock:
        if source[0] == "query":
            rel = _select(ctx, source[1])
        else:
            _, name, cols = source
            table = _lookup(ctx, name)
            cols = cols or table.column_names()
            for c in cols:
                if c not in table.column_names():
                    raise SqlError('column "%s" of relation "%s" does not exist' % (c, name))
            rel = _Rel(
                [(None, c, table.field(c)) for c in cols],
                [tuple(r.get(c) for c in cols) for r in table.rows],
            )
    out = io.StringIO()
    if fmt == "csv":
        writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
        if header:
            writer.writerow([n for _, n, _ in rel.cols])
        for row in rel.rows:
            writer.writerow([null if v is None else _text(v) for v in row])
    else:
        for row in rel.rows:
            out.write(delimiter.join(null if v is None else _text(v) for v in row) + "\n")
    return out.getvalue().encode("utf-8")


@_internal_errors
def copy_from(query, payload, user, authorized, catalog=None):
    """``COPY t [(cols)] FROM stdin``: load ``payload`` (bytes); returns the number of rows."""
    ctx = _Ctx(user, authorized, catalog or cat.Catalog())
    source, fmt, delimiter, null, header = _copy_statement(query, "from")
    if source[0] != "table":
        raise SqlError('syntax error at or near "("')
    _, name, cols = source
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SqlError('invalid byte sequence for encoding "UTF8"') from None
    with ctx.catalog.lock:
        table = _writable(ctx, name)
        cols = cols or table.column_names()
        for c in cols:
            if c not in table.column_names():
                raise SqlError('column "%s" of relation "%s" does not exist' % (c, name))
        types = [table.pgtype(c) for c in cols]
        if fmt == "csv":
            records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        else:
            records = [line.split(delimiter) for line in text.splitlines()]
        if header and records:
            records = records[1:]
        new_rows = []
        for lineno, record in enumerate(records, start=1 + header):
            if not record:
                continue
            if len(record) > len(cols):
                raise SqlError("extra data after last expected column (line %d)" % lineno)
            if len(record) < len(cols):
                raise SqlError(
                    'missing data for column "%s" (line %d)' % (cols[len(record)], lineno)
                )
            row = {c: None for c in table.column_names()}
            for c, t, v in zip(cols, types, record):
                row[c] = None if v == null else _parse_value(v, t)
            new_rows.append(row)
        table.fill_serial(new_rows)
        table.rows.extend(new_rows)
    return len(new_rows)


def _parse_value(v, pgtype):
    try:
        if pgtype in cat.INT_TYPES:
            return int(v)
        if pgtype in cat.FLOAT_TYPES:
            return float({"Infinity": "inf", "-Infinity": "-inf"}.get(v, v))
        if pgtype == "bool":
            low = v.strip().lower()
            if low in ("t", "true", "y", "yes", "on", "1"):
                return True
            if low in ("f", "false", "n", "no", "off", "0"):
                return False
            raise ValueError(v)
        if pgtype == "geometry":
            return Geometry.from_wkb(v)
    except GeometryError as err:
        raise SqlError(str(err)) from None
    except ValueError:
        label = {"int2": "smallint", "int4": "integer", "int8": "bigint", "bool": "boolean"}.get(
            pgtype, "double precision" if pgtype in cat.FLOAT_TYPES else pgtype
        )
        raise SqlError('invalid input syntax for type %s: "%s"' % (label, v)) from None
    return v


# --- output -----------------------------------------------------------------------------------


def _num_text(v):
    if isinstance(v, float):
        if v != v:
            return "NaN"
        if v in (float("inf"), float("-inf")):
            return "Infinity" if v > 0 else "-Infinity"
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    return str(v)


def _text(v):
    """A value as PostgreSQL prints it (COPY, ``::text``)."""
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, (int, float)):
        return _num_text(v)
    if isinstance(v, Geometry):
        return v.ewkb_hex()
    if isinstance(v, list):
        return "{%s}" % ",".join("NULL" if x is None else _text(x) for x in v)
    return str(v)


_PLAIN = (str, int, bool, type(None))


def _json_value(v):
    if type(v) in _PLAIN:
        return v
    if isinstance(v, Geometry):
        return v.ewkb_hex()
    if isinstance(v, Box):
        return str(v)
    if isinstance(v, list):
        return [_json_value(x) for x in v]
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return _num_text(v)
    return v


def as_json(result, started):
    rows = [
        {k: v if type(v) in _PLAIN else _json_value(v) for k, v in row.items()}
        for row in result.rows
    ]
    return {
        "rows": rows,
        "time": round(time.monotonic() - started, 6),
        "fields": result.fields,
        "total_rows": result.total_rows,
    }


def as_geojson(result):
    geom_cols = [n for n, f in result.fields.items() if f.get("type") == "geometry"]
    # CARTO's GeoJSON format uses the_geom, else the first geometry column.
    geom_col = "the_geom" if "the_geom" in geom_cols else (geom_cols[0] if geom_cols else None)
    features = []
    for row in result.rows:
        props = {
            k: v if type(v) in _PLAIN else _json_value(v)
            for k, v in row.items()
            if k not in geom_cols
        }
        g = row.get(geom_col) if geom_col else None
        features.append(
            {"type": "Feature", "geometry": g.geojson() if g else None, "properties": props}
        )
    return {"type": "FeatureCollection", "features": features}
