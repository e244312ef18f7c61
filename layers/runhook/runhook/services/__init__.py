"""Use cases: what the API (and the CLI) can do, independent of HTTP."""
