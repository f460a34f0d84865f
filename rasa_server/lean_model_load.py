"""DIET and TED loaded for prediction only, without a training step.

Rasa 3.6 (`RasaModel.load`) builds a network by training it for one step on one example,
then overwrites the weights with the trained ones. That step makes TensorFlow trace the
training graph, create the optimiser's slots and allocate the gradients of every layer;
for DIET over this project's 50,000 sparse n-gram features it is 0.9 GB of each Rasa
process's memory that a server which only predicts never uses again (measured with
/proc/self/status around each component's load: DIET +888 MiB, TED +83 MiB).

`install_lean_model_load` loads a model that will only predict the way TensorFlow's
checkpoints allow: the weights are read first and each variable takes its trained value
as the prediction on Rasa's own example creates it. Every variable the prediction uses
must have been in the checkpoint, or the model is loaded again Rasa's way. A model loaded
to be trained further (`finetune_mode`) is always loaded Rasa's way.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

_PATCHED_MARK = "_aftersales_lean_model_load"


def install_lean_model_load() -> bool:
    """Makes `RasaModel.load` skip the training step when the model will only predict.

    Returns:
        True when installed (or already installed); False when this Rasa version's
        `RasaModel.load` does not look as expected and was left unchanged.
    """
    from rasa.utils.tensorflow.models import RasaModel

    original = getattr(RasaModel.load, "__func__", None)
    if original is None or original.__code__.co_varnames[:5] != (
        "cls", "model_file_name", "model_data_example", "predict_data_example", "finetune_mode"
    ):
        logger.warning("RasaModel.load has changed; DIET and TED are loaded with a training step")
        return False
    if getattr(original, _PATCHED_MARK, False):
        return True

    import tensorflow as tf
    from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY

    def load(
        cls: type[RasaModel],
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> RasaModel:
        if finetune_mode or not predict_data_example:
            return original(
                cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
            )
        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        # Compiled as Rasa compiles it (the optimiser's slots are never created here).
        model.compile(
            optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
            run_eagerly=config.get(RUN_EAGERLY),
        )
        restored = model.load_weights(model_file_name)
        model.run_inference(predict_data_example)  # creates the variables; each is restored
        restored.expect_partial()  # the optimiser's saved slots are not wanted here
        try:
            restored.assert_existing_objects_matched()
        except AssertionError as error:
            logger.warning("%s: not every variable was restored (%s); loaded Rasa's way", cls.__name__, error)
            return original(
                cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
            )
        return model

    setattr(load, _PATCHED_MARK, True)
    load.rasa_original = original  # type: ignore[attr-defined]
    RasaModel.load = classmethod(load)
    return True
