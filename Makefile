VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast report report-quick lab bench docs clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

test: venv
	$(PY) -m pytest -q

test-fast: venv
	$(PY) -m pytest -q -m "not slow"

report: venv
	$(PY) -m rfkit report --output reports --figures figures

report-quick: venv
	$(PY) -m rfkit report --quick --output reports/quick

# As root it adds --allow-root, without a display --no-browser; LAB_ARGS go to jupyter lab.
lab: venv
	JUPYTER=$(VENV)/bin/jupyter scripts/lab.sh $(LAB_ARGS)

# The site: quick start, guide, the executed lessons of the last full report, the API reference.
docs: venv
	$(PY) -m sphinx -b html -q docs docs/_build/html
	@echo "site: docs/_build/html/index.html"

bench: venv
	$(PY) benchmarks/bench_generator.py
	$(PY) benchmarks/bench_overhead.py
	$(PY) benchmarks/bench_stopping.py

clean:
	rm -rf $(VENV) reports data/processed docs/_build docs/lessons docs/_mathjax .cache
