"""The public pages, one module per kind of page; ``app.factory`` includes their routers."""
