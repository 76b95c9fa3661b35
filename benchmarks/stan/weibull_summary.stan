// Summary-likelihood Weibull (DESIGN.md 4.2): models/pfs.py build_summary_model in Stan.
// The reported (L, M, U) are order statistics at CDF levels u_i = 1 - exp(-H_i),
// H_i = ln 2 (x_i / m)^k. The spacings (u_L, u_M - u_L, u_U - u_M, 1 - u_U) ~ Dirichlet(alpha),
// written by hand on log spacings (expm1, as summary_loglik_graph does), plus the Jacobian of
// x -> u: sum_i [log k - log x_i + log H_i - H_i]. When U is undefined (has_upper = 0) the last
// two spacings merge and U drops out of the Jacobian.
// Benchmark only (benchmarks/stan.py); not part of the package.
functions {
  real dirichlet_log_spacings(vector alpha, vector log_spacings) {
    return lgamma(sum(alpha)) - sum(lgamma(alpha)) + dot_product(alpha - 1.0, log_spacings);
  }
}
data {
  real<lower=0> pfs_lower;
  real<lower=pfs_lower> pfs_median;
  real<lower=pfs_median> pfs_upper;   // any value above M when has_upper = 0
  int<lower=0, upper=1> pfs_has_upper;
  vector<lower=0>[4] dirichlet_alpha;
  real prior_log_median_mu;
  real<lower=0> prior_log_median_sd;
  real prior_log_shape_mu;
  real<lower=0> prior_log_shape_sd;
}
transformed data {
  vector[3] x = [pfs_lower, pfs_median, pfs_upper]';
  vector[3] alpha3 = [dirichlet_alpha[1], dirichlet_alpha[2],
                      dirichlet_alpha[3] + dirichlet_alpha[4]]';
}
parameters {
  real<lower=0> median_pfs;
  real<lower=0> weibull_shape;
}
transformed parameters {
  real<lower=0> weibull_scale = median_pfs / pow(log(2.0), 1.0 / weibull_shape);
}
model {
  vector[3] log_h = log(log(2.0)) + weibull_shape * (log(x) - log(median_pfs));
  vector[3] h = exp(log_h);
  vector[3] jac = log(weibull_shape) - log(x) + log_h - h;
  real log_u_l = log(-expm1(-h[1]));
  real log_s2 = -h[1] + log(-expm1(h[1] - h[2]));
  median_pfs ~ lognormal(prior_log_median_mu, prior_log_median_sd);
  weibull_shape ~ lognormal(prior_log_shape_mu, prior_log_shape_sd);
  if (pfs_has_upper == 1) {
    vector[4] four = [log_u_l, log_s2, -h[2] + log(-expm1(h[2] - h[3])), -h[3]]';
    target += dirichlet_log_spacings(dirichlet_alpha, four) + sum(jac);
  } else {
    vector[3] three = [log_u_l, log_s2, -h[2]]';
    target += dirichlet_log_spacings(alpha3, three) + jac[1] + jac[2];
  }
}
