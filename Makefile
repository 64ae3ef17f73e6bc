# Two commands a person needs: `make run` (set up and run) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test test-sqlite test-postgresql lint messages lock

# Every dependency and dev tool at the version and hash pinned in requirements-dev.lock,
# then the project itself (editable, no dependencies of its own to resolve). The catalogues
# are read from the .po files at start: nothing to compile.
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# After changing the dependencies in pyproject.toml (or to take newer versions): pin them again.
lock: $(VENV)/.installed
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --universal --generate-hashes \
		--upgrade -q -o requirements.lock --custom-compile-command "make lock"
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --universal \
		--generate-hashes --upgrade -q -o requirements-dev.lock --custom-compile-command "make lock"

run: setup
	@$(BIN)/python -m bot

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers models tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m tests.no_sleeps

# The whole suite on SQLite and on PostgreSQL (127.0.0.1:5432, database `test`), both at once,
# each in three processes: most tests wait on sends paced as Telegram paces them, not on the CPU
# (two each took 6 min 20 s on a slow evening, three 5 min; README "The two commands").
# Each process makes PostgreSQL databases of its own, so nothing is shared between them.
PYTEST := $(BIN)/python -m pytest -q -n 3 -p no:cacheprovider
test: lint
	QORGAU_TEST_PASSES=1 $(MAKE) --no-print-directory -j2 -Otarget test-sqlite test-postgresql

test-sqlite: setup
	$(PYTEST)

test-postgresql: setup
	QORGAU_TEST_DB=postgresql $(PYTEST)

# After adding or changing a user-facing string: extract, merge into every catalogue,
# copy English msgids into the en catalogue; then translate the empty kk and ru entries.
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg --add-comments=TRANSLATORS: --sort-by-file \
		--project=qorgau --no-wrap -o locales/messages.pot .
	$(BIN)/pybabel -q update -i locales/messages.pot -d locales -D messages --no-fuzzy-matching \
		--ignore-obsolete --no-wrap
	$(BIN)/python -m bot.i18n_tools fill-en
