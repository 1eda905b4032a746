# GenAI FinOps workbench. On a fresh clone, `make report` or `make test` is the only command needed:
# each creates .venv with pip when it is missing and installs the project into it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install report test test-fast lab sample bench lint format schema-doc clean focus-validate demo-watch

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name finops-workbench --display-name "GenAI FinOps workbench" >/dev/null
	@touch $(STAMP)

install: $(STAMP)  ## also byte-compiles finops_lib (checked-hash: an edited file is recompiled), so commands start faster where PYTHONDONTWRITEBYTECODE is set
	@$(BIN)/python -m compileall -q --invalidation-mode checked-hash finops_lib >/dev/null

# The FinOps Foundation's FOCUS validator needs Python 3.12 and pyarrow<17: it gets a venv of its own.
FOCUS_PYTHON ?= $(firstword $(shell python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null) \
                  $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python))
FOCUS_VENV   := build/focus-validator-venv
FOCUS_STAMP  := $(FOCUS_VENV)/.installed-stamp
FOCUS_OUT    := build/focus

$(FOCUS_STAMP):
	@test -n "$(FOCUS_PYTHON)" || { echo "focus-validator needs Python 3.12 (set FOCUS_PYTHON)" >&2; exit 1; }
	@test -x $(FOCUS_VENV)/bin/python || $(FOCUS_PYTHON) -m venv $(FOCUS_VENV)
	$(FOCUS_VENV)/bin/python -m pip install --quiet 'focus-validator==2.2.1' 'pyarrow<17'
	@touch $(FOCUS_STAMP)

focus-validate: install $(FOCUS_STAMP)  ## export the sample's charges as FOCUS 1.2 (Parquet, CSV) and validate them
	rm -rf $(FOCUS_OUT) && mkdir -p $(FOCUS_OUT)
	$(BIN)/finops ingest data/sample --warehouse $(FOCUS_OUT)/sample.duckdb
	$(BIN)/finops export-focus --warehouse $(FOCUS_OUT)/sample.duckdb --out $(FOCUS_OUT)/sample_focus_1.2.parquet --validate
	$(BIN)/finops export-focus --warehouse $(FOCUS_OUT)/sample.duckdb --out $(FOCUS_OUT)/sample_focus_1.2.csv --validate

report: install  ## run every notebook on data/sample into reports/<YYYYMMDD-HHMMSS>/ and point reports/latest at it
	$(BIN)/finops report --data data/sample

# The sample's FOCUS export is validated inside pytest (tests/test_focus_export.py, through `finops export-focus
# --validate`, Parquet and CSV); `make test` only installs the validator's venv for it.
test: install $(FOCUS_STAMP)  ## lint, schema doc, notebooks stripped, unit + doctests (FOCUS validator) + notebooks + browser
	$(BIN)/ruff check finops_lib tests benchmarks
	$(BIN)/finops schema-doc --check
	$(BIN)/nbstripout --verify notebooks/*.ipynb
	@# pytest's exit code 5 means it collected no test: treat that as a failure, deliberately.
	$(BIN)/python -m pytest; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$status

test-fast: install  ## unit tests and doctests only
	$(BIN)/python -m pytest -m "not slow and not browser" tests finops_lib

# JupyterLab refuses to start as root (containers, CI) unless told --allow-root; LAB_ARGS adds options (--port=...).
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
LAB_ARGS ?=

lab: install  ## JupyterLab on notebooks/, new notebooks on the project's kernel (finops-workbench)
	$(BIN)/jupyter lab $(LAB_ROOT) --MappingKernelManager.default_kernel_name=finops-workbench $(LAB_ARGS) notebooks/

sample: install  ## regenerate data/sample/ (fixed seed: the result must not change)
	$(BIN)/finops sample --out data/sample

bench: install  ## benchmarks: ingest (1M and 10M LiteLLM rows against bare DuckDB doing the same work, the sample folder), the command on an unchanged sample folder, allocation (10M rows), forecasts (100 series x 180 days; 10,000 team x model x key series), the sample report, widget redraws, live pull and watch cycle, Spark local against DuckDB (1M-row ingest and chargeback)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/cli_unchanged.py
	$(BIN)/python benchmarks/allocate.py
	$(BIN)/python benchmarks/forecast.py
	$(BIN)/python benchmarks/forecast_many.py
	$(BIN)/python benchmarks/report.py
	$(BIN)/python benchmarks/widgets.py
	$(BIN)/python benchmarks/live.py
	$(BIN)/python benchmarks/spark.py

demo-watch: install  ## the live path against the fake vendor server: 40 ordinary days, a runaway key, the alerts it gets
	$(BIN)/python -m finops_lib.watch.demo build/demo-watch

lint: install
	$(BIN)/ruff check finops_lib tests benchmarks

format: install
	$(BIN)/ruff format finops_lib tests benchmarks

schema-doc: install
	$(BIN)/finops schema-doc

clean:
	rm -rf build reports .pytest_cache .ruff_cache
