# The baseline of the benchmark: R's survey package on the same file (see scripts/bench.sh).
#   Rscript stats/bench/survey.R DATA.csv ITEMS
# Times, after reading the file, the design set-up and per-province svyciprop (logit) for the
# first ITEMS items plus the pooled national estimate of each; prints seconds per item.
suppressMessages(library(survey))
args <- commandArgs(trailingOnly = TRUE)
k <- as.integer(args[2])
d <- read.csv(args[1], colClasses = c(province = "character", stratum = "character", psu = "character"))
items <- paste0("q", seq_len(k))
options(survey.lonely.psu = "adjust")
t0 <- proc.time()[["elapsed"]]
des <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, data = d, nest = TRUE)
for (item in items) {
  f <- as.formula(paste0("~I(", item, " >= 4)"))
  s <- eval(bquote(subset(des, !is.na(.(as.name(item))))))
  by_province <- svyby(f, ~province, s, svyciprop, vartype = "ci", method = "logit")
  pooled <- svyciprop(f, s, method = "logit")
}
elapsed <- proc.time()[["elapsed"]] - t0
cat(sprintf("r_items=%d\nr_seconds=%.3f\nr_seconds_per_item=%.3f\n", k, elapsed, elapsed / k))
