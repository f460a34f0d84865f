# The two commands a newcomer needs:  `make run`  and  `make test`  (`make test-fast` while working).
# Everything else is here for tools, tests and the curious.
PY := .venv/bin/python
FIXTURES ?=
FROM ?=
TO ?=

# Checked when make reads this file, so a missing day fails before setup installs or trains anything.
ifneq ($(filter report,$(MAKECMDGOALS)),)
ifeq ($(and $(FROM),$(TO)),)
$(error make report needs both days: make report FROM=YYYY-MM-DD TO=YYYY-MM-DD)
endif
endif

.PHONY: run test test-fast setup train up up-production down status chat lint typecheck eval-nlu bench report export-review clean

run: setup  ## install, train if needed, start the whole stack with demo orders, chat in the terminal
	@$(PY) scripts/stack.py up
	@. ./.stack/env && echo "REST webhook: $$BOT_URL/webhooks/rest/webhook   (make down stops the stack)"
	@$(PY) scripts/chat.py; $(PY) scripts/stack.py down

test: setup  ## install, train if needed, then lint, type-check and run every test
	@bash scripts/test.sh

# No setup prerequisite: it never installs or trains, it only needs the .venv of a first `make setup`.
test-fast:  ## lint, type-check and every test that needs no stack and is not slow: the inner loop
	@test -x $(PY) || { echo "make test-fast: no $(PY); run make setup once" >&2; exit 1; }
	@bash scripts/test.sh -m "not stack and not slow"

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
	@$(PY) -m mypy bot order_system record_service service_common rasa_sdk_plugins rasa_server scripts channels reporting

eval-nlu: setup  ## intent/entity P/R/F1 on the held-out set and 5-fold cross-validation
	@$(PY) scripts/evaluate_nlu.py

report: setup  ## the KPI report of a period, one HTML page with charts in reports/: make report FROM=YYYY-MM-DD TO=YYYY-MM-DD
	@$(PY) -m reporting --from $(FROM) --to $(TO)

export-review: setup  ## the messages reviewed in the workspace's unanswered-question log -> bot/data/nlu/reviewed.yml (then make train)
	@$(PY) scripts/export_review.py

bench: setup  ## embedded, production and stock Rasa 3.6 at 1/20/50 concurrent conversations: p50/p95, turns/s, RSS per Rasa process
	@$(PY) scripts/benchmark.py

clean: down
	rm -rf .stack bot/models/*.tar.gz bot/models/*.fingerprint bot/models/stock
