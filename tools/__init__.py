"""Development tools (test/demo servers); not part of the product."""
