"""The hostile corpus: images that once crashed, froze or bloated the service, and what each must get.

Shared by tests/test_hostile.py (each is a 422 with its reason) and bench/load.py (the worst
case: the slowest and the most memory-hungry of them, timed against a real server).
"""

import base64
import io
import pathlib
import struct
import zlib

import numpy as np
from PIL import Image

# images, not test code: the tests read them too
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures"
KAPTCHA = FIXTURES / "java_kaptcha-100_3674.jpg"
GIF = FIXTURES / "java_easycaptcha_gif-0_8985.gif"
PNG = FIXTURES / "captcha_py-105_0093.png"


def encoded(data):
    return base64.b64encode(data).decode()


def saved(image, image_format, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_of(width, height, color_type, rows, chunks=()):
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0))
    return (
        b"\x89PNG\r\n\x1a\n"
        + header
        + b"".join(chunks)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def gif_frame(width, height, left=0, top=0):
    """A GIF frame written by hand: its descriptor and a stub of pixel data (only its size matters)."""
    return (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"
        + b"\x2c"
        + struct.pack("<HHHH", left, top, width, height)
        + b"\x00\x02\x02\x44\x01\x00"
    )


def many_frame_gif(frames, width=1, height=1):
    """A GIF of ``frames`` frames of ``width`` x ``height``, written by hand: PIL would take long to encode it."""
    return (
        b"GIF89a"
        + struct.pack("<HH", width, height)
        + b"\x80\x00\x00\x00\x00\x00\xff\xff\xff"
        + gif_frame(width, height) * frames
        + b"\x3b"
    )


def gif_growing_past_its_canvas(width, height):
    """A 100x40 GIF whose second frame is ``width`` x ``height``: Pillow grows the canvas when it seeks there."""
    first = saved(Image.new("L", (100, 40), 255), "GIF")
    return first[:-1] + gif_frame(width, height) + b"\x3b"


def mpo(first_size, second_size):
    """A multi-picture JPEG (as cameras write), which Pillow opens as a JPEG of two frames."""
    return saved(
        Image.new("RGB", first_size, "white"),
        "MPO",
        save_all=True,
        append_images=[Image.new("RGB", second_size, "white")],
    )


def mpo_claiming(width, height):
    """A small MPO whose second picture's header claims ``width`` x ``height`` (its data is a stub)."""
    data = mpo((200, 70), (16, 16))
    frame_of = data.find(b"\xff\xc0", data.find(b"\xff\xd8", 2))  # the second picture's start of frame
    return data[: frame_of + 5] + struct.pack(">HH", height, width) + data[frame_of + 9 :]


def progressive_jpeg_with_scans(extra_scans):
    """A 2000x2000 progressive JPEG with its last (tiny) scan repeated: libjpeg passes over the picture each time."""
    data = saved(Image.new("RGB", (2000, 2000), "white"), "JPEG", progressive=True)
    last_scan, end = data.rfind(b"\xff\xda"), data.rfind(b"\xff\xd9")
    return data[:end] + data[last_scan:end] * extra_scans + data[end:]


def kaptcha_as(mode, image_format):
    with Image.open(KAPTCHA) as image:
        return saved(image.convert(mode), image_format)


def sixteen_bit_png():
    with Image.open(KAPTCHA) as image:
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
    return saved(Image.fromarray(grey), "PNG")


def noise_png(width, height):
    return saved(Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)), "PNG")


IMAGE_CASES = [
    ("truncated-png", PNG.read_bytes()[:300], "damaged"),
    ("truncated-jpeg", KAPTCHA.read_bytes()[:700], "damaged"),
    ("truncated-gif", GIF.read_bytes()[:2000], "damaged"),
    ("zero-bytes", b"\x00" * 64, "not a decodable image"),
    ("one-by-one", saved(Image.new("RGB", (1, 1), "white"), "PNG"), "no reading of 4 digits"),
    ("text-file", b"username=admin\npassword=hunter2\n", "not a decodable image"),
    (
        "pdf",
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
        "not a decodable image",
    ),
    (
        "svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="60"><text y="40">1234</text></svg>',
        "not a decodable image",
    ),
    ("tiff-odd-mode", saved(Image.new("I;16", (160, 60)), "TIFF"), "not a decodable image"),
    ("palette-png-without-palette", png_of(16, 8, 3, b"\x00" + b"\x00" * 16 * 8), "damaged"),
    ("ten-thousand-frame-gif", many_frame_gif(10_000), "10000 frames; at most 64"),
    (
        "random-bytes",
        np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        "not a decodable image",
    ),
    ("claims-a-huge-canvas", png_of(100_000, 100_000, 0, b""), "pixels"),
    ("a-4000x1-strip", saved(Image.new("L", (4000, 1), 255), "PNG"), "not the shape of a captcha"),
    ("a-1x400-column", saved(Image.new("L", (1, 400), 255), "PNG"), "not the shape of a captcha"),
    ("over-max-image-bytes", noise_png(700, 600), "bytes; at most 1048576"),
    ("mpo-of-two-sizes", mpo((200, 70), (100, 35)), "frames differ in size"),
    ("mpo-with-a-huge-second-picture", mpo_claiming(13000, 13000), "169000000 pixels"),
    ("gif-growing-past-its-canvas", gif_growing_past_its_canvas(3000, 3000), "9000000 pixels"),
    ("sixty-four-frames-of-2000x2000", many_frame_gif(64, 2000, 2000), "pixels are decoded over all frames"),
    ("progressive-jpeg-of-70000-scans", progressive_jpeg_with_scans(70_000), "scans; at most 32"),
]


def animated_gif(frames, width, height):
    """A real animated GIF of ``frames`` frames, each a dark stripe at another place."""
    pictures = []
    for index in range(frames):
        picture = Image.new("L", (width, height), 255)
        picture.paste(0, (index * width // frames, 0, (index + 1) * width // frames, height))
        pictures.append(picture)
    return saved(pictures[0], "GIF", save_all=True, append_images=pictures[1:])


# Inputs within every limit that cost the most to decode: the worst a client can make us do.
HEAVY_BUT_ALLOWED = [
    ("progressive-jpeg-2000x2000-of-32-scans", progressive_jpeg_with_scans(22)),
    ("gif-of-32-frames-of-500x500", animated_gif(32, 500, 500)),
    ("png-of-2000x2000", saved(Image.new("L", (2000, 2000), 255), "PNG")),
]
DATA_URL_WITHOUT_A_COMMA = "data:" + "A" * 1_400_000
