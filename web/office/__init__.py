"""The back office (``/office``): cooperatives, processors, carriers, labs, officials and
administrators at work in the browser. Server-rendered, works without JavaScript, zh-CN first.

Importing the modules registers their routes on the one router; the catch-all comes last so
a mistyped address gets the office's own "not found" page.
"""

from registry.i18n import N_
from web.errors import PageProblem

# request_new before requests: "/requests/new" is not a request id.
from web.office import (  # noqa: F401 (routes)
    admin,
    auth,
    complaints,
    endorsements,
    reportcards,
    request_new,
    requests,
    views,
)
from web.office.core import router


@router.get("/{rest:path}", include_in_schema=False)
def not_found(rest: str) -> None:
    """No such office page: a 404 on the office's error page."""
    raise PageProblem(f"no page /office/{rest}", N_("找不到这个页面"))


__all__ = ["router"]
