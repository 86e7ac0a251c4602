"""The only place in gdl with backend branches (tensorflow / jax / torch).

* :func:`compile_loop` compiles an inference function that calls a model's layers
  (a generation loop, a decode step, a sampler step): ``tf.function`` on tensorflow,
  ``jax.jit`` of a *pure* function on jax, eager on torch. On jax the owner's variables
  are passed in as arguments through a ``keras.StatelessScope``, so the compiled
  function always sees the current weights (a plain ``jax.jit`` would bake them in as
  constants, and generate -> fit -> generate would keep using the old weights).
* :func:`value_and_grad` differentiates a scalar loss with respect to Keras variables
  (``tf.GradientTape``, ``jax.value_and_grad`` through a ``StatelessScope``,
  ``torch.autograd``), for training steps written once in ``keras.ops``.
* :func:`input_gradient` differentiates a scalar function with respect to an input
  tensor (Langevin dynamics, gradient penalties, saliency).
* :func:`train_function` builds ``model.train_function`` for training steps that update
  variables in place (several optimizers, lazy regularisers): ``tf.function``, a
  ``jax.jit`` of a pure function over every variable the step touches, or eager torch,
  one compiled step per *phase* (a hashable the model chooses in Python before each
  step, e.g. "R1 on this step or not").
* :func:`require_tensorflow` is the guard for the few features that only exist on
  TensorFlow (it raises an error naming the fix).
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = [
    "backend",
    "compile_loop",
    "input_gradient",
    "require_tensorflow",
    "train_function",
    "value_and_grad",
]


def backend() -> str:
    """The active Keras backend's name."""
    return keras.config.backend()


def compile_loop(
    owner, fn, jit_compile: bool = False, static_argnums=(), reduce_retracing: bool = False
):
    """Compile ``fn(*tensors)``, an inference function calling ``owner``'s layers.

    * tensorflow: ``tf.function`` (pass tensors, not Python numbers, so it is traced once
      per input signature; ``reduce_retracing`` lets shapes vary), XLA when ``jit_compile``;
    * jax: ``jax.jit`` of a pure function receiving the current values of
      ``owner.variables`` through a ``keras.StatelessScope`` (weights are arguments,
      never constants); ``static_argnums`` index ``fn``'s own arguments;
    * torch and others: ``fn`` itself, under ``torch.no_grad`` on torch.

    ``fn`` must not create or assign variables (inference only). ``owner`` may be a
    layer, a model, or a list of variables.
    """
    name = backend()

    def variables():
        return list(owner) if isinstance(owner, (list, tuple)) else list(owner.variables)

    if name == "tensorflow":
        import tensorflow as tf

        # no autograph: loops are keras.ops while/fori loops, Python control flow is static
        return tf.function(
            fn, jit_compile=jit_compile, reduce_retracing=reduce_retracing, autograph=False
        )
    if name == "jax":
        import jax

        def pure(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables(), values))):
                return fn(*args)

        jitted = jax.jit(pure, static_argnums=tuple(i + 1 for i in static_argnums))

        def call(*args):
            return jitted([v.value for v in variables()], *args)

        return call
    if name == "torch":
        import torch

        def call(*args):
            with torch.no_grad():
                return fn(*args)

        return call
    return fn


def value_and_grad(loss_fn, variables, has_aux: bool = False, state=()):
    """Return ``(loss, grads)`` (or ``((loss, aux), grads)`` with ``has_aux``) where
    ``grads`` are the gradients of the scalar ``loss_fn()`` w.r.t. ``variables``
    (Keras variables), in the same order. ``loss_fn`` takes no arguments and reads the
    variables through the layers that own them.

    On jax the variables are substituted through a ``keras.StatelessScope``; the
    variables in ``state`` that ``loss_fn`` assigns (e.g. BatchNorm statistics) are
    written back afterwards (on tensorflow and torch they are assigned directly).
    """
    variables = list(variables)
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            out = loss_fn()
        loss = out[0] if has_aux else out
        grads = tape.gradient(loss, variables)
        return out, grads
    if name == "jax":
        import jax

        def pure(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))) as scope:
                _inherit_outer_scope(scope)
                out = loss_fn()
            updates = [(v, scope.get_current_value(v)) for v in state]
            updates = [(v, value) for v, value in updates if value is not None]
            loss = out[0] if has_aux else out
            return loss, (out, updates)

        (_, (out, updates)), grads = jax.value_and_grad(pure, has_aux=True)(
            [v.value for v in variables]
        )
        for v, value in updates:
            v.assign(value)
        return out, grads
    if name == "torch":
        import torch

        tensors = [v.value for v in variables]
        with torch.enable_grad():
            out = loss_fn()
            loss = out[0] if has_aux else out
            grads = torch.autograd.grad(loss, tensors, allow_unused=True)
        grads = [ops.zeros_like(t) if g is None else g for g, t in zip(grads, tensors)]
        return out, grads
    raise NotImplementedError(f"value_and_grad: backend {name!r} is not supported")


def _inherit_outer_scope(scope):
    """Inside an enclosing ``StatelessScope`` (a jitted training step over every variable),
    let ``scope`` read the enclosing values of the variables it does not map itself:
    Keras does not fall back to an outer scope, it would read the stored values."""
    from keras.src.backend.common.stateless_scope import get_stateless_scope

    outer = scope.original_scope if scope is get_stateless_scope() else get_stateless_scope()
    if outer is not None:
        for key, value in outer.state_mapping.items():
            scope.state_mapping.setdefault(key, value)


def train_function(model, step, phase=lambda: (), extra_variables=()):
    """A ``train_function`` for ``model.fit`` / ``train_on_batch`` that runs ``step(data,
    phase)``: a training step written once in ``keras.ops`` that updates variables in
    place (``optimizer.apply_gradients``, metric trackers) and returns the logs.

    ``phase()`` is read in Python before every step; each value gets its own compiled
    step (so lazy regularisers cost nothing on the steps without them).
    ``extra_variables`` are variables the step updates that Keras' own training state
    does not hold (a second optimizer's). tensorflow: ``tf.function`` (eager with
    ``model.run_eagerly``); jax: ``jax.jit`` of a pure function mapping the trainer's
    state and ``extra_variables`` through a ``StatelessScope`` (always compiled); torch:
    eager.
    """
    name = backend()
    extra = list(extra_variables)
    compiled = {}

    def get(key):
        if key not in compiled:
            compiled[key] = _compile_step(model, lambda data: step(data, key), extra, name)
        return compiled[key]

    if name == "jax":

        def run_jax(state, iterator):
            return get(phase())(next(iterator), state)

        return run_jax
    if name == "torch":
        return lambda data: get(phase())(data[0])
    return lambda iterator: get(phase())(next(iterator))


def _compile_step(model, fn, extra, name):
    if name == "tensorflow" and not model.run_eagerly:
        import tensorflow as tf

        return tf.function(fn, reduce_retracing=True, autograph=False)
    if name != "jax":
        return fn
    import jax

    def groups():
        return [model.trainable_variables, model.non_trainable_variables,
                model.optimizer.variables, model.metrics_variables]  # fmt: skip

    def pure(state, extra_values, data):
        mapping = [pair for vs, values in zip(groups(), state) for pair in zip(vs, values)]
        with keras.StatelessScope(state_mapping=mapping + list(zip(extra, extra_values))) as scope:
            logs = fn(data)
        new_state = tuple([scope.get_current_value(v) for v in vs] for vs in groups())
        return logs, new_state, [scope.get_current_value(v) for v in extra]

    jitted = jax.jit(pure)

    def call(data, state):
        logs, state, extra_values = jitted(state, [v.value for v in extra], data)
        for v, value in zip(extra, extra_values):
            v.assign(value)
        return logs, state

    return call


def input_gradient(fn, x):
    """``(fn(x), d sum(fn(x)) / dx)`` for a tensor ``x``: the gradient of ``fn``'s output
    summed over everything (per-example gradients when examples are independent), e.g.
    Langevin steps or a WGAN-GP penalty's ``grad D(x_hat)``."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x)
            total = tf.reduce_sum(y)
        return y, tape.gradient(total, x)
    if name == "jax":
        import jax
        import jax.numpy as jnp

        def total(z):
            y = fn(z)
            return jnp.sum(y), y

        (_, y), g = jax.value_and_grad(total, has_aux=True)(jnp.asarray(x))
        return y, g
    if name == "torch":
        import torch

        x = ops.convert_to_tensor(x).detach().requires_grad_(True)
        with torch.enable_grad():
            y = fn(x)
            (g,) = torch.autograd.grad(y.sum(), x, create_graph=torch.is_grad_enabled())
        return y, g
    raise NotImplementedError(f"input_gradient: backend {name!r} is not supported")


def require_tensorflow(feature: str) -> None:
    """Raise ``RuntimeError`` naming the fix when ``feature`` needs the TensorFlow backend."""
    if backend() != "tensorflow":
        raise RuntimeError(
            f"{feature} needs the TensorFlow backend (this process uses {backend()!r}); "
            "set KERAS_BACKEND=tensorflow before importing keras"
        )
