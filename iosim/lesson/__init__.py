"""Lessons: ordered, prepared moments of the window for a lecture (docs/lessons.md)."""
