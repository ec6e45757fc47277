"""The HTTP API over the reading core: routes, bodies, errors, keys, admission, metrics, logs, reports, serving."""
