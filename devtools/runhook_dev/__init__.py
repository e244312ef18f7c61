"""runhook's development package: the local cloud, the CLI and receiver-side tools.

Installed for development (`pip install -e '.[dev]'`), never shipped to Lambda: the code
layer (`layers/runhook/`) and the browser image hold only the `runhook` package, which
deployed functions import. Nothing in `runhook` may import `runhook_dev`
(tests/template/test_import_contract.py).
"""
