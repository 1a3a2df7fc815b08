"""The language toggle keeps a page's other query parameters, encoded."""

from starlette.requests import Request

from web.language import Language, toggle_keeping_query


def _request(path: str, query: bytes) -> Request:
    return Request({"type": "http", "path": path, "query_string": query, "headers": []})


def test_the_toggle_keeps_other_parameters_and_switches_the_language() -> None:
    url = toggle_keeping_query(
        _request("/b/X/trace", b"direction=forward&lang=zh"), Language("zh", True)
    )
    assert url == "/b/X/trace?direction=forward&lang=en"


def test_a_parameter_value_cannot_inject_another_parameter() -> None:
    # ?q=a%26lang%3Dzh decodes to q="a&lang=zh": written back raw, it would add a second lang.
    url = toggle_keeping_query(_request("/e/nope", b"q=a%26lang%3Dzh"), Language("zh", False))
    assert url == "/e/nope?q=a%26lang%3Dzh&lang=en"
