"""Inference: the one place that samples (:mod:`.fitting`, nutpie, compile once), the diagnostic
gates
with one retry (:mod:`.diagnostics`) and the executors of simulation studies (:mod:`.executors`)."""
