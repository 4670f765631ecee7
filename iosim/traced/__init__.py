"""Tracing any program: strace's system calls and perf's kernel arrival times -> a Trace with
source "traced" (``iosim trace -- CMD``)."""
