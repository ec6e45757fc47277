"""The reading core: image bytes in, digits and confidence out. Imports nothing of Flask."""
