"""Grants follow their notebook: bound to its file, dropped when it is deleted, moved on rename.

- ``file_identifier(contents_manager)`` gives the ``identify(path)`` the store uses to bind a grant
  to the file at ``path`` and to check that it is still that file (``store.AccountStore.grants``).
- ``follow_contents_events`` listens to jupyter_server's contents events (the event bus,
  ``CONTENTS_EVENTS``): ``delete`` drops the grants of that path and of everything under it,
  ``rename`` moves them. Changes made outside Jupyter (a terminal, git) raise no event: there the
  file identity check applies.

A grant is a consent guard against accidents (a notebook from elsewhere, a shared link), not a wall
against code running as the same Unix user, which can read the store file itself.
"""

from . import fileid
from .errors import CredentialsError
from .store import UNKNOWN

CONTENTS_EVENTS = "https://events.jupyter.org/jupyter_server/contents_service/v1"


def file_identifier(contents_manager):
    """``identify(api_path)`` → ``fileid.identity`` of the file there (None: nothing there), or
    ``store.UNKNOWN`` when the contents manager has no files (S3, databases…), refuses the path
    (outside its root) or the file cannot be looked at. Blocking (``os.stat``)."""
    get_os_path = getattr(contents_manager, "_get_os_path", None)

    def identify(path):
        if get_os_path is None:
            return UNKNOWN
        try:
            os_path = get_os_path(path)
        except Exception:  # tornado HTTPError (outside the root), ValueError (NUL)
            return UNKNOWN
        try:
            return fileid.identity(os_path)
        except (OSError, ValueError):
            return UNKNOWN

    return identify


def follow_contents_events(event_logger, store, offloader, log):
    """Keep grants in step with deletes and renames done through Jupyter's contents API.

    Returns the listener (for ``event_logger.remove_listener``), or None without an event bus.
    Failures are logged (one line), never raised into jupyter_server.
    """
    if event_logger is None:
        return None

    # jupyter_events calls listener(logger=…, schema_id=…, data=…); a signature mismatch would
    # break the contents API itself (the call happens inside its emit), so take anything.
    async def listener(logger=None, schema_id=None, data=None, *args, **kwargs):
        if not isinstance(data, dict):
            return
        action = data.get("action")
        if action not in ("delete", "rename"):
            return
        path = (data.get("path") or "").strip("/")
        source = (data.get("source_path") or "").strip("/")
        try:
            if action == "delete" and path:
                done = await offloader.run(store.path, store.drop_grants_under, path)
                verb = "dropped (deleted)"
            elif action == "rename" and source and path and source != path:
                done = await offloader.run(store.path, store.move_grants, source, path)
                verb = "moved to %s (renamed)" % path
            else:
                return
        except CredentialsError as err:
            log.warning(
                "carto-credentials: the grants of %s could not follow its %s: %s",
                path if action == "delete" else source,
                action,
                err.message,
            )
            return
        except Exception:
            log.error("carto-credentials: following a %s event failed", action, exc_info=True)
            return
        for old in done:
            log.info("carto-credentials: grant of %s %s", old, verb)

    # The unmodified event: a modifier (e.g. one that redacts paths) must not change ours.
    event_logger.add_listener(modified=False, schema_id=CONTENTS_EVENTS, listener=listener)
    return listener
