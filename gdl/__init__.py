"""gdl: a Keras 3 companion library for *Generative Deep Learning* (2nd ed., D. Foster).

Layers live in :mod:`gdl.layers`, models with their own training logic in
:mod:`gdl.models`, datasets in :mod:`gdl.data`; :mod:`gdl.plotting`,
:mod:`gdl.callbacks` and :mod:`gdl.metrics` hold what a reader looks at.
The ``gdl`` command line (:mod:`gdl.cli`) trains and samples the same models headless.
"""

from gdl.config import data_dir, pick, runs_dir, smoke_mode

__version__ = "0.1.0"

__all__ = ["__version__", "data_dir", "pick", "runs_dir", "smoke_mode"]
