"""Simulation studies that calibrate (:mod:`.pfs_calibration`, writing the data that
:mod:`analysis.inference.calibration` reads) and validate (:mod:`.pfs_validation`,
:mod:`.ae_validation`) the approximate models; their results are stored under data/ with
provenance."""
