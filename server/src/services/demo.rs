//! Demonstration data, so a newcomer sees a working platform at once. Idempotent: running it
//! again leaves what is there.

use sipas_app::domain::{Geography, QuestionnaireRef, Wave};
use sipas_app::ports::{Store, StoreError};
use sipas_app::staff::port::AuditAction;

/// The waves `sipas demo` creates.
pub fn demo_waves() -> Vec<Wave> {
    vec![Wave {
        code: "sipas-2026-demo".to_owned(),
        title: "SIPAS 2026 (dữ liệu minh họa)".to_owned(),
        year: 2026,
        geography: Geography::G2025,
        questionnaire: Some(QuestionnaireRef {
            code: "sipas-2023".to_owned(),
            version: 1,
        }),
        // A demonstration is a pilot: the open link is on.
        open_link: true,
        closed: false,
    }]
}

/// Seeds the demonstration data; returns how many waves were new. Also publishes the default
/// questionnaire (idempotent).
pub async fn seed(store: &dyn StaffStore) -> Result<usize, StoreError> {
    let questionnaire =
        crate::services::questionnaires::parse(crate::services::questionnaires::SIPAS_2023)
            .map_err(|e| StoreError::Backend(e.en))?;
    let entry = demo_entry(AuditAction::QuestionnairePublished)
        .detail(format!("{} v{}", questionnaire.code, questionnaire.version));
    store.publish_questionnaire(&questionnaire, &entry).await?;
    let mut created = 0;
    for wave in demo_waves() {
        match create_wave(store, &wave).await {
            Ok(()) => created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(created)
}

// ------------------------------------------------------------------ history of releases

use std::collections::BTreeMap;

use sipas_app::staff::StaffStore;
use sipas_app::staff::frame::{Frame, FramePsu, FrameStratum};
use sipas_app::staff::port::{PaperRecord, PaperTarget, RowOutcome};
use sipas_app::staff::release::NewRelease;
use sipas_app::survey::codes::sha256_hex;

/// Who the demonstration releases name (no accounts: these are text in the release record).
const DEMO_STATISTICIAN: &str = "thongke.minhhoa";
const DEMO_APPROVER: &str = "pheduyet.minhhoa";

/// Creates a demonstration wave (audited as `demo`).
async fn create_wave(store: &dyn StaffStore, wave: &Wave) -> Result<(), StoreError> {
    let entry = demo_entry(AuditAction::WaveCreated)
        .wave(&wave.code)
        .detail(format!("{} ({})", wave.title, wave.year));
    store
        .create_wave_scheduled(wave, &Default::default(), &entry)
        .await
}

/// The audit entry of a change the demonstration seeding makes.
fn demo_entry(action: AuditAction) -> sipas_app::staff::port::AuditEntry {
    sipas_app::staff::port::AuditEntry::new("demo", action)
}

/// The demonstration's published years: two on the 63-province map, one on the 34 units.
fn history() -> Vec<Wave> {
    [
        (2023, Geography::G2004),
        (2024, Geography::G2004),
        (2025, Geography::G2025),
    ]
    .into_iter()
    .map(|(year, geography)| Wave {
        code: format!("sipas-{year}-demo"),
        title: format!("SIPAS {year} (dữ liệu minh họa)"),
        year,
        geography,
        questionnaire: Some(QuestionnaireRef {
            code: "sipas-2023".to_owned(),
            version: 1,
        }),
        open_link: false,
        closed: false,
    })
    .collect()
}

/// A small seeded generator (xorshift64), so every demo database is the same.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A stable number in [-1, 1) from a text (provinces and communes keep their character
/// across years).
fn effect(key: &str) -> f64 {
    let digest = sha256_hex(key.as_bytes());
    let value = u64::from_str_radix(&digest[..12], 16).unwrap_or(0);
    2.0 * (value as f64 / (1u64 << 48) as f64) - 1.0
}

/// The frame of a demo wave: per province an urban and a rural stratum with five sampled
/// communes each (eight degrees of freedom: enough for most province figures to pass the
/// reliability rule) (the current wave's 79-urban also has `phuong-12`, where the demo codes point).
pub fn demo_frame(provinces: &[String], geography: Geography, current: bool) -> Frame {
    // A province of the 2004 map has its own size; a unit of the 2025 map covers the old
    // provinces merged into it, so the two maps describe the same country.
    let crosswalk = crate::services::compute::crosswalk_2004_2025();
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
                    name: format!(
                        "{} {c}",
                        if stratum == "urban" {
                            "Phường"
                        } else {
                            "Xã"
                        }
                    ),
                    target: 10,
                });
            }
        }
    }
    if current {
        frame.psus.push(FramePsu {
            province_code: "79".into(),
            stratum: "79-urban".into(),
            psu: "phuong-12".into(),
            name: "Phường 12".into(),
            target: 12,
        });
    }
    frame
}

/// The current demonstration wave's frame, installed if it has none (so codes can be issued
/// over it, also with `sipas demo --no-history`); the wave.
pub async fn seed_current_frame<S: Store + StaffStore>(store: &S) -> Result<Wave, StoreError> {
    let current = demo_waves().remove(0);
    if store.frame(&current.code, None).await?.psus.is_empty() {
        let provinces: Vec<String> = store
            .provinces(current.geography)
            .await?
            .into_iter()
            .map(|p| p.code)
            .collect();
        store
            .replace_frame(
                &current.code,
                &demo_frame(&provinces, current.geography, true),
                &demo_entry(AuditAction::FrameUploaded).wave(&current.code),
            )
            .await?;
    }
    Ok(current)
}

/// Paper forms for every sampled commune: satisfaction varies by province, commune and year,
/// and a few communes fall short of their target.
pub fn demo_forms(frame: &Frame, items: &[String], year: i32) -> Vec<PaperRecord> {
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
                    continue; // not answered
                }
                let score = (person + 1.6 * (rng.unit() - 0.5)).round().clamp(1.0, 5.0);
                answers.insert(item.clone(), score as i64);
            }
            answers.insert("sex".into(), 1 + (rng.next() % 2) as i64);
            answers.insert("age_band".into(), 1 + (rng.next() % 4) as i64);
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
            });
        }
    }
    records
}

async fn import(
    store: &dyn StaffStore,
    wave: &str,
    records: &[PaperRecord],
) -> Result<(), StoreError> {
    let started = std::time::Instant::now();
    let audit = |outcomes: &[RowOutcome]| {
        demo_entry(AuditAction::PaperImported)
            .wave(wave)
            .detail(format!("{} phiếu minh họa", outcomes.len()))
    };
    let outcomes = store
        .import_paper(wave, None, records, false, &audit)
        .await?;
    tracing::info!(
        wave,
        forms = records.len(),
        secs = started.elapsed().as_secs_f64(),
        "demo forms imported"
    );
    match outcomes
        .iter()
        .find(|o| !matches!(o, RowOutcome::New | RowOutcome::AlreadyImported))
    {
        Some(problem) => Err(StoreError::Backend(format!(
            "demo forms refused: {problem:?}"
        ))),
        None => Ok(()),
    }
}

/// Computes a wave with the built-in methodology and publishes it at once under the demo's
/// names (the demonstration's history, and tests that need an earlier year).
pub async fn publish_demo(
    store: &dyn StaffStore,
    wave: &Wave,
    changelog: &str,
) -> Result<(), StoreError> {
    publish_demo_with(
        store,
        wave,
        changelog,
        crate::services::questionnaires::SIPAS_2023_METHODOLOGY,
    )
    .await
}

/// [`publish_demo`] with another methodology (tests).
pub async fn publish_demo_with(
    store: &dyn StaffStore,
    wave: &Wave,
    changelog: &str,
    methodology: &str,
) -> Result<(), StoreError> {
    let progress = crate::jobs::wave_totals::Progress::default();
    let started = std::time::Instant::now();
    let draft = crate::jobs::results::compute(store, wave, methodology, None, &progress)
        .await
        .map_err(StoreError::Backend)?;
    tracing::info!(wave = %wave.code, secs = started.elapsed().as_secs_f64(), "demo computed");
    let started = std::time::Instant::now();
    store
        .publish_release(
            &NewRelease {
                year: wave.year,
                wave_code: wave.code.clone(),
                geography: wave.geography,
                title: format!("SIPAS {} (minh họa)", wave.year),
                methodology: methodology.to_owned(),
                questionnaire_code: "sipas-2023".into(),
                questionnaire_version: 1,
                input_digest: draft.input_digest,
                software_version: crate::SOFTWARE_VERSION.to_owned(),
                computed_by: DEMO_STATISTICIAN.into(),
                approved_by: DEMO_APPROVER.into(),
                changelog: changelog.to_owned(),
                cells: draft.cells,
                compared_with: draft.report.compared_with,
                totals: draft.totals,
                aggregates: draft.aggregates,
                computation: None,
            },
            &|version: &i32| {
                demo_entry(AuditAction::ReleasePublished)
                    .wave(&wave.code)
                    .detail(format!("SIPAS {} v{version} (minh họa)", wave.year))
            },
        )
        .await?;
    tracing::info!(wave = %wave.code, secs = started.elapsed().as_secs_f64(), "demo published");
    Ok(())
}

/// Seeds the demonstration's history: for 2023 and 2024 (63 provinces) and 2025 (34 units) a
/// closed wave with its frame and paper forms, computed and published (2024 with a v2 that adds
/// forms which arrived late); and a frame and forms for the current wave, ready to compute and
/// review. Idempotent: a year that has a release is left alone.
pub async fn seed_history<S: Store + StaffStore>(store: &S) -> Result<(), StoreError> {
    let methodology = sipas_stats::methodology::Methodology::from_toml(
        crate::services::questionnaires::SIPAS_2023_METHODOLOGY,
    )
    .map_err(|e| StoreError::Backend(e.to_string()))?;
    let items = methodology
        .compile()
        .map_err(|e| StoreError::Backend(e.to_string()))?
        .items;
    // Never in a real database: demonstration releases cannot be deleted (they are immutable),
    // so the history is only seeded where every wave is a demonstration wave.
    if let Some(real) = store
        .wave_list()
        .await?
        .into_iter()
        .find(|w| !w.wave.code.ends_with("-demo"))
    {
        tracing::warn!(
            wave = %real.wave.code,
            "not seeding the demonstration's releases: this database has real waves"
        );
        return Ok(());
    }
    let published: Vec<i32> = store.releases().await?.iter().map(|r| r.year).collect();
    for wave in history() {
        if published.contains(&wave.year) {
            continue;
        }
        match create_wave(store, &wave).await {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
        let provinces: Vec<String> = store
            .provinces(wave.geography)
            .await?
            .into_iter()
            .map(|p| p.code)
            .collect();
        let frame = demo_frame(&provinces, wave.geography, false);
        store
            .replace_frame(
                &wave.code,
                &frame,
                &demo_entry(AuditAction::FrameUploaded).wave(&wave.code),
            )
            .await?;
        let forms = demo_forms(&frame, &items, wave.year);
        if wave.year == 2024 {
            // Version 1 went out before the last province's forms arrived.
            let late_province = provinces.last().cloned().unwrap_or_default();
            let late = |r: &&PaperRecord| matches!(&r.target, PaperTarget::Point { psu, .. } if psu.starts_with(&format!("{late_province}-")));
            let on_time: Vec<PaperRecord> = forms.iter().filter(|r| !late(r)).cloned().collect();
            import(store, &wave.code, &on_time).await?;
            publish_demo(store, &wave, "").await?;
            import(store, &wave.code, &forms).await?;
            publish_demo(
                store,
                &wave,
                &format!(
                    "Bổ sung {n} phiếu giấy của tỉnh {late_province} đến sau khi công bố v1; số liệu của tỉnh \
                     và cả nước thay đổi. / Adds {n} paper forms from province {late_province} that arrived \
                     after v1; that province's and the national figures changed.",
                    n = forms.iter().filter(late).count()
                ),
            )
            .await?;
        } else {
            import(store, &wave.code, &forms).await?;
            publish_demo(store, &wave, "").await?;
        }
        match store
            .close_wave(
                &wave.code,
                &demo_entry(AuditAction::WaveClosed).wave(&wave.code),
            )
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    // The current wave: a frame and forms, so a statistician can compute and review at once.
    let current = seed_current_frame(store).await?;
    let collected: i64 = store
        .monitoring(&current.code, None)
        .await?
        .psus
        .iter()
        .map(|p| p.completes)
        .sum();
    if collected == 0 {
        let frame = store.frame(&current.code, None).await?;
        let forms = demo_forms(&frame, &items, current.year);
        import(store, &current.code, &forms).await?;
    }
    Ok(())
}
