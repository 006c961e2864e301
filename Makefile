# vecmap — `make demo` and `make test` do all setup themselves (see README).
# Another PostgreSQL 15 installation (e.g. a relocated copy) can be used with PG_CONFIG=…;
# scripts and tests take their binaries from it.
export PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config
export PGBIN ?= $(shell $(PG_CONFIG) --bindir)
export VECMAP_PORT ?= 55432
# rustup's cargo (scripts/setup.sh installs it there when no recent Rust is found), first like
# `. ~/.cargo/env` puts it: Debian's own rustc is too old for pgrx.
export PATH := $(HOME)/.cargo/bin:$(PATH)
PGRX_DATA ?= /tmp/vecmap-pgrx-test
PY := .venv/bin/python
# bash: the fuzz recipe reads PIPESTATUS.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup install demo test test-engine test-pgrx test-sql test-python test-durability test-soak fuzz fuzz-merge cluster-start cluster-stop bench clean

setup:
	@scripts/setup.sh

install: setup
	@scripts/install.sh

demo: install
	@scripts/cluster.sh start
	PYTHONPATH=tools $(PY) -m vecmap_tools.demo

# `cargo pgrx test` installs its own debug build, so the release install comes after it,
# and a server left running by `make demo` is stopped first.
# pgvector 0.8.6 comes from ../shared/vendor when the server lacks it (scripts/peers.sh), so the
# differential tests run; without both they are skipped with one line saying so.
test: setup test-engine
	@scripts/peers.sh pgvector
	@scripts/cluster.sh stop
	$(MAKE) --no-print-directory test-pgrx
	@scripts/install.sh
	@scripts/cluster.sh start
	@status=0; \
	$(MAKE) --no-print-directory test-sql || status=1; \
	$(MAKE) --no-print-directory test-python || status=1; \
	$(MAKE) --no-print-directory test-soak || status=1; \
	scripts/cluster.sh stop; \
	$(MAKE) --no-print-directory test-durability || status=1; \
	exit $$status

# Includes tests/fuzz_corpus.rs: every committed fuzz input (fuzz/corpus, fuzz/regressions)
# replayed through the fuzz targets' entry points, without cargo-fuzz.
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

# Includes the hostile-input, limit and privilege tests (test_hostile.py). The soak runs on its
# own, last: the page cache it leaves dirty made test_tuning's eviction check flaky.
test-python:
	PYTHONPATH=tools $(PY) -m pytest -q -rs tests/python --ignore=tests/python/test_soak.py

# Concurrency soak against the running cluster, VECMAP_SOAK_SECONDS long (120 by default;
# e.g. make test VECMAP_SOAK_SECONDS=3600).
test-soak:
	PYTHONPATH=tools $(PY) -m pytest -q -s tests/python/test_soak.py

# Crash, replica, backup, vacuum, lifecycle and corruption tests; each starts its own servers.
test-durability:
	PYTHONPATH=tools $(PY) -m pytest -q tests/durability

# libFuzzer (cargo-fuzz) over the text parser, binary recv, typmod input, reloptions and the
# sidecar loader, FUZZ_SECONDS per target. The only toolchain is stable, so RUSTC_BOOTSTRAP=1
# lets cargo-fuzz pass its nightly flags. New inputs go to fuzz/target/new-corpus (the committed
# corpora stay small: `make fuzz-merge` minimises them in). A crash stops with its input in
# fuzz/artifacts/<target>/: fix it and copy the input to fuzz/regressions/<target>/, which
# make test replays.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := vector_text vector_recv typmod reloptions sidecar
FUZZ_ENV := RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$(CURDIR)/fuzz/target
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/target/new-corpus/$$t fuzz/regressions/$$t && \
	  echo "== fuzz $$t ($(FUZZ_SECONDS) s)" && \
	  $(FUZZ_ENV) cargo fuzz run -O $$t fuzz/target/new-corpus/$$t fuzz/corpus/$$t fuzz/regressions/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -max_len=70000 -print_final_stats=1 2>&1 | \
	    grep -E "^(Done|stat::number_of_executed_units|==[0-9]+==|SUMMARY|thread .* panicked)|artifact" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

# Folds the inputs `make fuzz` found into the committed corpora, minimised (libFuzzer -merge).
fuzz-merge:
	@for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_ENV) cargo fuzz run -O $$t fuzz/corpus/$$t fuzz/target/new-corpus/$$t -- -merge=1 -max_len=70000 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" ; \
	done

cluster-start:
	@scripts/cluster.sh start

cluster-stop:
	@scripts/cluster.sh stop

# Benchmark vecmap (and pgvector when installed) on real data; BENCH_ARGS passes flags,
# e.g. make bench BENCH_ARGS="--quick". See `PYTHONPATH=tools .venv/bin/python -m vecmap_tools.bench --help`.
bench: install
	@scripts/peers.sh pgvector
	$(PY) -m pip install -q -r tools/requirements-bench.txt
	@scripts/cluster.sh start
	PYTHONPATH=tools $(PY) -m vecmap_tools.bench --port $(VECMAP_PORT) $(BENCH_ARGS)

clean:
	cargo clean
