//! Writing results as CSV or JSON. Numbers are written in full (shortest round-trip) precision;
//! an undefined number is an empty CSV field or a JSON `null`.

use std::io::Write;

use crate::StatsError;
use crate::estimate::Cell;

pub const CSV_COLUMNS: [&str; 28] = [
    "domain",
    "subgroup",
    "node",
    "n",
    "df",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "deff",
    "n_eff",
    "flag",
    "cv",
    "note",
    "rank",
    "rank_best",
    "rank_worst",
    "ranked_of",
    "vs_national",
    "vs_national_difference",
    "vs_national_se",
    "vs_national_p",
    "vs_national_p_holm",
    "change",
    "change_se",
    "change_df",
    "change_p",
    "change_p_holm",
];

fn whole(x: Option<usize>) -> String {
    x.map(|x| x.to_string()).unwrap_or_default()
}

fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

pub fn write_csv<W: Write>(cells: &[Cell], out: W) -> Result<(), StatsError> {
    let mut writer = csv::Writer::from_writer(out);
    let io = |e: csv::Error| StatsError::Csv(format!("cannot write results: {e}"));
    writer.write_record(CSV_COLUMNS).map_err(io)?;
    for c in cells {
        writer
            .write_record([
                c.domain.clone(),
                c.subgroup.clone(),
                c.node.clone(),
                number(c.n),
                number(c.df),
                number(c.estimate),
                number(c.se),
                number(c.ci_low),
                number(c.ci_high),
                number(c.deff),
                number(c.n_eff),
                c.flag.as_str().to_owned(),
                number(c.cv),
                c.note.clone(),
                whole(c.standing.map(|s| s.rank)),
                whole(c.standing.map(|s| s.best)),
                whole(c.standing.map(|s| s.worst)),
                whole(c.standing.map(|s| s.of)),
                c.vs_national
                    .map(|v| v.tier.as_str().to_owned())
                    .unwrap_or_default(),
                number(c.vs_national.map_or(f64::NAN, |v| v.difference)),
                number(c.vs_national.map_or(f64::NAN, |v| v.se)),
                number(c.vs_national.map_or(f64::NAN, |v| v.p_value)),
                number(c.vs_national.map_or(f64::NAN, |v| v.p_holm)),
                number(c.change.map_or(f64::NAN, |v| v.difference)),
                number(c.change.map_or(f64::NAN, |v| v.se)),
                number(c.change.map_or(f64::NAN, |v| v.df)),
                number(c.change.map_or(f64::NAN, |v| v.p_value)),
                number(c.change.map_or(f64::NAN, |v| v.p_holm)),
            ])
            .map_err(io)?;
    }
    writer
        .flush()
        .map_err(|e| StatsError::Csv(format!("cannot write results: {e}")))
}

pub fn write_json<W: Write>(cells: &[Cell], out: W) -> Result<(), StatsError> {
    let opt = |x: f64| x.is_finite().then_some(x);
    let rows: Vec<serde_json::Value> = cells
        .iter()
        .map(|c| {
            serde_json::json!({
                "domain": c.domain, "subgroup": c.subgroup, "node": c.node,
                "n": opt(c.n), "df": opt(c.df), "estimate": opt(c.estimate), "se": opt(c.se),
                "ci_low": opt(c.ci_low), "ci_high": opt(c.ci_high), "deff": opt(c.deff),
                "n_eff": opt(c.n_eff), "flag": c.flag.as_str(), "cv": opt(c.cv),
                "note": c.note, "standing": c.standing, "vs_national": c.vs_national,
                "change": c.change,
            })
        })
        .collect();
    serde_json::to_writer_pretty(out, &rows)
        .map_err(|e| StatsError::Csv(format!("cannot write results: {e}")))
}
