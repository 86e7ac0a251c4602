"""The CMA-ES evaluator on Ray: rollouts on actors, on one machine or a cluster.

The book's orchestrator "sends parameter sets to worker nodes, which simulate agents
and return scores"; Ha & Schmidhuber ran 64 candidates x 16 rollouts per generation
on 64 CPUs. :class:`RayEvaluator` does that with Ray (``pip install "gdl[ray]"``):

- one actor per CPU of the cluster (or ``num_workers``); the NumPy V and M weights
  (and the dream's initial latents) are put in the object store **once** and every
  actor reads them when it starts, so a task carries only a controller's 867
  parameters and a seed;
- each actor keeps its CarRacing (or dream) environment between tasks, like the
  multiprocessing pool's workers (:func:`gdl.world_models.cmaes._init_worker`);
- tasks are handed out as actors free up (two in flight per actor, so an actor never
  waits for the driver), so uneven episode lengths do not idle CPUs;
- a task is a pure function of ``(params, seed)``: an actor that dies mid-generation
  is restarted by Ray (``max_restarts``) or, if it was killed for good, replaced, and
  its unfinished tasks run again; the generation's rewards are the ones an undisturbed
  run gives. ``retried`` counts the re-run tasks.

The rewards are bit-for-bit those of :class:`~gdl.world_models.cmaes.Evaluator` (same
code, single-threaded BLAS in every worker); the CMA-ES state and its resumption
(:func:`~gdl.world_models.cmaes.train_controller`) do not depend on the evaluator.
"""

from __future__ import annotations

from collections import deque

from gdl.world_models import cmaes

#: tasks queued on each actor at once (hides the driver round trip between tasks)
IN_FLIGHT_PER_WORKER = 2


def _ray():
    try:
        import ray
    except ImportError as e:  # pragma: no cover - the dev extra installs ray
        raise ImportError(
            'the Ray evaluator needs Ray: pip install "gdl[ray]" (on every node of the cluster)'
        ) from e
    return ray


class RolloutWorker:
    """A Ray actor's body: the worker state of the multiprocessing pool, kept between tasks."""

    def __init__(self, payload: dict):
        cmaes._init_worker(payload["weights"], payload["mode"], payload["options"])

    def evaluate(self, task) -> tuple[int, float]:
        return cmaes._evaluate_task(task)

    def ping(self) -> bool:
        return True


_ACTOR_CLASS = None


def _actor_class():
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        # restarted by Ray after a crash (lost node, OOM kill); its pending calls retried
        _ACTOR_CLASS = _ray().remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(
            RolloutWorker
        )
    return _ACTOR_CLASS


class RayEvaluator(cmaes.Evaluator):
    """:class:`~gdl.world_models.cmaes.Evaluator` whose rollouts run on Ray actors.

    ``address``: the cluster to join (``"auto"``, ``"host:6379"``, ``"ray://..."``);
    None uses the Ray instance this process already started (``ray.init``) or starts
    a local one. ``num_workers``: actors (default: every CPU of the cluster). Use as a
    context manager; leaving it kills the actors (and disconnects if it connected).
    """

    def __init__(
        self,
        weights: dict,
        mode: str = "real",
        address: str | None = None,
        num_workers: int | None = None,
        **options,
    ):
        super().__init__(weights, mode, workers=0, **options)
        self.address, self.num_workers = address, num_workers
        self.actors: list = []
        self.retried = 0  # tasks run again after their actor died
        self.completed = 0  # tasks finished in the current generation
        self._payload = None
        self._connected = False

    def __enter__(self):
        ray = _ray()
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False)
            self._connected = True
        if self.num_workers is None:
            self.num_workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        payload = {"weights": self.weights, "mode": self.mode, "options": self.options}
        self._payload = ray.put(payload)  # once: every actor (and restart) reads this copy
        self.actors = [self._new_actor() for _ in range(self.num_workers)]
        ray.get([a.ping.remote() for a in self.actors])  # started: not a generation's cost
        return self

    def _new_actor(self):
        return _actor_class().remote(self._payload)

    def __exit__(self, *exc):
        ray = _ray()
        for actor in self.actors:
            ray.kill(actor)
        self.actors, self._payload = [], None
        if self._connected:
            ray.shutdown()
            self._connected = False

    def _run(self, tasks):
        ray = _ray()
        if not self.actors:
            raise RuntimeError("use RayEvaluator as a context manager: `with RayEvaluator(...)`")
        queue, inflight, results = deque(tasks), {}, []
        self.completed = 0

        def submit(slot):
            task = queue.popleft()
            actor = self.actors[slot]
            inflight[actor.evaluate.remote(task)] = (slot, actor, task)

        for _ in range(IN_FLIGHT_PER_WORKER):
            for slot in range(len(self.actors)):
                if queue:
                    submit(slot)
        while inflight:
            [ref], _ = ray.wait(list(inflight), num_returns=1)
            slot, actor, task = inflight.pop(ref)
            try:
                results.append(ray.get(ref))
                self.completed += 1
            except ray.exceptions.RayActorError:
                # killed for good (Ray restarts crashed actors itself): replace it once,
                # and run its task again; the other tasks it held fail and come back too
                self.retried += 1
                queue.appendleft(task)
                if self.actors[slot] is actor:
                    self.actors[slot] = self._new_actor()
            if queue:
                submit(slot)
        return results
