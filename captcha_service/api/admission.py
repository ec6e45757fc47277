"""The read pool: a bounded wait for one of a few read slots, and the threads reads run on."""

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from werkzeug.exceptions import ServiceUnavailable


class ReadPool:
    """``slots`` reads at once, each on one of ``slots`` threads of its own; a quick 503 past that.

    Admission is fair (``FairSlots``) and bounded (``wait`` seconds): with more waitress threads
    than slots, excess requests are refused after a bounded wait instead of piling up unseen in
    waitress's queue. Reads run on the pool's threads, not on whichever of waitress's threads
    took the request: onnxruntime keeps buffers per calling thread, and with reads spread over
    64 threads the RSS grew over a soak (bench/load.py).
    """

    def __init__(self, slots, wait):
        self.slots = FairSlots(slots)
        self.wait = wait
        self.thread_names = set()  # of the threads reads have run on so far
        self._threads = ThreadPoolExecutor(slots, thread_name_prefix="read", initializer=self._started)

    def run(self, function, *arguments):
        """``function(*arguments)`` on a read thread once a slot is free, or ServiceUnavailable."""
        if not self.slots.acquire(timeout=self.wait):
            raise ServiceUnavailable(
                f"busy: no read slot freed up within {self.wait:g} s; retry shortly", retry_after=1
            )
        try:
            return self._threads.submit(function, *arguments).result()
        finally:
            self.slots.release()

    def _started(self):
        self.thread_names.add(threading.current_thread().name)


class FairSlots:
    """A semaphore that serves its waiters first come, first served.

    ``threading.Semaphore`` lets a newcomer take a slot that was just freed ahead of the
    threads already waiting; under load a few requests lost that race again and again and got a
    503 while others were served at once (README, Performance). Here a freed slot is handed
    straight to the longest waiter, so a request waits for the ones before it, and no longer.
    """

    def __init__(self, slots):
        self._lock = threading.Lock()
        self._free = slots
        self._waiters = deque()

    def acquire(self, timeout):
        """Take a slot, waiting ``timeout`` seconds at most; whether one was taken."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            handed_over = threading.Lock()
            handed_over.acquire()
            self._waiters.append(handed_over)
        if handed_over.acquire(timeout=timeout):
            return True
        with self._lock:
            if handed_over in self._waiters:
                self._waiters.remove(handed_over)
                return False
        return True  # a slot was handed over between the timeout and the lock

    def release(self):
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._free += 1
