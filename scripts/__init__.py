"""Command-line tools: setup, training, stack control, evaluation and benchmarks."""
