"""The ``gdl`` command line: thin adapters from arguments to library calls.

``main`` parses and dispatches; ``train`` is the trainer (checkpoints, TensorBoard,
resume); ``recipes`` map each model's CLI options to gdl's models (:mod:`gdl.models`)
and the chapters' data (:mod:`gdl.book`). Library code raises :mod:`gdl.errors` types;
``main`` alone turns a :class:`~gdl.errors.GDLError` into one line and exit status 2.
"""

from gdl.cli.main import main

__all__ = ["main"]
