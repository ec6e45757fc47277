"""Labelled captcha folders: files named ``<index>_<digits>.<ext>``."""

import pathlib

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp"}
# ../shared/captchas beside the repository: the labelled folders of development and benchmarks.
DEFAULT_ROOT = pathlib.Path(__file__).resolve().parents[2] / "shared" / "captchas"
# ../shared/ood: families nothing here was trained, calibrated or tuned on. Measured only.
UNSEEN_ROOT = DEFAULT_ROOT.parent / "ood"


def label_of(path):
    """The digits an image shows: what follows the last ``_`` of its name (leading zeros count)."""
    return path.stem.rsplit("_", 1)[1]


def labelled_folders(paths):
    """{folder name: sorted image paths} for each folder given, or each folder under a root given."""
    folders = {}
    for path in map(pathlib.Path, paths):
        children = sorted(child for child in path.iterdir() if child.is_dir())
        for folder in children or [path]:
            images = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and "_" in p.stem)
            if images:
                folders[folder.name] = images
    return folders
