# Compile one Stan program with rstan and sample it; called by benchmarks/stan.py.
#
#   Rscript run_stan.R MODEL.stan DATA.json DRAWS.csv TIMING.json SEED [CHAINS WARMUP DRAWS CORES]
#
# Times stan_model() (compile) and sampling() separately with proc.time() (elapsed seconds),
# writes the post-warmup draws of every model parameter (lp__ excluded) as CSV with columns
# chain, draw, <parameters>, and the timings and sampler diagnostics as JSON. Compiled code lives
# in R's tempdir() (set TMPDIR to choose it); nothing is cached (auto_write stays off).
args <- commandArgs(trailingOnly = TRUE)
if (length(args) < 5) stop("usage: run_stan.R MODEL.stan DATA.json DRAWS.csv TIMING.json SEED ...")
stan_file <- args[1]
data_file <- args[2]
draws_file <- args[3]
timing_file <- args[4]
seed <- as.integer(args[5])
chains <- if (length(args) >= 6) as.integer(args[6]) else 4L
warmup <- if (length(args) >= 7) as.integer(args[7]) else 1000L
draws <- if (length(args) >= 8) as.integer(args[8]) else 1000L
cores <- if (length(args) >= 9) as.integer(args[9]) else 2L

suppressPackageStartupMessages(library(rstan))
rstan_options(auto_write = FALSE)

# Boost headers: the BH package when it ships them, else the system's (Debian's r-cran-bh may have
# no include folder; rstan then needs boost_lib pointed at /usr/include).
boost_candidates <- c(system.file("include", package = "BH"), "/usr/include", "/usr/local/include")
boost_candidates <- boost_candidates[nzchar(boost_candidates)]
has_boost <- file.exists(file.path(boost_candidates, "boost", "version.hpp"))
boost_lib <- if (any(has_boost)) boost_candidates[which(has_boost)[1]] else NULL

data <- jsonlite::fromJSON(data_file, simplifyVector = TRUE)

t0 <- proc.time()
model <- if (is.null(boost_lib)) {
  stan_model(stan_file, model_name = sub("\\.stan$", "", basename(stan_file)))
} else {
  stan_model(stan_file, model_name = sub("\\.stan$", "", basename(stan_file)),
             boost_lib = boost_lib)
}
t_compile <- (proc.time() - t0)[["elapsed"]]

t0 <- proc.time()
fit <- sampling(model, data = data, chains = chains, warmup = warmup, iter = warmup + draws,
                cores = cores, seed = seed, refresh = 0, show_messages = FALSE)
t_sample <- (proc.time() - t0)[["elapsed"]]

pars <- setdiff(fit@model_pars, "lp__")
arr <- as.array(fit, pars = pars)  # iterations x chains x parameters
out <- data.frame(chain = rep(seq_len(dim(arr)[2]) - 1L, each = dim(arr)[1]),
                  draw = rep(seq_len(dim(arr)[1]) - 1L, times = dim(arr)[2]))
for (p in dimnames(arr)[[3]]) out[[p]] <- as.vector(arr[, , p])
write.csv(out, draws_file, row.names = FALSE)

elapsed <- get_elapsed_time(fit)
jsonlite::write_json(
  list(
    compile_s = t_compile,
    sample_s = t_sample,
    chain_warmup_s = unname(elapsed[, "warmup"]),
    chain_sample_s = unname(elapsed[, "sample"]),
    divergent = get_num_divergent(fit),
    max_treedepth_hits = get_num_max_treedepth(fit),
    boost_lib = if (is.null(boost_lib)) "" else boost_lib,
    rstan = as.character(packageVersion("rstan")),
    stan = stan_version(),
    r = R.version.string
  ),
  timing_file, auto_unbox = TRUE, digits = NA, pretty = TRUE
)
