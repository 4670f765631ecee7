"""Run by ``perf script -s`` inside perf's own Python, not imported by iosim: prints one line
per recorded tracepoint with the raw fields perf's text output leaves out (the socket's
address, which sk_data_ready's format does not print).

    d TIME_NS SKADDR               sock:sk_data_ready (data or a FIN reached the socket)
    r TIME_NS TID SKADDR RET       sock:sock_recv_length (a task's receive returned RET)
    e TIME_NS SKADDR OLD SPORT DPORT FAMILY SADDR DADDR
                                   sock:inet_sock_set_state: a TCP connection established (OLD:
                                   the state before, 3 SYN_RECV for a server's side), addresses
                                   as integers (network byte order)
    c TIME_NS TID                  skb:skb_copy_datagram_iovec: a copy to a task's memory begins
"""

import sys


def trace_unhandled(event_name, context, fields, *sample):
    t_ns = fields["common_s"] * 1000000000 + fields["common_ns"]
    if event_name == "sock__sk_data_ready":
        sys.stdout.write(f"d {t_ns} {fields['skaddr']}\n")
    elif event_name == "sock__inet_sock_set_state":
        v6 = fields["family"] == 10
        saddr = fields["saddr_v6" if v6 else "saddr"] or b""
        daddr = fields["daddr_v6" if v6 else "daddr"] or b""
        sys.stdout.write(f"e {t_ns} {fields['skaddr']} {fields['oldstate']} {fields['sport']} "
                         f"{fields['dport']} {fields['family']} "
                         f"{int.from_bytes(bytes(saddr), 'big')} "
                         f"{int.from_bytes(bytes(daddr), 'big')}\n")
    elif event_name == "skb__skb_copy_datagram_iovec":
        sys.stdout.write(f"c {t_ns} {fields['common_pid']}\n")
    elif event_name == "sock__sock_recv_length":
        sys.stdout.write(f"r {t_ns} {fields['common_pid']} {fields['sk']} {fields['ret']}\n")
