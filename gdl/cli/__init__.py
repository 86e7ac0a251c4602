"""The ``gdl`` command line: thin adapters from arguments to library calls.

``main`` parses and dispatches; ``train`` is the trainer (checkpoints, TensorBoard,
resume); ``recipes`` map each model's CLI options to gdl's models and data.
"""

from gdl.cli.main import main

__all__ = ["main"]
