"""Trial files: the schema (version 2, :mod:`analysis.trials.v2`), the migration of version 1
files (:mod:`analysis.trials.migrate`) and loading."""
