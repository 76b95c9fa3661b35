"""Trial files: the schema (version 2, :mod:`.v2`), the migration of version 1 files
(:mod:`.migrate`),
loading (:mod:`.load`) and the one validation layer every command shares (:mod:`.validation`)."""
