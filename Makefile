# The two commands a newcomer needs:  `make run`  and  `make test`.
# Everything else is here for tools, tests and the curious.
PY := .venv/bin/python
FIXTURES ?=

.PHONY: run test setup train up up-production down status chat lint typecheck eval-nlu bench clean

run: setup  ## install, train if needed, start the whole stack with demo orders, chat in the terminal
	@$(PY) scripts/stack.py up
	@. ./.stack/env && echo "REST webhook: $$BOT_URL/webhooks/rest/webhook   (make down stops the stack)"
	@$(PY) scripts/chat.py; $(PY) scripts/stack.py down

test: setup  ## install, train if needed, then lint, type-check and run every test
	@bash scripts/test.sh

setup:  ## Python 3.10 venv from requirements.lock; trains the model when its inputs changed
	@bash scripts/setup.sh

train: setup  ## retrain the Rasa model even if nothing changed
	@$(PY) scripts/train.py

up: setup  ## start the stack in the background: make up FIXTURES="a.yaml b.yaml"
	@$(PY) scripts/stack.py up $(if $(strip $(FIXTURES)),--fixtures $(FIXTURES))

up-production: setup  ## the stack on this machine's PostgreSQL and Redis, 2 Rasa + 2 action workers
	@$(PY) scripts/stack.py up --production $(if $(strip $(FIXTURES)),--fixtures $(FIXTURES))

down:  ## stop the stack started by make up
	@if [ -x $(PY) ]; then $(PY) scripts/stack.py down; fi

status:
	@$(PY) scripts/stack.py status

chat:  ## chat with a stack started by make up
	@$(PY) scripts/chat.py

lint:
	@$(PY) -m ruff check .

typecheck:
	@$(PY) -m mypy bot order_system record_service service_common rasa_sdk_plugins rasa_server scripts channels

eval-nlu: setup  ## intent/entity P/R/F1 on the held-out set and 5-fold cross-validation
	@$(PY) scripts/evaluate_nlu.py

bench: setup  ## embedded, production and stock Rasa 3.6 at 1/20/50 concurrent conversations: p50/p95, turns/s, RSS per Rasa process
	@$(PY) scripts/benchmark.py

clean: down
	rm -rf .stack bot/models/*.tar.gz bot/models/*.fingerprint bot/models/stock
