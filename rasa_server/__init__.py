"""The Rasa server as this project runs it: Rasa's own CLI, with the project's fixes applied.

`python -m rasa_server run ...` takes exactly the arguments of `python -m rasa run ...`.
Each fix checks that the Rasa code it changes looks the way it expects and otherwise
leaves Rasa alone with a warning, so a Rasa patch release can only make it slower, never
wrong.
"""
