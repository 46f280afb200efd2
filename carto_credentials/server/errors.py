"""The one exception type the REST layer turns into ``{"error": {"code", "message"}}``.

Messages are written for people and never contain an API key.
"""


class CredentialsError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __repr__(self):
        return "CredentialsError(%d, %r, %r)" % (self.status, self.code, self.message)
