"""Reconstruction: every data set compatible with what was printed: the counts behind a rate and
its CI
(:mod:`.rates`, :mod:`.rate_report`), the 2x2 tables behind a rounded P value (:mod:`.tables`),
patient
data from a digitised Kaplan-Meier curve (:mod:`.curves`) and its checks against the report
(:mod:`.curve_checks`). Nothing here imports a model."""
