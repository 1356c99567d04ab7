"""The HTTP API (FastAPI), one router module per resource."""
