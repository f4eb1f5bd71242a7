"""Worker processes with a deadline (layer 7): each derivation of ``matgrad serve``
runs in a process of its own, so that one that blows up can be stopped.

A thread cannot be stopped from outside, and a symbolic blow-up (a high-order
derivative of a long chain) holds it — and, between bytecodes, the interpreter
lock — for as long as it runs.  So :class:`Pool` keeps ``size`` worker processes,
started once (through a fork server that has imported matgrad, so that a
replacement starts in milliseconds).  A job goes to an idle worker over a pipe;
the request's thread waits for the answer at most ``time_limit`` seconds, and
past that kills the worker, answers "too large" and starts a new worker in the
background.  Other requests are served meanwhile by the other workers and by the
server's threads, which only wait on pipes.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

from matgrad.web.api import Request, answer, error_body

Answer = tuple[int, dict[str, Any]]


def _serve_jobs(conn: Connection) -> None:  # pragma: no cover - runs in the worker
    """A worker's loop: a :class:`Request` in, its :func:`answer` out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    while True:
        try:
            req = conn.recv()
        except (EOFError, OSError):
            return
        try:
            result: Answer = answer(req)
        except Exception as err:  # a bug in matgrad: report it, keep the worker
            result = 500, error_body(
                "InternalError", f"matgrad failed on this input: {type(err).__name__}: {err}"
            )
        conn.send(result)


def _context() -> BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["matgrad.web.pool"])
        return ctx
    return multiprocessing.get_context("spawn")


@dataclass(eq=False)
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection


class Pool:
    """``size`` worker processes answering :class:`~matgrad.web.api.Request` s, each
    job under ``time_limit`` seconds; a job waits at most ``queue_limit`` seconds
    for an idle worker."""

    def __init__(self, size: int = 2, time_limit: float = 10.0, queue_limit: float = 30.0):
        if size < 1:
            raise ValueError(f"a pool needs at least one worker, got {size}")
        self.size, self.time_limit, self.queue_limit = size, time_limit, queue_limit
        self._ctx = _context()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._closed = False
        self._lock = threading.Lock()
        self._workers: set[_Worker] = set()
        self.killed = 0  # workers stopped at the deadline or found dead
        for _ in range(size):
            self._idle.put(self._start())

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_serve_jobs, args=(child,), daemon=True)  # type: ignore[attr-defined]
        process.start()
        child.close()
        worker = _Worker(process, parent)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _stop(self, worker: _Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.process.kill()
        worker.process.join(5)
        worker.conn.close()

    def _replace(self, worker: _Worker) -> None:
        self._stop(worker)
        if not self._closed:
            self._idle.put(self._start())

    def run(self, req: Request) -> Answer:
        """The answer to ``req`` from a worker: ``(status, body)``.  Past the time
        limit: 422 ``TooLarge``; no idle worker within the queue limit: 503
        ``Busy``."""
        try:
            worker = self._idle.get(timeout=self.queue_limit)
        except queue.Empty:
            return 503, error_body(
                "Busy", f"every worker stayed busy for {self.queue_limit:g} s; try again"
            )
        try:
            worker.conn.send(req)
            if worker.conn.poll(self.time_limit):
                result: Answer = worker.conn.recv()
                self._idle.put(worker)
                return result
            message = (
                f"too large: the derivation took longer than the {self.time_limit:g} s limit "
                "and was stopped; try smaller sizes or a lower order"
            )
        except (EOFError, OSError):
            message = "too large: the derivation stopped its worker (out of memory?)"
        self.killed += 1
        threading.Thread(target=self._replace, args=(worker,), daemon=True).start()
        return 422, error_body("TooLarge", message, limit_seconds=self.time_limit)

    def close(self) -> None:
        """Stop every worker."""
        self._closed = True
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            self._stop(worker)
