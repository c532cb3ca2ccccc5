# The two commands of the README:
#   make run    set up (Debian packages, .venv) and run the whole workflow on the embedded default
#   make test   set up and run the test suite
CORES ?= $(shell nproc)
CONFIG ?= config.yaml
SNAKEMAKE = .venv/bin/snakemake
PYTEST_ARGS ?=
# The test suite runs on one pytest-xdist worker per core, a test module at a time per worker
# (a third worker on 2 cores was no faster: the suite is CPU-bound, docs/testing.md).
TEST_WORKERS ?= $(CORES)
PYTEST = .venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

.PHONY: setup run repair test test-fast lint format bench report dag clean

setup:
	bash envs/setup.sh

run: setup
	.venv/bin/python -m speechneurons.config config.yaml $(CONFIG)
	$(SNAKEMAKE) --cores $(CORES) --configfile $(CONFIG) --profile profiles/default
	$(SNAKEMAKE) --cores 1 --configfile $(CONFIG) --profile profiles/default --report results/report.html
	@echo ""
	@.venv/bin/python -m bench.scale --results results 2>/dev/null | tail -n 1 || true
	@echo "Results: $(CURDIR)/results"
	@echo "Report:  $(CURDIR)/results/report.html"
	@for f in results/*/findings/*/findings.html; do [ -e "$$f" ] && echo "Findings: $(CURDIR)/$$f"; done; true

# Rebuild damaged outputs (a checksum that no longer matches: docs/faults.md), then finish the run.
repair:
	.venv/bin/python -m speechneurons.repair config.yaml $(CONFIG)
	$(SNAKEMAKE) --cores $(CORES) --configfile $(CONFIG) --profile profiles/default

test:
	bash envs/setup.sh --test
	$(PYTEST) $(PYTEST_ARGS)

test-fast: setup
	$(PYTEST) -m "not slow" $(PYTEST_ARGS)

lint: setup
	$(SNAKEMAKE) --lint --cores 1
	.venv/bin/snakefmt --check Snakefile rules/
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: setup
	.venv/bin/snakefmt Snakefile rules/
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

bench: setup
	.venv/bin/python -m bench

dag: setup
	$(SNAKEMAKE) --rulegraph --cores 1 | dot -Tsvg > docs/rulegraph.svg

clean:
	rm -rf results .snakemake
