# The two commands of the README: `make serve` and `make test`. Each creates .venv and installs the
# pinned requirements first (again only when a requirements file changes).

PYTHON ?= python3
VENV := .venv
VENV_PYTHON := $(VENV)/bin/python
PM2 := node_modules/.bin/pm2
# pm2 comes from npm; where there is no npm the PM2 test is skipped rather than failed.
NODE_TOOLS := $(if $(shell command -v npm),$(PM2))

.PHONY: serve test test-fast lint redis model lofo-models ddddocr-int8 training-packages pm2-start pm2-stop nginx container-tools chromium

serve: $(VENV)/.runtime-installed
	$(VENV_PYTHON) wsgi.py

test: $(VENV)/.dev-installed $(NODE_TOOLS) nginx redis container-tools chromium training-packages lint
	$(VENV_PYTHON) -m pytest

# The tests that start no process and train nothing: a minute or so, for the edit-test loop.
test-fast: $(VENV)/.dev-installed
	$(VENV_PYTHON) -m pytest -m "not slow" -q

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Rebuild the digit model from scratch in five stages (under an hour each on 2 cores): each
# trains the one before further on fresh captchas. Writes captcha_service/ocr/models/digits.onnx
# and its card. Then refit the calibrations: python -m bench.calibrate --write. The stages, and
# those of the leave-one-family-out models bench.calibrate fits on, are training/stages.py's;
# either command run again skips the stages done and carries on the one a session's end stopped.
model: $(VENV)/.train-installed training-packages
	$(VENV_PYTHON) -m training.stages model

lofo-models: $(VENV)/.train-installed training-packages
	$(VENV_PYTHON) -m training.stages lofo

# The int8 copy of ddddocr's common model the service runs (training/quantize.py): again only
# when the pinned ddddocr or onnxruntime changes (tests/test_model_files.py says when).
ddddocr-int8: $(VENV)/.train-installed
	$(VENV_PYTHON) -m training.quantize

# The Debian packages training draws with: fonts, and PHP with Gregwar's captcha builder
# (training/debian-packages.txt).
training-packages:
	@dpkg -s $$(grep -v '^#' training/debian-packages.txt) >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$(grep -v '^#' training/debian-packages.txt)) >/dev/null

# Debian's redis-server, for the tests of REDIS_URL; where it cannot be installed they are skipped.
redis:
	@command -v redis-server >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq redis-server) >/dev/null 2>&1 || \
	  echo "redis-server could not be installed: tests/test_redis_tasks.py will be skipped"

# Debian's nginx-light, for the scale-out test; where it cannot be installed (not root, no apt)
# that test is skipped, not failed.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || \
	  (apt-get update -qq && apt-get install -y -qq nginx-light) >/dev/null 2>&1 || \
	  echo "nginx could not be installed: tests/test_nginx.py will be skipped"

# Debian's buildah and debootstrap, for the container image's test (tests/test_container.py builds the base from
# Debian packages with deploy/container_base.sh, then the Containerfile); where they cannot be installed it is skipped.
container-tools:
	@{ command -v buildah && { command -v debootstrap || [ -x /usr/sbin/debootstrap ]; }; } >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq buildah debootstrap) >/dev/null 2>&1 || \
	  echo "buildah and debootstrap could not be installed: tests/test_container.py will be skipped"

# Debian's chromium and its chromedriver, for the test of /apidocs in a real browser (selenium drives it); where
# they cannot be installed that test is skipped.
chromium:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 || \
	  echo "chromium and chromium-driver could not be installed: tests/test_apidocs_browser.py will be skipped"

# Returns once every process answers GET / (deploy/wait_ready.py), not when PM2 has only spawned them.
pm2-start: $(VENV)/.runtime-installed $(PM2)
	$(PM2) start eco.config.js
	$(VENV_PYTHON) -m deploy.wait_ready

pm2-stop: $(PM2)
	$(PM2) delete eco.config.js

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime-installed: requirements.txt | $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# django-simple-captcha goes into a folder of its own (its package name clashes with `captcha`'s;
# training/requirements-django-captcha.txt says more).
$(VENV)/.train-installed: requirements-train.txt training/requirements-django-captcha.txt $(VENV)/.runtime-installed
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-train.txt
	rm -rf $(VENV)/django-simple-captcha
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/django-simple-captcha -r training/requirements-django-captcha.txt
	touch $@

# capmonstercloudclient goes into a folder of its own, with the old versions it pins exactly
# (requirements-capmonstercloudclient.txt says more).
$(VENV)/.dev-installed: requirements-dev.txt requirements-capmonstercloudclient.txt $(VENV)/.train-installed
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	rm -rf $(VENV)/capmonstercloudclient
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --target $(VENV)/capmonstercloudclient -r requirements-capmonstercloudclient.txt
	touch $@

$(PM2): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@
