"""The public REST API (FastAPI). Only the API function imports this package."""
