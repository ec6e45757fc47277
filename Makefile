# The two commands of the README: `make serve` and `make test`. Each creates .venv and installs the
# pinned requirements first (again only when a requirements file changes).

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
PM2 := node_modules/.bin/pm2
# pm2 comes from npm; where there is no npm the PM2 test is skipped rather than failed.
NODE_TOOLS := $(if $(shell command -v npm),$(PM2))

.PHONY: serve test lint model fonts pm2-start pm2-stop nginx

serve: $(VENV)/.runtime-installed
	$(VENV_PYTHON) wsgi.py

test: $(VENV)/.dev-installed $(NODE_TOOLS) nginx fonts lint
	$(VENV_PYTHON) -m pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .

# Rebuild the digit model from scratch (about an hour on 2 cores): writes
# captcha_service/ocr/models/digits.onnx and its card. Then refit the calibrations: python -m bench.calibrate.
model: $(VENV)/.train-installed fonts
	$(VENV_PYTHON) -m training

# The Debian font packages the captcha renderer draws with (training/debian-fonts.txt).
fonts:
	@dpkg -s $$(grep -v '^#' training/debian-fonts.txt) >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$(grep -v '^#' training/debian-fonts.txt)) >/dev/null

# Debian's nginx-light, for the scale-out test; where it cannot be installed (not root, no apt)
# that test is skipped, not failed.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || \
	  (apt-get update -qq && apt-get install -y -qq nginx-light) >/dev/null 2>&1 || \
	  echo "nginx could not be installed: tests/test_nginx.py will be skipped"

pm2-start: $(VENV)/.runtime-installed $(PM2)
	$(PM2) start eco.config.js

pm2-stop: $(PM2)
	$(PM2) delete eco.config.js

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.train-installed: requirements-train.txt $(VENV)/.runtime-installed
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-train.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.train-installed
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(PM2): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@
