"""Use cases: no HTTP objects in here. Each function takes a Database (or a Session)."""
