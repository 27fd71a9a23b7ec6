//! Indices from the database equal `sipas compute` on the wave's export (issue 11, item 2): the
//! same weights from the frame, the same sufficient statistics, the same numbers, on SQLite and
//! PostgreSQL.

use crate::common;

use std::collections::HashMap;

use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::staff::frame::{Frame, FramePsu, FrameStratum};
use sipas_app::staff::port::{PaperRecord, PaperTarget, RowOutcome};
use sipas_app::staff::{CollectedStore, FieldStore};
use sipas_app::survey::codes::sha256_hex;
use sipas_server::store::{self, ConnectOptions};
use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;
use sipas_stats::output::write_csv;

const METHODOLOGY: &str = include_str!("../../../data/methodology/sipas-2023.toml");

/// A small seeded generator (xorshift).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Every cell of `stats` under `methodology`, as `sipas compute` writes them.
fn results(stats: &sipas_stats::totals::SufficientStats, methodology: &Methodology) -> String {
    let mut out = Vec::new();
    write_csv(
        &estimate_all(stats, methodology).expect("estimate").cells,
        &mut out,
    )
    .expect("csv");
    String::from_utf8(out).expect("utf-8")
}

async fn story(url: &str) {
    let db = store::open(url, &ConnectOptions::default())
        .await
        .expect("open and migrate");
    let questionnaire = sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("parse");
    common::publish(&db, &questionnaire).await.expect("publish");
    let wave = "sipas-2026";
    common::create_wave(
        &db,
        &Wave {
            code: wave.into(),
            title: "SIPAS 2026".into(),
            year: 2026,
            geography: Geography::G2025,
            questionnaire: Some(QuestionnaireRef {
                code: "sipas-2023".into(),
                version: 1,
            }),
            open_link: false,
            closed: false,
        },
    )
    .await
    .expect("wave");
    // Two provinces, two strata each, three communes per stratum.
    let mut frame = Frame::default();
    for (i, province) in ["01", "79"].into_iter().enumerate() {
        for (j, kind) in ["urban", "rural"].into_iter().enumerate() {
            // Stratum codes are unique across provinces (the frame refuses a shared one).
            let stratum = format!("{province}-{kind}");
            frame.strata.push(FrameStratum {
                province_code: province.into(),
                stratum: stratum.clone(),
                population: 200_000 + 50_000 * (i as i64) + 30_000 * (j as i64),
                psus_in_population: 40 + 10 * j as i64,
            });
            for c in 0..3 {
                frame.psus.push(FramePsu {
                    province_code: province.into(),
                    stratum: stratum.clone(),
                    psu: format!("{stratum}-{c}"),
                    name: format!("Xã {c}"),
                    target: 20,
                });
            }
        }
    }
    db.replace_frame(wave, &frame, &common::audit("frame_uploaded"))
        .await
        .expect("frame");
    let methodology = Methodology::from_toml(METHODOLOGY).expect("methodology");
    let tree = methodology.compile().expect("tree");
    let mut rng = Rng(0x5EED_2026);
    let mut records = Vec::new();
    for (n, psu) in frame.psus.iter().cycle().take(240).enumerate() {
        // Communes differ in satisfaction, so the design effect is not 1.
        let base = 3 + rng.below(2) as i64 + i64::from(psu.psu.ends_with('2'));
        let mut answers = std::collections::BTreeMap::new();
        for item in &tree.items {
            if rng.below(12) > 0 {
                answers.insert(item.clone(), (base + rng.below(3) as i64 - 1).clamp(1, 5));
            }
        }
        answers.insert("sex".into(), 1 + rng.below(2) as i64);
        answers.insert("age_band".into(), 1 + rng.below(4) as i64);
        answers.insert("area".into(), 1 + rng.below(2) as i64);
        let canonical = serde_json::to_string(&answers).expect("json");
        records.push(PaperRecord {
            row: n + 2,
            target: PaperTarget::Point {
                psu: psu.psu.clone(),
                form_id: format!("f{n}"),
            },
            content_hash: sha256_hex(canonical.as_bytes()),
            answers,
            language: "vi".into(),
            receipt: format!("R{n:08}"),
            // Not in insertion order, so keyset paging is exercised.
            export_id: sha256_hex(format!("e{n}").as_bytes())[..16].to_owned(),
            measures: Default::default(),
        });
    }
    let outcomes = common::fixtures::import_paper(&db, wave, &records).await;
    assert!(
        outcomes.iter().all(|o| *o == RowOutcome::New),
        "{outcomes:?}"
    );

    // From the database.
    let stats = sipas_server::jobs::wave_totals::wave_totals(&db, wave, &methodology)
        .await
        .expect("compute");
    let from_db = results(&stats, &methodology);

    // The provisional margins monitoring shows are this computation's: each province's SIPAS
    // index, half its 95% interval.
    let margins = sipas_server::jobs::precision::compute(&db, wave).await;
    assert_eq!(margins.error, None);
    let cells = estimate_all(&stats, &methodology).expect("estimate").cells;
    for province in ["01", "79"] {
        let cell = cells
            .iter()
            .find(|c| c.domain == province && c.node == "sipas" && c.subgroup.is_empty())
            .expect("province cell");
        assert_eq!(
            margins.by_province[province],
            (cell.n, (cell.ci_high - cell.ci_low) / 2.0),
            "{province}"
        );
    }
    assert_eq!(margins.by_province.len(), 2);

    // From the export, as a statistician would: weight = stratum population / completes,
    // fpc = the stratum's PSUs in the population, strata named within their province.
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = db
            .export_page(wave, &Default::default(), None, after.as_deref(), 100)
            .await
            .expect("page");
        let Some(last) = page.last() else { break };
        after = Some(last.export_id.clone());
        rows.extend(page);
    }
    assert_eq!(rows.len(), 240);
    let mut completes: HashMap<(String, String), usize> = HashMap::new();
    for r in &rows {
        *completes
            .entry((r.province_code.clone(), r.stratum.clone()))
            .or_default() += 1;
    }
    let mut csv = String::from("response_id,province,stratum,psu,weight,fpc,sex,age_band,area");
    for item in &tree.items {
        csv.push(',');
        csv.push_str(item);
    }
    csv.push('\n');
    for r in &rows {
        let weight = r.stratum_population.expect("in frame") as f64
            / completes[&(r.province_code.clone(), r.stratum.clone())] as f64;
        let value = |k: &str| r.answers.get(k).map(|v| v.to_string()).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{}/{},{},{weight},{},{},{},{}",
            r.export_id,
            r.province_code,
            r.province_code,
            r.stratum,
            r.psu,
            r.stratum_psus.expect("in frame"),
            value("sex"),
            value("age_band"),
            value("area")
        ));
        for item in &tree.items {
            csv.push(',');
            csv.push_str(&value(item));
        }
        csv.push('\n');
    }
    let from_export = results(
        &read_csv(csv.as_bytes(), &methodology).expect("read export"),
        &methodology,
    );
    assert!(from_db.lines().count() > 500, "{}", from_db.lines().count());
    assert_eq!(
        from_db, from_export,
        "the database path gives the export path's numbers"
    );

    // With [calibration]: the weights raked to the population's sex margins, on both paths.
    let calibrated = Methodology::from_toml(&format!(
        "{METHODOLOGY}\n[calibration]\nmargins = [\"sex\"]\n"
    ))
    .expect("calibrated methodology");
    let population = "province,margin,category,total\n01,sex,1,220000\n01,sex,2,240000\n\
                      79,sex,1,270000\n79,sex,2,290000\n";
    let db_calibrated = sipas_server::jobs::wave_totals::wave_totals_reporting(
        &db,
        wave,
        &calibrated,
        Some(population),
        &sipas_server::jobs::wave_totals::Progress::default(),
    )
    .await
    .expect("calibrated compute");
    assert!(db_calibrated.stats.calibration.is_some());
    let export_calibrated = sipas_stats::microdata::read_csv_calibrated(
        csv.as_bytes(),
        &calibrated,
        Some(
            &sipas_stats::calibration::Population::from_csv(population.as_bytes())
                .expect("population"),
        ),
    )
    .expect("calibrated export");
    let (a, b) = (
        results(&db_calibrated.stats, &calibrated),
        results(&export_calibrated, &calibrated),
    );
    assert_ne!(a, from_db, "calibration changed the numbers");
    assert_eq!(
        a, b,
        "calibrated: the database path gives the export path's numbers"
    );
    // With [trimming]: weights from the frame are equal within a stratum, so a cap that binds
    // would cut a whole stratum (here rural, above 1.05 times the median): refused, naming it.
    let trimmed = Methodology::from_toml(&format!(
        "{METHODOLOGY}\n[trimming]\nupper_to_median = 1.05\n"
    ))
    .expect("trimming methodology");
    let refused = sipas_server::jobs::wave_totals::wave_totals_reporting(
        &db,
        wave,
        &trimmed,
        None,
        &sipas_server::jobs::wave_totals::Progress::default(),
    )
    .await
    .err()
    .expect("trimming a stratum of equal weights is refused")
    .to_string();
    assert!(
        refused.contains("province 01")
            && refused.contains("would cut every respondent of stratum 01/01-rural")
            && refused.contains("[nonresponse]"),
        "{refused}"
    );
    // With [nonresponse]: 60 completes per stratum, below min_respondents = 61, so each
    // province's two strata form one class; every stratum met its target, so the class's factor
    // is 1 and the numbers are those of the frame weights. The report names the class.
    let classes = Methodology::from_toml(&format!(
        "{METHODOLOGY}\n[nonresponse]\nmin_respondents = 61\nmax_factor = 2\n"
    ))
    .expect("nonresponse methodology");
    let db_classes = sipas_server::jobs::wave_totals::wave_totals_reporting(
        &db,
        wave,
        &classes,
        None,
        &sipas_server::jobs::wave_totals::Progress::default(),
    )
    .await
    .expect("classes compute");
    assert_eq!(results(&db_classes.stats, &classes), from_db);
    let report =
        sipas_server::jobs::results::weights_report(&db_classes.strata, &db_classes.weighting);
    assert_eq!(
        report[0].joined_classes,
        vec!["01-rural+01-urban".to_owned()]
    );
    assert!(report[0].capped_strata.is_empty());
    // Design weights 200,000 / 60 and 230,000 / 60: Kish over 120 respondents, by hand.
    let (u, r): (f64, f64) = (200_000.0 / 60.0, 230_000.0 / 60.0);
    let kish = 120.0 * (60.0 * u * u + 60.0 * r * r) / (60.0 * (u + r)).powi(2);
    assert!(
        (report[0].kish_design - kish).abs() < 1e-12,
        "{}",
        report[0].kish_design
    );
    // With calibration, the report has the calibrated step and the range of g.
    let report = sipas_server::jobs::results::weights_report(
        &db_calibrated.strata,
        &db_calibrated.weighting,
    );
    assert!(
        report
            .iter()
            .all(|p| p.kish_calibrated.is_some() && p.g_range.is_some())
    );

    // Without the population totals, a calibrating methodology is refused with a message.
    let refused = sipas_server::jobs::wave_totals::wave_totals(&db, wave, &calibrated)
        .await
        .expect_err("refused");
    assert!(refused.to_string().contains("population"), "{refused}");

    // The same communes as a frame drawn on the design page: each respondent of commune i then
    // weighs M_i / (π_i · r_i) and the variance has no finite population correction. The export
    // path, written out by hand with that formula, gives the same numbers.
    use sipas_app::staff::design::{Draw, DrawRecord, DrawnCommune, Options};
    let size = |k: usize| 1_000.0 + 250.0 * k as f64;
    // The first commune is taken with certainty.
    let probability = |k: usize| if k == 0 { 1.0 } else { 0.05 + 0.01 * k as f64 };
    let record = DrawRecord {
        algorithm: "test".into(),
        options: Options::default(),
        draw: Draw {
            seed: 1,
            strata: Vec::new(),
            communes: frame
                .psus
                .iter()
                .enumerate()
                .map(|(k, p)| DrawnCommune {
                    province_code: p.province_code.clone(),
                    stratum: p.stratum.clone(),
                    code: p.psu.clone(),
                    name: p.name.clone(),
                    size: Some(size(k)),
                    inclusion_probability: probability(k),
                    target: 20,
                })
                .collect(),
        },
        targets: Default::default(),
    };
    db.replace_frame_drawn(wave, &frame, &record, &common::audit("frame_drawn"))
        .await
        .expect("drawn frame");
    let drawn = sipas_server::jobs::wave_totals::wave_totals_reporting(
        &db,
        wave,
        &methodology,
        None,
        &sipas_server::jobs::wave_totals::Progress::default(),
    )
    .await
    .expect("drawn compute");
    let from_db_drawn = results(&drawn.stats, &methodology);
    let mut per_psu: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        *per_psu.entry(r.psu.clone()).or_default() += 1;
    }
    let mut csv =
        String::from("response_id,province,stratum,psu,weight,fpc,certainty,sex,age_band,area");
    for item in &tree.items {
        csv.push(',');
        csv.push_str(item);
    }
    csv.push('\n');
    for r in &rows {
        let k = frame
            .psus
            .iter()
            .position(|p| p.psu == r.psu)
            .expect("in frame");
        let weight = size(k) / (probability(k) * per_psu[&r.psu] as f64);
        let value = |k: &str| r.answers.get(k).map(|v| v.to_string()).unwrap_or_default();
        // A certain commune: a stratum of its own, its respondents the PSUs.
        let (stratum, psu) = if k == 0 {
            (format!("{}:{}", r.stratum, r.psu), r.export_id.clone())
        } else {
            (r.stratum.clone(), r.psu.clone())
        };
        csv.push_str(&format!(
            "{},{},{}/{},{},{weight},,{},{},{},{}",
            r.export_id,
            r.province_code,
            r.province_code,
            stratum,
            psu,
            if k == 0 { "1" } else { "" },
            value("sex"),
            value("age_band"),
            value("area")
        ));
        for item in &tree.items {
            csv.push(',');
            csv.push_str(
                &r.answers
                    .get(item)
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            );
        }
        csv.push('\n');
    }
    let from_export_drawn = results(
        &read_csv(csv.as_bytes(), &methodology).expect("read drawn export"),
        &methodology,
    );
    assert_ne!(
        from_db_drawn, from_db,
        "the drawn design weighs differently"
    );
    assert_eq!(
        from_db_drawn, from_export_drawn,
        "drawn frame: the database path gives the hand-weighted export's numbers"
    );
    // The certain commune's respondents add variance but no degrees of freedom: its province's
    // df is its drawn communes minus their strata.
    let certain = &frame.psus[0];
    let drawn_communes: Vec<&sipas_app::staff::frame::FramePsu> = frame
        .psus
        .iter()
        .skip(1)
        .filter(|p| p.province_code == certain.province_code && per_psu.contains_key(&p.psu))
        .collect();
    let drawn_strata: std::collections::HashSet<&str> =
        drawn_communes.iter().map(|p| p.stratum.as_str()).collect();
    let index = sipas_stats::estimate::estimate_all(&drawn.stats, &methodology)
        .expect("estimates")
        .cells
        .into_iter()
        .find(|c| c.domain == certain.province_code && c.node == "sipas" && c.subgroup.is_empty())
        .expect("the province's index");
    assert_eq!(
        index.df,
        (drawn_communes.len() - drawn_strata.len()) as f64,
        "df of the province with a certain commune"
    );
    // The weights report reads the weights used: per province, the smallest and largest are
    // those of the formula, and Kish's deff is over the respondents' own weights.
    let report = sipas_server::jobs::results::weights_report(&drawn.strata, &drawn.weighting);
    assert_eq!(report.len(), 2);
    for province in &report {
        let weights: Vec<f64> = rows
            .iter()
            .filter(|r| r.province_code == province.province)
            .map(|r| {
                let k = frame
                    .psus
                    .iter()
                    .position(|p| p.psu == r.psu)
                    .expect("in frame");
                size(k) / (probability(k) * per_psu[&r.psu] as f64)
            })
            .collect();
        let min = weights.iter().copied().fold(f64::INFINITY, f64::min);
        let max = weights.iter().copied().fold(0.0, f64::max);
        let n = weights.len() as f64;
        let kish =
            n * weights.iter().map(|w| w * w).sum::<f64>() / weights.iter().sum::<f64>().powi(2);
        assert!((province.min - min).abs() < 1e-9 * min, "{province:?}");
        assert!((province.max - max).abs() < 1e-9 * max, "{province:?}");
        assert!(
            (province.kish_deff - kish).abs() < 1e-9 * kish,
            "{province:?}"
        );
    }
    // A stored row the reader cannot parse stops the computation with its row id (the
    // pipeline's reading side then stops too): no hang, nothing half-computed returned.
    let broken: String = sqlx::query_scalar(
        "SELECT export_id FROM responses WHERE wave_code = $1 ORDER BY export_id DESC LIMIT 1",
    )
    .bind(wave)
    .fetch_one(db.pool())
    .await
    .expect("a row");
    sqlx::query("UPDATE responses SET answers = '[1, 2]' WHERE export_id = $1")
        .bind(&broken)
        .execute(db.pool())
        .await
        .expect("damage one row");
    let Err(refused) = sipas_server::jobs::wave_totals::wave_totals(&db, wave, &methodology).await
    else {
        panic!("an unreadable row is refused");
    };
    assert!(
        refused
            .to_string()
            .contains(&format!("response {broken} has unreadable answers")),
        "{refused}"
    );
    db.close().await;
}

#[tokio::test]
async fn database_compute_equals_the_export_sqlite() {
    let db = common::sqlite_db();
    story(&db.url).await;
}

#[tokio::test]
async fn database_compute_equals_the_export_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url).await;
    common::drop_postgres_db(&name).await;
}
