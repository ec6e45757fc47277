"""What a read may ask for: how many digits, and how sure. The HTTP API, the CLI, the settings, the
solver protocols and a site's fine-tune all hold to these (a module of its own: importing it loads no model)."""

SHORTEST, LONGEST = 3, 8
LEAST_CONFIDENCE, MOST_CONFIDENCE = 0.0, 1.0
