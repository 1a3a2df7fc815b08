"""Publishing: the scan path as files (docs/scaling.md, "Published files").

What a viewer's phone fetches after scanning (the consumer page, the verification document,
the cosigned checkpoint, tiles) is written as static files that nginx or a CDN serves without
the Python server. Publishing is derived state: the database is the source of truth, and
``registry.publishing.publisher`` rewrites whatever a commit changed.
"""
