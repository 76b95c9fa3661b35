"""Planning a follow-up trial: priors from one trial's posterior (:mod:`.followup`), meta-analytic-
predictive priors across trials (:mod:`.map_prior`), single-stage plans (:mod:`.plan`) and
sequential designs
with exact operating characteristics (:mod:`.sequential`)."""
