"""The report: words from numbers (:mod:`.wording`), figures (:mod:`.plots`) and the Markdown and
HTML
report from one context (:mod:`.render`, ``templates/``)."""
