# Thin wrappers around dev.py, which needs only Python 3.11+.
.PHONY: up test lint bench format messages

up:
	python3 dev.py up

test:
	python3 dev.py test

lint:
	python3 dev.py lint

bench:
	python3 dev.py bench

format:
	.venv/bin/ruff format src tests bench dev.py
	.venv/bin/ruff check --fix src tests bench dev.py

messages:
	cd src/chanlian && CHANLIAN_DEBUG=1 ../../.venv/bin/python -m chanlian makemessages -l zh_Hans -l en --ignore=migrations
	cd src/chanlian && CHANLIAN_DEBUG=1 ../../.venv/bin/python -m chanlian compilemessages
