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
* :func:`value_and_grads` differentiates several losses of one forward pass, each with
  respect to its own variables (two players, one pass: the DCGAN step).
* :func:`fori_loop` is ``keras.ops.fori_loop`` for bodies that draw random numbers from
  a ``SeedGenerator`` (a Langevin chain): on jax the generator's state is carried
  through the loop instead of being assigned inside it.
* :func:`train_step` / :func:`evaluate_step` run a model's training step written once in
  ``keras.ops`` as an ordinary stateful function ``step(data) -> logs`` (gradients
  through :func:`value_and_grad`, ``optimizer.apply_gradients``, metric updates). On
  tensorflow and torch that *is* Keras' ``train_step``; on jax Keras calls
  ``train_step(state, data)`` inside ``jax.jit`` and expects ``(logs, state)`` back, so
  the step runs in a ``keras.StatelessScope`` over the state's values and the new
  values are read back from the scope (a ``stateless_call``-style step). Variables a
  step updates that are not weights (a second optimizer, a replay buffer) must be in
  the model's ``non_trainable_variables``: :class:`TrainingState` adds them.

Inside a stateless scope (jax), the helpers nest: a gradient or loop inherits the
values of the enclosing scope, and the variables it assigns (batch-norm statistics,
seed generators) are handed back to it, so nothing leaks out of a ``jax`` transform.
* :func:`train_function` builds ``model.train_function`` directly for steps that choose
  a *phase* in Python before each step (lazy regularisers: "R1 on this step or not"),
  one compiled step per phase (chapter 10's GANs); :func:`train_step` is the simpler
  route when one compiled step suffices.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = [
    "TrainingState",
    "backend",
    "compile_loop",
    "evaluate_step",
    "fori_loop",
    "input_gradient",
    "train_function",
    "train_step",
    "value_and_grad",
    "value_and_grads",
]


# ------------------------------------------------------------------ jax: nested scopes
class _Scope(keras.StatelessScope):
    """A ``StatelessScope`` that starts from the enclosing scope's values and remembers
    which variables were assigned inside it (to hand them back afterwards)."""

    def __init__(self, pairs=()):
        super().__init__(state_mapping=list(pairs))
        from keras.src.backend.common.stateless_scope import get_stateless_scope

        self.outer = get_stateless_scope()
        if self.outer is not None:
            self.state_mapping = {**self.outer.state_mapping, **self.state_mapping}
        self.assigned = {}

    def add_update(self, update):
        super().add_update(update)
        self.assigned[id(update[0])] = update[0]

    def updates(self):
        """``{id: new value}`` of every variable assigned in the scope."""
        return {key: self.state_mapping[key] for key in self.assigned}


def _apply_updates(scope: _Scope, updates: dict) -> None:
    """Assign ``updates`` (from :meth:`_Scope.updates`) in the enclosing context: the
    enclosing stateless scope, or the variables themselves."""
    for key, value in updates.items():
        scope.assigned[key].assign(value)


_TORCH_DEPTH = [0]  # torch: how many value_and_grads are running (input_gradient reads it)


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

    ``fn`` must not create variables; the variables it assigns (a seed generator it draws
    from) are written back after each call on jax too. ``owner`` may be a layer, a
    model, or a list of variables.
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

        traced = {}

        def pure(values, *args):
            scope = _Scope(zip(variables(), values))
            with scope:
                out = fn(*args)
            traced["scope"] = scope
            return out, scope.updates()

        jitted = jax.jit(pure, static_argnums=tuple(i + 1 for i in static_argnums))

        def call(*args):
            out, updates = jitted([v.value for v in variables()], *args)
            _apply_updates(traced["scope"], updates)  # e.g. a seed generator advanced
            return out

        return call
    if name == "torch":
        import torch

        def call(*args):
            with torch.no_grad():
                return fn(*args)

        return call
    return fn


def value_and_grad(loss_fn, variables, has_aux: bool = False):
    """Return ``(loss, grads)`` (or ``((loss, aux), grads)`` with ``has_aux``) where
    ``grads`` are the gradients of the scalar ``loss_fn()`` w.r.t. ``variables``
    (Keras variables), in the same order. ``loss_fn`` takes no arguments and reads the
    variables through the layers that own them.

    On jax the variables are substituted through a ``keras.StatelessScope`` (nested in
    the enclosing one, if any); the variables ``loss_fn`` assigns (batch-norm statistics,
    seed generators) get their new values afterwards, as on tensorflow and torch.
    """
    out, (grads,) = value_and_grads(_single(loss_fn, has_aux), [variables], has_aux=True)
    losses, aux = out
    return ((losses[0], aux) if has_aux else losses[0]), grads


def _single(loss_fn, has_aux):
    """``loss_fn`` as a one-loss function for :func:`value_and_grads` (with aux)."""

    def fn():
        out = loss_fn()
        return ((out[0],), out[1]) if has_aux else ((out,), None)

    return fn


def value_and_grads(fn, variable_lists, has_aux: bool = False):
    """Several losses from ONE forward pass, each differentiated w.r.t. its own variables.

    ``fn()`` returns a tuple of scalar losses ``(l_1, ..., l_k)`` (or ``(losses, aux)``
    with ``has_aux``); ``variable_lists`` is ``[vars_1, ..., vars_k]``. Returns ``(out,
    [grads_1, ..., grads_k])`` where ``grads_i = d l_i / d vars_i`` and ``out`` is what
    ``fn`` returned. tensorflow: a persistent ``GradientTape``; jax: one ``jax.vjp`` and
    a pullback per loss; torch: ``torch.autograd.grad`` with ``retain_graph``.
    """
    variable_lists = [list(vs) for vs in variable_lists]
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape(persistent=True) as tape:
            out = fn()
        losses = out[0] if has_aux else out
        grads = [tape.gradient(loss, vs) for loss, vs in zip(losses, variable_lists)]
        del tape
        return out, grads
    if name == "jax":
        import jax
        import jax.numpy as jnp

        every, seen = [], set()
        for v in (v for vs in variable_lists for v in vs):
            if id(v) not in seen:
                seen.add(id(v))
                every.append(v)
        position = {id(v): i for i, v in enumerate(every)}
        traced = {}

        def pure(values):
            scope = _Scope(zip(every, values))
            with scope:
                out = fn()
            traced["scope"] = scope
            losses = out[0] if has_aux else out
            return tuple(losses), (out, scope.updates())

        losses, pullback, (out, updates) = jax.vjp(pure, [v.value for v in every], has_aux=True)
        grads = []
        for k, vs in enumerate(variable_lists):
            cotangent = tuple(
                jnp.ones_like(loss) if i == k else jnp.zeros_like(loss)
                for i, loss in enumerate(losses)
            )
            (all_grads,) = pullback(cotangent)
            grads.append([all_grads[position[id(v)]] for v in vs])
        _apply_updates(traced["scope"], updates)
        return out, grads
    if name == "torch":
        import torch

        _TORCH_DEPTH[0] += 1
        try:
            with torch.enable_grad():
                out = fn()
        finally:
            _TORCH_DEPTH[0] -= 1
        with torch.enable_grad():
            losses = out[0] if has_aux else out
            grads = []
            for k, (loss, vs) in enumerate(zip(losses, variable_lists)):
                tensors = [v.value for v in vs]
                g = torch.autograd.grad(
                    loss, tensors, allow_unused=True, retain_graph=k < len(losses) - 1
                )
                grads.append([ops.zeros_like(t) if d is None else d for d, t in zip(g, tensors)])
        return out, grads
    raise NotImplementedError(f"value_and_grads: backend {name!r} is not supported")


def train_function(model, step, phase=lambda: (), extra_variables=()):
    """A ``train_function`` for ``model.fit`` / ``train_on_batch`` that runs ``step(data,
    phase)``: a training step written once in ``keras.ops`` that updates variables in
    place (``optimizer.apply_gradients``, metric trackers) and returns the logs.

    ``phase()`` is read in Python before every step; each value gets its own compiled
    step (so lazy regularisers cost nothing on the steps without them).
    ``extra_variables`` are variables the step updates that Keras' own training state
    does not hold (a second optimizer's). tensorflow: ``tf.function`` (eager with
    ``model.run_eagerly``) of ``model.distribute_strategy.run(step)``, the replicas' logs
    averaged, as Keras' own train function does (see :mod:`gdl.distribute`); jax: ``jax.jit`` of a pure function mapping the trainer's
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
    if name == "tensorflow":
        import tensorflow as tf
        from keras.src.backend.tensorflow.trainer import reduce_per_replica

        def replicated(data):
            # as Keras' own train function: the step runs on every replica of the model's
            # tf.distribute strategy (the default strategy: plainly), the logs of the
            # replicas are averaged
            strategy = model.distribute_strategy
            return reduce_per_replica(strategy.run(fn, args=(data,)), strategy, "auto")

        if model.run_eagerly:
            return replicated
        return tf.function(replicated, reduce_retracing=True, autograph=False)
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

        traced = {}

        def total(z):
            scope = _Scope()
            with scope:
                y = fn(z)
            traced["scope"] = scope
            return jnp.sum(y), (y, scope.updates())

        (_, (y, updates)), g = jax.value_and_grad(total, has_aux=True)(jnp.asarray(x))
        _apply_updates(traced["scope"], updates)  # e.g. dropout's seed generator
        return y, g
    if name == "torch":
        import torch

        x = ops.convert_to_tensor(x).detach().requires_grad_(True)
        with torch.enable_grad():
            y = fn(x)
            # a graph for a second derivative only inside value_and_grad(s) (a gradient
            # penalty), not in a Langevin chain
            (g,) = torch.autograd.grad(y.sum(), x, create_graph=_TORCH_DEPTH[0] > 0)
        return y, g
    raise NotImplementedError(f"input_gradient: backend {name!r} is not supported")


def fori_loop(lower, upper, body, init, state=()):
    """``keras.ops.fori_loop(lower, upper, body, init)`` where ``body`` may assign the
    variables in ``state`` (typically ``[seed_generator.state]`` of the generator it
    draws noise from). On jax their values are carried through the loop and assigned
    once at the end (assigning a variable inside a ``lax`` loop would leak a tracer);
    elsewhere the loop is ``ops.fori_loop`` itself. Other variables ``body`` assigns
    raise a ``ValueError`` on jax (pass them in ``state``)."""
    if backend() != "jax":
        return ops.fori_loop(lower, upper, body, init)
    state = list(state)
    expected = {id(v) for v in state}

    def step(i, carry):
        values, x = carry
        scope = _Scope(zip(state, values))
        with scope:
            x = body(i, x)
        stray = [v.path for k, v in scope.assigned.items() if k not in expected]
        if stray:
            raise ValueError(f"fori_loop: the body assigns {stray}; pass them as `state`")
        return [scope.state_mapping[id(v)] for v in state], x

    values, x = ops.fori_loop(lower, upper, step, ([v.value for v in state], init))
    for v, value in zip(state, values):
        v.assign(value)
    return x


class TrainingState:
    """Mix-in for a ``keras.Model`` whose training step updates variables that are
    neither weights nor ``model.optimizer``'s: a second player's optimizer, a replay
    buffer. :meth:`training_state` lists them; they are added to
    ``non_trainable_variables`` (so Keras' jax trainer passes them in and out of its
    compiled step) but not to ``weights`` (so they are not saved as weights)."""

    def training_state(self) -> list:
        return []

    @property
    def non_trainable_variables(self):
        own = super().non_trainable_variables
        seen = {id(v) for v in own}
        return own + [v for v in self.training_state() if id(v) not in seen]


def _stateless_step(step, groups, state, data):
    """``step(data)`` under a ``StatelessScope`` over ``groups`` (lists of variables)
    with the values ``state``; returns ``(logs, new_state)`` (Keras' jax contract)."""
    if len(groups) != len(state) or any(len(g) != len(s) for g, s in zip(groups, state)):
        raise RuntimeError(
            "the jax training state does not match the model's variables; call "
            "compile() (which builds every optimizer) before fit()"
        )
    scope = _Scope((v, x) for vs, xs in zip(groups, state) for v, x in zip(vs, xs))
    with scope:
        logs = step(data)
    return logs, tuple([scope.state_mapping[id(v)] for v in vs] for vs in groups)


def train_step(model, step, *args):
    """Keras' ``train_step`` for a stateful ``step(data) -> logs`` written once in
    ``keras.ops``: ``model.train_step(*args)`` is ``train_step(model, step, *args)``.

    tensorflow / torch: ``step(data)``. jax: ``args`` is ``(state, data)`` with ``state =
    (trainable, non_trainable, optimizer, metrics)`` values; the step runs on those
    values and ``(logs, new_state)`` is returned (see :class:`TrainingState`)."""
    if backend() != "jax":
        return step(*args)
    state, data = args
    groups = (model.trainable_variables, model.non_trainable_variables,
              model.optimizer.variables, model.metrics_variables)  # fmt: skip
    return _stateless_step(step, groups, state, data)


def evaluate_step(model, step, *args):
    """:func:`train_step` for Keras' ``test_step`` (jax state: trainable, non-trainable and
    metrics variables)."""
    if backend() != "jax":
        return step(*args)
    state, data = args
    groups = (model.trainable_variables, model.non_trainable_variables, model.metrics_variables)
    return _stateless_step(step, groups, state, data)
