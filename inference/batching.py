"""One engine per GPU: transformers' continuous batching runs every admitted job's segments in each step.

The engine owns the resident model and a ``ContinuousBatchingManager`` (its own generation thread). Jobs are
admitted by KV memory: a job reserves its prompt plus both budgets (``kv.job_tokens``) for its whole life and
waits, first come first served, until that fits beside the jobs already running, so the cache can never
overflow mid-run and nothing is preempted. Each admitted job then runs as segments (``phases.run_phased``).

Reproducibility: transformers' continuous batching samples from one generator for the whole batch. A job
that runs alone (no other job admitted at any time during its run) is reseeded at each segment start, while
the generation loop is paused, with a seed derived from its own seed and position, so a solo re-run repeats
a solo run token for token. A job that shared the engine is recorded as such (``shared_batches``): its
tokens depend on what else ran.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from inference.errors import GenerationError
from inference.kv import KvCapacity
from inference.phases import Sampling

WaitCallback = Callable[[int], None]
# A waiting job's position is reported when it changes and at least this often, so the caller can show the
# job is alive (a worker writes its heartbeat then, and the sweep never takes a waiting job for a lost one).
WAIT_REPORT_SECONDS = 5.0
Cancelled = Callable[[], bool]


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    """How the engine batches: the most jobs at once and the KV cache it may fill."""

    slots: int = 16
    # None: transformers sizes the cache from 85% of the GPU memory left after loading (activations and masks
    # accounted for); on a CPU, room for CPU_DEFAULT_KV_TOKENS tokens.
    kv_memory_bytes: int | None = None
    page_size: int = 256
    max_batch_tokens: int | None = None  # tokens per step; None: transformers' default on a GPU, 256 on a CPU
    async_batching: bool = False  # True overlaps steps on a GPU, but a solo run is then not reproducible
    # Off by default: with a shared prefix cache, how much of a prompt is already cached (which depends on every
    # earlier job) changes the steps, and so the random draws, before a job's first token, and a solo re-run
    # would not repeat a solo run. Without it a forced token costs one prefill of the text so far: seconds on a
    # GPU, against minutes of decoding.
    prefix_cache: bool = False


# A CPU runs only the tiny test model: this holds sixteen test jobs and keeps the attention masks (batch tokens x
# cache tokens) small.
CPU_DEFAULT_KV_TOKENS = 131_072
CPU_MAX_BATCH_TOKENS = 256


@dataclasses.dataclass
class Ticket:
    """One job's reservation of KV cache positions."""

    tokens: int
    number: int
    shared: bool = False
    admitted_at: float | None = None
    waited_seconds: float | int = 0


class QueueCancelled(Exception):
    """The job was cancelled while it waited for memory."""


class Admission:
    """First come, first served reservations of a fixed number of KV positions and job slots."""

    def __init__(self, capacity: KvCapacity, slots: int) -> None:
        self.capacity = capacity
        self.slots = slots
        self.used = 0
        self.live: dict[int, Ticket] = {}
        self.waiting: collections.deque[Ticket] = collections.deque()
        self._numbers = itertools.count()
        self._changed = threading.Condition()

    def reserve(self, tokens: int, on_wait: WaitCallback | None = None, cancelled: Cancelled | None = None) -> Ticket:
        """Block until ``tokens`` positions and a slot are free for this job; refuse one that could never fit.

        While it waits, ``on_wait`` gets its 1-based place in the queue when that changes and every
        ``WAIT_REPORT_SECONDS``; ``cancelled`` is polled at least twice a second."""
        refusal = self.capacity.refusal(tokens)
        if refusal is not None:
            raise GenerationError(refusal)
        ticket = Ticket(tokens, next(self._numbers))
        started = last_report = time.monotonic()
        reported = 0
        with self._changed:
            self.waiting.append(ticket)
        try:
            while True:
                with self._changed:
                    if self.waiting[0] is ticket and self._fits(tokens):
                        self.waiting.popleft()
                        self._admit(ticket)
                        self._changed.notify_all()
                        break
                    position = self.waiting.index(ticket) + 1
                    if position == reported:
                        self._changed.wait(timeout=0.5)
                now = time.monotonic()
                if on_wait is not None and (position != reported or now - last_report >= WAIT_REPORT_SECONDS):
                    on_wait(position)  # outside the lock: it may write to a database
                    last_report = now
                reported = position
                if cancelled is not None and cancelled():
                    raise QueueCancelled
        except BaseException:
            with self._changed:
                if ticket in self.waiting:
                    self.waiting.remove(ticket)
                    self._changed.notify_all()
            raise
        waited = round(time.monotonic() - started, 3)
        # An integral float (0.0) would be written 0.0 by Python's JSON and 0 by RFC 8785, sending every such run
        # record down verification's slow path; an int is written the same by both.
        ticket.waited_seconds = int(waited) if waited.is_integer() else waited
        return ticket

    def release(self, ticket: Ticket) -> None:
        with self._changed:
            if self.live.pop(ticket.number, None) is not None:
                self.used -= ticket.tokens
            self._changed.notify_all()

    def alone(self, ticket: Ticket) -> bool:
        with self._changed:
            return not ticket.shared and list(self.live) == [ticket.number]

    def _fits(self, tokens: int) -> bool:
        return len(self.live) < self.slots and self.used + tokens <= self.capacity.tokens

    def _admit(self, ticket: Ticket) -> None:
        if self.live:  # it will share steps with every job now running, and they with it
            ticket.shared = True
            for other in self.live.values():
                other.shared = True
        self.used += ticket.tokens
        self.live[ticket.number] = ticket
        ticket.admitted_at = time.monotonic()


class _Stream:
    """A segment's new tokens, fed by the generation thread and read by the job's own thread."""

    def __init__(self, engine: BatchEngine, request_id: str) -> None:
        self.engine = engine
        self.request_id = request_id
        self.items: queue.SimpleQueue[tuple[list[int], bool, str | None]] = queue.SimpleQueue()
        self.seen = 0
        self.closed = False

    def push(self, generated: list[int], finished: bool, error: str | None) -> None:
        new, self.seen = generated[self.seen :], len(generated)
        self.items.put((new, finished, error))

    def tokens(self) -> Iterator[int]:
        while not self.closed:
            try:
                new, finished, error = self.items.get(timeout=1.0)
            except queue.Empty:
                self.engine.check_running()
                continue
            if error is not None:
                raise GenerationError(f"The batching engine failed this request ({error.splitlines()[0]}).")
            yield from new
            if finished:
                self.closed = True

    def cancel(self) -> None:
        if not self.closed:
            self.closed = True
            self.engine.cancel(self.request_id)
        self.engine.forget(self.request_id)


class BatchEngine:
    """The resident model behind one continuous-batching manager; thread-safe, one per GPU."""

    def __init__(self, model: Any, eos: int, settings: BatchSettings, bytes_per_token: int) -> None:
        from transformers import GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig
        from transformers.generation.continuous_batching.continuous_api import OutputRouter

        self.settings = settings
        on_cpu = model.device.type == "cpu"
        memory = settings.kv_memory_bytes
        if memory is None and on_cpu:
            memory = CPU_DEFAULT_KV_TOKENS * bytes_per_token
        vocab = int(model.config.vocab_size)
        # Per-request sampling: the manager only builds a processor for a parameter whose default is not a no-op,
        # so the defaults are set to values every request then overrides (greedy is top-k 1 at temperature 1).
        generation = GenerationConfig(
            do_sample=True, temperature=0.7, top_p=0.95, top_k=vocab, eos_token_id=eos, pad_token_id=eos
        )
        config = ContinuousBatchingConfig(
            num_blocks=None if memory is None else max(1, memory // bytes_per_token // settings.page_size),
            max_memory_percent=0.85,
            max_batch_tokens=settings.max_batch_tokens or (CPU_MAX_BATCH_TOKENS if on_cpu else None),
            page_size=settings.page_size,
            max_requests_per_batch=settings.slots,
            per_request_processors=True,
            use_async_batching=settings.async_batching,
            scheduler_type="fifo",
            allow_block_sharing=settings.prefix_cache,
        )
        self.vocab = vocab
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count()
        engine = self

        class Router(OutputRouter):  # type: ignore[misc]
            """Hands each output to its segment's stream; outputs of cut segments are dropped."""

            def deliver(self, output: Any) -> None:
                engine.route(output)

            def deliver_batch(self, outputs: list[Any]) -> None:
                for output in outputs:
                    engine.route(output)

        self.manager = model.init_continuous_batching(generation_config=generation, continuous_batching_config=config)
        self.manager.output_router = Router()
        self.manager.start()
        # The manager's generation thread is not a daemon: stop it when the interpreter shuts down, before
        # threading waits for it (the hook concurrent.futures uses), or a finishing worker would never exit.
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            register(self._stop_at_exit)
        # Admit by what was really allocated: the cache exists once the generation thread has built it.
        self.capacity = KvCapacity(self._allocated_tokens(), bytes_per_token)
        self.admission = Admission(self.capacity, settings.slots)

    def _allocated_tokens(self) -> int:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            processor = self.manager.batch_processor
            if processor is not None:
                return int(processor.cache.num_blocks) * self.settings.page_size
            self.check_running()
            time.sleep(0.01)
        raise GenerationError("The batching engine did not allocate its KV cache within 10 minutes.")

    def describe(self) -> dict[str, Any]:
        """The batch settings as recorded in each run's provenance."""
        import transformers

        return {
            "engine": "transformers-continuous-batching",
            "transformers": transformers.__version__,
            "slots": self.settings.slots,
            "kv_cache_tokens": self.capacity.tokens,
            "kv_bytes_per_token": self.capacity.bytes_per_token,
            "page_size": self.settings.page_size,
            "async_batching": self.settings.async_batching,
            "prefix_cache": self.settings.prefix_cache,
        }

    def start(
        self, ticket: Ticket, token_ids: list[int], max_new_tokens: int, stop_ids: tuple[int, ...], sampling: Sampling
    ) -> _Stream:
        request_id = f"seg-{next(self._ids)}"
        stream = _Stream(self, request_id)
        with self._lock:
            self._streams[request_id] = stream
        if sampling.temperature > 0:
            kwargs: dict[str, Any] = {
                "temperature": float(sampling.temperature),
                "top_p": float(sampling.top_p),
                "top_k": self.vocab,
            }
        else:
            kwargs = {"temperature": 1.0, "top_p": 1.0, "top_k": 1}
        if self.admission.alone(ticket):
            import torch

            with self.manager.pause():  # no step runs while the generator is reseeded
                torch.manual_seed(sampling.seed)
                self._add(request_id, token_ids, max_new_tokens, stop_ids, kwargs)
        else:
            self._add(request_id, token_ids, max_new_tokens, stop_ids, kwargs)
        return stream

    def _add(
        self, request_id: str, token_ids: list[int], max_new: int, stop_ids: tuple[int, ...], kwargs: dict[str, Any]
    ) -> None:
        added = self.manager.add_request(
            input_ids=token_ids,
            request_id=request_id,
            max_new_tokens=max_new,
            streaming=True,
            eos_token_id=list(stop_ids),
            **kwargs,
        )
        if added is None:
            self.forget(request_id)
            raise GenerationError(
                "The batching engine is stopping and takes no new requests; re-run the job once the worker is back."
            )

    def route(self, output: Any) -> None:
        with self._lock:
            stream = self._streams.get(output.request_id)
        if stream is not None:
            stream.push(output.generated_tokens, output.is_finished(), output.error)  # a fresh list already

    def cancel(self, request_id: str) -> None:
        self.manager.cancel_request(request_id)

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._streams.pop(request_id, None)

    def check_running(self) -> None:
        if not self.manager.is_running():
            error = self.manager.background_thread_status.fatal_error
            reason = f" ({str(error).splitlines()[0]})" if error is not None and str(error) else ""
            raise GenerationError(f"The batching engine stopped{reason} before this job finished; re-run the job.")

    def _stop_at_exit(self) -> None:
        logging.getLogger("ContinuousBatchingLogger").disabled = True  # log streams may be closed by now
        self.stop()

    def stop(self) -> None:
        if self.manager.is_running():
            self.manager.stop(block=True, timeout=30)


class JobSession:
    """A ``SegmentEngine`` for one admitted job: its segments start under its ticket."""

    def __init__(self, engine: BatchEngine, ticket: Ticket) -> None:
        self.engine = engine
        self.ticket = ticket

    def start(
        self, token_ids: list[int], max_new_tokens: int, stop_ids: tuple[int, ...], sampling: Sampling
    ) -> _Stream:
        return self.engine.start(self.ticket, token_ids, max_new_tokens, stop_ids, sampling)
