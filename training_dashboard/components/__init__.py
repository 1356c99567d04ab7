"""Reusable UI pieces. They take values (vars) and event handlers; they fetch nothing themselves."""
