"""One module per page; each exposes a function the router calls. Nothing renders on import."""
