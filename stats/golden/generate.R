# Golden values for the SIPAS statistics engine, from R's survey package.
#
#   Rscript stats/golden/generate.R        (from the repository root; Debian: r-cran-survey,
#                                           r-cran-sampling)
#
# Writes, beside this script:
#   microdata.csv, microdata_lonely.csv, microdata_srs.csv   inputs in the documented CSV format
#   microdata_calibrated.csv, population.csv   raking within provinces to sex and urban totals
#   expected.csv      estimates, SEs, df, n and intervals per scenario, domain, node
#   raking.csv        raked weights (rake, and calibrate(calfun = "raking"))
#   trimming.csv      trimWeights results (expected.csv also has scenarios trimmed within
#                     provinces, with and without calibration)
#   quantiles.csv     qt / qbeta reference values
#   tiers.csv         each province minus the mean of provinces (svycontrast), with its p-value
#   ranks.csv         joint and marginal rank intervals of a 34-province table
#   changes.csv       changes between years (t on Satterthwaite df)
#   microdata_year2.csv, linked.csv   a second year revisiting most PSUs; the change with the
#                     covariance of the linked PSUs (stacked design, svycontrast)
#   wilson.csv        Wilson intervals from prop.test (survey 4.1 has no "wilson" method)
#   microdata_field.csv, frame_field.csv, population_field.csv   field-shaped data: strong
#                     raking (g down to 0.25), item nonresponse, nonresponse classes
#   expected_field.csv, weights_field.csv, raking_bounded_field.csv   its estimates, weights and
#                     which provinces bounded raking solves (see the section at the end)
#   sampling.csv, sampling_draws.csv   inclusionprobabilities and UPsystematic (sampling
#                     package; Debian: r-cran-sampling) on commune-shaped sizes
#   versions.csv      the R, survey and sampling versions that wrote them
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

rows <- list()
tiers <- list()
# Rows of a (sub)design: subsets of calibrated designs keep the other rows with weight 0.
nobs <- function(s) sum(weights(s) != 0)
emit <- function(scenario, method, domain, subgroup, node, n, df, est, se, lo, hi, deff) {
  rows[[length(rows) + 1]] <<- data.frame(scenario = scenario, method = method, domain = domain,
    subgroup = subgroup, node = node, n = n, df = df, estimate = fmt(est), se = fmt(se),
    ci_low = fmt(lo), ci_high = fmt(hi), deff = fmt(deff),
    n_eff = fmt(if (is.na(deff)) NA else n / max(deff, 1)),
    flag = nchs_flag(est, se^2, n, df, deff))
}

# The NCHS Data Presentation Standards for Proportions (Parker et al. 2017), written out from
# the report and CDC's surveytable package: n and effective n (p(1-p)/V, at most n) >= 30;
# Korn-Graubard interval (p(1-p)/V times the df factor, at most n) narrower than 0.30, and
# relative width <= 130% when wider than 0.05; df < 8, an estimate of 0 or 1, or a complement
# 1 - p failing the relative width is marked for review.
nchs_flag <- function(p, v, n, df, deff) {
  if (is.na(p) || n == 0) return("no_data")
  if (df < 1 || (v <= 0 && p > 0 && p < 1)) return("suppressed")
  neff <- if (p > 0 && p < 1) min(n, p * (1 - p) / v) else n
  if (n < 30 || neff < 30) return("suppressed")
  factor <- (qt(0.975, n - 1) / qt(0.975, df))^2
  kn <- if (p > 0 && p < 1) min(n, p * (1 - p) / v * factor) else n * factor
  lo <- if (p > 0) qbeta(0.025, kn * p, kn * (1 - p) + 1) else 0
  hi <- if (p < 1) qbeta(0.975, kn * p + 1, kn * (1 - p)) else 1
  w <- hi - lo
  if (w >= 0.30 || (w > 0.05 && p > 0 && w / p > 1.30)) return("suppressed")
  if (df < 8 || p <= 0 || p >= 1) return("low_precision")
  if (w > 0.05 && w / (1 - p) > 1.30) return("low_precision")
  "ok"
}

# A row filter as an expression: the domain, restricted to rows answering one of the items.
answering <- function(sub, its) {
  bquote(.(sub) & .(parse(text = paste0("(", paste0("!is.na(", its, ")", collapse = " | "), ")"))[[1]]))
}

# The linearized score u = sum_k c_k d_k (y_k - R_k) / D_k of sum_k c_k R_k in a domain, as a
# vector over all rows of the design (0 outside the domain).
score <- function(design, sub, coefs) {
  v <- design$variables; inside <- as.numeric(eval(sub, v)); w <- weights(design)
  u <- 0
  for (k in names(coefs)) {
    d <- v[[paste0("d_", k)]] * inside; y <- v[[paste0("y_", k)]] * inside
    D <- sum(w * d); R <- sum(w * y) / D
    u <- u + coefs[[k]] * d * (y - R) / D
  }
  u
}

# Design effect with replacement of a statistic with score u over the rows it rests on: R's
# svytotal(u, deff = "replace"), whose variance is the statistic's.
score_deff <- function(design, rows_expr, u) {
  design$variables$u_score <- u
  s <- eval(bquote(subset(design, .(rows_expr))))
  as.numeric(deff(svytotal(~u_score, s, deff = "replace")))
}

# Interval of a composite from svycontrast, on the scale each method uses, with t on df.
contrast_ci <- function(r, w, df, method) {
  nm <- names(w)[w != 0]
  lin <- paste0("(", paste(sprintf("%.17g*`%s`", w[nm], nm), collapse = " + "), ")")
  expr <- function(f) list(v = parse(text = gsub("X", lin, f, fixed = TRUE))[[1]])
  switch(method,
    mean = as.numeric(confint(svycontrast(r, w), df = df)),
    logit = , xlogit = plogis(as.numeric(confint(svycontrast(r, expr("log(X / (1 - X))")), df = df))),
    asin = sin(as.numeric(confint(svycontrast(r, expr("asin(sqrt(X))")), df = df)))^2)
}

# Item: svyciprop on the subset that answered (deff from svymean on the same rows). Inner node:
# svyratio + svycontrast on the rows of the domain that answered at least one of its items.
run_domain <- function(scenario, design, sub, domain, subgroup, methods) {
  for (k in items) {
    s <- eval(bquote(subset(design, .(sub) & !is.na(.(as.name(k))))))
    if (nobs(s) == 0) next
    f <- as.formula(paste0("~y_", k))
    dk <- as.numeric(deff(svymean(f, s, deff = "replace")))
    for (m in methods) {
      r <- svyciprop(f, s, method = m)
      ci <- attr(r, "ci")
      emit(scenario, m, domain, subgroup, k, nobs(s), degf(s), as.numeric(r),
           sqrt(as.numeric(attr(r, "var"))), ci[1], ci[2], dk)
    }
  }
  num <- as.formula(paste("~", paste0("y_", items, collapse = "+")))
  den <- as.formula(paste("~", paste0("d_", items, collapse = "+")))
  for (node in names(tree)) {
    rows_expr <- answering(sub, names(tree[[node]]))
    s <- eval(bquote(subset(design, .(rows_expr))))
    r <- svyratio(num, den, s, covmat = TRUE)
    w <- setNames(rep(0, length(coef(r))), names(coef(r)))
    w[paste0("y_", names(tree[[node]]), "/d_", names(tree[[node]]))] <- tree[[node]]
    con <- svycontrast(r, w)
    est <- as.numeric(coef(con)); v <- as.numeric(vcov(con))
    dn <- score_deff(design, rows_expr, score(design, sub, tree[[node]]))
    for (m in intersect(methods, c("logit", "xlogit", "mean", "asin"))) {
      ci <- contrast_ci(r, w, degf(s), m)
      emit(scenario, m, domain, subgroup, node, nobs(s), degf(s), est, sqrt(v), ci[1], ci[2], dn)
    }
  }
}

# Mean of provinces: joint linearization of the province ratios on the whole design, within a
# subgroup (sub) when given.
run_national_mean <- function(scenario, design, data, methods, sub = quote(TRUE), subgroup = "") {
  provs <- sort(unique(data$province)); P <- length(provs)
  vars <- design$variables
  inside <- as.numeric(eval(sub, vars))
  for (p in provs) for (k in items) {
    vars[[paste0("y_", k, "_", p)]] <- vars[[paste0("y_", k)]] * (vars$province == p) * inside
    vars[[paste0("d_", k, "_", p)]] <- vars[[paste0("d_", k)]] * (vars$province == p) * inside
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
    rows_expr <- answering(sub, names(stats[[node]]))
    s <- eval(bquote(subset(design, .(rows_expr))))
    u <- 0
    for (p in provs) u <- u + score(design, bquote(.(sub) & province == .(p)), stats[[node]]) / P
    dn <- score_deff(design, rows_expr, u)
    for (m in intersect(methods, c("logit", "xlogit", "mean", "asin"))) {
      ci <- contrast_ci(r, w, degf(s), m)
      emit(scenario, m, "national_mean", subgroup, node, nobs(s), degf(s), est, sqrt(v), ci[1], ci[2], dn)
    }
    # Each province against the mean of provinces: the contrast's own variance (the province is
    # part of the mean), t on the province's df.
    if (subgroup == "" && scenario == "cluster") for (p in provs) {
      wd <- -w
      for (k in names(stats[[node]])) {
        key <- paste0("y_", k, "_", p, "/d_", k, "_", p)
        wd[key] <- wd[key] + stats[[node]][[k]]
      }
      cd <- svycontrast(r, wd)
      sp <- eval(bquote(subset(design, .(answering(bquote(province == .(p)), names(stats[[node]]))))))
      d <- as.numeric(coef(cd)); sd <- sqrt(as.numeric(vcov(cd)))
      tiers[[length(tiers) + 1]] <<- data.frame(scenario = scenario, domain = p, node = node,
        difference = fmt(d), se = fmt(sd), p_value = fmt(2 * pt(-abs(d / sd), degf(sp))))
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
  if (subgroups) for (g in c("F", "M"))
    run_national_mean(scenario, design, data, methods, bquote(sex == .(g)), paste0("sex=", g))
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

# Calibration within each province to sex and urban/rural totals: calibrate(calfun = "raking")
# on indicator columns (per province: all rows, men, urban), so each province is raked on its
# own; population totals are 1.15 times the sample's weight, 51% women, a fixed urban share.
cd <- md
cd$urban <- ifelse(sub(".*-", "", cd$stratum) == "1", "U", "R")
population <- c(); pop_rows <- list()
for (p in sort(unique(cd$province))) {
  i <- match(p, sort(unique(cd$province)))
  tot <- round(sum(cd$weight[cd$province == p]) * 1.15)
  women <- round(tot * 0.51); urban <- round(tot * (0.25 + 0.08 * i))
  pop_rows[[i]] <- data.frame(province = p, margin = c("sex", "sex", "urban", "urban"),
    category = c("F", "M", "R", "U"), total = c(women, tot - women, tot - urban, urban))
  cd[[paste0("c", p)]] <- as.numeric(cd$province == p)
  cd[[paste0("c", p, "M")]] <- as.numeric(cd$province == p & cd$sex == "M")
  cd[[paste0("c", p, "U")]] <- as.numeric(cd$province == p & cd$urban == "U")
  population[paste0("c", p, c("", "M", "U"))] <- c(tot, tot - women, urban)
}
write_data(cd[, c(names(main), "urban")], "microdata_calibrated.csv")
write.csv(do.call(rbind, pop_rows), file.path(here, "population.csv"), row.names = FALSE)
calibrated <- calibrate(svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = cd, nest = TRUE),
  as.formula(paste("~ 0 +", paste(names(population), collapse = " + "))), population,
  calfun = "raking", epsilon = 1e-12, maxit = 500)
run_scenario("calibrated", calibrated, cd, c("logit", "mean"))
# The same with the adjustments g = w / w0 kept within [0.8, 1.45] (62 rows end on a bound).
bounded <- calibrate(svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = cd, nest = TRUE),
  as.formula(paste("~ 0 +", paste(names(population), collapse = " + "))), population,
  calfun = "raking", bounds = c(0.8, 1.45), epsilon = 1e-12, maxit = 500)
run_scenario("calibrated_bounded", bounded, cd, c("logit", "mean"))

# Trimming within each province ([trimming] upper_to_median = 1.25): design weights above 1.25
# times the province's median weight are cut to it and the excess shared equally among the
# province's other rows, by trimWeights(strict = TRUE) on each province's rows; then the same
# estimates, without and with the calibration above (trimming first, so raking still meets
# its totals). No random numbers are drawn here, so the files above do not change.
trim_within <- function(d, ratio) {
  w <- d$weight
  for (p in unique(d$province)) {
    i <- d$province == p
    one <- svydesign(ids = ~1, weights = ~weight, data = d[i, ])
    w[i] <- weights(trimWeights(one, upper = ratio * median(d$weight[i]), strict = TRUE))
  }
  w
}
td <- md
td$weight <- trim_within(md, 1.25)
stopifnot(sum(td$weight != md$weight) > 20)
run_scenario("trimmed", svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = td, nest = TRUE),
             td, c("logit", "mean"))
tcd <- cd
tcd$weight <- trim_within(cd, 1.25)
trimmed_calibrated <- calibrate(svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = tcd, nest = TRUE),
  as.formula(paste("~ 0 +", paste(names(population), collapse = " + "))), population,
  calfun = "raking", epsilon = 1e-12, maxit = 500)
run_scenario("trimmed_calibrated", trimmed_calibrated, tcd, c("logit", "mean"))

write.csv(do.call(rbind, rows), file.path(here, "expected.csv"), row.names = FALSE, quote = TRUE)
write.csv(do.call(rbind, tiers), file.path(here, "tiers.csv"), row.names = FALSE, quote = TRUE)

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
# Rank intervals (Klein, Wright and Wieczorek 2020; Bonferroni over pairs) and changes between
# years, with t on Welch-Satterthwaite df: not in the survey package, so written out here from
# the published definitions, on a 34-province table with near-ties.
K <- 34
tab <- data.frame(id = sprintf("%02d", 1:K), estimate = round(0.80 + rnorm(K, 0, 0.03), 4),
                  se = round(runif(K, 0.008, 0.02), 5), df = sample(8:20, K, replace = TRUE))
tab$estimate[5:8] <- tab$estimate[4] + c(0.0005, -0.0005, 0.001, 0)
satt <- function(v1, df1, v2, df2) (v1 + v2)^2 / (v1^2 / df1 + v2^2 / df2)
rank_set <- function(i, comparisons) {
  tail <- 0.05 / (2 * comparisons); hi <- 0; lo <- 0
  for (j in setdiff(1:K, i)) {
    v1 <- tab$se[i]^2; v2 <- tab$se[j]^2
    crit <- qt(1 - tail, satt(v1, tab$df[i], v2, tab$df[j])) * sqrt(v1 + v2)
    d <- tab$estimate[j] - tab$estimate[i]
    if (d > crit) hi <- hi + 1 else if (d < -crit) lo <- lo + 1
  }
  c(hi + 1, K - lo)
}
joint <- t(sapply(1:K, rank_set, comparisons = K * (K - 1) / 2))
marginal <- t(sapply(1:K, rank_set, comparisons = K - 1))
write.csv(data.frame(tab, rank = rank(-tab$estimate, ties.method = "min"),
                     joint_best = joint[, 1], joint_worst = joint[, 2],
                     marginal_best = marginal[, 1], marginal_worst = marginal[, 2]),
          file.path(here, "ranks.csv"), row.names = FALSE)
ch <- data.frame(before = tab$estimate[1:10], se_before = tab$se[1:10], df_before = tab$df[1:10],
                 after = tab$estimate[11:20], se_after = tab$se[11:20], df_after = tab$df[11:20])
ch$difference <- ch$after - ch$before
ch$se <- sqrt(ch$se_before^2 + ch$se_after^2)
ch$df <- satt(ch$se_before^2, ch$df_before, ch$se_after^2, ch$df_after)
ch$p_value <- 2 * pt(-abs(ch$difference / ch$se), ch$df)
write.csv(data.frame(lapply(ch, fmt)), file.path(here, "changes.csv"), row.names = FALSE)

# Two years sharing PSUs: year 2 revisits all but the last PSU of every stratum and adds a new
# one, with new respondents. The change's variance comes from the stacked design (PSUs matched
# by stratum and name): svyratio on year-specific columns + svycontrast, as svyby(covmat = TRUE).
set.seed(20261128)
y2 <- do.call(rbind, lapply(split(main, main$stratum), function(s) {
  psus <- unique(s$psu)
  do.call(rbind, lapply(c(psus[seq_len(max(1, length(psus) - 1))], "n1"), function(j) {
    m <- sample(5:14, 1)
    q <- matrix(sample(1:5, m * 6, replace = TRUE, prob = c(.04, .08, .14, .42, .32)), m)
    q[runif(m * 6) < 0.08] <- NA
    colnames(q) <- items
    cbind(data.frame(response_id = 0, province = s$province[1], stratum = s$stratum[1], psu = j,
                     weight = round(runif(m, 60, 160), 3), sex = sample(c("F", "M"), m, replace = TRUE)), q)
  }))
}))
y2$response_id <- 100000 + seq_len(nrow(y2))
rownames(y2) <- NULL
write_data(y2, "microdata_year2.csv")
stacked <- rbind(cbind(prep(main[, names(y2)]), year = 1), cbind(prep(y2), year = 2))
sd2 <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = stacked, nest = TRUE)
linked <- list()
for (domain in c("01", "national")) for (node in c("p1", "s2", "policy", "sipas")) {
  coefs <- if (node %in% items) setNames(1, node) else tree[[node]]
  inside <- if (domain == "national") 1 else as.numeric(stacked$province == domain)
  v <- sd2$variables
  for (k in names(coefs)) for (yr in 1:2) {
    v[[paste0("y_", k, "_", yr)]] <- v[[paste0("y_", k)]] * (v$year == yr) * inside
    v[[paste0("d_", k, "_", yr)]] <- v[[paste0("d_", k)]] * (v$year == yr) * inside
  }
  sd2$variables <- v
  ys <- as.vector(outer(names(coefs), 1:2, function(k, yr) paste0("y_", k, "_", yr)))
  r <- svyratio(as.formula(paste("~", paste(ys, collapse = "+"))),
                as.formula(paste("~", paste(sub("^y_", "d_", ys), collapse = "+"))), sd2, covmat = TRUE)
  w <- setNames(rep(0, length(coef(r))), names(coef(r)))
  for (k in names(coefs)) for (yr in 1:2)
    w[paste0("y_", k, "_", yr, "/d_", k, "_", yr)] <- coefs[[k]] * (if (yr == 2) 1 else -1)
  con <- svycontrast(r, w)
  linked[[length(linked) + 1]] <- data.frame(domain = domain, node = node,
    difference = fmt(coef(con)), se = fmt(sqrt(as.numeric(vcov(con)))))
}
write.csv(do.call(rbind, linked), file.path(here, "linked.csv"), row.names = FALSE)

# Wilson's score interval: survey 4.1 has no svyciprop(method = "wilson"); stats::prop.test
# without continuity correction computes it for a simple random sample.
wl <- data.frame(x = c(81, 15, 0, 29, 1), n = c(263, 148, 20, 29, 29))
ci <- t(mapply(function(x, n) prop.test(x, n, correct = FALSE)$conf.int, wl$x, wl$n))
write.csv(data.frame(wl, low = fmt(ci[, 1]), high = fmt(ci[, 2])), file.path(here, "wilson.csv"),
          row.names = FALSE)

# ---- Field-shaped data (docs/methodology.md, "Weights"): what the mild files above hide ----
# Six provinces shaped like SIPAS fieldwork: strata local to each province but coded uniquely
# (province-stratum), 4 urban and 7 rural communes per province with takes of about 30, a fpc
# from the communes in each stratum, respondents skewed to women and people over 50 as in
# household surveys (in 31 very strongly, so raking pulls some weights below 0.3 of their
# design weight), item nonresponse on the feedback item s4 (about 45%), one stratum far under
# target (46-M: 9 of 60) and one at 40% of target (92-R). Weights from the frame:
#   w_frame    N_h / r_h (the platform's default: each stratum its own weighting class)
#   w_classes  d_h = N_h / n_h times the class's nonresponse factor
#              min(max_factor, sum N_h / sum d_h r_h), classes with fewer than min_respondents
#              joined to the next stratum of the province (the previous for the last);
#              here min_respondents = 20, max_factor = 2; a province with a capped class then
#              scaled by sum N / sum w. Uncapped weights checked against postStratify.
# Scenarios (expected_field.csv, weights per row in weights_field.csv):
#   field_frame     w_frame, no calibration
#   field_raked     w_frame raked within provinces to sex and age band, R's default bounds
#                   (-Inf, Inf): calibrate(calfun = "raking")
#   field_bounded   the same with bounds = c(0.3, 1.7), in the provinces where R converges
#   field_classes   w_classes, no calibration
set.seed(20261206)
rows <- list()
field_setup <- data.frame(
  province = c("01", "08", "31", "46", "79", "92"),
  women = c(0.60, 0.62, 0.74, 0.64, 0.58, 0.63),
  older = c(0.50, 0.55, 0.70, 0.58, 0.45, 0.52),
  pop_older = c(0.30, 0.33, 0.30, 0.34, 0.27, 0.31))
age_bands <- c("18-34", "35-49", "50+")
field <- list(); frame <- list(); id <- 0
for (i in seq_len(nrow(field_setup))) {
  s <- field_setup[i, ]
  strata <- data.frame(code = paste0(s$province, c("-U", "-R")), kind = c("U", "R"),
                       psus = c(4, 7), communes = c(20 + i, 60 + 3 * i),
                       N = round(c(runif(1, 3e5, 9e5), runif(1, 6e5, 1.5e6))))
  if (s$province == "46") strata <- rbind(strata,
    data.frame(code = "46-M", kind = "R", psus = 2, communes = 25, N = 180000))
  for (h in seq_len(nrow(strata))) {
    st <- strata[h, ]
    takes <- sapply(seq_len(st$psus), function(j) {
      if (st$code == "46-M") c(5, 4)[j]
      else if (st$code == "92-R") round(30 * runif(1, 0.3, 0.5))
      else round(30 * runif(1, 0.8, 1.05))
    })
    frame[[length(frame) + 1]] <- data.frame(province = s$province, stratum = st$code,
      population = st$N, target = 30 * st$psus, respondents = sum(takes))
    for (j in seq_len(st$psus)) {
      m <- takes[j]
      sex <- ifelse(runif(m) < s$women, "F", "M")
      old <- runif(m) < s$older
      age <- ifelse(old, "50+", ifelse(runif(m) < 0.5, "18-34", "35-49"))
      # Older respondents and women are more satisfied; urban a little less.
      lift <- 0.10 * (age == "50+") + 0.04 * (sex == "F") - 0.05 * (st$kind == "U")
      q <- sapply(1:6, function(k) {
        sat <- runif(m) < pmin(0.95, 0.62 + lift + 0.03 * k)
        ifelse(sat, sample(4:5, m, TRUE), sample(1:3, m, TRUE))
      })
      q[runif(m * 6) < 0.03] <- NA
      q[, 6][runif(m) < 0.45] <- NA
      q[runif(m * 6) < 0.01] <- 9
      colnames(q) <- items
      field[[length(field) + 1]] <- cbind(data.frame(response_id = id + seq_len(m),
        province = s$province, stratum = st$code, psu = sprintf("%s-x%02d", st$code, j),
        fpc = st$communes, sex = sex, age = age), q)
      id <- id + m
    }
  }
}
fd <- do.call(rbind, field)
frame <- do.call(rbind, frame)
fd$w_frame <- with(frame, population / respondents)[match(fd$stratum, frame$stratum)]

# Nonresponse classes: the rule written out (the engine's stats::weighting::frame_weights),
# then the uncapped weights checked against postStratify on the classes.
min_respondents <- 20; max_factor <- 2
frame$class <- frame$stratum
for (p in unique(frame$province)) {
  repeat {
    i <- which(frame$province == p)
    classes <- unique(frame$class[i])
    r <- sapply(classes, function(k) sum(frame$respondents[frame$class == k]))
    small <- which(r < min_respondents)
    if (length(small) == 0 || length(classes) == 1) break
    a <- small[1]; b <- if (a < length(classes)) a + 1 else a - 1
    joined <- paste(classes[sort(c(a, b))], collapse = "+")
    frame$class[frame$class %in% classes[c(a, b)]] <- joined
  }
}
frame$design_weight <- frame$population / frame$target
frame$factor <- ave(seq_len(nrow(frame)), frame$class, FUN = function(i)
  sum(frame$population[i]) / sum(frame$design_weight[i] * frame$respondents[i]))
stopifnot(any(frame$class != frame$stratum), any(frame$factor > max_factor))
fd$class <- frame$class[match(fd$stratum, frame$stratum)]
fd$d <- frame$design_weight[match(fd$stratum, frame$stratum)]
ps <- postStratify(svydesign(ids = ~psu, strata = ~stratum, weights = ~d, data = fd, nest = TRUE),
  ~class, data.frame(class = unique(frame$class),
                     Freq = tapply(frame$population, frame$class, sum)[unique(frame$class)]))
uncapped <- fd$d * frame$factor[match(fd$stratum, frame$stratum)]
stopifnot(isTRUE(all.equal(as.numeric(weights(ps)), uncapped, tolerance = 1e-12)))
fd$w_classes <- fd$d * pmin(max_factor, frame$factor[match(fd$stratum, frame$stratum)])
# A capped province falls short of its population: all its weights are scaled by sum N / sum w.
province_population <- tapply(frame$population, frame$province, sum)
province_capped <- tapply(frame$factor > max_factor, frame$province, any)
province_reached <- tapply(fd$w_classes, fd$province, sum)
province_scale <- ifelse(province_capped, province_population / province_reached, 1)
fd$w_classes <- fd$w_classes * province_scale[fd$province]
stopifnot(any(province_scale != 1))

# Raking within provinces to sex and age band: population 51% women, the province's share of
# people over 50, the rest split 55:45; totals add up to the frame's population.
fpop <- c(); fpop_rows <- list()
for (p in field_setup$province) {
  s <- field_setup[field_setup$province == p, ]
  tot <- sum(frame$population[frame$province == p])
  women <- round(tot * 0.51); old <- round(tot * s$pop_older)
  young <- round((tot - old) * 0.55); mid <- tot - old - young
  fpop_rows[[p]] <- data.frame(province = p, margin = c("sex", "sex", "age", "age", "age"),
    category = c("F", "M", age_bands), total = c(women, tot - women, young, mid, old))
  fd[[paste0("c", p)]] <- as.numeric(fd$province == p)
  fd[[paste0("c", p, "M")]] <- as.numeric(fd$province == p & fd$sex == "M")
  fd[[paste0("c", p, "A2")]] <- as.numeric(fd$province == p & fd$age == "35-49")
  fd[[paste0("c", p, "A3")]] <- as.numeric(fd$province == p & fd$age == "50+")
  fpop[paste0("c", p, c("", "M", "A2", "A3"))] <- c(tot, tot - women, mid, old)
}
cal_formula <- as.formula(paste("~ 0 +", paste(names(fpop), collapse = " + ")))
fdesign <- function(w, d = fd) svydesign(ids = ~psu, strata = ~stratum, weights = w, fpc = ~fpc,
                                         data = prep(d), nest = TRUE)
strict <- function(expr) withCallingHandlers(expr, warning = function(w) stop(conditionMessage(w)))
raked <- strict(calibrate(fdesign(~w_frame), cal_formula, fpop, calfun = "raking",
                          epsilon = 1e-12, maxit = 500))
g <- weights(raked) / fd$w_frame
stopifnot(min(g) < 0.26, sum(g < exp(-1)) > 100)
# Bounded raking, bounds = c(0.3, 1.7), province by province: R's derivative rule (zero outside
# (lower - 1, upper - 1) on the exponent, so rows clamped at a bound keep a slope and rows that
# need g below exp(lower - 1) have none) converges in 01 and 92 only, with rows at the upper
# bound; the engine must fail in exactly the other four (raking_bounded_field.csv). The
# scenario field_bounded rakes 01 and 92 together.
bounded_ok <- sapply(field_setup$province, function(p) {
  cols <- paste0("c", p, c("", "M", "A2", "A3"))
  r <- tryCatch(calibrate(fdesign(~w_frame, fd[fd$province == p, ]),
                          as.formula(paste("~ 0 +", paste(cols, collapse = " + "))), fpop[cols],
                          calfun = "raking", bounds = c(0.3, 1.7), epsilon = 1e-12, maxit = 500),
                warning = function(w) NULL)
  !is.null(r)
})
stopifnot(identical(unname(bounded_ok), c(TRUE, FALSE, FALSE, FALSE, FALSE, TRUE)))
solvable <- fd[fd$province %in% field_setup$province[bounded_ok], ]
scols <- names(fpop)[substr(names(fpop), 2, 3) %in% field_setup$province[bounded_ok]]
bounded <- strict(calibrate(fdesign(~w_frame, solvable),
                            as.formula(paste("~ 0 +", paste(scols, collapse = " + "))), fpop[scols],
                            calfun = "raking", bounds = c(0.3, 1.7), epsilon = 1e-12, maxit = 500))
gb <- weights(bounded) / solvable$w_frame
stopifnot(sum(abs(gb - 1.7) < 1e-9) > 20)
cat("field: smallest g", min(g), "; bounded: rows at the upper bound", sum(abs(gb - 1.7) < 1e-9), "\n")

run_field <- function(scenario, design, data = fd) {
  for (p in sort(unique(data$province)))
    run_domain(scenario, design, bquote(province == .(p)), p, "", c("logit", "mean"))
  run_domain(scenario, design, quote(TRUE), "national", "", c("logit", "mean"))
  run_national_mean(scenario, design, prep(data), c("logit", "mean"))
}
run_field("field_frame", fdesign(~w_frame))
run_field("field_raked", raked)
run_field("field_bounded", bounded, solvable)
run_field("field_classes", fdesign(~w_classes))
write.csv(do.call(rbind, rows), file.path(here, "expected_field.csv"), row.names = FALSE, quote = TRUE)
write_data(fd[, c("response_id", "province", "stratum", "psu", "fpc", "sex", "age", items)],
           "microdata_field.csv")
write.csv(frame[, c("province", "stratum", "population", "target", "respondents")],
          file.path(here, "frame_field.csv"), row.names = FALSE)
write.csv(do.call(rbind, fpop_rows), file.path(here, "population_field.csv"), row.names = FALSE)
write.csv(data.frame(province = field_setup$province, converges = bounded_ok),
          file.path(here, "raking_bounded_field.csv"), row.names = FALSE)
write.csv(data.frame(response_id = fd$response_id, w_frame = fmt(fd$w_frame),
                     w_classes = fmt(fd$w_classes), w_raked = fmt(weights(raked)),
                     w_bounded = fmt(weights(bounded)[match(fd$response_id, solvable$response_id)])),
          file.path(here, "weights_field.csv"), row.names = FALSE)

# ---- Sample selection (sampling package): inclusion probabilities with certainty units, and
# systematic PPS from a recorded start. Each draw's start is R's runif(1) after set.seed, and
# UPsystematic is called after the same set.seed, so the start written is the one it used.
suppressMessages(library(sampling))
set.seed(20261207)
sampling_cases <- list(
  # One province's communes: adult populations, a few large wards forcing certainty in two rounds.
  province = list(size = c(round(rlnorm(110, log(8000), 0.8)), 200000, 150000, 90000), n = 12),
  stratum_small = list(size = round(rlnorm(15, log(5000), 0.6)), n = 3),
  with_zeros = list(size = c(0, round(runif(8, 1000, 9000)), 0, round(runif(8, 1000, 9000)), 0), n = 5),
  equal = list(size = rep(1, 40), n = 10),
  two_rounds = list(size = c(1000, 400, 300, rep(10, 30)), n = 4)
)
pik_rows <- list(); draw_rows <- list()
for (case in names(sampling_cases)) {
  cs <- sampling_cases[[case]]
  pik <- inclusionprobabilities(cs$size, cs$n)
  pik_rows[[case]] <- data.frame(case = case, unit = seq_along(pik), size = fmt(cs$size),
                                 n = cs$n, pik = fmt(pik))
  for (d in 1:6) {
    set.seed(1000 + d); start <- runif(1)
    set.seed(1000 + d); s <- UPsystematic(pik)
    stopifnot(sum(s == 1) == cs$n)
    draw_rows[[paste(case, d)]] <- data.frame(case = case, draw = d, start = fmt(start),
                                              selected = paste(which(s == 1), collapse = " "))
  }
}
write.csv(do.call(rbind, pik_rows), file.path(here, "sampling.csv"), row.names = FALSE)
write.csv(do.call(rbind, draw_rows), file.path(here, "sampling_draws.csv"), row.names = FALSE)

write.csv(data.frame(software = c("R", "survey", "sampling"),
                     version = c(R.version.string, format(packageVersion("survey")),
                                 format(packageVersion("sampling")))),
          file.path(here, "versions.csv"), row.names = FALSE)
cat("golden files written to", here, "\n")
