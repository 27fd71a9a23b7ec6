# Golden values for the SIPAS statistics engine, from R's survey package.
#
#   Rscript stats/golden/generate.R        (from the repository root; Debian: r-cran-survey)
#
# Writes, beside this script:
#   microdata.csv, microdata_lonely.csv, microdata_srs.csv   inputs in the documented CSV format
#   expected.csv      estimates, SEs, df, n and intervals per scenario, domain, node
#   raking.csv        raked weights (rake, and calibrate(calfun = "raking"))
#   trimming.csv      trimWeights results
#   quantiles.csv     qt / qbeta reference values
# The Rust tests (stats/tests/golden.rs) read these; R is never needed at test time.
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = FALSE)
here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)])))
set.seed(20261127)
fmt <- function(x) ifelse(is.na(x), "", sprintf("%.17g", x))

items <- c("p1", "p2", "s1", "s2", "s3", "s4")
tree <- list(
  policy = c(p1 = 0.5, p2 = 0.5),
  services = c(s1 = 0.25, s2 = 0.25, s3 = 0.25, s4 = 0.25),
  sipas = c(p1 = 1/6, p2 = 1/6, s1 = 1/6, s2 = 1/6, s3 = 1/6, s4 = 1/6)
)
# sipas = (policy + 2 * services) / 3, see methodology.toml
tree$sipas <- c(tree$policy / 3, tree$services * 2 / 3)

make_sample <- function(provinces, strata_per_prov, psus, rows, lonely = FALSE) {
  out <- list(); id <- 0
  for (p in provinces) for (h in seq_len(strata_per_prov)) {
    npsu <- if (lonely && h == 1) 1 else sample(psus, 1)
    for (j in seq_len(npsu)) {
      m <- sample(rows, 1)
      base <- runif(1, 50, 150)
      q <- matrix(sample(1:5, m * 6, replace = TRUE, prob = c(.05, .1, .15, .4, .3)), m)
      q[runif(m * 6) < 0.08] <- NA
      q[runif(m * 6) < 0.02] <- 9
      df <- data.frame(response_id = id + seq_len(m), province = p,
                       stratum = paste0(p, "-", h), psu = paste0("c", j),
                       weight = round(base * runif(m, 0.7, 1.3), 3),
                       fpc = npsu + sample(0:20, 1),
                       sex = sample(c("F", "M"), m, replace = TRUE))
      colnames(q) <- items
      out[[length(out) + 1]] <- cbind(df, q)
      id <- id + m
    }
  }
  d <- do.call(rbind, out)
  # fpc must be constant within a stratum
  d$fpc <- ave(d$fpc, d$stratum, FUN = function(x) x[1])
  d
}

main <- make_sample(c("01", "24", "79"), 3, 3:6, 5:14)
lonely <- make_sample(c("01", "24"), 3, 2:4, 4:9, lonely = TRUE)
srs <- main[, c("response_id", "province", "weight", "sex", items)]

write_data <- function(d, name) write.csv(d, file.path(here, name), row.names = FALSE, na = "")
write_data(main, "microdata.csv")
write_data(lonely, "microdata_lonely.csv")
write_data(srs, "microdata_srs.csv")

prep <- function(d) {
  for (k in items) {
    v <- d[[k]]; v[!is.na(v) & (v < 1 | v > 5)] <- NA
    d[[paste0("y_", k)]] <- ifelse(is.na(v), 0, as.numeric(v >= 4))
    d[[paste0("d_", k)]] <- as.numeric(!is.na(v))
    d[[k]] <- v
  }
  d
}

ci_from <- function(p, v, df, n, method, level = 0.95) {
  alpha <- 1 - level; se <- sqrt(v); t <- qt(1 - alpha / 2, df)
  switch(method,
    mean = c(p - t * se, p + t * se),
    logit = , xlogit = plogis(qlogis(p) + c(-1, 1) * t * se / (p * (1 - p))),
    asin = sin(asin(sqrt(p)) + c(-1, 1) * t * se / (2 * sqrt(p * (1 - p))))^2,
    beta = {
      ne <- p * (1 - p) / v * (qt(alpha / 2, n - 1) / qt(alpha / 2, df))^2
      c(qbeta(alpha / 2, ne * p, ne * (1 - p) + 1), qbeta(1 - alpha / 2, ne * p + 1, ne * (1 - p)))
    })
}

rows <- list()
emit <- function(scenario, method, domain, subgroup, node, n, df, est, se, lo, hi) {
  rows[[length(rows) + 1]] <<- data.frame(scenario = scenario, method = method, domain = domain,
    subgroup = subgroup, node = node, n = n, df = df, estimate = fmt(est), se = fmt(se),
    ci_low = fmt(lo), ci_high = fmt(hi))
}

# Item: svyciprop on the subset that answered. Inner node: svyratio + svycontrast on the domain.
run_domain <- function(scenario, design, sub, domain, subgroup, methods) {
  for (k in items) {
    s <- eval(bquote(subset(design, .(sub) & !is.na(.(as.name(k))))))
    if (nrow(s) == 0) next
    f <- as.formula(paste0("~I(", k, ">=4)"))
    for (m in methods) {
      r <- svyciprop(f, s, method = m)
      ci <- attr(r, "ci")
      emit(scenario, m, domain, subgroup, k, nrow(s), degf(s), as.numeric(r),
           sqrt(as.numeric(attr(r, "var"))), ci[1], ci[2])
    }
  }
  s <- eval(bquote(subset(design, .(sub))))
  num <- as.formula(paste("~", paste0("y_", items, collapse = "+")))
  den <- as.formula(paste("~", paste0("d_", items, collapse = "+")))
  r <- svyratio(num, den, s, covmat = TRUE)
  for (node in names(tree)) {
    w <- setNames(rep(0, length(items)), paste0("y_", items, "/d_", items))
    w[paste0("y_", names(tree[[node]]), "/d_", names(tree[[node]]))] <- tree[[node]]
    con <- svycontrast(r, w)
    est <- as.numeric(coef(con)); v <- as.numeric(vcov(con))
    for (m in methods) {
      ci <- ci_from(est, v, degf(s), nrow(s), m)
      emit(scenario, m, domain, subgroup, node, nrow(s), degf(s), est, sqrt(v), ci[1], ci[2])
    }
  }
}

# Mean of provinces: joint linearization of the province ratios on the whole design.
run_national_mean <- function(scenario, design, data, methods) {
  provs <- sort(unique(data$province)); P <- length(provs)
  vars <- design$variables
  for (p in provs) for (k in items) {
    vars[[paste0("y_", k, "_", p)]] <- vars[[paste0("y_", k)]] * (vars$province == p)
    vars[[paste0("d_", k, "_", p)]] <- vars[[paste0("d_", k)]] * (vars$province == p)
  }
  design$variables <- vars
  ys <- as.vector(outer(items, provs, function(k, p) paste0("y_", k, "_", p)))
  ds <- sub("^y_", "d_", ys)
  r <- svyratio(as.formula(paste("~", paste(ys, collapse = "+"))),
                as.formula(paste("~", paste(ds, collapse = "+"))), design, covmat = TRUE)
  nm <- paste0(ys, "/", ds)
  stats <- c(setNames(lapply(items, function(k) setNames(1, k)), items), tree)
  for (node in names(stats)) {
    w <- setNames(rep(0, length(nm)), nm)
    for (k in names(stats[[node]])) for (p in provs)
      w[paste0("y_", k, "_", p, "/d_", k, "_", p)] <- stats[[node]][[k]] / P
    con <- svycontrast(r, w)
    est <- as.numeric(coef(con)); v <- as.numeric(vcov(con))
    if (node %in% items) {
      s <- eval(bquote(subset(design, !is.na(.(as.name(node))))))
    } else s <- design
    for (m in methods) {
      ci <- ci_from(est, v, degf(s), nrow(s), m)
      emit(scenario, m, "national_mean", "", node, nrow(s), degf(s), est, sqrt(v), ci[1], ci[2])
    }
  }
}

run_scenario <- function(scenario, design, data, methods, subgroups = TRUE) {
  for (p in sort(unique(data$province))) {
    run_domain(scenario, design, bquote(province == .(p)), p, "", methods)
    if (subgroups) for (g in c("F", "M"))
      run_domain(scenario, design, bquote(province == .(p) & sex == .(g)), p, paste0("sex=", g), methods)
  }
  run_domain(scenario, design, quote(TRUE), "national", "", methods)
  if (subgroups) for (g in c("F", "M"))
    run_domain(scenario, design, bquote(sex == .(g)), "national", paste0("sex=", g), methods)
  run_national_mean(scenario, design, data, methods)
}

all_methods <- c("logit", "xlogit", "beta", "mean", "asin")
md <- prep(main)
options(survey.lonely.psu = "fail")
run_scenario("cluster", svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = md, nest = TRUE),
             md, all_methods)
run_scenario("cluster_fpc", svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc,
             data = md, nest = TRUE), md, c("logit", "beta", "mean"), subgroups = FALSE)
sd <- prep(srs)
run_scenario("srs", svydesign(ids = ~1, strata = ~province, weights = ~weight, data = sd), sd,
             c("logit", "beta", "mean"), subgroups = FALSE)
ld <- prep(lonely)
for (policy in c("remove", "certainty", "adjust", "average")) {
  options(survey.lonely.psu = policy)
  run_scenario(paste0("lonely_", policy), svydesign(ids = ~psu, strata = ~stratum, weights = ~weight,
               data = ld, nest = TRUE), ld, c("logit", "mean"), subgroups = FALSE)
}
options(survey.lonely.psu = "fail")
write.csv(do.call(rbind, rows), file.path(here, "expected.csv"), row.names = FALSE, quote = TRUE)

# Raking within one province to sex and urban/rural margins.
rk <- md[md$province == "01", ]
rk$urban <- ifelse(rk$stratum == "01-1", "U", "R")
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = rk, nest = TRUE)
pop_sex <- data.frame(sex = c("F", "M"), Freq = c(52000, 48000))
pop_urban <- data.frame(urban = c("R", "U"), Freq = c(65000, 35000))
raked <- rake(des, list(~sex, ~urban), list(pop_sex, pop_urban),
              control = list(maxit = 500, epsilon = 1e-12, verbose = FALSE))
cal <- calibrate(des, ~sex + urban, c(`(Intercept)` = 100000, sexM = 48000, urbanU = 35000),
                 calfun = "raking", epsilon = 1e-12, maxit = 500)
write.csv(data.frame(response_id = rk$response_id, sex = rk$sex, urban = rk$urban,
                     weight = fmt(rk$weight), raked = fmt(weights(raked)), calibrated = fmt(weights(cal))),
          file.path(here, "raking.csv"), row.names = FALSE)

tw <- svydesign(ids = ~1, weights = ~weight, data = md)
trimmed <- trimWeights(tw, upper = 140, lower = 60)
strict <- trimWeights(tw, upper = 130, lower = 70, strict = TRUE)
write.csv(data.frame(weight = fmt(md$weight), trim_60_140 = fmt(weights(trimmed)),
                     trim_70_130_strict = fmt(weights(strict))),
          file.path(here, "trimming.csv"), row.names = FALSE)

q <- expand.grid(p = c(0.005, 0.025, 0.975), df = c(1, 2, 5, 12, 30, 250, 35000))
qb <- expand.grid(p = c(0.025, 0.975), a = c(0.7, 3.2, 48.5, 912.25), b = c(1.5, 20.1, 300.75))
write.csv(rbind(data.frame(kind = "t", p = q$p, a = q$df, b = NA, value = fmt(qt(q$p, q$df))),
                data.frame(kind = "beta", p = qb$p, a = qb$a, b = qb$b, value = fmt(qbeta(qb$p, qb$a, qb$b)))),
          file.path(here, "quantiles.csv"), row.names = FALSE, na = "")
cat("golden files written to", here, "\n")
