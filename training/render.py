"""Render labelled digit captchas of great variety, seeded and reproducible.

A captcha is a pipeline of small steps, each a function of one ``random.Random``:

    canvas -> background -> digits (glyph styles) -> text warps -> noise -> finish -> encoding

drawn again from the start while the result is not ``legible`` to a person.

Each list below (BACKGROUNDS, GLYPH_STYLES, TEXT_WARPS, NOISES, FINISHES) holds
``(weight, step)`` pairs; a new distortion is one small function added to a list. Every step
draws its randomness from the ``rng`` it is given, so ``render_captcha(random.Random(seed))``
makes the same captcha on every run (given the same fonts).
"""

import colorsys
import functools
import io
import math
import random
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .fonts import faces

LENGTH_WEIGHTS = {3: 1, 4: 6, 5: 3, 6: 2, 7: 1, 8: 1}
MAX_BYTES = 256_000  # sites serve captchas of a few kB; a noisy large canvas in PNG can exceed what the service reads


@dataclass(frozen=True)
class Captcha:
    """One rendered captcha: the digits it shows and the image as a site would serve it."""

    digits: str
    data: bytes
    format: str


@dataclass
class Scene:
    """What the steps share while one captcha is drawn."""

    rng: random.Random
    width: int
    height: int
    band: tuple  # (left, top, right, bottom) where the digits go
    dark_background: bool
    background_colour: tuple
    ink_colours: list
    transparent: bool = False
    cut: int = 0  # the text runs off the right (1) or left (-1) edge
    fonts: tuple = field(default_factory=lambda: faces(None))  # what the digits and pale letters are drawn in

    def ink(self):
        return self.rng.choice(self.ink_colours)

    def noise_colour(self):
        """Noise is drawn in the digits' colours or in others of the same polarity, to be confusable."""
        return self.ink() if self.rng.random() < 0.6 else _colour(self.rng, dark=not self.dark_background)


def render_captcha(rng, digits=None, held_out=False):
    """A random captcha showing ``digits`` (default: random digits of a random length 3-8).

    ``held_out``: False, as training draws them, never in a held-out family; True, one of the held-out families
    (validation: in a held-out font family, ``fonts.HELD_OUT_SHARE``, with one of HELD_OUT_NOISES over the text);
    None, either, as the renderer drew before families were held out (the int8 copy of ddddocr's model is
    calibrated on those: training/quantize.py).
    """
    if digits is None:
        digits = random_digits(rng)
    while True:  # drawn again until a person could read it: a label nobody can see teaches guessing
        scene, layers, frames = _draw(rng, digits, held_out)
        if len(frames) > 1 or legible(layers, frames[0]):  # an animation shows each digit whole in some frame
            captcha = _encode(scene, frames, digits)
            if len(captcha.data) <= MAX_BYTES:
                return captcha


def _draw(rng, digits, held_out=False):
    """One drawing of the pipeline before encoding: its scene, the digits' layers, and the frames."""
    scene = _scene(rng, faces(held_out))
    noises = [entry for entry in NOISES if held_out is not False or entry[1] not in HELD_OUT_NOISES]
    image = _pick(rng, BACKGROUNDS)(scene)
    layers = _draw_digits(scene, digits)
    for warp in _some(rng, TEXT_WARPS, most=2):
        layers = [warp(scene, layer) for layer in layers]
    for noise in _some(rng, noises, most=3, under_text=True):
        noise(scene, image)
    frames = _composite(scene, image, layers)
    over_text = _some(rng, noises, most=3) + ([rng.choice(HELD_OUT_NOISES)] if held_out else [])
    for noise in over_text:
        before = rng.getstate()
        for frame in frames:  # the same noise on every frame of an animation
            rng.setstate(before)
            noise(scene, frame)
    for finish in _some(rng, FINISHES, most=2):
        frames = [finish(scene, frame) for frame in frames]
    return scene, layers, frames


def random_digits(rng):
    length = rng.choices(list(LENGTH_WEIGHTS), weights=list(LENGTH_WEIGHTS.values()))[0]
    return "".join(rng.choice("0123456789") for _ in range(length))


# ---------------------------------------------------------------- canvas and colours


def _scene(rng, fonts):
    width, height, band = _pick(rng, CANVASES)(rng)
    cut = 0
    if rng.random() < 0.08:  # the last (or first) digit partly cut by the image's edge
        cut = 1 if rng.random() < 0.7 else -1
        overflow = int((band[3] - band[1]) * rng.uniform(0.1, 0.3))
        band = (band[0], band[1], width + overflow, band[3]) if cut > 0 else (-overflow, band[1], band[2], band[3])
    dark = rng.random() < 0.3
    background = _colour(rng, dark=dark)
    inks = [_colour(rng, dark=not dark) for _ in range(rng.choice((1, 1, 2, 4, 6)))]
    return Scene(rng, width, height, band, dark, background, inks, cut=cut, fonts=fonts)


def filled_canvas(rng):
    """A canvas of any size, from a thumbnail strip to a tall box, the digits across most of it."""
    height = int(round(math.exp(rng.uniform(math.log(20), math.log(110)))))
    width = min(400, max(60, int(height * rng.uniform(1.8, 5.0))))
    height = min(height, width)
    margin_x, margin_y = int(width * rng.uniform(0.02, 0.12)), int(height * rng.uniform(0.02, 0.15))
    shift = int(width * rng.uniform(0.05, 0.25)) if rng.random() < 0.2 else 0  # digits off centre, one margin wide
    shift = shift if rng.random() < 0.5 else -shift
    return width, height, (margin_x + max(shift, 0), margin_y, width - margin_x + min(shift, 0), height - margin_y)


def banded_canvas(rng):
    """A large canvas with the digits in a band anywhere on it, from most of it to a small strip."""
    width, height = rng.randint(160, 640), rng.randint(60, 360)
    band_height = int(height * rng.uniform(0.15, 0.6))
    band_width = min(width, max(int(width * rng.uniform(0.25, 0.9)), int(band_height * 2.2)))
    left, top = rng.randint(0, width - band_width), rng.randint(0, height - band_height)
    return width, height, (left, top, left + band_width, top + band_height)


CANVASES = [(0.82, filled_canvas), (0.18, banded_canvas)]


def _colour(rng, dark):
    """A colour of any hue whose grey level is dark (< 110) or light (> 150).

    The model reads grey pictures, so contrast is ensured in luma, not in lightness: a
    saturated yellow of middling lightness is as light as the background in grey.
    """
    while True:
        lightness = rng.uniform(0.0, 0.5) if dark else rng.uniform(0.6, 1.0)
        saturation = rng.choice((0.0, rng.uniform(0.0, 1.0)))
        red, green, blue = (int(channel * 255) for channel in colorsys.hls_to_rgb(rng.random(), lightness, saturation))
        luma = 0.299 * red + 0.587 * green + 0.114 * blue
        if (luma < 110) if dark else (luma > 150):
            return (red, green, blue)


def _any_colour(rng):
    return _colour(rng, dark=rng.random() < 0.5)


def _pick(rng, weighted):
    return rng.choices([step for _, step in weighted], weights=[weight for weight, _ in weighted])[0]


def _some(rng, weighted, most, under_text=False):
    """Up to ``most`` different steps, each list entry chosen with probability ``weight``."""
    chosen = [step for weight, step in weighted if rng.random() < weight / (2.0 if under_text else 1.0)]
    rng.shuffle(chosen)
    return chosen[: rng.randint(0, most)]


# ---------------------------------------------------------------- backgrounds


def solid(scene):
    return Image.new("RGB", (scene.width, scene.height), scene.background_colour)


def gradient(scene):
    other = _colour(scene.rng, dark=scene.dark_background)
    t = np.linspace(0.0, 1.0, scene.width if scene.rng.random() < 0.7 else scene.height)
    ramp = np.outer(1 - t, scene.background_colour) + np.outer(t, other)
    if len(t) == scene.width:
        pixels = np.broadcast_to(ramp[np.newaxis], (scene.height, scene.width, 3))
    else:
        pixels = np.broadcast_to(ramp[:, np.newaxis], (scene.height, scene.width, 3))
    return Image.fromarray(np.ascontiguousarray(pixels).astype(np.uint8))


def texture(scene):
    """Smooth random blotches of background colours (paper, clouds, camouflage)."""
    rng = scene.rng
    coarse = np.random.default_rng(rng.getrandbits(32)).random((rng.randint(2, 8), rng.randint(3, 16)))
    field = (
        np.asarray(
            Image.fromarray((coarse * 255).astype(np.uint8)).resize(
                (scene.width, scene.height), Image.Resampling.BICUBIC
            ),
            dtype=np.float64,
        )
        / 255
    )
    other = np.array(_colour(rng, dark=scene.dark_background), dtype=np.float64)
    pixels = np.array(scene.background_colour, dtype=np.float64) * (1 - field[..., None]) + other * field[..., None]
    return Image.fromarray(pixels.astype(np.uint8))


def speckle(scene):
    """Fine grain all over the background."""
    rng = np.random.default_rng(scene.rng.getrandbits(32))
    spread = scene.rng.uniform(8, 40)
    pixels = np.array(scene.background_colour, dtype=np.float64) + rng.normal(0, spread, (scene.height, scene.width, 1))
    return Image.fromarray(np.clip(np.broadcast_to(pixels, (scene.height, scene.width, 3)), 0, 255).astype(np.uint8))


def stripes(scene):
    image = solid(scene)
    draw = ImageDraw.Draw(image)
    other = _colour(scene.rng, dark=scene.dark_background)
    period = scene.rng.randint(3, 14)
    slope = scene.rng.uniform(-1.5, 1.5)
    for offset in range(-scene.height * 2, scene.width + scene.height * 2, period):
        draw.line([(offset, 0), (offset + slope * scene.height, scene.height)], fill=other, width=max(1, period // 3))
    return image


def coloured_band(scene):
    """A plain canvas with a rectangle of another colour behind the digits."""
    image = Image.new("RGB", (scene.width, scene.height), _any_colour(scene.rng))
    left, top, right, bottom = scene.band
    ImageDraw.Draw(image).rectangle([left - 2, top - 2, right + 2, bottom + 2], fill=scene.background_colour)
    return image


BACKGROUNDS = [(5, solid), (2, gradient), (2, texture), (1.5, speckle), (0.7, stripes), (0.8, coloured_band)]


# ---------------------------------------------------------------- digits


def _draw_digits(scene, digits):
    """One RGBA layer per digit position, canvas-sized, placed along the band."""
    rng = scene.rng
    fonts = scene.fonts
    one_font = rng.random() < 0.75
    font_path = rng.choice(fonts)
    style = _pick(rng, GLYPH_STYLES)
    glyphs = []
    for digit in digits:
        path = font_path if one_font else rng.choice(fonts)
        glyphs.append(style(scene, _glyph(scene, digit, path)))
    left, top, right, bottom = scene.band
    band_width, band_height = right - left, bottom - top
    spacing = rng.uniform(-0.2, 0.45) if rng.random() < 0.8 else rng.uniform(0.5, 1.5)  # touching to far apart
    gaps = [max(-0.3, spacing + rng.uniform(-0.1, 0.1)) for _ in glyphs]
    if rng.random() < 0.3:  # each digit its own size
        glyphs = [_scaled(glyph, rng.uniform(0.6, 1.0)) for glyph in glyphs]
    heights = [glyph.height for glyph in glyphs]
    natural_width = sum(g.width for g in glyphs) + sum(gap * g.width for gap, g in zip(gaps[1:], glyphs[1:]))
    scale = min(band_width / max(natural_width, 1), band_height / max(max(heights), 1)) * rng.uniform(0.75, 1.0)
    scale = max(scale, 0.05)
    total = natural_width * scale
    slack = max(0.0, band_width - total)
    x = left + {1: slack, -1: 0.0}.get(scene.cut, rng.uniform(0, slack))
    line_height = max(heights) * scale
    # the digits keep to a line, each a little off it
    line_top = top + rng.uniform(0, max(0.0, band_height - line_height))
    layers = []
    for index, (glyph, gap) in enumerate(zip(glyphs, gaps)):
        size = (max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale)))
        glyph = glyph.resize(size, Image.Resampling.LANCZOS)
        if index:
            x += gap * glyph.width
        y = (
            line_top + rng.uniform(0, line_height - glyph.height)
            if rng.random() < 0.7
            else top + rng.uniform(0, max(0.0, band_height - glyph.height))
        )
        layer = Image.new("RGBA", (scene.width, scene.height), (0, 0, 0, 0))
        layer.paste(glyph, (int(round(x)), int(round(y))), glyph)
        layers.append(layer)
        x += glyph.width
    return layers


def _glyph(scene, digit, font_path):
    """A digit on a tight transparent canvas, in one ink colour, rotated, sheared, squeezed."""
    rng = scene.rng
    font = _font(font_path)
    box = font.getbbox(digit)
    pad = 16
    canvas = Image.new("L", (box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad))
    stroke = rng.choice((0, 0, 0, 1, 2, 3))
    ImageDraw.Draw(canvas).text(
        (pad - box[0], pad - box[1]), digit, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    squeeze = rng.uniform(0.6, 1.4)
    canvas = canvas.resize((max(1, int(canvas.width * squeeze)), canvas.height), Image.Resampling.BILINEAR)
    shear = rng.uniform(-0.35, 0.35) if rng.random() < 0.4 else 0.0
    if shear:
        extra = int(abs(shear) * canvas.height)
        canvas = canvas.transform(
            (canvas.width + extra, canvas.height),
            Image.Transform.AFFINE,
            (1, shear, -extra if shear > 0 else 0, 0, 1, 0),
            resample=Image.Resampling.BILINEAR,
        )
    angle = rng.gauss(0, 12) if rng.random() < 0.7 else 0.0
    if angle:
        canvas = canvas.rotate(max(-40, min(40, angle)), resample=Image.Resampling.BILINEAR, expand=True)
    bbox = canvas.getbbox() or (0, 0, 1, 1)
    mask = canvas.crop(bbox)
    glyph = Image.new("RGBA", mask.size, scene.ink() + (255,))
    glyph.putalpha(mask)
    return glyph


def _scaled(glyph, factor):
    return glyph.resize(
        (max(1, round(glyph.width * factor)), max(1, round(glyph.height * factor))), Image.Resampling.LANCZOS
    )


@functools.lru_cache(maxsize=512)
def _font(path, size=64):
    return ImageFont.truetype(str(path), size)


def plain(scene, glyph):
    return glyph


def hollow(scene, glyph):
    """Outline only: the edge of the glyph."""
    alpha = glyph.getchannel("A")
    grown = np.asarray(alpha.filter(ImageFilter.MaxFilter(3)), dtype=np.int16)
    shrunk = np.asarray(alpha.filter(ImageFilter.MinFilter(5)), dtype=np.int16)
    edge = Image.fromarray(np.clip(grown - shrunk, 0, 255).astype(np.uint8))
    glyph = glyph.copy()
    glyph.putalpha(edge)
    return glyph


def shadowed(scene, glyph):
    """A blurred, offset copy behind the glyph (kaptcha-like)."""
    offset = scene.rng.randint(1, 4)
    shadow = Image.new("RGBA", (glyph.width + offset * 2, glyph.height + offset * 2), (0, 0, 0, 0))
    tint = Image.new("RGBA", glyph.size, _colour(scene.rng, dark=not scene.dark_background) + (255,))
    tint.putalpha(glyph.getchannel("A"))
    shadow.alpha_composite(tint, (offset * 2, offset * 2))
    shadow = shadow.filter(ImageFilter.GaussianBlur(offset / 2))
    shadow.alpha_composite(glyph, (0, 0))
    return shadow


def dotted(scene, glyph):
    """The glyph drawn in dots on a grid, as some sites do (alpha masked by a dot pattern)."""
    rng = scene.rng
    period = rng.randint(3, 6)
    radius = period * rng.uniform(0.25, 0.45)
    ys, xs = np.mgrid[0 : glyph.height, 0 : glyph.width]
    phase_x, phase_y = rng.uniform(0, period), rng.uniform(0, period)
    dx = (xs + phase_x) % period - period / 2
    dy = (ys + phase_y) % period - period / 2
    dots = (dx * dx + dy * dy) <= radius * radius
    alpha = np.asarray(glyph.getchannel("A")) * dots
    glyph = glyph.copy()
    glyph.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    return glyph


def two_tone(scene, glyph):
    """Ink that changes colour from top to bottom."""
    other = _colour(scene.rng, dark=not scene.dark_background)
    first = np.asarray(glyph, dtype=np.float64)
    t = np.linspace(0, 1, glyph.height)[:, None, None]
    rgb = first[..., :3] * (1 - t) + np.array(other) * t
    return Image.fromarray(np.dstack([rgb, first[..., 3:]]).astype(np.uint8), "RGBA")


def outlined(scene, glyph):
    """A thick outline in the ink around a paler inside (EasyCaptcha's comic glyphs)."""
    rng = scene.rng
    edge = rng.choice((5, 7, 9))
    padded = Image.new("L", (glyph.width + 2 * edge, glyph.height + 2 * edge))
    padded.paste(glyph.getchannel("A"), (edge, edge))
    inside = np.asarray(padded.filter(ImageFilter.MinFilter(edge)))[..., None] > 127
    ink = np.array(glyph.getpixel((0, 0))[:3], dtype=np.float64)  # the glyph's one ink colour
    pale = ink + (np.array(scene.background_colour) - ink) * rng.uniform(0.4, 0.85)
    rgb = np.where(inside, pale, ink).astype(np.uint8)
    alpha = np.asarray(padded.filter(ImageFilter.MaxFilter(edge)))
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def pixelated(scene, glyph):
    """A bitmap font's digit: the glyph on a coarse grid of hard pixels, shown enlarged."""
    rows = scene.rng.randint(7, 14)
    alpha = glyph.getchannel("A")
    small = alpha.resize((max(3, round(alpha.width * rows / alpha.height)), rows), Image.Resampling.BILINEAR)
    hard = small.point(lambda level: 255 if level > 100 else 0)
    glyph = glyph.copy()
    glyph.putalpha(hard.resize(alpha.size, Image.Resampling.NEAREST))
    return glyph


GLYPH_STYLES = [
    (10, plain),
    (0.8, hollow),
    (0.8, outlined),
    (1.2, shadowed),
    (0.8, dotted),
    (1, two_tone),
    (0.8, pixelated),
]


# ---------------------------------------------------------------- warps of the digits' layers


def _mesh_warp(layer, displace, cells=(16, 6)):
    """Warp by a smooth displacement field sampled on a mesh of quads."""
    width, height = layer.size
    columns, rows = cells
    mesh = []
    for row in range(rows):
        for column in range(columns):
            x0, x1 = width * column // columns, width * (column + 1) // columns
            y0, y1 = height * row // rows, height * (row + 1) // rows
            corners = [(x0, y0), (x0, y1), (x1, y1), (x1, y0)]
            quad = []
            for x, y in corners:
                dx, dy = displace(x, y)
                quad += [x + dx, y + dy]
            mesh.append(((x0, y0, x1, y1), quad))
    return layer.transform(layer.size, Image.Transform.MESH, mesh, resample=Image.Resampling.BILINEAR)


def wave(scene, layer):
    rng = scene.rng
    amplitude = scene.height * rng.uniform(0.02, 0.1)
    period = scene.width * rng.uniform(0.3, 1.2)
    phase = rng.uniform(0, 2 * math.pi)
    return _mesh_warp(layer, lambda x, y: (0.0, amplitude * math.sin(2 * math.pi * x / period + phase)), cells=(24, 1))


def elastic(scene, layer):
    rng = scene.rng
    strength = scene.height * rng.uniform(0.02, 0.08)
    knots = {(i, j): (rng.uniform(-1, 1), rng.uniform(-1, 1)) for i in range(5) for j in range(4)}

    def displace(x, y):
        i, j = round(4 * x / scene.width), round(3 * y / scene.height)
        dx, dy = knots[(i, j)]
        return dx * strength, dy * strength

    return _mesh_warp(layer, displace, cells=(8, 6))


def perspective(scene, layer):
    rng = scene.rng
    tilt = rng.uniform(-0.15, 0.15)
    lean = rng.uniform(-0.2, 0.2)
    return _mesh_warp(
        layer,
        lambda x, y: (lean * (y - scene.height / 2), tilt * (x - scene.width / 2) * (y / scene.height - 0.5)),
        cells=(4, 2),
    )


TEXT_WARPS = [(0.35, wave), (0.3, elastic), (0.2, perspective)]


# ---------------------------------------------------------------- noise (under or over the digits)


def _random_point(scene, in_band=True):
    left, top, right, bottom = scene.band if in_band else (0, 0, scene.width, scene.height)
    return (scene.rng.uniform(left, right), scene.rng.uniform(top, bottom))


def _line_width(scene):
    return max(1, int(scene.height * scene.rng.uniform(0.01, 0.06)))


def lines(scene, image):
    draw = ImageDraw.Draw(image)
    for _ in range(scene.rng.randint(1, 6)):
        draw.line(
            [_random_point(scene, False), _random_point(scene, False)],
            fill=scene.noise_colour(),
            width=_line_width(scene),
        )


def arcs(scene, image):
    draw = ImageDraw.Draw(image)
    for _ in range(scene.rng.randint(1, 4)):
        x, y = _random_point(scene)
        rx, ry = scene.width * scene.rng.uniform(0.1, 0.8), scene.height * scene.rng.uniform(0.2, 1.2)
        start = scene.rng.uniform(0, 360)
        draw.arc(
            [x - rx, y - ry, x + rx, y + ry],
            start,
            start + scene.rng.uniform(60, 300),
            fill=scene.noise_colour(),
            width=_line_width(scene),
        )


def curve_through(scene, image):
    """A long smooth curve across the digits (captcha-style)."""
    rng = scene.rng
    left, top, right, bottom = scene.band
    amplitude = (bottom - top) * rng.uniform(0.1, 0.5)
    period = (right - left) * rng.uniform(0.4, 1.5)
    phase, middle = rng.uniform(0, 2 * math.pi), rng.uniform(top, bottom)
    xs = np.linspace(left - 5, right + 5, 60)
    points = [(float(x), float(middle + amplitude * math.sin(2 * math.pi * x / period + phase))) for x in xs]
    ImageDraw.Draw(image).line(points, fill=scene.noise_colour(), width=_line_width(scene) + rng.randint(0, 2))


def bezier(scene, image):
    """A cubic curve from a side margin across the canvas, hooks and loops included (kaptcha's noise)."""
    rng = scene.rng
    start_x = rng.uniform(0, scene.band[0] + 1) if rng.random() < 0.5 else rng.uniform(scene.band[2] - 1, scene.width)
    end_x = scene.width - start_x + rng.uniform(-0.2, 0.2) * scene.width
    controls = [
        (start_x, rng.uniform(0, scene.height)),
        _random_point(scene, False),
        _random_point(scene, False),
        (end_x, rng.uniform(0, scene.height)),
    ]
    points = []
    for t in np.linspace(0, 1, 50):
        weights = ((1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3)
        points.append(tuple(float(sum(w * point[axis] for w, point in zip(weights, controls))) for axis in (0, 1)))
    ImageDraw.Draw(image).line(points, fill=scene.noise_colour(), width=_line_width(scene), joint="curve")


def bubbles(scene, image):
    """Rings of many sizes, some over the digits (EasyCaptcha's circles)."""
    draw = ImageDraw.Draw(image)
    for _ in range(scene.rng.randint(3, 14)):
        x, y = _random_point(scene, False)
        radius = scene.height * scene.rng.uniform(0.04, 0.3)
        draw.ellipse(
            [x - radius, y - radius, x + radius, y + radius],
            outline=scene.noise_colour(),
            width=max(1, _line_width(scene) // 2),
        )


def dots(scene, image):
    draw = ImageDraw.Draw(image)
    count = int(scene.width * scene.height * scene.rng.uniform(0.002, 0.03))
    radius = max(0.5, scene.height * scene.rng.uniform(0.005, 0.03))
    for _ in range(count):
        x, y = _random_point(scene, False)
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=scene.noise_colour())


def confetti(scene, image):
    """Small shapes of many colours all over (both polarities)."""
    draw = ImageDraw.Draw(image)
    size = scene.height * scene.rng.uniform(0.03, 0.12)
    for _ in range(scene.rng.choice((scene.rng.randint(8, 35), scene.rng.randint(50, 300)))):
        x, y = _random_point(scene, False)
        colour = _any_colour(scene.rng)
        if scene.rng.random() < 0.5:
            draw.rectangle(
                [x, y, x + size * scene.rng.uniform(0.3, 1), y + size * scene.rng.uniform(0.3, 1)], fill=colour
            )
        else:
            draw.polygon(
                [
                    (x, y),
                    (x + size, y + scene.rng.uniform(-size, size)),
                    (x + scene.rng.uniform(-size, size), y + size),
                ],
                fill=colour,
            )


def grid(scene, image):
    draw = ImageDraw.Draw(image)
    colour = scene.noise_colour()
    step = max(4, int(scene.height * scene.rng.uniform(0.12, 0.3)))
    width = max(1, step // scene.rng.randint(5, 10))
    for x in range(scene.rng.randint(0, step), scene.width, step):
        draw.line([(x, 0), (x, scene.height)], fill=colour, width=width)
    for y in range(scene.rng.randint(0, step), scene.height, step):
        draw.line([(0, y), (scene.width, y)], fill=colour, width=width)


def hatching(scene, image):
    draw = ImageDraw.Draw(image)
    colour = scene.noise_colour()
    step = scene.rng.randint(3, 10)
    slope = scene.rng.choice((-1, 1)) * scene.rng.uniform(0.5, 2)
    for offset in range(-3 * scene.height, scene.width + 3 * scene.height, step):
        draw.line([(offset, 0), (offset + slope * scene.height, scene.height)], fill=colour, width=1)


def salt_and_pepper(scene, image):
    pixels = np.asarray(image).copy()
    rng = np.random.default_rng(scene.rng.getrandbits(32))
    where = rng.random(pixels.shape[:2]) < scene.rng.uniform(0.01, 0.12)
    pixels[where] = rng.integers(0, 256, (int(where.sum()), pixels.shape[2]))
    image.paste(Image.fromarray(pixels, image.mode))


def segments(scene, image):
    """Many short strokes of many colours all over, some crossing the digits."""
    draw = ImageDraw.Draw(image)
    length = scene.height * scene.rng.uniform(0.05, 0.4)
    for _ in range(scene.rng.randint(20, 200)):
        x, y = _random_point(scene, False)
        angle = scene.rng.uniform(0, math.pi)
        end = (x + length * math.cos(angle), y + length * math.sin(angle))
        draw.line(
            [(x, y), end],
            fill=scene.noise_colour() if scene.rng.random() < 0.5 else _any_colour(scene.rng),
            width=scene.rng.choice((1, 1, 2)),
        )


def ovals(scene, image):
    """Thin ellipses of any size and colour, many crossing the digits."""
    draw = ImageDraw.Draw(image)
    for _ in range(scene.rng.randint(5, 30)):
        x, y = _random_point(scene, False)
        rx, ry = scene.width * scene.rng.uniform(0.02, 0.3), scene.height * scene.rng.uniform(0.05, 0.5)
        draw.ellipse(
            [x - rx, y - ry, x + rx, y + ry], outline=_any_colour(scene.rng), width=scene.rng.choice((1, 1, 2))
        )


def spiral(scene, image):
    rng = scene.rng
    centre_x, centre_y = _random_point(scene, False)
    turns, reach = rng.uniform(1.5, 5), max(scene.width, scene.height) * rng.uniform(0.3, 0.8)
    points = []
    for t in np.linspace(0, 1, 200):
        angle = 2 * math.pi * turns * t
        points.append(
            (
                centre_x + reach * t * math.cos(angle),
                centre_y + reach * t * math.sin(angle) * scene.height / scene.width,
            )
        )
    ImageDraw.Draw(image).line(points, fill=scene.noise_colour(), width=_line_width(scene))


def thick_curve(scene, image):
    """A heavy stroke in the digits' own ink through the band, as thick as their strokes."""
    rng = scene.rng
    left, top, right, bottom = scene.band
    middle, amplitude = rng.uniform(top, bottom), (bottom - top) * rng.uniform(0.05, 0.35)
    period, phase = (right - left) * rng.uniform(0.5, 2.0), rng.uniform(0, 2 * math.pi)
    xs = np.linspace(min(left, 0), max(right, scene.width), 80)
    points = [(float(x), float(middle + amplitude * math.sin(2 * math.pi * x / period + phase))) for x in xs]
    width = max(2, int((bottom - top) * rng.uniform(0.06, 0.14)))
    ImageDraw.Draw(image).line(points, fill=scene.ink(), width=width, joint="curve")


def pale_glyphs(scene, image):
    """Pale letters and digits strewn behind the text: shapes like digits that are not the answer."""
    rng = scene.rng
    fonts = scene.fonts
    for _ in range(rng.randint(3, 20)):
        character = rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabdefghkmnpqrtwxyz0123456789")
        font = _font(rng.choice(fonts), max(6, int(scene.height * rng.uniform(0.15, 0.6)) // 4 * 4))
        ink = np.array(scene.ink(), dtype=np.float64)
        pale = tuple(int(c) for c in ink + (np.array(scene.background_colour) - ink) * rng.uniform(0.7, 0.88))
        ImageDraw.Draw(image).text(_random_point(scene, False), character, font=font, fill=pale, anchor="mm")


NOISES = [
    (0.35, lines),
    (0.25, arcs),
    (0.3, curve_through),
    (0.2, bezier),
    (0.1, bubbles),
    (0.35, dots),
    (0.15, confetti),
    (0.1, grid),
    (0.08, hatching),
    (0.15, salt_and_pepper),
    (0.1, segments),
    (0.1, ovals),
    (0.05, spiral),
    (0.1, thick_curve),
    (0.1, pale_glyphs),
]
# Noises no training draws: the held-out families have one of them over the text (``render_captcha``).
HELD_OUT_NOISES = (spiral, hatching)


# ---------------------------------------------------------------- composition, finish, encoding


def _composite(scene, background, layers):
    """The frames of the captcha: usually one, sometimes an animation that reveals digits over time."""
    if not scene.dark_background and scene.rng.random() < 0.07:  # a reader flattens frames by their darkest ink
        return _reveal_frames(scene, background, layers)
    frame = background.convert("RGBA")
    for layer in layers:
        frame.alpha_composite(layer)
    return [frame.convert("RGB")]


def _reveal_frames(scene, background, layers):
    """EasyCaptcha-like animation: each frame shows the digits at different strengths; all appear in some frame."""
    count = scene.rng.randint(len(layers), len(layers) + 4)
    frames = []
    for index in range(count):
        frame = background.convert("RGBA")
        for position, layer in enumerate(layers):
            strength = (
                max(0.0, 1.0 - abs(index - position * count / len(layers)) / 2.0)
                if scene.rng.random() < 0.8
                else scene.rng.random()
            )
            if position == index % len(layers):
                strength = 1.0
            faded = layer.copy()
            faded.putalpha(Image.fromarray((np.asarray(layer.getchannel("A")) * strength).astype(np.uint8)))
            frame.alpha_composite(faded)
        frames.append(frame.convert("RGB"))
    return frames


def blur(scene, image):
    return image.filter(ImageFilter.GaussianBlur(scene.rng.uniform(0.3, 1.3)))


def resample(scene, image):
    """Scaled down and back up: pixelated or soft, as small captchas shown large are."""
    digit_height = (scene.band[3] - scene.band[1]) * 0.6
    factor = max(scene.rng.uniform(0.35, 0.8), min(1.0, 9 / digit_height))  # digits stay at least ~9 px tall
    small = image.resize(
        (max(8, int(image.width * factor)), max(8, int(image.height * factor))), Image.Resampling.BILINEAR
    )
    return small.resize(image.size, scene.rng.choice((Image.Resampling.NEAREST, Image.Resampling.BILINEAR)))


def sharpen(scene, image):
    return image.filter(ImageFilter.SHARPEN)


def low_contrast(scene, image):
    pixels = np.asarray(image, dtype=np.float64)
    mean = pixels.mean()
    return Image.fromarray(np.clip(mean + (pixels - mean) * scene.rng.uniform(0.45, 0.85), 0, 255).astype(np.uint8))


FINISHES = [(0.3, blur), (0.15, resample), (0.1, sharpen), (0.12, low_contrast)]


# ---------------------------------------------------------------- legibility


MIN_DIGIT_HEIGHT = 8  # pixels: smaller, a digit is a blur of a few pixels
MIN_DIGIT_SHARE = 0.12  # of the canvas's height: smaller, a person must search the picture for them
MIN_CONTRAST = 45  # grey levels between the digits' strokes and what lies around them
MIN_VISIBLE = 0.7  # share of the digits' pixels still nearer the ink than the background
MAX_CLUTTER = 0.4  # share of the pixels around the digits that look like ink
LOW_CONTRAST, MAX_CLUTTER_AT_LOW_CONTRAST = 100, 0.25  # less clutter is tolerated where the digits are faint


def legible(layers, frame):
    """Whether a person could still read the digits of ``layers`` in the finished ``frame``.

    Measured in grey, as the model sees it: the digits tall enough, their strokes apart from
    their surroundings, not covered by noise of the background's colour, not lost in noise of
    their own colour. The thresholds are set from a few hundred rendered captchas looked at by eye.
    """
    masks = [np.asarray(layer.getchannel("A")) > 127 for layer in layers]
    heights = [np.ptp(np.nonzero(mask.any(axis=1))[0]) + 1 for mask in masks if mask.any()]
    height = np.median(heights) if len(heights) == len(masks) else 0
    if height < max(MIN_DIGIT_HEIGHT, MIN_DIGIT_SHARE * frame.height):
        return False
    strokes = np.logical_or.reduce(masks)
    core = ~_max_filter(~strokes, 1)  # strokes less their edge
    if core.sum() < 20:
        core = strokes
    around = _max_filter(strokes, max(2, int(height * 0.3))) & ~_max_filter(strokes, 1)
    grey = np.asarray(frame.convert("L"), dtype=np.float64)
    ink, background = np.median(grey[core]), np.median(grey[around])
    contrast = abs(ink - background)
    inky = (grey < (ink + background) / 2) if ink < background else (grey > (ink + background) / 2)
    clutter = inky[around].mean()
    return bool(
        contrast >= MIN_CONTRAST
        and inky[strokes].mean() >= MIN_VISIBLE
        and clutter <= MAX_CLUTTER
        and not (clutter > MAX_CLUTTER_AT_LOW_CONTRAST and contrast < LOW_CONTRAST)
    )


def _max_filter(mask, radius):
    """A boolean mask grown by ``radius`` pixels (a square neighbourhood), in two passes of one axis each
    (PIL's MaxFilter costs the square of its size, and around tall digits the radius is tens of pixels)."""
    grown = mask
    for axis in (0, 1):
        padded = np.pad(grown, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)])
        grown = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1, axis=axis).any(axis=-1)
    return grown


def _encode(scene, frames, digits):
    rng = scene.rng
    if len(frames) > 1:
        buffer = io.BytesIO()
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
        return Captcha(digits, buffer.getvalue(), "GIF")
    frame = frames[0]
    kind = rng.choices(("JPEG", "PNG", "GIF", "TRANSPARENT"), weights=(45, 38, 9, 8))[0]
    buffer = io.BytesIO()
    if kind == "JPEG":
        frame.save(buffer, "JPEG", quality=rng.randint(25, 95))
    elif kind == "GIF":
        frame.convert("P", palette=Image.Palette.ADAPTIVE, colors=rng.choice((8, 16, 64, 256))).save(buffer, "GIF")
    elif kind == "TRANSPARENT":
        _transparent(scene, frame).save(buffer, "PNG")
        kind = "PNG"
    else:
        frame.save(buffer, "PNG")
    return Captcha(digits, buffer.getvalue(), kind)


def _transparent(scene, frame):
    """Background pixels made transparent (their colour kept, as real transparent captchas do)."""
    pixels = np.asarray(frame, dtype=np.int16)
    distance = np.abs(pixels - np.array(scene.background_colour)).sum(axis=2)
    alpha = np.where(distance < 90, 0, 255).astype(np.uint8)
    if scene.rng.random() < 0.5:  # transparent pixels that hide black or white behind them
        colour = np.array((0, 0, 0) if scene.rng.random() < 0.5 else (255, 255, 255), dtype=np.uint8)
        rgb = np.where(alpha[..., None] == 0, colour, pixels.astype(np.uint8))
    else:
        rgb = pixels.astype(np.uint8)
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")
