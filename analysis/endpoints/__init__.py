"""Endpoint analyses, one per kind: a rate (:mod:`.rate`), a time-to-event endpoint
(:mod:`.time_to_event`) and events compared between two groups (:mod:`.comparison`); their shared
result
shape (:mod:`.base`) and posterior summaries (:mod:`.summaries`)."""
