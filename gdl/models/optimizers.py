"""The book's optimizer of each model, in one place: class attributes and ``compile()``.

Every gdl model states the optimizer the book trains it with as class attributes::

    VAE.book_learning_rate          # 0.0005
    VAE.book_optimizer()            # a fresh keras.optimizers.Adam(learning_rate=0.0005)
    DCGAN.book_optimizer_kwargs     # {"beta_1": 0.5, "beta_2": 0.999}

A model trained with one optimizer (:class:`BookCompile`) uses it when ``compile`` gets no
``optimizer``: ``VAE().compile()`` is the book's ``compile(optimizer=Adam(5e-4))``, and
``compile(optimizer=...)`` still overrides it. The GANs (two optimizers) use
:meth:`BookOptimizer.book_optimizer` for both when ``compile`` gets none. Notebooks'
parameter cells, the CLI's recipes and World Models read these attributes; nothing else
restates a learning rate. The optimizer is saved with the model (``.keras``) as Keras
saves any compiled model's, so a loaded model resumes with the optimizer it was given.
"""

from __future__ import annotations

from typing import ClassVar

import keras


class BookOptimizer:
    """Class attributes naming the book's optimizer, and a factory for it.

    Subclasses set ``book_optimizer_class`` (a name in ``keras.optimizers``),
    ``book_learning_rate`` and ``book_optimizer_kwargs`` (betas, weight decay, clipnorm).
    """

    book_optimizer_class: ClassVar[str] = "Adam"
    book_learning_rate: ClassVar[float] = 1e-3
    book_optimizer_kwargs: ClassVar[dict] = {}

    @classmethod
    def book_optimizer(cls, learning_rate: float | None = None, **kwargs):
        """A new instance of the book's optimizer; ``learning_rate`` (``None``: the book's)
        and ``kwargs`` override its settings."""
        make = getattr(keras.optimizers, cls.book_optimizer_class)
        lr = cls.book_learning_rate if learning_rate is None else learning_rate
        return make(learning_rate=lr, **{**cls.book_optimizer_kwargs, **kwargs})


class BookCompile(BookOptimizer):
    """Mixin for a ``keras.Model`` trained with one optimizer (put it before
    ``keras.Model`` in the bases): ``compile()`` with no ``optimizer`` uses
    :meth:`book_optimizer`, plus :meth:`book_compile_kwargs` (e.g. the LSTM's loss) unless
    the call passes them."""

    def book_compile_kwargs(self) -> dict:
        """``compile`` arguments besides the optimizer that the book passes (default none)."""
        return {}

    def compile(self, optimizer=None, *args, **kwargs):
        """``keras.Model.compile`` (same arguments, positional ones too); ``optimizer=None``
        is the book's, and :meth:`book_compile_kwargs` fill what the call leaves out."""
        if optimizer is None:
            optimizer = self.book_optimizer()
        defaults = self.book_compile_kwargs()
        if args:  # loss given positionally, as keras.Model.compile allows
            defaults.pop("loss", None)
        super().compile(optimizer, *args, **{**defaults, **kwargs})

    def compile_from_config(self, config):
        """Keras' own restore of the saved compile arguments (optimizer, loss, ...).

        Keras skips it for any model whose ``compile`` is overridden (with a warning), so a
        loaded model would come back uncompiled; the override here only fills in
        defaults, so the saved arguments are replayed exactly as Keras would.
        """
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)  # before its variables load


class TwoOptimizers(BookOptimizer):
    """Mixin for a ``keras.Model`` with one optimizer per player (the GANs; put it before
    ``keras.Model`` in the bases). Subclasses name the two attributes in ``_opt_names``
    (the judge's first: ``d_optimizer`` or ``c_optimizer``, then ``g_optimizer``) and return
    each player's variables from :meth:`player_variables`.

    Both default to :meth:`book_optimizer`; ``discriminator_learning_rate`` (``None``: the
    generator's) is the two time-scale rule (SAGAN). The generator's optimizer is also the
    model's ``optimizer``, so ``optimizer.iterations`` (TensorBoard's step) counts
    generator steps. Both are saved in the ``.keras`` file and rebuilt on load, and
    :meth:`build_optimizers` lets ``gdl train --resume`` restore their state.
    """

    _opt_names: ClassVar[tuple] = ("d_optimizer", "g_optimizer")
    discriminator_learning_rate: ClassVar[float | None] = None

    def player_variables(self) -> tuple[list, list]:
        """``(judge variables, generator variables)``: what each optimizer updates."""
        raise NotImplementedError

    def compile_players(self, judge_optimizer=None, g_optimizer=None, **kwargs):
        """``compile`` with the two optimizers (``None``: the book's / paper's)."""
        judge = keras.optimizers.get(
            judge_optimizer or self.book_optimizer(self.discriminator_learning_rate))
        generator = keras.optimizers.get(g_optimizer or self.book_optimizer())
        kwargs.pop("optimizer", None)
        kwargs.pop("loss", None)
        super().compile(optimizer=generator, **kwargs)
        setattr(self, self._opt_names[0], judge)
        setattr(self, self._opt_names[1], generator)
        self.build_optimizers()

    def build_optimizers(self) -> None:
        """Build each optimizer on the variables it updates (needed before loading state)."""
        for name, variables in zip(self._opt_names, self.player_variables()):
            opt = getattr(self, name, None)
            if opt is not None and not opt.built:
                opt.build(variables)

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {n: keras.saving.serialize_keras_object(getattr(self, n)) for n in self._opt_names}

    def compile_from_config(self, config):
        self.compile(**{n: keras.saving.deserialize_keras_object(config[n]) for n in config})
