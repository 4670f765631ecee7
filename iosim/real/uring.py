"""A small io_uring binding: the two system calls through ctypes, the rings through mmap.

Why not the PyPI package liburing: its wheel is built for AVX-512 and dies of an illegal
instruction on CPUs without it (every x86-64 VM without AVX-512), taking the process along.
This module needs only the standard library and the kernel (Linux 5.6 or newer for RECV and
ACCEPT). Only what iosim's real aio server needs is here: recv, accept, nop, submit, and
reading the completion queue from shared memory (no system call to see a completion).

Memory order: the kernel writes a completion entry before it advances the queue's tail, and
reads a submission before it is told of it by io_uring_enter; CPython reads and writes the
shared pages with plain loads and stores, in program order on x86-64 (TSO). Other CPUs would
need barriers this module does not have: ``Ring`` refuses them.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import struct
from typing import ClassVar

SYS_IO_URING_SETUP = 425  # the same number on every 64-bit architecture Linux has today
SYS_IO_URING_ENTER = 426
ENTER_GETEVENTS = 1
SETUP_CQSIZE = 1 << 3
SQ_CQ_OVERFLOW = 1 << 1  # sq ring flag: completions wait in the kernel's overflow list
OFF_SQ_RING, OFF_CQ_RING, OFF_SQES = 0, 0x8000000, 0x10000000
FEAT_SINGLE_MMAP = 1
OP_NOP, OP_ACCEPT, OP_RECV = 0, 13, 27
SQE_SIZE, CQE_SIZE = 64, 16
SQE = struct.Struct("<BBHiQQIIQHHiQQ")  # opcode flags ioprio fd off addr len op_flags user_data
CQE = struct.Struct("<QiI")  # user_data res flags


class _SqOffsets(ctypes.Structure):
    _fields_: ClassVar = [(name, ctypes.c_uint32) for name in (
        "head", "tail", "ring_mask", "ring_entries", "flags", "dropped", "array", "resv1")] + [
        ("user_addr", ctypes.c_uint64)]


class _CqOffsets(ctypes.Structure):
    _fields_: ClassVar = [(name, ctypes.c_uint32) for name in (
        "head", "tail", "ring_mask", "ring_entries", "overflow", "cqes", "flags", "resv1")] + [
        ("user_addr", ctypes.c_uint64)]


class _Params(ctypes.Structure):
    _fields_: ClassVar = [(name, ctypes.c_uint32) for name in (
        "sq_entries", "cq_entries", "flags", "sq_thread_cpu", "sq_thread_idle", "features",
        "wq_fd")] + [("resv", ctypes.c_uint32 * 3), ("sq_off", _SqOffsets),
                     ("cq_off", _CqOffsets)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _check(result: int) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


class Ring:
    """One io_uring: a submission queue the process fills, a completion queue the kernel fills.

    Every buffer handed to ``prep_recv`` is kept alive here until its completion is taken."""

    def __init__(self, entries: int, completions: int = 0) -> None:
        """A ring of ``entries`` submissions and room for ``completions`` completions (the
        kernel's default, twice ``entries``, when 0). Completions beyond the room wait in the
        kernel and are fetched by ``ready``."""
        if platform.machine() not in ("x86_64", "AMD64"):
            raise OSError(f"iosim's io_uring binding needs x86-64 (this is {platform.machine()})")
        params = _Params()
        if completions:
            params.flags, params.cq_entries = SETUP_CQSIZE, completions
        self.fd = _check(_syscall(ctypes.c_long(SYS_IO_URING_SETUP), ctypes.c_long(entries),
                                  ctypes.byref(params)))
        try:
            self._map(params)
        except BaseException:
            os.close(self.fd)
            raise
        self._pinned: dict[int, ctypes.Array] = {}
        self._pending = 0  # entries written but not yet submitted

    def _map(self, p: _Params) -> None:
        sq, cq = p.sq_off, p.cq_off
        sq_size = sq.array + p.sq_entries * 4
        cq_size = cq.cqes + p.cq_entries * CQE_SIZE
        prot, flags = mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED | mmap.MAP_POPULATE
        if p.features & FEAT_SINGLE_MMAP:
            sq_size = cq_size = max(sq_size, cq_size)
        self._sq = mmap.mmap(self.fd, sq_size, flags, prot, offset=OFF_SQ_RING)
        self._cq = (self._sq if p.features & FEAT_SINGLE_MMAP
                    else mmap.mmap(self.fd, cq_size, flags, prot, offset=OFF_CQ_RING))
        self._sqes = mmap.mmap(self.fd, p.sq_entries * SQE_SIZE, flags, prot, offset=OFF_SQES)
        self._sq32 = memoryview(self._sq).cast("I")
        self._cq32 = memoryview(self._cq).cast("I")
        self._sq_head, self._sq_tail, self._sq_array = sq.head // 4, sq.tail // 4, sq.array // 4
        self._sq_flags = sq.flags // 4
        self._sq_mask = self._sq32[sq.ring_mask // 4]
        self._sq_entries = p.sq_entries
        self._cq_head, self._cq_tail, self._cqes = cq.head // 4, cq.tail // 4, cq.cqes
        self._cq_mask = self._cq32[cq.ring_mask // 4]

    def _prep(self, opcode: int, fd: int, addr: int, length: int, user_data: int) -> None:
        tail = self._sq32[self._sq_tail]
        if tail - self._sq32[self._sq_head] >= self._sq_entries:
            raise OSError("io_uring submission queue is full")
        slot = tail & self._sq_mask
        SQE.pack_into(self._sqes, slot * SQE_SIZE, opcode, 0, 0, fd, 0, addr, length, 0,
                      user_data, 0, 0, 0, 0, 0)
        self._sq32[self._sq_array + slot] = slot
        self._sq32[self._sq_tail] = (tail + 1) & 0xFFFF_FFFF
        self._pending += 1

    def prep_recv(self, fd: int, buffer: bytearray, user_data: int) -> None:
        """A recv of up to len(buffer) bytes into ``buffer``, which must not be resized until
        its completion is taken."""
        view = (ctypes.c_char * len(buffer)).from_buffer(buffer)
        self._pinned[user_data] = view
        self._prep(OP_RECV, fd, ctypes.addressof(view), len(buffer), user_data)

    def prep_accept(self, fd: int, user_data: int) -> None:
        self._prep(OP_ACCEPT, fd, 0, 0, user_data)

    def prep_nop(self, user_data: int) -> None:
        self._prep(OP_NOP, -1, 0, 0, user_data)

    def submit(self, wait_for: int = 0, flush: bool = False) -> int:
        """Tell the kernel of the new entries (one io_uring_enter); with ``wait_for``, also
        sleep until that many completions are there; ``flush`` brings in overflowed ones."""
        count, self._pending = self._pending, 0
        flags = ENTER_GETEVENTS if wait_for or flush else 0
        return _check(_syscall(ctypes.c_long(SYS_IO_URING_ENTER), ctypes.c_long(self.fd),
                               ctypes.c_long(count), ctypes.c_long(wait_for),
                               ctypes.c_long(flags), None, ctypes.c_long(0)))

    def ready(self) -> int:
        """Completions waiting in the ring: two loads from shared memory, no system call
        unless the ring overflowed (then one io_uring_enter brings the kept ones in)."""
        count = (self._cq32[self._cq_tail] - self._cq32[self._cq_head]) & 0xFFFF_FFFF
        if not count and self._sq32[self._sq_flags] & SQ_CQ_OVERFLOW:
            self.submit(flush=True)
            count = (self._cq32[self._cq_tail] - self._cq32[self._cq_head]) & 0xFFFF_FFFF
        return count

    def pop(self) -> tuple[int, int]:
        """The oldest completion (user_data, result: bytes or accepted descriptor, or -errno);
        call only when ``ready()``."""
        head = self._cq32[self._cq_head]
        user_data, res, _flags = CQE.unpack_from(
            self._cq, self._cqes + (head & self._cq_mask) * CQE_SIZE)
        self._cq32[self._cq_head] = (head + 1) & 0xFFFF_FFFF
        self._pinned.pop(user_data, None)
        return user_data, res

    def close(self) -> None:
        for view in (self._sq32, self._cq32):
            view.release()
        for m in {id(x): x for x in (self._sq, self._cq, self._sqes)}.values():
            m.close()
        os.close(self.fd)
        self._pinned.clear()
