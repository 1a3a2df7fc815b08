"""Server-rendered pages (Jinja2), static assets served from this origin, HTML error pages."""
