"""The public pages, one module per kind of page; ``api.app`` includes their routers."""
