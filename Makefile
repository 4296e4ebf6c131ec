# The two commands a newcomer needs: `make run` and `make test`. Only the Rust toolchain is
# required; SQLite and libpq are built from bundled sources.

CARGO ?= cargo
SHELL := bash
.SHELLFLAGS := -o pipefail -c

.PHONY: run demo test openapi openapi-check lint fmt contract bench bench-one bench-load bench-analytics bench-rebuild bench-events bench-service bench-filters bench-idle bench-import startup-order

## Build, migrate and serve on SQLite (./data/crm.db). Prints the first admin's password once.
run:
	$(CARGO) run -p crm -- serve

## Load a small demo sales history into the same database (200 customers, 5,000 orders over two
## years, returns, three currencies), then `make run`. Prints the first admin's password.
demo:
	$(CARGO) run -p crm -- demo-data --companies 200 --orders 5000 --seed 1

## Unit tests, then the black-box tests on SQLite; also on PostgreSQL when
## CRM_TEST_POSTGRES_URL is set (for example postgres://postgres@127.0.0.1:5432/postgres);
## without it they are reported as ignored. Ends with the count on each backend.
test:
	@mkdir -p target
	$(CARGO) test --workspace 2>&1 | tee target/test.log
	@tests/summary.sh target/test.log

## Regenerate openapi/openapi.json from the code.
openapi:
	$(CARGO) run -q -p crm -- openapi

## Fail when openapi/openapi.json differs from the code.
openapi-check:
	$(CARGO) run -q -p crm -- openapi --check

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## Lint the spec, fuzz a live server with Schemathesis, check its webhooks at a loopback
## receiver (signatures, the spec's `webhooks` schemas), and run the generated Python and
## TypeScript clients (needs Node.js and Python; installs pinned tools under tests/contract).
contract:
	tests/contract/setup.sh
	tests/contract/lint.sh
	tests/contract/fuzz.sh
	tests/contract/webhooks.sh
	tests/clients/run.sh

BENCHES := load analytics rebuild events service filters idle import

## Every benchmark below, one after the other; takes about an hour. Not in CI.
bench: $(addprefix bench-,$(BENCHES))

## One benchmark by name: make bench-one NAME=idle (one of: $(BENCHES)).
bench-one:
	@case " $(BENCHES) " in *" $(NAME) "*) ;; *) echo "NAME must be one of: $(BENCHES)" >&2; exit 2;; esac
	$(MAKE) bench-$(NAME)

## The load table of docs/benchmarks.md: the API on PostgreSQL and SQLite under wrk, beside the
## HTTP floor, the raw database (plain pool and pgbench) and Directus. Not in CI; takes minutes.
## BENCH_BACKENDS (postgres,sqlite) and BENCH_SCENARIOS narrow it: see tests/bench/load.sh.
bench-load:
	tests/bench/load.sh

## Analytics benchmark, not in CI: the table of docs/benchmarks.md. Loads ~10M order lines into
## a fresh PostgreSQL database (BENCH_POSTGRES_URL, default the local server) and ~1M into
## SQLite, then measures the API over HTTP; takes a quarter of an hour or more. Sizes and
## backends: see tests/bench/analytics.rs.
bench-analytics:
	$(CARGO) build --release -p crm --bin crm
	$(CARGO) run --release -p crm-tests --bin crm-bench-analytics

## The rollup rebuild from scratch at about 10M order lines on PostgreSQL: time and peak RSS.
bench-rebuild:
	$(CARGO) build --release -p crm --bin crm
	tests/bench/rebuild.sh

## Events benchmark, not in CI: the webhooks table of docs/benchmarks.md. On PostgreSQL
## (BENCH_POSTGRES_URL, default the local server) and SQLite, each on fresh databases: deliveries
## per second to a loopback receiver with 1, 10 and 50 endpoints, and the order import with 10
## endpoints against none. Takes a few minutes; sizes and backends: see tests/bench/events.rs.
bench-events:
	$(CARGO) build --release -p crm --bin crm
	$(CARGO) run --release -p crm-tests --bin crm-bench-events

## Service-desk benchmark, not in CI. On PostgreSQL (BENCH_POSTGRES_URL, default the local
## server) and SQLite, each on a fresh database: the case list by sla_status and assignee_id over
## 100k cases and the knowledge-base search over 50k articles, over HTTP and as the same raw SQL,
## with their ratio. Takes several minutes; sizes and backends: see tests/bench/service.rs.
bench-service:
	$(CARGO) build --release -p crm --bin crm
	$(CARGO) run --release -p crm-tests --bin crm-bench-service

## Filters benchmark, not in CI. On PostgreSQL (BENCH_POSTGRES_URL, default the local server)
## and SQLite, each on a fresh database of 100k contacts: the contact list filtered on a stage,
## a custom field and a date over HTTP against the same filter as hand-written SQL, and a page
## of 100 with expand=company against none, with their ratios. Takes a few minutes; sizes and
## backends: see tests/bench/filters.rs.
bench-filters:
	$(CARGO) build --release -p crm --bin crm
	$(CARGO) run --release -p crm-tests --bin crm-bench-filters

## Start to ready and idle RSS of the release binary on an empty SQLite database.
bench-idle:
	$(CARGO) build --release -p crm --bin crm
	tests/bench/idle.sh

## Rewrites crates/crm/startup.order, the functions start-up runs, which the linker places
## together; then relinks. Needs valgrind. Rerun after a dependency or profile change.
startup-order:
	$(CARGO) build --release -p crm --bin crm
	tests/bench/startup-order.sh
	$(CARGO) build --release -p crm --bin crm

## The bulk order import against a raw multi-row INSERT of the same rows, rollups included.
bench-import:
	$(CARGO) build --release -p crm --bin crm
	$(CARGO) run --release -p crm-tests --bin crm-bench-import
