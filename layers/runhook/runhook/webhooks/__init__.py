"""Webhooks: endpoints, signed deliveries, retries, dead letters and replays.

Receivers use `runhook.webhooks.verify(body, headers, secret)`; it checks both
signature schemes (Komos and Standard Webhooks) with a 5-minute tolerance.
This package's top level imports nothing heavier than the standard library.
"""

from runhook.webhooks.signing import DEFAULT_PEPPER, generate_secret
from runhook.webhooks.verify import WebhookVerificationError, verify

__all__ = ["DEFAULT_PEPPER", "WebhookVerificationError", "generate_secret", "verify"]
