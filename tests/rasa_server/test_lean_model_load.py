import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.shared.core.events import UserUttered
from rasa.utils.tensorflow.models import RasaModel

from rasa_server.lean_model_load import install_lean_model_load

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = REPO_ROOT / "bot" / "models" / "aftersales.tar.gz"
TRAINING_DATA = REPO_ROOT / "bot" / "data" / "nlu"


def some_training_texts(count: int) -> list[str]:
    """Every n-th example of the training data: many intents, lengths and entities."""
    texts = [
        line.strip()[2:]
        for path in sorted(TRAINING_DATA.glob("*.yml"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("- ") and len(line.strip()) > 3
    ]
    return texts[:: max(1, len(texts) // count)][:count]


async def answers(agent: Agent, texts: list[str]) -> tuple[list[dict[str, Any]], list[float]]:
    parses = [await agent.parse_message(text) for text in texts]
    tracker = await agent.processor.fetch_tracker_with_initial_session("lean-load")
    first = parses[0]
    tracker.update(UserUttered(first["text"], first["intent"], first["entities"], first))
    return parses, agent.processor._predict_next_with_tracker(tracker).probabilities


def test_installing_twice_patches_once() -> None:
    assert install_lean_model_load()
    patched = RasaModel.load
    assert install_lean_model_load()
    assert RasaModel.load == patched


def print_answers(lean: bool) -> None:
    """Prints, as JSON, the answers of the model loaded Rasa's way or the lean way.

    Each load runs in a process of its own: a second load in one process adds the jieba
    dictionary's words again, which changes a few tokenisations by itself.
    """
    if lean:
        assert install_lean_model_load()
    print(json.dumps(asyncio.run(answers(Agent.load(str(MODEL)), some_training_texts(120))), default=str))


def answers_in_a_process(lean: bool) -> Any:
    code = f"from tests.rasa_server.test_lean_model_load import print_answers; print_answers({lean})"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # loads the trained model twice
@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
def test_a_model_loaded_without_the_training_step_answers_exactly_the_same() -> None:
    stock, lean = answers_in_a_process(lean=False), answers_in_a_process(lean=True)

    assert len(stock[0]) == 120
    assert lean == stock
