# The two commands of the README.
.PHONY: setup demo test
setup:
	bash scripts/setup.sh
demo: setup
	.venv/bin/scalemath demo
test: setup
	.venv/bin/python -m pytest -q
