"""The callers' commands of `runhook` (tasks, runs, webhooks), on the SDK.

Each module defines a Click `group`; runhook_dev.cli adds it. Modules import only Click at
the top (`runhook --help` imports them all); the SDK, Rich and YAML load inside commands.
"""
