"""The discrete-event simulation: a kernel model (SimPy) and the IO-model programs."""
