"""``python -m captcha_service read IMAGE...`` (or ``finetune``): see ``cli``."""

from .cli import main

if __name__ == "__main__":  # not again in the processes finetune spawns to render captchas
    raise SystemExit(main())
