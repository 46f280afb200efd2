"""The one exception type the REST layer turns into ``{"error": {"code", "message", "field"?}}``.

Messages are written for people and never contain an API key.
"""


class CredentialsError(Exception):
    """``field``: the request body's field the error is about (``bad_request``), so a front end can
    mark the control it filled in; ``None`` when it is about no one field."""

    def __init__(self, status, code, message, field=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def __repr__(self):
        return "CredentialsError(%d, %r, %r)" % (self.status, self.code, self.message)
