"""The frequentist side: exact binomial test and Simon two-stage designs (:mod:`.binomial`);
Kaplan-Meier with R's CI of the median, crossing levels and the Weibull MLE (:mod:`.survival`)."""
