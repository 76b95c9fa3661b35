"""PyMC models, one module per endpoint, and the prior registry (:mod:`models.priors`).

Every ``build_*_model`` function returns a ``pm.Model`` whose data and prior hyperparameters are
``pm.Data`` containers, so one compiled model serves every prior scenario and every reconstructed
data set. Nothing here samples: :mod:`analysis.inference.fitting` is the one place that does.
"""
