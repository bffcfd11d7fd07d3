# Set-up and entry points. Everything runs inside .venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test clean

$(STAMP): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# torch first, pinned: an unpinned torch would pull gigabytes of CUDA packages.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[llm,test]'
	touch $(STAMP)

install: $(STAMP)

# The main job on the bundled sample corpora: ingest, synthesize, score with the bundled model, select.
demo: $(STAMP)
	$(BIN)/toolrm run --output out

# Test files run side by side (pytest-xdist), a whole file per worker so that a file's shared
# fixtures run once: one worker per core, at most 4. `make test TEST_WORKERS=0` runs them in one process.
# One BLAS/OpenMP thread per process: the workers already fill the cores, and numpy's and torch's
# thread pools competing for them made the numeric tests slower, not faster.
TEST_WORKERS ?= auto
test: $(STAMP)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile tests

clean:
	rm -rf out .pytest_cache
