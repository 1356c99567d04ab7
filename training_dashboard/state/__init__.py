"""Reflex State classes, one module per area. They reach data only through ``client.ApiClient``."""
