"""Packaged data: the trial files (``trials/``), the stored calibration of the time-to-event
summary likelihood (``calibration/``) and the stored validation studies (``validation/``)."""
