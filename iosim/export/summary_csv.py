"""The summary of a Trace as CSV, for a spreadsheet or pandas.

One table, two kinds of rows told apart by ``row_type``: a "message" row per message (its
phases and latency) and a "totals" row per run (its counters and time shares). Columns are the
union of both; a cell that does not apply to a row, or a time that never happened, is empty
(pandas reads it as NaN). The values are those of ``iosim summary --json``.
"""

from __future__ import annotations

import csv
from typing import Any, TextIO

from iosim.summary import summarize
from iosim.trace import MESSAGE_FIELDS, Trace

RUN_COLUMNS = ("row_type", "scenario", "protocol", "run", "model", "source")
MESSAGE_COLUMNS = ("msg", *MESSAGE_FIELDS, "latency_us", "handled_us")
TOTALS_COLUMNS = ("messages", "handled", "syscalls", "ewouldblock", "signals", "wakeups",
                  "blocked_us", "in_kernel_us", "other_work_us", "end_us", "sim_events",
                  "latency_p50_us", "latency_p90_us", "latency_max_us", "handled_p50_us",
                  "handled_p90_us", "handled_max_us", "error")
COLUMNS = RUN_COLUMNS + MESSAGE_COLUMNS + TOTALS_COLUMNS


def _since_ready(message: dict[str, Any], key: str) -> float | None:
    """``key``'s time less the ready time: latency (copy end), handled (processing done)."""
    if message[key] is None or message["ready_us"] is None:
        return None
    return round(message[key] - message["ready_us"], 6) + 0.0


def rows(trace: Trace) -> list[dict[str, Any]]:
    """The rows in order: each run's messages, then that run's totals."""
    summary = summarize(trace)
    out: list[dict[str, Any]] = []
    for index, run in enumerate(summary["runs"]):
        head = {"scenario": summary["scenario"], "protocol": summary["protocol"], "run": index,
                "model": run["model"], "source": run["source"]}
        for msg, message in enumerate(run["messages"]):
            out.append({"row_type": "message", **head, "msg": msg, **message,
                        "latency_us": _since_ready(message, "copy_end_us"),
                        "handled_us": _since_ready(message, "done_us")})
        handled = sum(m["done_us"] is not None for m in run["messages"])
        out.append({"row_type": "totals", **head, "messages": len(run["messages"]),
                    "handled": handled, **run["totals"], "error": run["error"]})
    return out


def write_csv(trace: Trace, out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows(trace):
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})

