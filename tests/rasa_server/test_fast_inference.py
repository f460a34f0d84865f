import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
from rasa.core.agent import Agent
from rasa.shared.core.events import UserUttered
from rasa.utils.tensorflow.models import RasaModel

from rasa_server.fast_inference import _GRAPH_ATTRIBUTE, _TracedGraph, install_fast_inference

MODEL = Path(__file__).resolve().parents[2] / "bot" / "models" / "aftersales.tar.gz"
TEXTS = ["我想查一下退款进度", "6600002003", "东西坏了我要退货", "转人工", "快递三天了还没到"]


def traced_sum() -> Any:
    """A traced function with Rasa's kind of signature: one list of tensors, any batch size."""
    function = tf.function(
        lambda batch: {"total": tf.reduce_sum(batch[0]) + tf.cast(tf.reduce_sum(batch[1]), tf.float32)},
        input_signature=[[tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None], tf.int64)]],
    )
    return function.get_concrete_function()


def test_the_traced_graph_gives_what_the_function_gives() -> None:
    graph = _TracedGraph(traced_sum())
    batch = (np.array([[1.5, 2.0], [3.0, 0.5]], dtype=np.float32), np.array([4, 5], dtype=np.int64))

    assert graph.accepts(batch)
    assert float(graph(batch)["total"]) == 16.0


def test_a_batch_of_other_types_or_ranks_is_left_to_rasa() -> None:
    graph = _TracedGraph(traced_sum())
    floats = np.array([[1.0, 2.0]], dtype=np.float32)

    assert not graph.accepts((floats.astype(np.float64), np.array([1], dtype=np.int64)))
    assert not graph.accepts((floats, np.array([[1]], dtype=np.int64)))
    assert not graph.accepts((np.array([[1.0, 2.0, 3.0]], dtype=np.float32), np.array([1], dtype=np.int64)))
    assert not graph.accepts((floats,))
    assert not graph.accepts((floats.tolist(), np.array([1], dtype=np.int64)))


def test_installing_twice_patches_once() -> None:
    assert install_fast_inference()
    patched = RasaModel._rasa_predict
    assert install_fast_inference()
    assert RasaModel._rasa_predict is patched


async def parses_and_prediction(agent: Agent) -> tuple[list[dict[str, Any]], list[float]]:
    parses = [await agent.parse_message(text) for text in TEXTS]
    tracker = await agent.processor.fetch_tracker_with_initial_session("fast-inference")
    first = parses[0]
    tracker.update(UserUttered(first["text"], first["intent"], first["entities"], first))
    prediction = agent.processor._predict_next_with_tracker(tracker)
    return parses, prediction.probabilities


@pytest.mark.slow  # loads the trained model
@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
def test_diet_and_ted_answer_exactly_as_through_tensorflow_s_dispatch(monkeypatch: pytest.MonkeyPatch) -> None:
    # Rasa's own method first (another test may have installed the patch already).
    original = getattr(RasaModel._rasa_predict, "rasa_original", RasaModel._rasa_predict)
    monkeypatch.setattr(RasaModel, "_rasa_predict", original)
    agent = Agent.load(str(MODEL))
    stock = asyncio.run(parses_and_prediction(agent))

    assert install_fast_inference()
    asyncio.run(parses_and_prediction(agent))  # the first call through the patch traces
    fast = asyncio.run(parses_and_prediction(agent))

    assert fast == stock
    models = _models(agent)
    assert models and all(_GRAPH_ATTRIBUTE in model.__dict__ for model in models)


def _models(agent: Agent) -> list[RasaModel]:
    """The DIET and TED networks of the loaded graph."""
    found = []
    for node in agent.processor.graph_runner._instantiated_nodes.values():
        component = getattr(node, "_component", None)
        model = getattr(component, "model", None)
        if isinstance(model, RasaModel):
            found.append(model)
    return found
