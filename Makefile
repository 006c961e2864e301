# vecmap — `make demo` and `make test` do all setup themselves (see README).
# Another PostgreSQL 15 installation (e.g. a relocated copy) can be used with PG_CONFIG=…;
# scripts and tests take their binaries from it.
export PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
export PGBIN ?= $(shell $(PG_CONFIG) --bindir)
export VECMAP_PORT ?= 55432
PGRX_DATA ?= /tmp/vecmap-pgrx-test
PY := .venv/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup install demo test test-engine test-pgrx test-sql test-python test-durability cluster-start cluster-stop bench clean

setup:
	@scripts/setup.sh

install: setup
	@scripts/install.sh

demo: install
	@scripts/cluster.sh start
	PYTHONPATH=tools $(PY) -m vecmap_tools.demo

# `cargo pgrx test` installs its own debug build, so the release install comes after it,
# and a server left running by `make demo` is stopped first.
test: setup test-engine
	@scripts/cluster.sh stop
	$(MAKE) --no-print-directory test-pgrx
	@scripts/install.sh
	@scripts/cluster.sh start
	@status=0; \
	$(MAKE) --no-print-directory test-sql || status=1; \
	$(MAKE) --no-print-directory test-python || status=1; \
	scripts/cluster.sh stop; \
	$(MAKE) --no-print-directory test-durability || status=1; \
	exit $$status

test-engine:
	cargo test -p vecmap-engine --release

# pgrx copies its build over the installed vecmap.so in place, which SIGBUSes any running
# backend that has it mapped; unlinking it first leaves those backends their old copy.
test-pgrx:
	mkdir -p $(PGRX_DATA) && $(SUDO) chown postgres:postgres $(PGRX_DATA)
	$(SUDO) rm -f "$$($(PG_CONFIG) --pkglibdir)/vecmap.so"
	cargo pgrx test pg15 --runas postgres --pgdata $(PGRX_DATA)

test-sql:
	scripts/regress.sh

test-python:
	PYTHONPATH=tools $(PY) -m pytest -q tests/python

# Crash, replica, backup, vacuum, lifecycle and corruption tests; each starts its own servers.
test-durability:
	PYTHONPATH=tools $(PY) -m pytest -q tests/durability

cluster-start:
	@scripts/cluster.sh start

cluster-stop:
	@scripts/cluster.sh stop

# Benchmark vecmap (and pgvector when installed) on real data; BENCH_ARGS passes flags,
# e.g. make bench BENCH_ARGS="--quick". See `PYTHONPATH=tools .venv/bin/python -m vecmap_tools.bench --help`.
bench: install
	$(PY) -m pip install -q -r tools/requirements-bench.txt
	@scripts/cluster.sh start
	PYTHONPATH=tools $(PY) -m vecmap_tools.bench $(BENCH_ARGS)

clean:
	cargo clean
