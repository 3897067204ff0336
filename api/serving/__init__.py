"""``sanad serve``: the API under uvicorn, its worker processes, their sockets, cores and readiness."""
