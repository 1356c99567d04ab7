"""One module per page: each module compiles to its own lazily loaded JavaScript chunk."""
