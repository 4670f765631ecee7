"""Run by ``perf script -s`` inside perf's own Python, not imported by iosim: prints one line
per event of the perf tracer (perf_tracer.py), every field a number, for perf_calls.py to turn
into the calls strace would have shown.

    E TIME_NS TID NAME ARG...      syscalls:sys_enter_NAME: a call entered, its raw arguments
    X TIME_NS TID NAME RET         syscalls:sys_exit_NAME: it returned RET (-errno on failure)
    S TIME_NS TID SIG HANDLER      signal:signal_deliver (HANDLER 0: SIG_DFL, 1: SIG_IGN)
    N TIME_NS TID CHILD FLAGS      task:task_newtask: TID made task CHILD with clone FLAGS
    Q TIME_NS TID                  sched:sched_process_exit: the task ended
    T TIME_NS TID NEW SPORT DPORT SADDR DADDR   sock:inet_sock_set_state in the task's own
                                   context (listen, connect); addresses as dotted or colon text
"""

import socket
import sys

SKIP = {"common_cpu", "common_s", "common_ns", "common_pid", "common_comm",
        "common_callchain", "__syscall_nr"}


def _address(raw, family):
    if not raw:
        return "-"
    kind = socket.AF_INET if family == 2 else socket.AF_INET6
    try:
        return socket.inet_ntop(kind, bytes(raw))
    except (OSError, ValueError):
        return "-"


def trace_unhandled(event_name, context, fields, *sample):
    head = f"{fields['common_s'] * 1000000000 + fields['common_ns']} {fields['common_pid']}"
    system, _, name = event_name.partition("__")
    out = sys.stdout
    if system == "syscalls":
        if name.startswith("sys_enter_"):
            args = " ".join(str(int(v)) for k, v in fields.items() if k not in SKIP)
            out.write(f"E {head} {name[10:]} {args}\n")
        else:
            out.write(f"X {head} {name[9:]} {int(fields['ret'])}\n")
    elif name == "signal_deliver":
        out.write(f"S {head} {fields['sig']} {fields['sa_handler']}\n")
    elif name == "task_newtask":
        out.write(f"N {head} {fields['pid']} {fields['clone_flags']}\n")
    elif name == "sched_process_exit":
        out.write(f"Q {head}\n")
    elif name == "inet_sock_set_state":
        family = fields["family"]
        saddr = fields["saddr"] if family == 2 else fields["saddr_v6"]
        daddr = fields["daddr"] if family == 2 else fields["daddr_v6"]
        out.write(f"T {head} {fields['newstate']} {fields['sport']} {fields['dport']} "
                  f"{_address(saddr, family)} {_address(daddr, family)}\n")
