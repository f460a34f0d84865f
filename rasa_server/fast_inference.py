"""DIET and TED predictions called through their traced TensorFlow graph directly.

Every NLU parse runs DIET once and every action prediction runs TED once. Rasa 3.6
(`RasaModel._rasa_predict`) calls the model's `tf.function` with the batch as NumPy
arrays, and for each call TensorFlow's polymorphic dispatch rebuilds the call's cache key
and casts every input against the signature before it finds the one graph it traced on
the first call: under load about 40 % of the time these two models cost, 14 % of the
Rasa server's CPU (py-spy, README "Performance"), for an answer known after the first call.

`install_fast_inference` keeps Rasa's first call as it is (it traces the graph) and then
runs later calls on that traced graph (the `ConcreteFunction` of the same signature) with
the arrays turned into tensors of the signature's types. The graph, its weights and its
outputs are the same; only the dispatch is skipped. A batch whose arrays do not match the
traced signature (another dtype or rank) goes through Rasa's own path, unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_PATCHED_MARK = "_aftersales_fast_inference"
_GRAPH_ATTRIBUTE = "_aftersales_traced_graph"


class _TracedGraph:
    """The graph a model's predict step was traced into, and the input types it takes."""

    def __init__(self, concrete_function: Any) -> None:
        import tensorflow as tf

        self._function = concrete_function
        specs = tf.nest.flatten(concrete_function.structured_input_signature[0])
        self._dtypes = [spec.dtype.as_numpy_dtype for spec in specs]
        self._shapes = [spec.shape for spec in specs]
        self._to_tensor = tf.convert_to_tensor

    def accepts(self, batch_in: Sequence[Any]) -> bool:
        """Whether every array has the traced type and a shape the traced one admits (its
        fixed dimensions; TensorFlow's dispatch checks them, the traced graph does not);
        otherwise Rasa's path runs."""
        if len(batch_in) != len(self._dtypes):
            return False
        return all(
            isinstance(array, np.ndarray) and array.dtype == dtype and shape.is_compatible_with(array.shape)
            for array, dtype, shape in zip(batch_in, self._dtypes, self._shapes, strict=True)
        )

    def __call__(self, batch_in: Sequence[np.ndarray]) -> Any:
        tensors = [self._to_tensor(array) for array in batch_in]
        return self._function._call_flat(tensors, self._function.captured_inputs)


def install_fast_inference() -> bool:
    """Makes `RasaModel._rasa_predict` call the traced graph directly after the first call.

    Returns:
        True when installed (or already installed); False when this Rasa version's
        `RasaModel` does not look as expected and was left unchanged.
    """
    from rasa.utils.tensorflow.models import RasaModel

    original = getattr(RasaModel, "_rasa_predict", None)
    if original is None or not hasattr(RasaModel, "_empty_lists_to_none_in_dict"):
        logger.warning("RasaModel has changed; DIET and TED predict through TensorFlow's dispatch")
        return False
    if getattr(original, _PATCHED_MARK, False):
        return True

    from keras.utils import tf_utils
    from rasa.shared.constants import DIAGNOSTIC_DATA

    def _rasa_predict(self: RasaModel, batch_in: Any) -> dict[str, Any]:
        graph: _TracedGraph | None = self.__dict__.get(_GRAPH_ATTRIBUTE)
        if graph is None or self._run_eagerly or not graph.accepts(batch_in):
            outputs = original(self, batch_in)
            traced = getattr(self, "_tf_predict_step", None)
            if graph is None and traced is not None and not self._run_eagerly:
                # Keras models track attribute assignments; the dict keeps this one out.
                self.__dict__[_GRAPH_ATTRIBUTE] = _TracedGraph(traced.get_concrete_function())
            return outputs
        self._training = False
        outputs = tf_utils.sync_to_numpy_or_python_type(graph(batch_in))
        if DIAGNOSTIC_DATA in outputs:
            outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
        return outputs

    setattr(_rasa_predict, _PATCHED_MARK, True)
    _rasa_predict.rasa_original = original  # type: ignore[attr-defined]
    RasaModel._rasa_predict = _rasa_predict
    return True
