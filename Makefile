# Two commands for a new user: `make demo` and `make test`. Both create .venv when it is missing;
# `make test` also .venv-airflow.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := examples/churn_deploy.ipynb
# The serving example: train once, score a batch of new listings, serve the model over HTTP.
SERVE_DEMO := examples/listings_deploy.ipynb
LISTING := {"listing": {"neighbourhood": "harbour", "bedrooms": 2, "bathrooms": 1, "price": 95.0, "distance_km": 1.2, "review_score": 4.7, "instant_book": true}}

# The DAG tests run Airflow in an environment of its own (its pins would downgrade the dev
# environment's FastAPI); the tests find its python through NB2PROD_AIRFLOW_PYTHON.
AIRFLOW_VENV := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed
AIRFLOW_REQUIREMENTS := tests/airflow-requirements.txt

.PHONY: install airflow demo test lint typecheck unit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

$(AIRFLOW_STAMP): $(AIRFLOW_REQUIREMENTS)
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet -r $(AIRFLOW_REQUIREMENTS)
	touch $@

airflow: $(AIRFLOW_STAMP)

demo: install
	$(BIN)/nb2prod build $(DEMO) --out build
	cd build/churn_deploy && ../../$(BIN)/python -m churn_deploy --n-customers 200
	cd build/churn_deploy && ../../$(BIN)/python -m pytest -q
	$(BIN)/nb2prod build $(SERVE_DEMO) --out build --api
	cd build/listings_deploy && ../../$(BIN)/python -m listings_deploy train \
		--artifacts artifacts --data-path ../../examples/data/2024-05-01_listings.csv > /dev/null
	cd build/listings_deploy && ../../$(BIN)/python -m listings_deploy predict \
		--artifacts artifacts ../../examples/data/2024-05-08_new_listings.jsonl
	$(BIN)/python examples/serve_once.py build/listings_deploy build/listings_deploy/artifacts \
		/predict '$(LISTING)'

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install airflow
	NB2PROD_AIRFLOW_PYTHON=$(abspath $(AIRFLOW_VENV))/bin/python $(BIN)/python -m pytest

test: lint typecheck unit

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) build
