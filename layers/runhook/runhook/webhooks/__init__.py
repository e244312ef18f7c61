"""Webhooks: endpoints, signed deliveries, retries, dead letters and replays.

Receivers verify deliveries with `runhook_dev.verify(body, headers, secret)` (the
development package, never deployed); it checks both signature schemes (Komos and
Standard Webhooks) with a 5-minute tolerance.
This package's top level imports nothing heavier than the standard library.
"""

from runhook.webhooks.signing import DEFAULT_PEPPER, generate_secret

__all__ = ["DEFAULT_PEPPER", "generate_secret"]
