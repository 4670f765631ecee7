"""The x86_64 system call numbers (the kernel's ABI: fixed once a call exists) and argument
counts of the calls iosim reads, for perf's raw_syscalls tracepoints, which give a call's
number and six raw arguments: one pair of events filtered in the kernel by number, where a
pair of named tracepoints per call (syscalls:sys_enter_read, ...) takes perf about 20 ms each
to switch on (4 s for iosim's hundred)."""

from __future__ import annotations

import platform
from pathlib import Path

X86_64 = {
    "read": (0, 3), "write": (1, 3), "close": (3, 1), "poll": (7, 3), "rt_sigaction": (13, 4),
    "rt_sigreturn": (15, 0), "ioctl": (16, 3), "pread64": (17, 4), "readv": (19, 3),
    "writev": (20, 3), "select": (23, 5), "dup": (32, 1), "dup2": (33, 2), "pause": (34, 0),
    "nanosleep": (35, 2), "socket": (41, 3), "connect": (42, 3), "accept": (43, 3),
    "sendto": (44, 6), "recvfrom": (45, 6), "sendmsg": (46, 3), "recvmsg": (47, 3),
    "bind": (49, 3), "listen": (50, 2), "clone": (56, 5), "fork": (57, 0), "vfork": (58, 0),
    "wait4": (61, 4), "fcntl": (72, 3), "rt_sigtimedwait": (128, 4), "rt_sigsuspend": (130, 2),
    "futex": (202, 6), "epoll_create": (213, 1), "restart_syscall": (219, 0),
    "clock_nanosleep": (230, 4), "exit_group": (231, 1), "epoll_wait": (232, 4),
    "epoll_ctl": (233, 4), "waitid": (247, 5), "pselect6": (270, 6), "ppoll": (271, 5),
    "epoll_pwait": (281, 6), "accept4": (288, 4), "epoll_create1": (291, 1), "dup3": (292, 3),
    "recvmmsg": (299, 5), "sendmmsg": (307, 4), "io_uring_setup": (425, 2),
    "io_uring_enter": (426, 6), "clone3": (435, 2), "epoll_pwait2": (441, 6),
}
BY_NUMBER = {number: (name, count) for name, (number, count) in X86_64.items()}
RAW_DIR = Path("/sys/kernel/tracing/events/raw_syscalls")


def raw_available() -> bool:
    """The raw_syscalls tracepoints can be used: an x86_64 kernel that has them."""
    return platform.machine() == "x86_64" and (RAW_DIR / "sys_enter").is_dir()


def raw_events(names: tuple[str, ...] | list[str], exits: bool = True) -> list[str]:
    """perf's arguments for raw_syscalls' entry (and exit) of ``names``, filtered by number
    in the kernel."""
    wanted = " || ".join(f"id == {X86_64[name][0]}" for name in names if name in X86_64)
    events = ["-e", "raw_syscalls:sys_enter", "--filter", wanted]
    return events + (["-e", "raw_syscalls:sys_exit", "--filter", wanted] if exits else [])
