"""Draw a sheet of rendered captchas, each with its label: python -m training.sample_sheet OUT.png [--seed S]."""

import argparse
import io
import random

from PIL import Image, ImageDraw, ImageFont

from captcha_service.ocr.images import decode_picture

from .fonts import digit_fonts
from .render import render_captcha

COLUMNS, ROWS = 6, 8
CELL_WIDTH, CELL_HEIGHT, CAPTION = 210, 96, 14


def shown(captcha):
    """The captcha as a person sees it: transparency over a check pattern, an animation as the service sees it."""
    image = Image.open(io.BytesIO(captcha.data))
    if getattr(image, "n_frames", 1) > 1:
        return decode_picture(captcha.data).convert("RGB")
    image = image.convert("RGBA")
    checks = Image.new("RGBA", image.size, (225, 225, 225, 255))
    draw = ImageDraw.Draw(checks)
    for x in range(0, image.width, 8):
        for y in range(0, image.height, 8):
            if (x + y) // 8 % 2:
                draw.rectangle((x, y, x + 7, y + 7), fill=(250, 250, 250, 255))
    checks.alpha_composite(image)
    return checks.convert("RGB")


def sample_sheet(seed):
    sheet = Image.new("RGB", (COLUMNS * CELL_WIDTH, ROWS * (CELL_HEIGHT + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    label_font = ImageFont.truetype(str(next(path for path in digit_fonts() if path.stem == "DejaVuSansMono")), 11)
    for index in range(COLUMNS * ROWS):
        captcha = render_captcha(random.Random(seed + index))
        picture = shown(captcha)
        picture.thumbnail((CELL_WIDTH - 8, CELL_HEIGHT - 4))
        x, y = index % COLUMNS * CELL_WIDTH, index // COLUMNS * (CELL_HEIGHT + CAPTION)
        sheet.paste(picture, (x + 4, y + 2))
        width, height = decode_picture(captcha.data).size
        draw.text(
            (x + 4, y + CELL_HEIGHT),
            f"{captcha.digits}  {captcha.format} {width}x{height}",
            font=label_font,
            fill="black",
        )
    return sheet


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    sample_sheet(arguments.seed).quantize(256).save(arguments.out, optimize=True)
