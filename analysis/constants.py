"""Constants shared by every table, figure and report (one place, so they never disagree)."""

from typing import Final

#: Level of every credible and confidence interval the package reports (tables and plots alike).
INTERVAL_LEVEL: Final = 0.95
#: Tail probabilities of the equal-tailed interval at INTERVAL_LEVEL.
INTERVAL_TAILS: Final = ((1 - INTERVAL_LEVEL) / 2, 1 - (1 - INTERVAL_LEVEL) / 2)

#: Default seed of a run (the paper's publication month as a number: nothing hangs on it).
DEFAULT_SEED: Final = 20101115

#: MCMC settings of every fit unless a caller says otherwise.
DRAWS: Final = 1000
TUNE: Final = 1000
CHAINS: Final = 4

#: Version of the results.json schema (docs/results-schema.md describes it).
RESULTS_SCHEMA_VERSION: Final = 2
