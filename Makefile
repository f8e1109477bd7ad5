# dense-rl: the table of contents. `make help` lists the targets.
PY     := .venv/bin/python
PRESET ?= tiny
JOBS   ?= 2
.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.venv/.installed: pyproject.toml constraints.txt
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e .
	touch $@

sandbox-tools: ## install bubblewrap for the code sandbox (where apt and root exist; else rlimits only)
	@command -v bwrap >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] \
	  && apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
	  || echo "bubblewrap not installed: the sandbox uses its fallback mode (see dense_rl/sandbox.py)"
	@[ ! -x $(PY) ] || $(PY) -c "from dense_rl import sandbox as s; print('sandbox mode:', \
	  'bubblewrap' if s.bwrap_available() else 'fallback', '| seccomp filter:', bool(s.process_filter()), \
	  '| Landlock ABI:', s.landlock_abi())"

setup: .venv/.installed sandbox-tools ## create .venv from pyproject.toml + constraints.txt (idempotent)

test: setup ## run the test suite
	$(PY) -m pytest -q

reproduce: setup ## run the notebooks headless with papermill: make reproduce [PRESET=tiny|paper-mbpp|paper-robo]
	$(PY) -m dense_rl.reproduce --preset $(PRESET)

ablation: setup ## dense vs sparse and per-component ablation, every arm x seed (resumable; hours; JOBS=2 side by side)
	$(PY) -m dense_rl.ablation --jobs $(JOBS)

data: setup ## fetch every benchmark data file (checked) into ~/.cache/dense-rl/data, or find it
	$(PY) -m dense_rl.data

tiny: setup ## build (or find) the tiny policy and its robot stage in cache/
	$(PY) -m dense_rl.tiny --robot

lint: setup ## ruff format check + lint of the kit's own code
	.venv/bin/ruff format --check dense_rl tests benchmarks
	.venv/bin/ruff check dense_rl tests benchmarks

lab: setup ## register the kit's kernel (dense-rl) and open JupyterLab on notebooks/
	$(PY) -m ipykernel install --user --name dense-rl --display-name "Python (dense-rl)"
	.venv/bin/jupyter lab --notebook-dir=notebooks

exercises: setup ## write the student versions of notebooks/exercises/ (solutions out, hidden checks out)
	$(PY) -m dense_rl.exercises --generate

exercises-check: setup ## run every exercise: solutions pass, student cells raise, wrong solutions rejected
	$(PY) -m dense_rl.exercises --check

book: setup ## HTML site of the executed notebooks (results/tiny/notebooks), offline, in scratch/book/
	$(PY) -m dense_rl.book

clean-notebooks: setup ## strip outputs from notebooks/ (executed copies live under results/)
	$(PY) -m dense_rl.reproduce --strip notebooks

.PHONY: help setup sandbox-tools test reproduce ablation data tiny lint clean-notebooks lab exercises \
	exercises-check book
