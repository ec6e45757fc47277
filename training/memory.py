"""Training's malloc settings: the opposite of the server's (captcha_service/memory.py)."""

from captcha_service.memory import M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, glibc


def keep_freed_heap():
    """For training: glibc keeps freed memory for reuse instead of giving it back to the system.

    A training step frees and reallocates tens of MB of tensors; with glibc's defaults it
    returned them at each step and the kernel zeroed fresh pages all the time: two thirds of the
    CPU time went to page faults, and training ran at a fifth of its speed. The opposite of the
    server's needs (``captcha_service.memory.TrimFreedHeap``), where memory must stay flat and little is reallocated.
    """
    libc = glibc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
        libc.mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's largest: big tensors from the heap too
