"""Chinese NLU: text normalisation (`normalize`) and the Rasa components around it.

`bot.nlu.components` (ChineseNormalizer, EntityOffsetRestorer) imports Rasa; importing
this package does not, so scripts can normalise text cheaply.
"""

from bot.nlu.normalize import NormalizedText, normalize

__all__ = ["NormalizedText", "normalize"]
