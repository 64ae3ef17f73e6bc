# Two commands a person needs: `make run` (set up and run) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MO := $(patsubst %.po,%.mo,$(wildcard locales/*/LC_MESSAGES/messages.po))

.PHONY: setup run test lint messages

setup: $(VENV)/.installed $(MO)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel -q compile -d locales -D messages -l $*

run: setup
	@$(BIN)/python -m bot

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers models tests

# The whole suite on SQLite, then again on PostgreSQL (127.0.0.1:5432, database `test`).
test: lint
	$(BIN)/python -m pytest -q
	QORGAU_TEST_DB=postgresql $(BIN)/python -m pytest -q

# After adding or changing a user-facing string: extract, merge into every catalogue,
# copy English msgids into the en catalogue; then translate the empty kk and ru entries.
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg --add-comments=TRANSLATORS: --sort-by-file \
		--project=qorgau --no-wrap -o locales/messages.pot .
	$(BIN)/pybabel -q update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching \
		--ignore-obsolete --no-wrap
	$(BIN)/python -m bot.i18n_tools fill-en
