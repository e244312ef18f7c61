"""Shared test setup, written once for every suite (their conftests use it).

- `orgs`: organizations on the local cloud with an admin key, and REST clients for them
  (`Organizations`, the `organizations` fixture).
- `loopback`: a real HTTP server on 127.0.0.1 that records requests and answers what the
  test programs (`LoopbackServer`; `Target` for http steps, the `target` fixture).
- `polling`: `eventually(probe, until, timeout=..., interval=...)`, the one poll-until loop.
- `browser`: Debian's Chromium (the `chromium` fixture) and its processes; the local web
  site itself is tests/browser_site (the `site` fixture).
- `examples`: the task definitions of examples/tasks/, loaded by name.
- `import_graph`: the import graph of the code, for the import contract
  (tests/template/test_import_contract.py).
"""
