// Burden-reduction rate (DESIGN.md 4.1): models/burden_reduction.py in Stan.
// theta ~ Beta(prior_alpha, prior_beta); responders ~ Binomial(evaluable, theta).
// Benchmark only (benchmarks/stan.py); not part of the package.
data {
  int<lower=0> evaluable;
  int<lower=0, upper=evaluable> responders;
  real<lower=0> prior_alpha;
  real<lower=0> prior_beta;
}
parameters {
  real<lower=0, upper=1> burden_reduction_rate;
}
model {
  burden_reduction_rate ~ beta(prior_alpha, prior_beta);
  responders ~ binomial(evaluable, burden_reduction_rate);
}
