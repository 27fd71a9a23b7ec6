//! Indices from a wave's stored responses: weights from the sample frame, then the same
//! sufficient statistics `sipas compute` builds from a CSV, accumulated over keyset pages of the
//! responses (bounded memory; the database does the per-stratum counts with a GROUP BY).
//!
//! Weights (docs/methodology.md, "Weights from the frame"): a respondent in stratum h carries
//! the design weight d_h = N_h / n_h (N_h the stratum's population in the frame, n_h its
//! target) times the nonresponse adjustment of its weighting class, Σ N_h / Σ d_h r_h over the
//! class (r_h the probability-sample completes): N_h / r_h when the stratum is its own class.
//! `[nonresponse]` joins small classes and caps the factor ([`frame_weights`]). The stratum's
//! PSUs in the population give the finite population correction.
//!
//! A frame drawn on the design page (a [`DrawRecord`] stored with it) is weighted as drawn
//! instead: a respondent in commune i carries M_i / (π_i · r_i) (M_i its adults, π_i its
//! inclusion probability, r_i its completes), and the variance is the with-replacement
//! (ultimate cluster) one of an unequal-probability draw: no finite population correction; a
//! commune taken with certainty is a stratum of its own with its respondents as PSUs.
//!
//! [`DrawRecord`]: sipas_app::staff::design::DrawRecord

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};

use sipas_app::ports::StoreError;
use sipas_app::staff::StaffStore;
use sipas_app::staff::port::AnswersRow;
use sipas_stats::StatsError;
use sipas_stats::calibration::Population;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::{Accumulator, Row};
use sipas_stats::totals::SufficientStats;
use sipas_stats::weighting::{FrameStratum, ProvinceWeighting, StratumWeighting, frame_weights};

/// Responses per keyset page.
const PAGE: u32 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum WaveComputeError {
    #[error("the database failed: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Stats(#[from] StatsError),
    #[error("{0}")]
    Stored(String),
    #[error(
        "responses were stored while the indices were computed, so the weights would not match \
         them: close the wave (or wait for collection to pause) and compute again"
    )]
    Moving,
    #[error(
        "{count} probability response(s) are outside the sample frame (the first in province \
         {province}, stratum {stratum}, PSU {psu}): upload a frame that lists their PSU"
    )]
    OutsideFrame {
        count: usize,
        province: String,
        stratum: String,
        psu: String,
    },
}

/// One stratum of the frame, with its completes (counted by the database), its respondents'
/// weight and the responses read so far.
#[derive(Default)]
struct Stratum {
    population: i64,
    psus_in_population: i64,
    psus: HashSet<String>,
    completes: i64,
    read: i64,
    target: i64,
    weighting: Option<StratumWeighting>,
}

/// How far a computation has read, for the progress bar (updated after every page).
#[derive(Debug, Default)]
pub struct Progress {
    pub done: AtomicI64,
    pub total: AtomicI64,
}

/// One stratum's weighting, for the weights report.
#[derive(Debug, Clone, PartialEq)]
pub struct StratumWeight {
    pub province: String,
    pub stratum: String,
    /// Probability-sample completes (r_h).
    pub completes: i64,
    /// The frame's target completes.
    pub target: i64,
    /// d_h = N_h / n_h, the frame's target standing for n_h.
    pub design_weight: f64,
    /// The weight its respondents carry: d_h times its class's nonresponse adjustment (N_h / r_h
    /// when the stratum is its own class and the factor is not capped; a province with a capped
    /// class scaled back to its population); 0 without completes.
    pub weight: f64,
    /// Its weighting class (strata joined by `+`).
    pub class: String,
    /// `[nonresponse] max_factor` held the class's adjustment down.
    pub capped: bool,
}

/// A wave's sufficient statistics and the weights behind them.
pub struct WaveTotals {
    pub stats: SufficientStats,
    pub strata: Vec<StratumWeight>,
    /// What `[trimming]` and `[calibration]` did to each province's weights (empty without).
    pub weighting: Vec<ProvinceWeighting>,
}

/// A response's stored answers (a JSON object of item code → value), as pairs in the stored
/// order, looked up by binary search: the platform writes them from a sorted map, so parsing
/// needs no hashing (a third of reading a response through a hash map). Item codes are plain
/// identifiers: the keys borrow from the stored text.
struct StoredAnswers<'a>(Vec<(&'a str, i64)>);

impl<'a> StoredAnswers<'a> {
    fn parse(json: &'a str) -> Result<Self, serde_json::Error> {
        let StoredAnswers(mut pairs) = serde_json::from_str(json)?;
        // Written elsewhere (an older version, a hand-made row): sorted here, and a code given
        // twice keeps its last value, as a JSON object read into a map does.
        if !pairs.is_sorted_by(|a, b| a.0 < b.0) {
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            let mut unique: Vec<(&'a str, i64)> = Vec::with_capacity(pairs.len());
            for pair in pairs {
                match unique.last_mut() {
                    Some(last) if last.0 == pair.0 => *last = pair,
                    _ => unique.push(pair),
                }
            }
            pairs = unique;
        }
        Ok(StoredAnswers(pairs))
    }

    fn get(&self, item: &str) -> Option<i64> {
        self.0
            .binary_search_by(|(code, _)| (*code).cmp(item))
            .ok()
            .map(|at| self.0[at].1)
    }
}

impl<'de> serde::Deserialize<'de> for StoredAnswers<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> serde::de::Visitor<'de> for Pairs {
            type Value = StoredAnswers<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of item codes and whole numbers")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(64));
                while let Some(pair) = map.next_entry::<&'de str, i64>()? {
                    pairs.push(pair);
                }
                Ok(StoredAnswers(pairs))
            }
        }
        deserializer.deserialize_map(Pairs)
    }
}

/// What reads the responses: the weights (per stratum, or per drawn commune), the
/// communes taken with certainty, where the weighted rows go, and the first response outside
/// the frame (with how many there are).
struct Reader {
    strata: HashMap<String, HashMap<String, Stratum>>,
    drawn: Option<HashMap<String, f64>>,
    certain: HashSet<String>,
    sink: Sink,
    outside: Option<(usize, String, String, String)>,
}

impl Reader {
    /// Weighs one page of responses into the sink.
    fn page(&mut self, page: &[AnswersRow]) -> Result<(), WaveComputeError> {
        for row in page {
            let stratum = self
                .strata
                .get_mut(row.province_code.as_str())
                .and_then(|m| m.get_mut(row.stratum.as_str()));
            let Some(stratum) = stratum.filter(|s| s.psus.contains(row.psu.as_str())) else {
                let entry = self.outside.get_or_insert_with(|| {
                    (
                        0,
                        row.province_code.clone(),
                        row.stratum.clone(),
                        row.psu.clone(),
                    )
                });
                entry.0 += 1;
                continue;
            };
            stratum.read += 1;
            if stratum.read > stratum.completes {
                // Stored after the counts were taken: reported as Moving below.
                continue;
            }
            let (weight, fpc) = match &self.drawn {
                Some(weights) => (weights.get(row.psu.as_str()).copied().unwrap_or(0.0), None),
                None => (
                    stratum.weighting.as_ref().map_or(0.0, |w| w.weight),
                    Some(stratum.psus_in_population),
                ),
            };
            let certainty = self.certain.contains(row.psu.as_str());
            let (design_stratum, design_psu) = if certainty {
                (
                    std::borrow::Cow::Owned(format!("{}:{}", row.stratum, row.psu)),
                    row.export_id.as_str(),
                )
            } else {
                (
                    std::borrow::Cow::Borrowed(row.stratum.as_str()),
                    row.psu.as_str(),
                )
            };
            let answers = StoredAnswers::parse(&row.answers).map_err(|e| {
                WaveComputeError::Stored(format!(
                    "response {} has unreadable answers: {e}",
                    row.export_id
                ))
            })?;
            match &mut self.sink {
                Sink::Totals(accumulator) => accumulator.add(&Row {
                    province: &row.province_code,
                    stratum: &design_stratum,
                    psu: design_psu,
                    weight,
                    fpc: fpc.map(|n| n as f64),
                    certainty,
                    value: &|item| answers.get(item),
                })?,
                Sink::Held {
                    writer, columns, ..
                } => {
                    // Strata named within their province, as the accumulator names them.
                    let design = [
                        row.export_id.clone(),
                        row.province_code.clone(),
                        format!("{}/{}", row.province_code, design_stratum),
                        design_psu.to_owned(),
                        weight.to_string(),
                        fpc.map(|n| n.to_string()).unwrap_or_default(),
                        if certainty { "1" } else { "" }.to_owned(),
                    ];
                    let values = columns.iter().map(|c| {
                        answers
                            .get(c.as_str())
                            .map(|v| v.to_string())
                            .unwrap_or_default()
                    });
                    writer
                        .write_record(design.into_iter().chain(values))
                        .map_err(|e| WaveComputeError::Stored(format!("temporary file: {e}")))?;
                }
            }
        }
        Ok(())
    }
}

/// The sufficient statistics of a wave's probability sample, weighted from its frame.
pub async fn wave_totals(
    store: &dyn StaffStore,
    wave_code: &str,
    methodology: &Methodology,
) -> Result<SufficientStats, WaveComputeError> {
    Ok(
        wave_totals_reporting(store, wave_code, methodology, None, &Progress::default())
            .await?
            .stats,
    )
}

/// Where the weighted responses go: straight into the sufficient statistics, or — when the
/// methodology trims or calibrates — into a microdata file that `sipas compute`'s reader trims
/// and rakes province by province (both need every row of a province at once).
// One sink per computation: the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Sink {
    Totals(Accumulator),
    /// Trimming or raking needs a province's rows at once: they go through a temporary
    /// microdata file into `sipas compute`'s reader, so both paths trim and rake alike.
    Held {
        writer: csv::Writer<std::io::BufWriter<std::fs::File>>,
        file: tempfile::NamedTempFile,
        /// Subgroup, margin and item columns after the design columns.
        columns: Vec<String>,
        population: Option<Population>,
    },
}

/// [`wave_totals`] with progress, and the strata's weights for the weights report. With
/// `[trimming]` and `[calibration]` in the methodology, the weights N_h / r_h are then trimmed
/// and raked to `population` (the same code and the same numbers as
/// `sipas compute --data EXPORT --population FILE`).
pub async fn wave_totals_reporting(
    store: &dyn StaffStore,
    wave_code: &str,
    methodology: &Methodology,
    population: Option<&str>,
    progress: &Progress,
) -> Result<WaveTotals, WaveComputeError> {
    // Province → stratum → what weighting needs, looked up by &str (no allocation per row).
    let mut strata: HashMap<String, HashMap<String, Stratum>> = HashMap::new();
    let frame = store.frame(wave_code, None).await?;
    for s in frame.strata {
        strata.entry(s.province_code).or_default().insert(
            s.stratum,
            Stratum {
                population: s.population,
                psus_in_population: s.psus_in_population,
                ..Stratum::default()
            },
        );
    }
    for p in frame.psus {
        if let Some(stratum) = strata
            .get_mut(&p.province_code)
            .and_then(|m| m.get_mut(&p.stratum))
        {
            stratum.psus.insert(p.psu);
            stratum.target += p.target;
        }
    }
    let mut completes_outside_frame = 0;
    let mut psu_completes: HashMap<String, i64> = HashMap::new();
    for count in store.completes(wave_code).await? {
        match strata
            .get_mut(&count.province_code)
            .and_then(|m| m.get_mut(&count.stratum))
        {
            Some(s) => s.completes += count.completes,
            None => completes_outside_frame += count.completes,
        }
        *psu_completes.entry(count.psu).or_default() += count.completes;
    }
    // Weights from the frame: design weights and the nonresponse adjustment of each class.
    let mut frame_strata: Vec<FrameStratum> = strata
        .iter()
        .flat_map(|(province, m)| {
            m.iter().map(move |(stratum, s)| FrameStratum {
                province: province.clone(),
                stratum: stratum.clone(),
                population: s.population as f64,
                sampled: s.target as f64,
                respondents: u64::try_from(s.completes).unwrap_or(0),
            })
        })
        .collect();
    frame_strata.sort_by(|a, b| (&a.province, &a.stratum).cmp(&(&b.province, &b.stratum)));
    let weighting = frame_weights(&frame_strata, methodology.nonresponse.as_ref())?;
    for (f, w) in frame_strata.iter().zip(weighting) {
        if let Some(s) = strata
            .get_mut(&f.province)
            .and_then(|m| m.get_mut(&f.stratum))
        {
            s.weighting = Some(w);
        }
    }
    // A frame drawn here: each commune's respondents weigh M_i / (π_i · r_i); a commune taken
    // with certainty is a stratum of its own whose PSUs are its respondents (it adds no
    // first-stage variance).
    let record = store.frame_draw(wave_code).await?;
    // Per drawn commune: M_i / π_i, its planned weight per respondent's share of the commune.
    let expanded = |c: &sipas_app::staff::design::DrawnCommune| {
        let size = c.size.unwrap_or(0.0);
        if c.inclusion_probability > 0.0 {
            size / c.inclusion_probability
        } else {
            0.0
        }
    };
    let certain: HashSet<String> = record
        .iter()
        .flat_map(|r| &r.draw.communes)
        .filter(|c| c.inclusion_probability >= 1.0 - sipas_stats::sampling::CERTAINTY_EPS)
        .map(|c| c.code.clone())
        .collect();
    let drawn: Option<HashMap<String, f64>> = record.as_ref().map(|record| {
        record
            .draw
            .communes
            .iter()
            .filter_map(|c| {
                let r = *psu_completes.get(&c.code)?;
                // M_i / (π_i · r_i), computed in that order (the export path's arithmetic).
                (r > 0 && c.inclusion_probability > 0.0).then(|| {
                    (
                        c.code.clone(),
                        c.size.unwrap_or(0.0) / (c.inclusion_probability * r as f64),
                    )
                })
            })
            .collect()
    });
    progress.total.store(
        strata
            .values()
            .flat_map(HashMap::values)
            .map(|s| s.completes)
            .sum(),
        Ordering::Relaxed,
    );
    let population = match (&methodology.calibration, population) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(WaveComputeError::Stored(
                "this methodology calibrates to population margins: give the population totals \
                 (CSV: province,margin,category,total)"
                    .into(),
            ));
        }
        (Some(_), Some(text)) => Some(
            Population::from_csv(text.as_bytes())
                .map_err(|e| WaveComputeError::Stored(format!("population totals: {e}")))?,
        ),
    };
    let sink = match (&methodology.calibration, &methodology.trimming) {
        (None, None) => Sink::Totals(Accumulator::new(methodology)?),
        (calibration, _) => {
            let margins = calibration.as_ref().map(|c| c.margins.as_slice());
            let mut columns: Vec<String> = Vec::new();
            let tree = methodology.compile()?;
            for column in methodology
                .subgroups
                .iter()
                .chain(margins.unwrap_or_default())
                .chain(&tree.items)
            {
                if !columns.contains(column) {
                    columns.push(column.clone());
                }
            }
            let file = tempfile::NamedTempFile::new()
                .map_err(|e| WaveComputeError::Stored(format!("temporary file: {e}")))?;
            let handle = file
                .reopen()
                .map_err(|e| WaveComputeError::Stored(format!("temporary file: {e}")))?;
            let mut writer = csv::Writer::from_writer(std::io::BufWriter::new(handle));
            let header = [
                "response_id",
                "province",
                "stratum",
                "psu",
                "weight",
                "fpc",
                "certainty",
            ]
            .into_iter()
            .map(str::to_owned)
            .chain(columns.iter().cloned());
            writer
                .write_record(header)
                .map_err(|e| WaveComputeError::Stored(format!("temporary file: {e}")))?;
            Sink::Held {
                writer,
                file,
                columns,
                population,
            }
        }
    };
    // The database's pages are read here while a blocking thread weighs and accumulates the
    // previous ones: on SQLite and PostgreSQL alike, reading through the driver costs about as
    // much as the statistics, so the two overlap (docs/architecture.md, "Computing from the
    // database").
    let mut reader = Reader {
        strata,
        drawn,
        certain,
        sink,
        outside: None,
    };
    let (pages, mut incoming) = tokio::sync::mpsc::channel::<Vec<AnswersRow>>(2);
    let consumer = tokio::task::spawn_blocking(move || {
        while let Some(page) = incoming.blocking_recv() {
            reader.page(&page)?;
        }
        Ok::<_, WaveComputeError>(reader)
    });
    let mut after: Option<String> = None;
    let produced: Result<(), WaveComputeError> = async {
        loop {
            let page = store
                .answers_page(wave_code, after.as_deref(), PAGE)
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.export_id.clone());
            progress
                .done
                .fetch_add(i64::try_from(page.len()).unwrap_or(0), Ordering::Relaxed);
            if pages.send(page).await.is_err() {
                // The reader stopped on an error: it is returned below.
                return Ok(());
            }
        }
    }
    .await;
    drop(pages);
    let consumed = consumer
        .await
        .map_err(|e| WaveComputeError::Stored(format!("the weighting stopped: {e}")))?;
    produced?;
    let Reader {
        strata,
        drawn,
        sink,
        outside,
        ..
    } = consumed?;
    if let Some((count, province, stratum, psu)) = outside {
        return Err(WaveComputeError::OutsideFrame {
            count,
            province,
            stratum,
            psu,
        });
    }
    // The counts and the pages are separate reads: responses stored meanwhile would be weighted
    // with stale counts. Close the wave (or retry) rather than publish such weights.
    let moved = completes_outside_frame > 0
        || strata
            .values()
            .flat_map(HashMap::values)
            .any(|s| s.read != s.completes);
    if moved {
        return Err(WaveComputeError::Moving);
    }
    // The weights report: per stratum from the frame, or per commune for a drawn frame (its
    // weights differ commune by commune; the commune's stratum is its class).
    let mut weights: Vec<StratumWeight> = match &record {
        Some(record) => record
            .draw
            .communes
            .iter()
            .map(|c| {
                let completes = psu_completes.get(&c.code).copied().unwrap_or(0);
                let target = i64::try_from(c.target).unwrap_or(i64::MAX);
                StratumWeight {
                    province: c.province_code.clone(),
                    stratum: c.code.clone(),
                    completes,
                    target,
                    design_weight: expanded(c) / (target.max(1) as f64),
                    weight: drawn
                        .as_ref()
                        .and_then(|w| w.get(&c.code).copied())
                        .unwrap_or(0.0),
                    class: c.stratum.clone(),
                    capped: false,
                }
            })
            .collect(),
        None => strata
            .iter()
            .flat_map(|(province, m)| {
                m.iter().map(move |(stratum, s)| {
                    let w = s.weighting.clone().unwrap_or_else(|| StratumWeighting {
                        design_weight: 0.0,
                        class: stratum.clone(),
                        factor: 0.0,
                        province_scale: 1.0,
                        capped: false,
                        weight: 0.0,
                    });
                    StratumWeight {
                        province: province.clone(),
                        stratum: stratum.clone(),
                        completes: s.completes,
                        target: s.target,
                        design_weight: w.design_weight,
                        weight: w.weight,
                        class: w.class,
                        capped: w.capped,
                    }
                })
            })
            .collect(),
    };
    weights.sort_by(|a, b| (&a.province, &a.stratum).cmp(&(&b.province, &b.stratum)));
    let (stats, weighting) = match sink {
        Sink::Totals(accumulator) => (accumulator.finish()?, Vec::new()),
        Sink::Held {
            writer,
            file,
            population,
            ..
        } => {
            let temporary = |e: String| WaveComputeError::Stored(format!("temporary file: {e}"));
            writer
                .into_inner()
                .map_err(|e| temporary(e.to_string()))?
                .into_inner()
                .map_err(|e| temporary(e.to_string()))?;
            let reader =
                std::io::BufReader::new(file.reopen().map_err(|e| temporary(e.to_string()))?);
            // Trimming and raking are CPU work: off the async threads (the file lives until it
            // is read).
            let methodology = methodology.clone();
            tokio::task::spawn_blocking(move || {
                let _keep = file;
                sipas_stats::microdata::read_csv_weighted(reader, &methodology, population.as_ref())
            })
            .await
            .map_err(|e| WaveComputeError::Stored(format!("the weighting stopped: {e}")))??
        }
    };
    Ok(WaveTotals {
        stats,
        strata: weights,
        weighting,
    })
}

#[cfg(test)]
mod tests {
    use super::StoredAnswers;

    #[test]
    fn stored_answers_are_found_sorted_or_not() {
        let sorted = StoredAnswers::parse(r#"{"acc_1":4,"age_band":5,"sex":2}"#).expect("json");
        assert_eq!(sorted.get("acc_1"), Some(4));
        assert_eq!(sorted.get("sex"), Some(2));
        assert_eq!(sorted.get("acc_2"), None);
        let unsorted = StoredAnswers::parse(r#"{"sex":1,"acc_1":9,"age_band":3}"#).expect("json");
        assert_eq!(
            (
                unsorted.get("acc_1"),
                unsorted.get("age_band"),
                unsorted.get("sex")
            ),
            (Some(9), Some(3), Some(1))
        );
        let twice = StoredAnswers::parse(r#"{"sex":1,"acc_1":2,"sex":2}"#).expect("json");
        assert_eq!((twice.get("sex"), twice.get("acc_1")), (Some(2), Some(2)));
        assert!(StoredAnswers::parse(r#"{"acc_1":"4"}"#).is_err());
        assert!(StoredAnswers::parse("[1,2]").is_err());
        assert_eq!(StoredAnswers::parse("{}").expect("empty").get("x"), None);
    }
}
