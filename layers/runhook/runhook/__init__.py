"""runhook: run saved automations through an API and hear about them through signed webhooks."""

__version__ = "0.1.0"
