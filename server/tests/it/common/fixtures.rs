//! Small frames and paper forms for tests that need a wave computed quickly on either map (the
//! demonstration's national wave is ~34,000 forms): per province an urban and a rural stratum,
//! five communes each, ten forms per commune, satisfaction varying by province, commune and year.

use std::collections::BTreeMap;

use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::staff::frame::{Frame, FramePsu, FrameStratum};
use sipas_app::staff::port::{PaperRecord, PaperTarget};
use sipas_app::staff::{CollectedStore, FieldStore};
use sipas_app::survey::codes::sha256_hex;
use sipas_server::services::demo::{Rng, effect};

/// Two strata of five communes per province; a unit of the 2025 map has the summed size of the
/// old provinces merged into it, so the two maps describe the same country.
pub fn frame(provinces: &[String], geography: Geography) -> Frame {
    let crosswalk = sipas_server::services::compute::crosswalk_2004_2025();
    let size = |code: &str| 1.0 + 0.8 * (effect(&format!("size {code}")) + 1.0);
    let mut frame = Frame::default();
    for code in provinces {
        let (scale, merged) = match geography {
            Geography::G2004 => (size(code), 1),
            Geography::G2025 => crosswalk
                .iter()
                .filter(|(_, new)| *new == code)
                .fold((0.0, 0), |(s, n), (old, _)| (s + size(old), n + 1)),
        };
        for (stratum, population, communes) in [("urban", 300_000, 60), ("rural", 500_000, 140)] {
            let name = format!("{code}-{stratum}");
            frame.strata.push(FrameStratum {
                province_code: code.clone(),
                stratum: name.clone(),
                population: (f64::from(population) * scale) as i64,
                psus_in_population: communes * merged.max(1),
            });
            for c in 1..=5 {
                frame.psus.push(FramePsu {
                    province_code: code.clone(),
                    stratum: name.clone(),
                    psu: format!("{name}-{c}"),
                    name: format!("{stratum} {c}"),
                    target: 10,
                });
            }
        }
    }
    frame
}

/// Paper forms for every commune of `frame` (a few fall short of the target).
pub fn forms(frame: &Frame, items: &[String], year: i32) -> Vec<PaperRecord> {
    let mut rng = Rng(0x51FA5 ^ u64::try_from(year).unwrap_or(0));
    let mut records = Vec::new();
    for psu in &frame.psus {
        let shortfall = (effect(&format!("shortfall {year} {}", psu.psu)) + 1.0) * 2.0;
        let completes = psu.target - shortfall as i64;
        let level = 3.85
            + 0.45 * effect(&format!("province {}", psu.province_code))
            + 0.25 * effect(&format!("commune {}", psu.psu))
            + 0.08 * f64::from(year - 2023);
        for form in 0..completes {
            let mut answers = BTreeMap::new();
            let person = level + 0.6 * (rng.unit() - 0.5);
            for item in items {
                if rng.unit() < 0.05 {
                    continue;
                }
                let score = (person + 1.6 * (rng.unit() - 0.5)).round().clamp(1.0, 5.0);
                answers.insert(item.clone(), score as i64);
            }
            answers.insert("sex".into(), 1 + (rng.next_u64() % 2) as i64);
            answers.insert("age_band".into(), 1 + (rng.next_u64() % 4) as i64);
            answers.insert(
                "area".into(),
                if psu.stratum.ends_with("urban") { 1 } else { 2 },
            );
            let canonical = serde_json::to_string(&answers).unwrap_or_default();
            let id = format!("{year}/{}/{form}", psu.psu);
            records.push(PaperRecord {
                row: records.len() + 2,
                target: PaperTarget::Point {
                    psu: psu.psu.clone(),
                    form_id: format!("P{form:03}"),
                },
                content_hash: sha256_hex(canonical.as_bytes()),
                answers,
                language: "vi".into(),
                receipt: sha256_hex(format!("receipt {id}").as_bytes())[..12].to_uppercase(),
                export_id: sha256_hex(format!("export {id}").as_bytes())[..16].to_owned(),
                measures: Default::default(),
            });
        }
    }
    records
}

/// A wave on `provinces` with a small frame (see [`frame`]) and paper forms collected in every
/// commune of it: ready to compute and publish.
pub async fn collected_wave(
    store: &sipas_server::store::SqlStore,
    code: &str,
    year: i32,
    geography: Geography,
    provinces: &[&str],
) -> Wave {
    let wave = new_wave(code, year, geography);
    super::create_wave(store, &wave).await.expect("wave");
    let provinces: Vec<String> = provinces.iter().map(|p| (*p).to_owned()).collect();
    let frame = frame(&provinces, geography);

    store
        .replace_frame(code, &frame, &super::audit("frame_uploaded"))
        .await
        .expect("frame");
    let items = sipas_items();
    import_paper(store, code, &forms(&frame, &items, year)).await;
    wave
}

/// Imports paper forms into `wave` as from a file (every row stored, or the test fails);
/// what became of each row.
pub async fn import_paper(
    store: &sipas_server::store::SqlStore,
    wave: &str,
    records: &[PaperRecord],
) -> Vec<sipas_app::staff::port::RowOutcome> {
    CollectedStore::import_paper(
        store,
        wave,
        None,
        records,
        false,
        &|_: &[sipas_app::staff::port::RowOutcome]| super::audit("paper_imported"),
    )
    .await
    .expect("paper import")
}

/// A wave answering the built-in questionnaire (SIPAS 2023 v1), closed to the open link.
pub fn new_wave(code: &str, year: i32, geography: Geography) -> Wave {
    Wave {
        code: code.into(),
        title: format!("SIPAS {year}"),
        year,
        geography,
        questionnaire: Some(QuestionnaireRef {
            code: "sipas-2023".into(),
            version: 1,
        }),
        open_link: false,
        closed: false,
    }
}

/// The items of the built-in methodology, for [`forms`].
pub fn sipas_items() -> Vec<String> {
    sipas_stats::methodology::Methodology::from_toml(
        sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY,
    )
    .expect("methodology")
    .compile()
    .expect("compiled")
    .items
}

/// The built-in questionnaire (SIPAS 2023 v1).
pub fn sipas_questionnaire() -> sipas_app::survey::questionnaire::Questionnaire {
    sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("questionnaire")
}

/// A complete answer to the built-in questionnaire with some variety: rating item k gets
/// 1 + (k + seed) % 5, so no answer repeats on consecutive items and two seeds give two answer
/// vectors.
pub fn varied_answers(seed: usize) -> sipas_app::survey::questionnaire::Answers {
    let q = sipas_questionnaire();
    let mut answers = super::load::complete_answers(&q);
    let mut k = 0;
    for item in q.items() {
        if answers.contains_key(&item.code) && q.scales[&item.scale].not_applicable.is_some() {
            answers.insert(item.code.clone(), 1 + ((k + seed) % 5) as i64);
            k += 1;
        }
    }
    q.prune(&mut answers);
    assert!(q.validate(&answers, None).is_empty());
    answers
}

/// A store on `url` with the demonstration's seed (questionnaire, geography, waves) and the
/// staff accounts of [`staff_accounts`]: where the staff workspace's stories start.
pub async fn seeded_with_staff(
    url: &str,
    password: &str,
    accounts: &[(&str, sipas_app::staff::Role, Option<&str>)],
) -> std::sync::Arc<sipas_server::store::SqlStore> {
    let store = super::store_on(url).await;
    sipas_server::services::demo::seed(store.as_ref())
        .await
        .expect("seed");
    staff_accounts(&store, password, accounts).await;
    store
}

/// The id of the account `username`.
pub async fn user_id(store: &sipas_server::store::SqlStore, username: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM staff_users WHERE username = $1")
        .bind(username)
        .fetch_one(store.pool())
        .await
        .expect("user id")
}

/// Staff accounts `(username, role, province on the 2025 map)`, all with `password`.
pub async fn staff_accounts(
    store: &sipas_server::store::SqlStore,
    password: &str,
    accounts: &[(&str, sipas_app::staff::Role, Option<&str>)],
) {
    use sipas_app::staff::port::{AccountStore, NewUser};
    let hash = sipas_server::services::accounts::hash_password(password.into())
        .await
        .expect("hash");
    for (username, role, province) in accounts {
        store
            .create_user(
                &NewUser {
                    username: (*username).into(),
                    display_name: (*username).into(),
                    role: *role,
                    province: province.map(|code| sipas_app::staff::roles::ProvinceRef {
                        geography: Geography::G2025,
                        code: code.into(),
                    }),
                    password_hash: hash.clone(),
                    research: None,
                    communes: Vec::new(),
                },
                &super::audit("account_created"),
            )
            .await
            .expect("user");
    }
}

/// A paper form of `psu` numbered `form_id`, with the measures the import computes from the
/// built-in questionnaire (receipt and export id made from the number).
pub fn paper_form(
    psu: &str,
    form_id: &str,
    answers: sipas_app::survey::questionnaire::Answers,
) -> PaperRecord {
    let canonical = serde_json::to_string(&answers).expect("json");
    PaperRecord {
        row: 2,
        target: PaperTarget::Point {
            psu: psu.into(),
            form_id: form_id.into(),
        },
        content_hash: sha256_hex(canonical.as_bytes()),
        measures: sipas_app::survey::quality::measures(&sipas_questionnaire(), &answers),
        answers,
        language: "vi".into(),
        receipt: sha256_hex(format!("receipt {form_id}").as_bytes())[..12].to_uppercase(),
        export_id: sha256_hex(format!("export {form_id}").as_bytes())[..16].to_owned(),
    }
}
