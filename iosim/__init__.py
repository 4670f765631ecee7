"""iosim: watch the UNIX network IO models wait for data and copy it, event by event."""

__version__ = "0.1.0"
