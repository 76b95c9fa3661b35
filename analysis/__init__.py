"""The analyses of :mod:`trial_reanalysis`, one sub-package per concern, in the order of the flow.

- ``trials``: trial files (schema version 2, migration of version 1), loading and validation;
- ``reconstruction``: data compatible with what was printed (counts of a rate, 2x2 tables of a P
  value, patient data of a digitised curve);
- ``frequentist``: exact binomial tests and intervals, Simon designs, Kaplan-Meier;
- ``inference``: sampling (the one place that samples), diagnostic gates, executors;
- ``endpoints``: one analysis per endpoint kind (rate, time-to-event, group comparison);
- ``planning``: priors and designs for a follow-up trial (follow-up priors, MAP priors,
  single-stage and sequential designs);
- ``report``: wording, tables, figures and the Markdown / HTML report;
- ``studies``: the simulation studies that calibrate and validate the approximate models;
- ``run`` (orchestration and atomic writing), ``outdir`` (output folders), ``cli``.

The one public entry point of a whole reanalysis is :func:`analysis.run.run_analysis`.
"""
