"""QR codes (registry.qr): every symbol we emit decodes with an independent reader (zxing-cpp)
to exactly its URL — as PNG, as SVG rasterised here, and after the trip through a compressed
720p livestream — at error correction Q, with a 4-module quiet zone, in the smallest version.
"""

from __future__ import annotations

import io
import random
import re
import threading
import xml.etree.ElementTree as ET

import pytest
import qrcode
import zxingcpp
from PIL import Image, ImageDraw, ImageFilter
from qrcode.exceptions import DataOverflowError
from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, QRData

from registry import qr
from registry.codes import check_character, new_code
from registry.errors import InvalidInput

SVG_NS = "{http://www.w3.org/2000/svg}"
# Base URLs of exactly 30 characters (the bound for a version ≤ 4 stream QR).
BASES_30 = [
    "https://danbao-registry.gov.cn",  # host only: alphanumeric mode
    "http://203.0.113.250:8000/LIVE",  # upper-case path: still alphanumeric
    "https://gr.nongye.gov.cn/zhibo",  # lower-case path must keep its case: byte mode
]
BASES = ["http://127.0.0.1:8000", *BASES_30]


def _code(body_length: int = 8) -> str:
    return new_code(body_length)


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    return [
        b for b in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode) if b.valid
    ]


def decode_one(image: Image.Image, url: str) -> zxingcpp.Barcode:
    found = decode(image)
    assert len(found) == 1, f"expected one QR code for {url}, zxing found {len(found)}"
    assert found[0].text == url, f"QR decodes to {found[0].text!r}, expected {url!r}"
    return found[0]


def png_image(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "not a PNG"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- a small SVG rasteriser -----------------------------------------------------------------


def rasterise_svg(svg: str, scale: int) -> Image.Image:
    """Rasterise the SVG we emit: a viewBox, <rect> fills and <path> fills made of closed
    axis-aligned rectangles (M x y, then h/v/H/V moves, then z). Anything else fails loudly,
    so a change of the SVG's shape cannot pass unnoticed."""
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg", root.tag
    x0, y0, width, height = (float(v) for v in root.attrib["viewBox"].split())
    assert (x0, y0) == (0, 0) and width == height, root.attrib["viewBox"]
    size = int(width)
    image = Image.new("L", (size * scale, size * scale), 128)  # grey: unpainted shows up
    draw = ImageDraw.Draw(image)

    def fill(element: ET.Element) -> int:
        colour = element.attrib.get("fill", "#000")
        assert colour in ("#fff", "#000"), f"unexpected fill {colour}"
        return 255 if colour == "#fff" else 0

    for element in root:
        if element.tag == SVG_NS + "rect":
            w = float(element.attrib["width"])
            h = float(element.attrib["height"])
            x = float(element.attrib.get("x", 0))
            y = float(element.attrib.get("y", 0))
            draw.rectangle(
                [x * scale, y * scale, (x + w) * scale - 1, (y + h) * scale - 1],
                fill=fill(element),
            )
        elif element.tag == SVG_NS + "path":
            for rect in _path_rectangles(element.attrib["d"]):
                left, top, right, bottom = (v * scale for v in rect)
                draw.rectangle([left, top, right - 1, bottom - 1], fill=fill(element))
        else:
            assert element.tag == SVG_NS + "title", f"unexpected element {element.tag}"
    return image


def _path_rectangles(d: str) -> list[tuple[float, float, float, float]]:
    tokens = re.findall(r"[MmHhVvZz]|-?\d+(?:\.\d+)?", d)
    assert "".join(tokens) == re.sub(r"[\s,]+", "", d), f"unparsed path data in {d[:80]}"
    rects = []
    points: list[tuple[float, float]] = []
    x = y = 0.0
    i = 0
    while i < len(tokens):
        command = tokens[i]
        i += 1
        if command in "Mm":
            dx, dy = float(tokens[i]), float(tokens[i + 1])
            i += 2
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
            points = [(x, y)]
        elif command in "HhVv":
            value = float(tokens[i])
            i += 1
            if command == "H":
                x = value
            elif command == "h":
                x += value
            elif command == "V":
                y = value
            else:
                y += value
            points.append((x, y))
        elif command in "Zz":
            xs = sorted({p[0] for p in points})
            ys = sorted({p[1] for p in points})
            assert len(xs) == 2 and len(ys) == 2 and len(points) == 4, (
                f"sub-path {points} is not a rectangle"
            )
            rects.append((xs[0], ys[0], xs[1], ys[1]))
            x, y = points[0]
        else:
            raise AssertionError(f"unsupported path command {command!r}")
    return rects


# --- URLs -----------------------------------------------------------------------------------


def test_stream_url_is_upper_case_in_the_qr_alphanumeric_set():
    code = _code()
    url = qr.stream_url("http://127.0.0.1:8000", code.lower())
    assert url == f"HTTP://127.0.0.1:8000/E/{code}"
    assert qr.fits_alphanumeric(url)
    assert qr.encode(url).mode is qr.Mode.ALPHANUMERIC


def test_a_base_path_keeps_its_case_and_falls_back_to_byte_mode():
    code = _code()
    url = qr.stream_url("https://Example.org/registry/", code)
    assert url == f"HTTPS://EXAMPLE.ORG/registry/E/{code}", "the path is case-sensitive"
    assert not qr.fits_alphanumeric(url)
    assert qr.encode(url).mode is qr.Mode.BYTE
    decode_one(png_image(qr.render_png(url, box_size=4)), url)


def test_stream_url_refuses_a_bad_code_and_a_base_without_host():
    with pytest.raises(InvalidInput, match="check character"):
        body = "ABCDEFGH"
        wrong = next(c for c in "0123456789" if c != check_character(body))
        qr.stream_url("http://127.0.0.1:8000", body + wrong)
    with pytest.raises(ValueError, match="scheme and a host"):
        qr.stream_url("127.0.0.1:8000", _code())


def test_batch_url_is_a_digital_link_with_a_gtin_else_the_batch_code():
    code = _code()
    assert (
        qr.batch_url("https://gr.example.cn", "6901234567892", "GF2026-001", code)
        == "https://gr.example.cn/01/06901234567892/10/GF2026-001"
    )
    assert (
        qr.batch_url("https://gr.example.cn", "06901234567892", "A/B", code)
        == "https://gr.example.cn/01/06901234567892/10/A%2FB"
    )
    assert qr.batch_url("https://gr.example.cn", None, "GF2026-001", code.lower()) == (
        f"HTTPS://GR.EXAMPLE.CN/B/{code}"
    )
    with pytest.raises(InvalidInput, match="check digit"):
        qr.batch_url("https://gr.example.cn", "06901234567891", "GF2026-001", code)
    with pytest.raises(InvalidInput, match="lot code"):
        qr.batch_url("https://gr.example.cn", "06901234567892", "A B", code)


# --- symbols --------------------------------------------------------------------------------


@pytest.mark.parametrize("base", BASES_30)
@pytest.mark.parametrize("body_length", [8, 10])  # codes are 9 to 11 characters
def test_a_30_character_base_url_gives_version_4_or_lower(base, body_length):
    assert len(base) == 30
    url = qr.stream_url(base, _code(body_length))
    symbol = qr.encode(url)
    assert symbol.version <= 4, (
        f"{url} ({len(url)} chars, {symbol.mode}) is version {symbol.version}"
    )
    found = decode_one(png_image(qr.render_png(url, box_size=4)), url)
    assert found.extra["Version"] == str(symbol.version), "zxing reads another version"


@pytest.mark.parametrize("base", BASES)
def test_the_smallest_version_at_error_correction_q(base):
    url = qr.stream_url(base, _code())
    symbol = qr.encode(url)
    assert symbol.width == 17 + 4 * symbol.version
    found = decode_one(png_image(qr.render_png(url, box_size=5)), url)
    assert found.ec_level == "Q", f"error correction {found.ec_level}, expected Q"
    if symbol.version > 1:  # one version smaller must not hold the data in the same mode
        smaller = qrcode.QRCode(
            version=symbol.version - 1, error_correction=qrcode.constants.ERROR_CORRECT_Q
        )
        mode = MODE_ALPHA_NUM if symbol.mode is qr.Mode.ALPHANUMERIC else MODE_8BIT_BYTE
        smaller.add_data(QRData(url.encode(), mode=mode))
        with pytest.raises(DataOverflowError):
            smaller.make(fit=False)


def test_alphanumeric_mode_makes_a_smaller_symbol_than_byte_mode():
    code = _code()
    upper = qr.stream_url("https://danbao-registry.gov.cn", code)
    lower = f"https://danbao-registry.gov.cn/e/{code.lower()}"
    assert qr.encode(upper).version < qr.encode(lower).version


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("width", [64, 200, 333, 1024, 2048])
def test_stream_png_decodes_to_its_url_with_a_full_quiet_zone(base, width):
    url = qr.stream_url(base, _code())
    image = png_image(qr.render_png(url, width=width))
    assert image.size == (width, width)
    symbol = qr.encode(url)
    box = width // symbol.width_with_quiet_zone
    assert box >= 1
    pixels = image.convert("L")
    quiet = qr.QUIET_ZONE * box
    for side in (  # the outer 4 modules are light on every side
        (0, 0, width, quiet),
        (0, width - quiet, width, width),
        (0, 0, quiet, width),
        (width - quiet, 0, width, width),
    ):
        assert pixels.crop(side).getextrema() == (255, 255), f"dark pixel in quiet zone {side}"
    # ... and the symbol starts right inside it: the finder pattern's dark corner.
    margin = (width - symbol.width * box) // 2
    assert margin >= quiet and pixels.getpixel((margin, margin)) == 0
    decode_one(image, url)


def test_png_width_is_clamped():
    url = qr.stream_url("http://127.0.0.1:8000", _code())
    assert png_image(qr.render_png(url, width=10)).size == (64, 64)
    assert png_image(qr.render_png(url, width=99999)).size == (2048, 2048)
    with pytest.raises(ValueError):
        qr.render_png(url, box_size=0)


@pytest.mark.parametrize("base", BASES)
def test_stream_svg_rasterised_decodes_and_matches_the_symbol(base):
    url = qr.stream_url(base, _code())
    svg = qr.render_svg(url)
    symbol = qr.encode(url)
    n = symbol.width_with_quiet_zone
    # One pixel per module: the picture is exactly the module matrix inside the quiet zone.
    exact = rasterise_svg(svg, 1)
    assert exact.size == (n, n)
    for y in range(n):
        for x in range(n):
            inside = (
                qr.QUIET_ZONE <= x < n - qr.QUIET_ZONE and qr.QUIET_ZONE <= y < n - qr.QUIET_ZONE
            )
            dark = inside and symbol.modules[y - qr.QUIET_ZONE][x - qr.QUIET_ZONE]
            assert exact.getpixel((x, y)) == (0 if dark else 255), f"module ({x}, {y}) differs"
    decode_one(rasterise_svg(svg, 6), url)


def test_svg_title_is_escaped_and_size_is_optional():
    url = qr.stream_url("http://127.0.0.1:8000", _code())
    svg = qr.render_svg(url, pixels=300, title='<a & "b">')
    root = ET.fromstring(svg)
    assert root.attrib["width"] == "300" and root.attrib["shape-rendering"] == "crispEdges"
    assert root.find(SVG_NS + "title").text == '<a & "b">'
    assert "width" not in ET.fromstring(qr.render_svg(url)).attrib


@pytest.mark.parametrize(
    ("gtin", "lot"),
    [("06901234567892", "GF2026-001"), ("6901234567908", "SX2026-1101"), (None, "PY-ROSE-0521")],
)
def test_batch_label_qr_decodes_to_its_digital_link_or_batch_url(gtin, lot):
    code = _code()
    url = qr.batch_url("http://127.0.0.1:8000", gtin, lot, code)
    decode_one(png_image(qr.render_png(url, width=400)), url)
    decode_one(rasterise_svg(qr.render_svg(url), 5), url)
    if gtin is None:
        assert url.endswith(f"/B/{code}") and qr.encode(url).mode is qr.Mode.ALPHANUMERIC
    else:
        assert "/01/" in url and url.endswith(f"/10/{lot}")


# --- through a compressed 720p livestream ---------------------------------------------------


def stream_frame(qr_png: bytes, seed: int, at: tuple[int, int]) -> Image.Image:
    """The QR as a viewer's phone sees it on a 720p stream: pasted on a noisy frame, blurred
    a little, JPEG-compressed at quality 30 with 4:2:0 chroma subsampling."""
    rng = random.Random(seed)
    frame = Image.frombytes("RGB", (1280, 720), rng.randbytes(1280 * 720 * 3))
    frame.paste(png_image(qr_png).convert("RGB"), at)
    frame = frame.filter(ImageFilter.GaussianBlur(radius=0.8))
    buffer = io.BytesIO()
    frame.save(buffer, format="JPEG", quality=30, subsampling="4:2:0")
    return Image.open(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stream_qr_decodes_at_3_pixels_per_module_on_a_compressed_720p_frame(base, seed):
    url = qr.stream_url(base, _code())
    png = qr.render_png(url, box_size=3)
    size = png_image(png).size[0]
    assert size == 3 * qr.encode(url).width_with_quiet_zone
    rng = random.Random(seed)
    at = (rng.randrange(0, 1280 - size), rng.randrange(0, 720 - size))
    decode_one(stream_frame(png, seed, at), url)


# --- the cache ------------------------------------------------------------------------------


def test_cache_renders_each_key_once_and_returns_identical_bytes():
    cache = qr.QRCache(maxsize=8)
    url = qr.stream_url("http://127.0.0.1:8000", _code())
    first = cache.png(url, 300)
    again = cache.png(url, 300)
    assert again is first and cache.renders == 1
    assert first.etag == again.etag and first.media_type == "image/png"
    assert first.version == qr.encode(url).version
    cache.png(url, 10)
    cache.png(url, 64)  # clamped to the same key as 10
    assert cache.renders == 2
    svg = cache.svg(url)
    assert svg.media_type == "image/svg+xml" and svg.body == qr.render_svg(url).encode()
    assert cache.renders == 3


def test_cache_is_lru_bounded():
    cache = qr.QRCache(maxsize=2)
    urls = [qr.stream_url("http://127.0.0.1:8000", _code()) for _ in range(3)]
    first = cache.svg(urls[0])
    cache.svg(urls[1])
    cache.svg(urls[0])  # touch: urls[1] is now the least recently used
    cache.svg(urls[2])
    assert len(cache) == 2
    assert cache.svg(urls[0]) is first, "the recently used entry was evicted"
    renders = cache.renders
    cache.svg(urls[1])
    assert cache.renders == renders + 1, "the least recently used entry was kept"


def test_cache_is_thread_safe():
    cache = qr.QRCache(maxsize=16)
    urls = [qr.stream_url("http://127.0.0.1:8000", _code()) for _ in range(4)]
    results: dict[int, list[bytes]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(n: int) -> None:
        try:
            barrier.wait()
            results[n] = [cache.png(u, 256).body for u in urls for _ in range(5)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len({tuple(r) for r in results.values()}) == 1, "threads got different images"
    assert len(cache) == 4
    assert cache.renders <= 8 * 4, "renders were repeated beyond the first concurrent miss"
