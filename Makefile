# Two commands matter: `make run` (set up + run on SQLite with demo data) and `make test`.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The command line builds a bare app; only the served app (wsgi.py) deploys BPMN and runs the scheduler.
export FLASK_APP := app:create_app
HOST ?= 127.0.0.1
PORT ?= 5000
VENDOR := app/web/static/vendor

.PHONY: run test setup venv vendor translations db demo lint browser clean

run: setup db demo  ## set everything up and serve on http://127.0.0.1:5000 with the scheduler in-process
	@echo "政务信息资源共享审批平台: http://$(HOST):$(PORT)/  (演示密码 Demo@2026pass)"
	SCHEDULER_ENABLED=1 SQLITE_CHECKPOINT_THREAD=1 $(BIN)/gunicorn -c gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

test: setup browser  ## the whole suite (SQLite, and PostgreSQL when reachable; required under CI=true)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

setup: venv vendor translations

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PY) >/dev/null || { echo "需要 Python 3.11 ($(PY))"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

vendor: $(VENDOR)/.installed
# The studio's modeler and comparison are bundled from app/web/studio_src with esbuild (from npm).
STUDIO_SRC := $(wildcard app/web/studio_src/*)
$(VENDOR)/.installed: package.json package-lock.json $(STUDIO_SRC)
	npm ci --no-audit --no-fund --ignore-scripts
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/swagger-ui $(VENDOR)/bpmn-js $(VENDOR)/echarts $(VENDOR)/studio
	node_modules/.bin/esbuild app/web/studio_src/modeler.js app/web/studio_src/compare.js --bundle --minify \
	  --format=iife --target=es2020 --loader:.json=json --log-level=warning --outdir=$(VENDOR)/studio
	cp node_modules/@bpmn-io/properties-panel/dist/assets/properties-panel.css node_modules/bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css $(VENDOR)/studio/
	cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui-standalone-preset.js,swagger-ui.css} $(VENDOR)/swagger-ui/
	cp -r node_modules/bpmn-js/dist/{bpmn-navigated-viewer.production.min.js,assets} $(VENDOR)/bpmn-js/
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/echarts/
	touch $@

translations:
	$(BIN)/pybabel compile --use-fuzzy -d app/translations -f >/dev/null

db: venv
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask bpmn deploy
	$(BIN)/flask demo seed
	$(BIN)/flask demo history --months 12 --seed 1

# Debian's Chromium for the browser tests (no browser download: the network only reaches registries).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "Browser tests need Debian's chromium: sudo apt-get install chromium fonts-noto-cjk"; fi; fi

lint:
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) node_modules $(VENDOR) instance
