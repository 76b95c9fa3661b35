// Right-censored Weibull on patient data (DESIGN.md 4.2): models/pfs.py build_patient_model in Stan.
// S(t) = exp(-(t / lambda)^k), median m = lambda (ln 2)^(1/k); lognormal priors on m and k.
// Stan's weibull(k, lambda) has the same density as PyMC's Weibull(alpha=k, beta=lambda).
// Benchmark only (benchmarks/stan.py); not part of the package.
data {
  int<lower=0> n_event;
  int<lower=0> n_censored;
  vector<lower=0>[n_event] time_event;        // months, progression observed
  vector<lower=0>[n_censored] time_censored;  // months, censored at this time
  real prior_log_median_mu;
  real<lower=0> prior_log_median_sd;
  real prior_log_shape_mu;
  real<lower=0> prior_log_shape_sd;
}
parameters {
  real<lower=0> median_pfs;
  real<lower=0> weibull_shape;
}
transformed parameters {
  real<lower=0> weibull_scale = median_pfs / pow(log(2.0), 1.0 / weibull_shape);
}
model {
  median_pfs ~ lognormal(prior_log_median_mu, prior_log_median_sd);
  weibull_shape ~ lognormal(prior_log_shape_mu, prior_log_shape_sd);
  target += weibull_lpdf(time_event | weibull_shape, weibull_scale);
  target += weibull_lccdf(time_censored | weibull_shape, weibull_scale);
}
