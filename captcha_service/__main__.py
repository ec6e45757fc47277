"""``python -m captcha_service read IMAGE...``: see ``cli``."""

from .cli import main

raise SystemExit(main())
