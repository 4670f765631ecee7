"""Real-socket mode: one real server per IO model on loopback, a scripted client, and the
capture of their timestamps into a Trace."""
