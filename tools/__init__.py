"""Development tools (not shipped in the wheel): the local CARTO-compatible API server."""
