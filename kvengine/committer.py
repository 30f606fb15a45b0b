"""Group commit on the shared WAL: every commit request queued while a WAL PUT is in flight
rides on the next PUT, which is a create-only write at the next WAL id.

One background thread takes the queued requests, answers at once the transactions this
process can already see conflicting (``Conflict``), numbers the rest from the WAL position
(``wal.first_seq_of``) and creates WAL object ``tail + 1``. If another process took that id
first, it races for the next one at once, with the requests queued meanwhile added. Once its
object is stored, it applies the objects before it and its own; the view decides there,
as every process does, which transactions apply (``View.apply``), and only then are the
writes visible and their waiters released, acknowledged or ``Conflict``. A PUT whose outcome
is unknown (an error after the retries ran out) is settled by reading the object back before
anything else is tried at that id; its waiters wait. An attempt that fails with nothing
stored gives its error to its durable requests and puts its non-durable ones (which returned
already) back at the head of the queue, tried again with backoff, so a lost non-durable write
is only ever a suffix (:meth:`Committer._failed_unstored`).

Durable requests wake the thread at once; non-durable ones are stored within
``flush_interval_ms`` or once the queue passes ``wal_buffer_bytes``
(docs/design/0003-shared-writers.md).

With ``wal_pipeline_depth`` above 1 the PUTs are pipelined (docs/design/0006-pipelined-wal.md):
up to that many are in flight at consecutive ids, each run (and its unknown outcome settled)
by a worker thread, and the commit thread settles them strictly in id order, so a commit is
acknowledged only once every object before its own is stored and applied. A group whose id
another process took races again after the last id in flight.

A manual engine (kvengine/background.py) starts no thread: :meth:`Committer.step` runs one
unit of the thread's loop (:meth:`Committer._next`) in the caller's thread, on the injected
clock, and a caller waiting for the work runs the units itself (:meth:`Committer._run_until`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sortedcontainers import SortedSet

from kvengine.batch import OP_OVERHEAD_BYTES
from kvengine.conflicts import batch_conflict
from kvengine.errors import (
    Closed,
    Conflict,
    Fenced,
    InvalidArgument,
    StoreConfigError,
    StorePermissionDenied,
    StoreUnavailable,
    StrataError,
)
from kvengine.table_store import TableStore, wal_path
from kvengine.version import Version
from kvengine.view import View
from kvengine.wal import (
    MAX_OPS_PER_OBJECT,
    KeyRange,
    Op,
    WalBuilder,
    WalObject,
    decode_wal,
    first_seq_of,
)

log = logging.getLogger(__name__)

#: While closing, a PUT whose outcome is unknown is read back for at most this long.
UNKNOWN_OUTCOME_CLOSE_S = 60.0
#: A commit whose view of the WAL tail is older than this reads the tail before its PUT
#: (a process idle for a while may be far behind; racing for old ids one by one is slow).
STALE_TAIL_S = 1.0
#: Writers wait while the requests queued for the commit thread hold this many times
#: ``wal_buffer_bytes`` (the bound on how long a read waits for this process's writes).
QUEUED_OBJECTS = 2
#: After this many lost races in a row, read the tail (LIST) rather than step id by id.
LOSSES_BEFORE_LISTING = 8
#: A group that failed with nothing stored puts its non-durable requests back at the head of
#: the queue; the next attempt waits this long, doubling after each failure up to the max.
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 1.0


@dataclass(eq=False, slots=True)
class CommitRequest:
    """One atomic write waiting for its WAL object. ``read_seq`` None: a blind write, which
    never conflicts; otherwise the commit fails if a key it writes, or a key in one of
    ``ranges``, was written by a commit after ``read_seq``."""

    ops: tuple[Op, ...]
    read_seq: int | None = None
    ranges: tuple[KeyRange, ...] = ()
    durable: bool = True
    number: int = 0
    done: bool = False
    error: StrataError | None = None
    size_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        if len(self.ops) == 1:  # a put or a delete: the common case, without a generator
            _, k, v = self.ops[0]
            self.size_bytes = len(k) + len(v) + OP_OVERHEAD_BYTES
        else:
            self.size_bytes = sum(len(k) + len(v) + OP_OVERHEAD_BYTES for _, k, v in self.ops)


@dataclass(eq=False)
class _Flight:
    """One pipelined WAL PUT: the requests it carries and what became of it."""

    group: list[CommitRequest]  # every request taken for it (errors reach all of them)
    pending: list[CommitRequest]  # those encoded in the object, in batch order
    wal_id: int = 0
    obj: WalObject | None = None
    started: float = 0.0
    holds_nondurable: bool = False
    losses: int = 0  # ids lost to other processes (shared mode)
    data: bytes = b""  # manual mode: the object, until a step runs its PUT
    finished: bool = False  # set by the worker, under the committer's lock
    created: bool = False
    error: BaseException | None = None


class Committer:
    """Owns the queue of commit requests and the thread that stores them. Thread-safe."""

    def __init__(
        self,
        tables: TableStore,
        view: View,
        *,
        writer_epoch: int,
        writer_id: bytes,
        flush_interval_s: float,
        buffer_bytes: int,
        gc_min_age_s: float,
        exclusive: bool,
        pipeline_depth: int = 1,
        manual: bool = False,
    ) -> None:
        self._tables = tables
        #: the injected clock (kvengine/background.py) times the group-commit timer, the
        #: retry backoff and the pacing of pipelined PUTs
        self._clock = view.clock
        #: no thread: :meth:`step` (and a caller waiting for the work) runs each unit
        self._manual = manual
        self._unit_lock = threading.Lock()  # manual mode: one unit at a time
        self._flights: deque[_Flight] = deque()  # pipelined PUTs in flight, in id order
        self._pool: ThreadPoolExecutor | None = None
        #: PUTs in flight at once (docs/design/0006-pipelined-wal.md)
        self._depth = pipeline_depth
        self._put_s = 0.0  # how long a WAL PUT takes (moving average), for pacing
        self._last_start = -float("inf")
        self._writers = 0  # requests outstanding at the last PUT start (pacing)
        self._exclusive = exclusive
        self._view = view
        self._epoch = writer_epoch
        self._writer_id = writer_id
        self._interval_s = flush_interval_s
        self._buffer_bytes = buffer_bytes
        self._gc_min_age_s = gc_min_age_s
        lock = threading.RLock()
        self._cond = threading.Condition(lock)
        # Writers waiting in wait() for their answer: a condition of their own on the same
        # lock, so that each request queued (which wakes the commit thread) does not wake
        # every waiting writer too; only a request finishing does (``_finish``).
        self._answered = threading.Condition(lock)
        self._queue: deque[CommitRequest] = deque()  # popleft is O(1): queues grow long
        self._queued_bytes = 0
        self._max_queued = QUEUED_OBJECTS * buffer_bytes
        self._oldest_at = 0.0
        self._urgent = False  # a durable request or a flush is waiting
        self._retry_at = 0.0  # after a failed attempt: the next one starts no sooner
        self._retry_s = 0.0  # the current backoff (0 once a PUT succeeded)
        self._submitted = 0  # requests numbered so far
        self._unfinished: set[int] = set()  # numbers of the requests not done yet
        self._lowest_unfinished = 1  # no request numbered below this is unfinished
        self._last_nondurable = 0  # the number of the latest non-durable request
        # keys written by non-durable requests not done yet -> how many such requests
        self._pending_keys: dict[bytes, int] = {}
        self._broken: StrataError | None = None  # the thread died of a bug
        self._closing = False
        self._closing_since: float | None = None
        self._closed = False
        self.puts = 0
        self.conflicts = 0
        self._thread = threading.Thread(target=self._run, name="strata-commit", daemon=True)
        if not manual:
            if self._depth > 1:
                self._pool = ThreadPoolExecutor(self._depth, thread_name_prefix="strata-wal-put")
            self._thread.start()

    # -- called by writers -------------------------------------------------------------------

    def submit(self, request: CommitRequest) -> CommitRequest:
        """Queue ``request``; it is stored (or fails) in submission order."""
        if len(request.ops) > MAX_OPS_PER_OBJECT:
            raise InvalidArgument(
                f"a write of {len(request.ops)} ops is over the limit of {MAX_OPS_PER_OBJECT}"
            )
        if self._manual:  # no thread makes room: this caller stores the queue's head
            self._run_until(lambda: not self._queue_full(request))
        with self._cond:
            self._view.check_fenced()
            if self._broken is not None:
                raise self._broken
            if self._closing or self._closed:
                raise Closed("the database is closed")
            # Backpressure: at most two WAL objects' worth waits for the commit thread (one
            # being stored, the next filling). Without it, a writer faster than the thread
            # grows the queue without end, and every read in this process waits for all of
            # it (read-your-writes): reads would stall behind a nonstop non-durable writer.
            while self._queue_full(request):
                self._urgent = True
                self._cond.notify_all()
                self._cond.wait()
                self._view.check_fenced()
                if self._broken is not None:
                    raise self._broken
                if self._closing or self._closed:
                    raise Closed("the database is closed")
            self._submitted += 1
            request.number = self._submitted
            self._unfinished.add(request.number)
            if not self._queue:
                self._oldest_at = self._clock()
            self._queue.append(request)
            if not request.durable:
                self._last_nondurable = request.number
                pending = self._pending_keys
                for _, key, _ in request.ops:
                    pending[key] = pending.get(key, 0) + 1
            self._queued_bytes += request.size_bytes
            if request.durable or self._queued_bytes >= self._buffer_bytes:
                self._urgent = True
                self._cond.notify_all()
            elif len(self._queue) == 1:
                self._cond.notify_all()  # start the flush_interval_ms clock
            return request

    def _queue_full(self, request: CommitRequest) -> bool:
        return bool(self._queued_bytes) and (
            self._queued_bytes + request.size_bytes > self._max_queued
        )

    def wait(self, request: CommitRequest) -> None:
        """Block until ``request`` is stored; raises its error (``Conflict``, ``Fenced``, a
        store error, ``Closed``) if it was not. Manual mode: the caller runs the units that
        store it (:meth:`_run_until`)."""
        if self._manual:
            self._run_until(lambda: request.done)
        with self._cond:
            while not request.done:
                self._answered.wait()
        if request.error is not None:
            raise request.error

    def _done_through(self, target: int) -> bool:
        """Every request numbered up to ``target`` is done. Holds ``_cond``."""
        unfinished = self._unfinished
        if not unfinished:
            return True
        # Numbers only grow, and a request done never comes back: the lowest unfinished
        # number only moves up (past each number once), and the set holds one at or above it.
        lowest = self._lowest_unfinished
        while lowest not in unfinished:
            lowest += 1
        self._lowest_unfinished = lowest
        return lowest > target

    def wait_nondurable(self) -> None:
        """Wait until every non-durable request submitted before this call is done
        (read-your-writes): the target is the latest number at the call, so requests queued
        meanwhile are not waited for, and the queue bound in :meth:`submit` bounds the wait.
        One PUT when nothing is in flight: the wait makes the thread store at once."""
        if not self._unfinished:
            # Nothing unfinished (the usual case for a read): no lock needed, since every
            # request submitted before this call has a number the set held or holds.
            return
        with self._cond:
            target = self._last_nondurable
            if self._done_through(target):
                return
        self._flush_through(target)

    def wait_nondurable_key(self, key: bytes) -> None:
        """:meth:`wait_nondurable` for a read of ``key`` alone: waits only when a non-durable
        request not done yet writes ``key`` (a read of another key cannot tell the writes
        apart from ones not submitted yet), so reads beside a busy writer do not wait for
        each of its PUTs."""
        if key not in self._pending_keys:
            # No lock needed (as in wait_nondurable): a write of key submitted before this
            # call put key in the dict before it returned, and only its finish takes it out.
            return
        with self._cond:
            if key not in self._pending_keys:
                return
            target = self._last_nondurable
        self._flush_through(target)

    def flush(self) -> None:
        """Wait until every request submitted so far is done (stored or failed)."""
        self._flush_through(self._submitted)

    def _flush_through(self, target: int) -> None:
        with self._cond:
            if self._done_through(target):
                return
            self._urgent = True
            self._cond.notify_all()
        if self._manual:
            self._run_until(lambda: self._done_through(target))
            return
        with self._cond:
            while not self._done_through(target) and not self._closed:
                self._cond.wait()

    @property
    def queued_bytes(self) -> int:
        """Bytes of the requests waiting for a WAL PUT (non-durable ones, mostly)."""
        return self._queued_bytes

    def close(self) -> None:
        """Store what is queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._closing_since = self._clock()
            self._cond.notify_all()
        if self._manual:
            self._run_until(lambda: False)  # until the work is done and stopped
        else:
            self._thread.join()

    def step(self) -> None:
        """Manual mode: one unit of the commit thread's work, in this thread, if one is due
        by the injected clock (what the thread does when it wakes): store one group (the
        group-commit rules of :meth:`_next`), or with pipelined PUTs start one, run the PUT
        of the lowest one in flight, or settle it."""
        with self._unit_lock:
            with self._cond:
                if self._closed:
                    return
                unit = self._next()
            if callable(unit) and unit():
                self._stop()

    def _run_until(self, done: Callable[[], bool]) -> None:
        """Manual mode: a caller waiting for the commit work runs it, unit by unit, until
        ``done()`` (called holding ``_cond``) or the work stopped: as the thread woken by a
        waiter, it does not wait for the ``flush_interval_ms`` timer or the retry backoff
        (simulated time cannot pass while a caller waits)."""
        while True:
            with self._unit_lock:
                with self._cond:
                    if self._closed or done():
                        return
                    unit = self._next(force=True)
                if not callable(unit):  # cannot happen: a waiter's work is always runnable
                    raise StrataError("the commit work has nothing to run for a waiting caller")
                if unit():
                    self._stop()

    # -- the background thread ---------------------------------------------------------------

    def _next(self, force: bool = False) -> Callable[[], bool] | float | None:
        """The next unit of the commit thread's work if one is due now (it returns True when
        the thread stops), else how long until one is (None: until notified). ``force``: a
        waiting caller of a manual engine (:meth:`_run_until`): due now. Holds ``_cond``."""
        if self._depth > 1:
            return self._next_pipelined(force)
        now = self._clock()
        if self._queue and not force and (backoff := self._retry_at - now) > 0:
            return backoff  # the head failed just now: not at once again
        if self._queue and (
            force or self._urgent or self._closing or now - self._oldest_at >= self._interval_s
        ):
            group = self._pop_queued(MAX_OPS_PER_OBJECT, self._buffer_bytes)
            return lambda: self._store(group)
        if self._closing:
            return lambda: True  # closing with nothing left
        if self._queue:
            return self._interval_s - (now - self._oldest_at)
        return None

    def _pop_queued(self, max_ops: int, max_bytes: int) -> list[CommitRequest]:
        """Queued requests, oldest first, holding at most ``max_ops`` ops and (but for a
        first request larger on its own) ``max_bytes`` bytes in all."""
        with self._cond:
            group: list[CommitRequest] = []
            ops = size = 0
            while self._queue and ops + len(self._queue[0].ops) <= max_ops:
                r = self._queue[0]
                if group and size + r.size_bytes > max_bytes:
                    break
                self._queue.popleft()
                group.append(r)
                ops += len(r.ops)
                size += r.size_bytes
                self._queued_bytes -= r.size_bytes
            self._urgent = bool(self._queue)
            if group:
                self._cond.notify_all()  # writers waiting for room in the queue
            return group

    def _run(self) -> None:
        """The commit thread: wait until a unit is due (:meth:`_next`), run it, repeat; a
        manual engine runs the same units from :meth:`step`."""
        try:
            while True:
                with self._cond:
                    while not callable(unit := self._next()):
                        self._cond.wait(unit)
                if unit():
                    return
        finally:
            self._stop()

    def _store(self, group: list[CommitRequest]) -> bool:
        """A unit: store ``group`` in the next WAL object. True if the work stops (a bug)."""
        try:
            self._commit(group)
        except StrataError as exc:
            self._failed_unstored(group, exc)  # _commit handles a stored object's
        except Exception as exc:  # a bug: fail every waiter, now and later, not hang
            self._break(group, exc)
            return True  # _stop fails what is still queued
        return False

    def _stop(self) -> None:
        """The work stopped (closed, or a bug): fail what is still in flight or queued."""
        with self._cond:
            error = self._broken or Closed("the database closed before the write was stored")
        flights, self._flights = list(self._flights), deque()
        for f in flights:  # only when the work stops early: these may still be stored
            self._finish(f.group, error)
        if self._depth > 1:
            self._view.own_in_flight = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        with self._cond:
            self._closed = True
            leftover, self._queue = list(self._queue), deque()
        self._finish(leftover, error)

    def _break(self, group: Sequence[CommitRequest], exc: Exception) -> None:
        """The commit thread met a bug: fail ``group`` and every request from now on (the
        caller returns, and its ``finally`` fails what is still queued)."""
        log.exception("commit thread failed")
        broken = StrataError(f"the commit thread failed ({exc!r}); reopen the database")
        with self._cond:
            self._broken = broken
        self._finish(group, broken)

    def _finish(self, requests: Sequence[CommitRequest], error: StrataError | None) -> None:
        with self._cond:
            pending = self._pending_keys
            for r in requests:
                if not r.done:
                    r.done, r.error = True, error
                    if not r.durable:
                        if error is not None:
                            log.error("a non-durable write was not stored: %s", error)
                        for _, key, _ in r.ops:
                            if (left := pending[key] - 1) > 0:
                                pending[key] = left
                            else:
                                del pending[key]
            self._unfinished.difference_update(r.number for r in requests)
            self._cond.notify_all()
            self._answered.notify_all()

    def _failed_unstored(self, group: Sequence[CommitRequest], error: StrataError) -> None:
        """The attempt for ``group`` failed and nothing of it is stored (an unknown PUT
        outcome is settled before this, by reading the object back). Its durable requests
        get ``error``: their callers see it. Its non-durable requests returned long ago, so
        failing them would leave a hole in this process's order while later writes land:
        they go back to the head of the queue, to be tried again (after a backoff) before
        anything queued after them; writers block once the queue is full. Only a fenced,
        broken or closing database gives them up (the store's own retries ran already), and
        then everything queued after them too, so that a lost non-durable write is only
        ever a suffix."""
        now = self._clock()
        with self._cond:
            retry = [r for r in group if not r.durable and not r.done]
            durable = [r for r in group if r.durable]
            if retry and not error.retryable and not isinstance(error, (Fenced, Closed)):
                # Trying again cannot help (credentials refused, a corrupt object): nothing
                # this process writes from now on may land after the writes it gives up.
                self._broken = StrataError(
                    f"{len(retry)} non-durable writes could not be stored ({error}); the "
                    "database stopped writing: reopen it"
                )
            if retry and (
                isinstance(error, (Fenced, Closed))
                or self._view.fenced is not None
                or self._broken is not None
                or self._closing
            ):
                durable += retry + list(self._queue)  # nothing after them lands either
                self._queue.clear()
                self._queued_bytes = 0
                retry = []
            if retry:
                self._queue.extendleft(reversed(retry))
                self._urgent = True
                self._queued_bytes += sum(r.size_bytes for r in retry)
                self._oldest_at = now
                self._retry_s = min(max(2 * self._retry_s, RETRY_FIRST_S), RETRY_MAX_S)
                self._retry_at = now + self._retry_s
                log.warning(
                    "%d non-durable writes not stored yet (%s); trying again in %.2f s",
                    len(retry),
                    error,
                    self._retry_s,
                )
        self._finish(durable, error)

    def _commit(self, group: list[CommitRequest]) -> None:
        view = self._view
        with view.cond:
            version, last_seq = view.version, view.last_seq
            wal_id = view.tail_id + 1
        # Early answers for what this process already knows conflicts; the rest is decided
        # where the object lands, the same way by every process (View.apply).
        pending = self._validate(group, version, last_seq)
        if not pending:
            return
        losses = 0
        while True:
            view.check_fenced()
            now = view.clock()
            if now - view.tail_seen_at > self._gc_min_age_s / 2:
                # Past half the GC minimum age, ids after the tail may have been created and
                # deleted since: a probe cannot tell, the manifest's replay point can (GC
                # deletes only below it). Design note, invariant 5.
                view.catch_up_from_manifest()
            elif now - view.tail_seen_at > STALE_TAIL_S or (
                losses and losses % LOSSES_BEFORE_LISTING == 0
            ):
                view.catch_up()  # a view this old may be far behind: read the tail first
            view.check_fenced()  # what was just read may fence us
            wal_id = max(wal_id, view.tail_id + 1)
            data, obj = self._encode(wal_id, pending)
            started = view.clock()
            view.own_in_flight = wal_id
            try:
                created = self._create(wal_id, data)
            except BaseException:
                view.own_in_flight = None
                raise
            self.puts += 1
            if created:
                break
            view.own_in_flight = None
            losses += 1
            if self._exclusive:
                view.catch_up()  # a foreign object after our fence: this fences us
                continue
            # Another process took the id: race for the next one at once. (Reading it first
            # would keep this writer from landing one object after an exclusive writer's
            # fence, but lets the last winner take every id under contention: 0003, "Limits".)
            wal_id += 1
            # Requests queued meanwhile ride along (``group`` grows, so errors reach them).
            ops = sum(len(r.ops) for r in pending)
            size = sum(r.size_bytes for r in pending)
            taken = self._pop_queued(MAX_OPS_PER_OBJECT - ops, max(0, self._buffer_bytes - size))
            group.extend(taken)  # so that any error from here on reaches them too
            try:
                pending.extend(self._validate(taken, *view.current()))
            except StrataError as exc:  # they fail; the object being raced for does not
                del group[len(group) - len(taken) :]
                self._failed_unstored(taken, exc)
        try:
            self._settle(wal_id, obj, started)
            self._report(wal_id, pending)
        except StrataError as exc:
            # Stored: its writes are in the WAL, whatever became of us; never stored again.
            self._finish(group, exc)
        finally:
            view.own_in_flight = None

    def _report(self, wal_id: int, pending: list[CommitRequest]) -> None:
        """Release the waiters of our applied object ``wal_id``: acknowledged, or
        ``Conflict`` for the batches the view left out, or ``Fenced`` for all if it is void."""
        view = self._view
        self._retry_s = 0.0  # the store works again
        outcome = view.take_outcome(wal_id)
        if outcome is None:  # cannot happen while own_in_flight holds rebuilds back
            raise StoreUnavailable(f"WAL object {wal_id} is stored; its outcome is unknown")
        if isinstance(outcome, Fenced):  # void: it landed after a newer writer's fence
            self._finish(pending, outcome)
            return
        aborted = set(outcome)
        self.conflicts += len(aborted)
        if aborted:
            with view.cond:
                horizon = view.version.manifest.txn_horizon(wal_id)
                span = view.version.manifest.txn_wal_span
            old = {
                i
                for i in aborted
                if (r := pending[i]).read_seq is not None and r.read_seq < horizon
            }
            if old:
                self._finish([pending[i] for i in sorted(old)], too_old(span))
            if aborted - old:
                error = Conflict(
                    "write conflict: a transaction that committed after this one began changed "
                    "a key it writes or watches; retry the transaction"
                )
                self._finish([pending[i] for i in sorted(aborted - old)], error)
        self._finish([r for i, r in enumerate(pending) if i not in aborted], None)

    # -- pipelined PUTs ---------------------------------------------------------------------

    def _next_pipelined(self, force: bool) -> Callable[[], bool] | float | None:
        """:meth:`_next` with up to ``_depth`` PUTs in flight, settled in id order as they
        finish: settle the lowest once its PUT finished, else start one when
        :meth:`_start_wait` allows. A manual engine has no worker threads: a step runs the
        PUT of the lowest flight (the store answers). Holds ``_cond``."""
        flights = self._flights
        if flights and flights[0].finished:
            head = flights.popleft()
            return lambda: self._pipelined_unit(head, head.group)  # errors reach its waiters
        wait = self._start_wait(flights)
        if wait == 0.0 or (force and wait is not None and not flights):
            group = self._pop_queued(MAX_OPS_PER_OBJECT, self._buffer_bytes)
            return lambda: self._pipelined_unit(None, group)
        if self._manual and flights:
            lowest = flights[0]
            return lambda: self._complete(lowest)
        if self._closing and not self._queue and not flights:
            return lambda: True
        return wait

    def _pipelined_unit(self, head: _Flight | None, group: list[CommitRequest]) -> bool:
        """A unit: settle ``head`` (its PUT finished), or start the PUT of ``group``. True if
        the work stops."""
        try:
            if head is not None:
                self._retire(head, self._flights, self._pool)
                if self._broken is not None:
                    return True
            else:
                self._start(group, self._flights, self._pool)
        except StrataError as exc:
            if head is None:
                self._failed_unstored(group, exc)  # nothing of it was sent
            else:
                self._finish(group, exc)  # stored (_retire handles the rest)
        except Exception as exc:  # a bug: fail every waiter, now and later, not hang
            self._break(group, exc)
            return True
        return False

    def _complete(self, flight: _Flight) -> bool:
        """Manual mode, a unit: run the PUT of ``flight`` (launched, not yet sent)."""
        if not flight.finished:
            data, flight.data = flight.data, b""
            self._put(flight, data)
        return False

    def _start_wait(self, flights: deque[_Flight]) -> float | None:
        """0 if a PUT may start now, else how long to wait (None: until notified). Holds
        ``_cond``.

        A new PUT waits for a free slot. Behind a group holding a non-durable request it waits
        for that group to settle: if the earlier group were lost (to a fence) while a later
        one was stored, a thread's later non-durable write would survive its earlier one.
        Durable requests: a PUT starts once as many requests are outstanding (queued or in
        flight) as when the last PUT started, or once its oldest request has waited a PUT's
        latency over the depth. Under a closed loop of writers, the writers answered together
        come back within a few milliseconds, and their next commits leave in one PUT rather
        than in one PUT for the first back and another for the rest; the count follows the
        writers (up at once, down after one such wait). With a non-durable request queued,
        a PUT behind others in flight starts once the queue holds a ``1 / depth`` share of
        the requests outstanding, or at that same deadline. An idle single writer starts at
        once (one outstanding, as at the last start)."""
        if not self._queue:
            return None
        if len(flights) >= self._depth or any(f.holds_nondurable for f in flights):
            return None
        now = self._clock()
        if self._retry_at > now:
            return self._retry_at - now  # the head failed just now: not at once again
        if not (self._urgent or self._closing):
            due = self._interval_s - (now - self._oldest_at)
            if due > 0:
                return due
        if not self._closing and self._queued_bytes < self._buffer_bytes:
            in_flight = sum(len(f.pending) for f in flights)
            if self._last_nondurable < self._queue[0].number:
                # Durable requests only (each writer waits for its answer): start once as
                # many are outstanding (queued or in flight) as at the last start, i.e. the
                # writers answered since are back, or once the oldest has waited long
                # enough; the count at this start is the one to wait for next time.
                outstanding = len(self._queue) + in_flight
                if outstanding < self._writers:
                    due = self._put_s / self._depth - (now - self._oldest_at)
                    if due > 0:
                        return due
                self._writers = outstanding
            elif flights and len(self._queue) * self._depth < len(self._queue) + in_flight:
                # A non-durable request is queued: a share of the requests outstanding is
                # queued, or the oldest has waited long enough.
                due = self._put_s / self._depth - (now - self._oldest_at)
                if due > 0:
                    return due
        return 0.0

    def _start(
        self, group: list[CommitRequest], flights: deque[_Flight], pool: ThreadPoolExecutor | None
    ) -> None:
        """Validate ``group`` and start its PUT at the id after the last one in flight."""
        view = self._view
        view.check_fenced()
        if flights:  # (the view may be past it: others' objects where ours was lost)
            wal_id = max(flights[-1].wal_id, view.tail_id) + 1
        else:
            now = view.clock()
            if now - view.tail_seen_at > self._gc_min_age_s / 2:
                view.catch_up_from_manifest()  # as in _commit: invariant 5 of 0003
            elif now - view.tail_seen_at > STALE_TAIL_S:
                view.catch_up()
            view.check_fenced()
            wal_id = view.tail_id + 1
        pending = self._validate(group, *view.current())
        if pending:
            flight = _Flight(group, pending, wal_id)
            flight.holds_nondurable = any(not r.durable for r in group)
            self._launch(flight, flights, pool)

    def _launch(
        self, flight: _Flight, flights: deque[_Flight], pool: ThreadPoolExecutor | None
    ) -> None:
        data, flight.obj = self._encode(flight.wal_id, flight.pending)
        flight.started = self._view.clock()
        flight.finished, flight.created, flight.error = False, False, None
        flights.append(flight)
        self._view.own_in_flight = flights[0].wal_id  # the lowest: no rebuild past it
        self._last_start = self._clock()
        if pool is None:
            flight.data = data  # manual mode: a step runs the PUT (_complete)
        else:
            pool.submit(self._put, flight, data)

    def _put(self, flight: _Flight, data: bytes) -> None:
        """A worker: create the object, settling an unknown outcome (``_create``)."""
        started = self._clock()
        try:
            flight.created = self._create(flight.wal_id, data)
        except BaseException as exc:
            flight.error = exc
        with self._cond:
            self.puts += 1
            if flight.error is None:
                took = self._clock() - started
                self._put_s = took if self._put_s == 0.0 else 0.8 * self._put_s + 0.2 * took
            flight.finished = True
            self._cond.notify_all()

    def _retire(
        self, flight: _Flight, flights: deque[_Flight], pool: ThreadPoolExecutor | None
    ) -> None:
        """Settle the lowest PUT in flight, every one before it being settled already."""
        view = self._view
        try:
            if flight.error is not None:
                self._failed(flight, flights)
            elif not flight.created:
                # Another writer took the id; race again after ours in flight.
                try:
                    self._lost(flight)
                except StrataError as exc:
                    self._failed_unstored(flight.group, exc)
                    return
                last = flights[-1].wal_id if flights else flight.wal_id
                flight.wal_id = max(last, view.tail_id) + 1
                self._launch(flight, flights, pool)
            else:
                assert flight.obj is not None
                try:
                    self._settle(flight.wal_id, flight.obj, flight.started)
                except StrataError as exc:
                    self._finish(flight.group, exc)
                    return
                self._report(flight.wal_id, flight.pending)
        finally:
            view.own_in_flight = flights[0].wal_id if flights else None

    def _lost(self, flight: _Flight) -> None:
        """What to read after another writer took the id of ``flight``. Exclusive mode: that
        object, a fence (which fences us) or an older writer's commit stored before our
        fence. Shared mode: nothing, usually — losing is the normal outcome of a race, and
        reading the lost id first would leave this writer a GET behind the winner for every
        id (0003, "One WAL, positions decide"); the objects before ours are applied when ours
        settles. As in :meth:`_commit`, a tail that has aged past half the GC minimum age
        starts over from the manifest (invariant 5), and every few losses the WAL is read."""
        view = self._view
        if self._exclusive:
            view.catch_up_to(flight.wal_id)
        else:
            flight.losses += 1
            view.check_fenced()
            if view.clock() - view.tail_seen_at > self._gc_min_age_s / 2:
                view.catch_up_from_manifest()
            elif flight.losses % LOSSES_BEFORE_LISTING == 0:
                view.catch_up()
        view.check_fenced()

    def _failed(self, flight: _Flight, flights: deque[_Flight]) -> None:
        """The PUT of ``flight`` failed: nothing is stored at its id. Its waiters get the
        error, and so does every later PUT in flight, stored or not: a stored one sits after
        a hole, which the next writer fills, so its outcome is unknown. Then nothing more is
        written from this process (a write of ours at the hole would land before it)."""
        error = flight.error
        if not isinstance(error, StrataError):
            raise error  # type: ignore[misc]  # a bug: the commit thread stops
        for f in flights if self._manual else ():
            self._complete(f)  # no worker runs them: their PUTs go now, in id order
        with self._cond:
            while not all(f.finished for f in flights):
                self._cond.wait()
        stored = [f for f in flights if f.created]
        for f in stored:
            self._finish(
                f.group,
                StoreUnavailable(
                    f"WAL object {f.wal_id} is stored, but WAL object {flight.wal_id} "
                    f"before it could not be ({error}); whether the write takes effect "
                    "is unknown until a writer fills that id"
                ),
            )
        if stored:
            with self._cond:  # before the requeue below, which then gives up
                self._broken = StoreUnavailable(
                    f"WAL object {flight.wal_id} could not be stored while later ones were "
                    f"({error}); reopen the database"
                )
                self._cond.notify_all()
        # The groups not stored, latest first: each goes back to the head of the queue (its
        # non-durable requests), so they end up there in their order.
        for f in reversed([flight, *(f for f in flights if not f.created)]):
            self._failed_unstored(f.group, f.error if isinstance(f.error, StrataError) else error)
        flights.clear()

    def _settle(self, wal_id: int, obj: WalObject, started: float) -> None:
        """Apply every WAL object before our stored object ``wal_id``, then ours. Ours is
        stored, and whether it applies is known only after that, so a store failure here is
        retried for as long as it takes (as an unknown PUT outcome is): failing now would
        report a retryable error for a commit that may well have applied."""
        delay = 0.05
        while True:
            try:
                self._view.catch_up_to(wal_id - 1)
                self._view.apply(wal_id, obj, seen_next_at=started)
                return
            except StrataError as exc:
                if not exc.retryable or self._closing_unresolved():
                    raise StoreUnavailable(
                        f"WAL object {wal_id} is stored, but whether it applies is unknown "
                        f"(reading the objects before it failed: {exc}); the write may or may "
                        "not have taken effect"
                    ) from exc
                log.warning("WAL object %d stored; reading the ones before it: %s", wal_id, exc)
            self._pause(delay)
            delay = min(delay * 2, 1.0)

    def _validate(
        self, pending: list[CommitRequest], version: Version, last_seq: int
    ) -> list[CommitRequest]:
        """The requests that do not conflict with ``version`` (whose newest entry is at
        ``last_seq``); the others fail with ``Conflict``."""
        written: SortedSet = SortedSet()
        accepted: list[CommitRequest] = []
        last_txn = max((i for i, r in enumerate(pending) if r.read_seq is not None), default=-1)
        if last_txn < 0:
            return list(pending)  # blind writes only: nothing to check
        # Our object lands after the tail we know of, so at least this horizon applies to it.
        horizon = version.manifest.txn_horizon(self._view.tail_id + 1)
        for i, r in enumerate(pending):
            reason = None
            if r.read_seq is not None and r.read_seq < horizon:
                self.conflicts += 1
                self._finish((r,), too_old(version.manifest.txn_wal_span))
                continue
            if r.read_seq is not None:
                reason = batch_conflict(
                    version, self._tables, r.read_seq, r.ops, r.ranges, written, last_seq
                )
            if reason is not None:
                self.conflicts += 1
                self._finish((r,), Conflict(f"write conflict: {reason}; retry the transaction"))
                continue
            accepted.append(r)
            if i < last_txn:
                written.update(key for _, key, _ in r.ops)
        return accepted

    def _encode(self, wal_id: int, requests: list[CommitRequest]) -> tuple[bytes, WalObject]:
        builder = WalBuilder(wal_id, self._epoch, self._writer_id)
        batches = tuple(builder.add_writes(first_seq_of(wal_id), requests))
        return builder.finish(), WalObject(wal_id, self._epoch, self._writer_id, batches)

    def _create(self, wal_id: int, data: bytes) -> bool:
        """Create WAL object ``wal_id``: True if ours was stored, False if the id was taken.
        An unknown outcome is settled by reading the object back, for as long as it takes:
        absent, create it again; present, compare the bytes (an earlier attempt may have
        landed late)."""
        try:
            return self._tables.write_wal(wal_id, data)
        except (StorePermissionDenied, StoreConfigError):
            raise  # refused: nothing was written
        except StrataError as exc:
            log.warning("WAL object %d: outcome unknown, reading it back: %s", wal_id, exc)
        delay = 0.05
        while True:
            if self._closing_unresolved():
                raise StoreUnavailable(
                    f"the outcome of WAL object {wal_id} is unknown (the store failed and "
                    "the database is closing); the write may or may not be stored"
                )
            self._pause(delay)
            delay = min(delay * 2, 1.0)
            try:
                stored = self._tables.wal_bytes(wal_id)
                if stored is None and self._tables.write_wal(wal_id, data):
                    return True
            except (StorePermissionDenied, StoreConfigError):
                raise
            except StrataError as exc:
                log.warning("WAL object %d: still unknown: %s", wal_id, exc)
                continue
            if stored is None:
                continue  # "exists" now: compare the bytes on the next turn
            if stored == data:
                return True
            decode_wal(wal_path(wal_id), stored)  # someone else's; Corruption if damaged
            return False

    def _pause(self, seconds: float) -> None:
        """Wait before trying a store request again; not in manual mode, whose time is
        simulated (nothing else moves while a unit runs)."""
        if not self._manual:
            time.sleep(seconds)

    def _closing_unresolved(self) -> bool:
        """Closing, and an unknown outcome has been retried for a minute since."""
        with self._cond:
            since = self._closing_since
        return since is not None and self._clock() - since > UNKNOWN_OUTCOME_CLOSE_S


def too_old(span: int) -> Conflict:
    """The error of a transaction refused by the tombstone horizon."""
    return Conflict(
        f"transaction too old: its commit lands more than {span} WAL objects after its "
        "snapshot (the database's txn_wal_span), past the point up to which conflicts can be "
        "checked; retry the transaction"
    )
