"""The composition root: where the domain (``registry``), the HTTP edge (``api``, ``web``) and
the servers (uvicorn) are wired together — the ASGI factory, the ``registry`` command and the
witness's server. Nothing below imports this package (docs/architecture.md)."""
