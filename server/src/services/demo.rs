//! Demonstration data, so a newcomer sees a working platform at once, and the reference
//! scenario tests and benchmarks are judged on: national waves designed and drawn from the
//! official communes by the design page's code, answered like a household survey, collected
//! through the survey's submission and the paper import (docs/methodology.md, "The
//! demonstration wave"). Idempotent: running it again leaves what is there.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use futures_util::StreamExt;
use sipas_app::domain::{Commune, CommuneKind, Geography, QuestionnaireRef, Wave};
use sipas_app::ports::{Store, StoreError};
use sipas_app::staff::StaffStore;
use sipas_app::staff::design::{self, DrawRecord, Options, ProvinceInput, Rule};
use sipas_app::staff::frame::{Frame, FramePsu};
use sipas_app::staff::port::{AuditAction, PaperRecord, PaperTarget, RowOutcome};
use sipas_app::staff::release::NewRelease;
use sipas_app::survey::codes::sha256_hex;
use sipas_app::survey::questionnaire::{Answers, Questionnaire};
use sipas_app::survey::response::{Channel, SubmitReply, SubmitRequest};

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

/// The seed of the current wave's draw (any number would do; a ministry would announce it, or
/// take it from a public lottery draw, before drawing).
pub const CURRENT_SEED: u64 = 20_260_701;

/// A ward of Hồ Chí Minh City the current wave's draw selects (a test checks it is in the
/// sample): the commune tests and the end-to-end configuration print codes for.
pub const EXAMPLE_COMMUNE: &str = "26767";
/// Its province and stratum.
pub const EXAMPLE_PROVINCE: &str = "79";
pub const EXAMPLE_STRATUM: &str = "79-thanh-thi";

/// How each demonstration year was designed: 2023–2025 as the Ministry did (Yamane's n with
/// e = 5%, about 400 a province, here over ten communes: the reliability rule's df of 8 where
/// no commune is taken with certainty, 6 or 7 where one is), the current wave as the design page offers for a national wave (about 1,000 a
/// province: 11 communes × 91).
fn options(year: i32) -> Options {
    if year >= 2026 {
        Options {
            rule: Rule::Equal,
            total: 34_000,
            communes: 11,
            ..Options::default()
        }
    } else {
        Options {
            rule: Rule::Yamane,
            yamane_e: 5.0,
            communes: 10,
            ..Options::default()
        }
    }
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

/// A small seeded generator (xorshift64), so every demo database has the same answers.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// A stable number in [-1, 1) from a text (provinces and communes keep their character
/// across years).
pub fn effect(key: &str) -> f64 {
    let digest = sha256_hex(key.as_bytes());
    let value = u64::from_str_radix(&digest[..12], 16).unwrap_or(0);
    2.0 * (value as f64 / (1u64 << 48) as f64) - 1.0
}

/// Adults living in a commune. The official list has no populations, so the demonstration
/// makes them up: wards about 28,000, communes 16,000, island special zones 5,000, each
/// between 0.4 and 2.7 times that (about 70 million adults in all).
pub fn adults(commune: &Commune) -> f64 {
    let typical = match commune.kind {
        CommuneKind::Ward => 28_000.0,
        CommuneKind::Commune => 16_000.0,
        CommuneKind::SpecialZone => 5_000.0,
    };
    (typical * (effect(&format!("adults {}", commune.code)) * 0.9).exp()).round()
}

/// The units a year is drawn from: the official 2025 list; for a year on the 63-province map,
/// the same communes given back to the old provinces merged into their unit (the repository
/// has no list of the communes before the reform: each unit's communes, in code order, are
/// shared in equal runs over its old provinces in code order, which follows how the official
/// codes were numbered).
fn units(communes: &[Commune], geography: Geography) -> Vec<Commune> {
    match geography {
        Geography::G2025 => communes.to_vec(),
        Geography::G2004 => {
            let crosswalk = crate::services::compute::crosswalk_2004_2025();
            let mut out = Vec::with_capacity(communes.len());
            let mut by_unit: BTreeMap<&str, Vec<&Commune>> = BTreeMap::new();
            for commune in communes {
                by_unit
                    .entry(commune.province_code.as_str())
                    .or_default()
                    .push(commune);
            }
            for (unit, mut members) in by_unit {
                members.sort_by(|a, b| a.code.cmp(&b.code));
                let old: Vec<&String> = crosswalk
                    .iter()
                    .filter(|(_, new)| new.as_str() == unit)
                    .map(|(old, _)| old)
                    .collect();
                let parts = old.len().max(1);
                for (i, commune) in members.iter().enumerate() {
                    let province = old
                        .get(i * parts / members.len())
                        .map_or(unit.to_owned(), |code| (*code).clone());
                    out.push(Commune {
                        province_code: province,
                        ..(*commune).clone()
                    });
                }
            }
            out
        }
    }
}

/// Designs and draws a demonstration wave the way the design page does: each province's adults
/// from the communes' sizes, the year's [`options`], systematic PPS from `seed`.
pub async fn design<S: Store + ?Sized>(
    store: &S,
    wave: &Wave,
    seed: u64,
) -> Result<(Frame, DrawRecord), StoreError> {
    let units = units(&store.communes().await?, wave.geography);
    let sizes: HashMap<String, f64> = units.iter().map(|c| (c.code.clone(), adults(c))).collect();
    let provinces: Vec<ProvinceInput> = store
        .provinces(wave.geography)
        .await?
        .into_iter()
        .map(|p| {
            let members: Vec<&Commune> =
                units.iter().filter(|c| c.province_code == p.code).collect();
            ProvinceInput {
                population: Some(members.iter().map(|c| sizes[&c.code]).sum()),
                deff: None,
                strata: design::province_strata(&p.code, &members).len() as u64,
                code: p.code,
                name: p.name_vi,
            }
        })
        .collect();
    design::draw_frame(&units, &sizes, &provinces, &options(wave.year), seed)
        .map_err(|message| StoreError::Backend(message.en))
}

/// Draws and stores a wave's frame (audited as a draw).
async fn draw_frame<S: Store + StaffStore>(
    store: &S,
    wave: &Wave,
    seed: u64,
) -> Result<Frame, StoreError> {
    let (frame, record) = design(store, wave, seed).await?;
    let entry = demo_entry(AuditAction::FrameDrawn)
        .wave(&wave.code)
        .detail(record.audit_detail(&frame));
    store
        .replace_frame_drawn(&wave.code, &frame, &record, &entry)
        .await?;
    Ok(frame)
}

/// The current demonstration wave's frame, drawn if it has none (so codes can be issued over
/// it, also with `sipas demo --no-history`); the wave.
pub async fn seed_current_frame<S: Store + StaffStore>(store: &S) -> Result<Wave, StoreError> {
    let current = demo_waves().remove(0);
    if store.frame(&current.code, None).await?.psus.is_empty() {
        draw_frame(store, &current, CURRENT_SEED).await?;
    }
    Ok(current)
}

/// Who answers, as in a household survey done by day: more women and more people over 50 than
/// among adults ([`PROFILE_SHARES`] are the adults'), so weighting to sex and age matters.
const SAMPLE_FEMALE: f64 = 0.60;
const SAMPLE_AGE: [f64; 5] = [0.07, 0.10, 0.25, 0.28, 0.30];
/// Adults by sex (male, female) and age band (18–25, 26–34, 35–49, 50–60, over 60): the
/// demonstration's population margins.
pub const PROFILE_SHARES: ([f64; 2], [f64; 5]) = ([0.49, 0.51], [0.17, 0.18, 0.29, 0.17, 0.19]);

/// The demonstration's population margins, to rake a wave to (`province,margin,category,total`,
/// as `sipas compute --population` and the staff computation read them): each province's
/// adults (its strata in `frame`) shared by sex and by age band as [`PROFILE_SHARES`].
pub fn population_margins(frame: &Frame) -> String {
    let mut adults: BTreeMap<&str, i64> = BTreeMap::new();
    for stratum in &frame.strata {
        *adults.entry(stratum.province_code.as_str()).or_default() += stratum.population;
    }
    // Whole people per category; the last takes what rounding left, so both margins add up to
    // the province's adults.
    let split = |total: i64, shares: &[f64]| -> Vec<i64> {
        let mut parts: Vec<i64> = shares
            .iter()
            .map(|share| (total as f64 * share).round() as i64)
            .collect();
        let given: i64 = parts.iter().sum();
        if let Some(last) = parts.last_mut() {
            *last += total - given;
        }
        parts
    };
    let mut out = String::from("province,margin,category,total\n");
    for (province, total) in adults {
        for (margin, shares) in [
            ("sex", &PROFILE_SHARES.0[..]),
            ("age_band", &PROFILE_SHARES.1[..]),
        ] {
            for (category, part) in split(total, shares).into_iter().enumerate() {
                out.push_str(&format!("{province},{margin},{},{part}\n", category + 1));
            }
        }
    }
    out
}

/// How satisfied a person tends to be: the young less, the old more, women a little more.
fn profile_effect(sex: i64, age_band: i64) -> f64 {
    let age = [-0.2, -0.1, 0.0, 0.05, 0.1];
    age[usize::try_from(age_band - 1).unwrap_or(0).min(4)] + if sex == 2 { 0.06 } else { 0.0 }
}

/// A commune's respondents' answers: satisfaction by province, commune, year and who answers;
/// the questionnaire's routing followed (only users of a service rate it, only those who gave
/// feedback rate its handling: the feedback items' nonresponse); "not applicable" now and then;
/// on paper, some answers left blank.
fn answers(
    questionnaire: &Questionnaire,
    rng: &mut Rng,
    level: f64,
    urban: bool,
    paper: bool,
) -> Answers {
    let sex = if rng.chance(SAMPLE_FEMALE) { 2 } else { 1 };
    let draw = rng.unit();
    let mut cumulative = 0.0;
    let age_band = SAMPLE_AGE
        .iter()
        .position(|share| {
            cumulative += share;
            draw < cumulative
        })
        .map_or(5, |i| i as i64 + 1);
    // People differ far more than communes do (sd 0.5 against 0.09 of a scale point: an
    // intra-commune correlation of the index about 0.03, design effects of 2 to 5 at 91 a
    // commune, as household surveys find).
    let spread = rng.unit() + rng.unit() + rng.unit() - 1.5;
    let person = level + profile_effect(sex, age_band) + spread;
    let mut out = Answers::new();
    for item in questionnaire.items() {
        if !item.is_relevant(&out) {
            continue;
        }
        // Blanks on paper, never in the profile (postal staff check it when they collect the
        // form: weighting needs sex and age).
        let profile = matches!(item.code.as_str(), "sex" | "age_band" | "area");
        if (paper && !profile && rng.chance(0.02)) || (!item.required && rng.chance(0.3)) {
            continue; // left blank
        }
        let value = match item.code.as_str() {
            "sex" => sex,
            "age_band" => age_band,
            "area" => {
                if urban {
                    1
                } else {
                    2
                }
            }
            "used_service" => {
                if rng.chance(0.8) {
                    1
                } else {
                    2
                }
            }
            "gave_feedback" => {
                if rng.chance(0.25) {
                    1
                } else {
                    2
                }
            }
            _ if item.scale == "satisfaction" => {
                if rng.chance(0.03) {
                    9 // not applicable / don't know
                } else {
                    (person + 1.6 * (rng.unit() - 0.5)).round().clamp(1.0, 5.0) as i64
                }
            }
            _ => {
                let choices: Vec<i64> = questionnaire.choices(item).map(|c| c.value).collect();
                let pick = (rng.next_u64() % choices.len().max(1) as u64) as usize;
                choices.get(pick).copied().unwrap_or(1)
            }
        };
        out.insert(item.code.clone(), value);
    }
    out
}

/// A commune's satisfaction level in a year.
fn commune_level(province: &str, commune: &str, year: i32) -> f64 {
    // Provinces about 4 points apart (sd), as the published 2023 range of 75 to 91 suggests;
    // about a point and a half better each year.
    4.05 + 0.12 * effect(&format!("province {province}"))
        + 0.15 * effect(&format!("commune {commune}"))
        + 0.02 * f64::from(year - 2023)
}

/// Forms returned from a commune: its target, except in about one commune in ten, where
/// 55–85% of it came back.
fn returned(year: i32, psu: &FramePsu) -> i64 {
    let chance = effect(&format!("shortfall {year} {}", psu.psu));
    if chance > 0.8 {
        let share = 0.55 + 0.3 * (chance - 0.8) / 0.2;
        (psu.target as f64 * share).round() as i64
    } else {
        psu.target
    }
}

/// A paper form as the import stores it (the receipt and row id made from `id`, so every
/// demonstration database has the same ones).
fn paper(
    questionnaire: &Questionnaire,
    target: PaperTarget,
    answers: Answers,
    row: usize,
    id: &str,
) -> PaperRecord {
    let canonical = serde_json::to_string(&answers).unwrap_or_default();
    PaperRecord {
        measures: sipas_app::survey::quality::measures(questionnaire, &answers),
        row,
        target,
        content_hash: sha256_hex(canonical.as_bytes()),
        answers,
        language: "vi".into(),
        receipt: sha256_hex(format!("receipt {id}").as_bytes())[..12].to_uppercase(),
        export_id: sha256_hex(format!("export {id}").as_bytes())[..16].to_owned(),
    }
}

/// One respondent of a demonstration year: where (an index into the frame's PSUs), the form's
/// number in its commune, how they answered and what.
pub struct Respondent {
    pub psu: usize,
    pub number: i64,
    pub on_phone: bool,
    /// How long answering took (the phone's start time is sent with the answers).
    pub minutes: u64,
    pub language: &'static str,
    pub answers: Answers,
}

/// The first year the platform collects: from then on about a third answer on their phones
/// (more in wards); before, everyone on paper.
const FIRST_ONLINE_YEAR: i32 = 2026;

/// Everyone who answers in a demonstration year, commune by commune ([`returned`] forms each).
pub fn respondents(questionnaire: &Questionnaire, frame: &Frame, wave: &Wave) -> Vec<Respondent> {
    let year = wave.year;
    let mut rng = Rng(0x51FA5 ^ u64::try_from(year).unwrap_or(0));
    // A province keeps its character across the reform: an old province's is its 2025 unit's
    // (else every merged unit would change by chance in 2025).
    let crosswalk = crate::services::compute::crosswalk_2004_2025();
    let unit = |province: &str| match wave.geography {
        Geography::G2004 => crosswalk
            .get(province)
            .cloned()
            .unwrap_or_else(|| province.to_owned()),
        Geography::G2025 => province.to_owned(),
    };
    let mut out = Vec::new();
    for (index, psu) in frame.psus.iter().enumerate() {
        let level = commune_level(&unit(&psu.province_code), &psu.psu, year);
        let urban = psu.stratum.ends_with("-thanh-thi");
        for number in 0..returned(year, psu) {
            let on_phone = year >= FIRST_ONLINE_YEAR && rng.chance(if urban { 0.45 } else { 0.25 });
            let language = if on_phone && rng.chance(0.05) {
                "en"
            } else {
                "vi"
            };
            // Answering on a phone took 6 to 25 minutes.
            let minutes = 6 + rng.next_u64() % 20;
            out.push(Respondent {
                psu: index,
                number,
                on_phone,
                minutes,
                language,
                answers: answers(questionnaire, &mut rng, level, urban, !on_phone),
            });
        }
    }
    out
}

/// When a phone began the questionnaire, `minutes` before now (RFC 3339).
fn started_at(minutes: u64) -> Option<String> {
    let start = time::OffsetDateTime::now_utc()
        - time::Duration::minutes(i64::try_from(minutes).unwrap_or(10));
    start
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The paper forms of a year before the platform: keyed by sample point (commune and form
/// number), as postal staff brought them back.
fn paper_forms(questionnaire: &Questionnaire, frame: &Frame, wave: &Wave) -> Vec<PaperRecord> {
    let year = wave.year;
    respondents(questionnaire, frame, wave)
        .into_iter()
        .enumerate()
        .map(|(row, person)| {
            let psu = &frame.psus[person.psu].psu;
            let target = PaperTarget::Point {
                psu: psu.clone(),
                form_id: format!("P{:03}", person.number),
            };
            let id = format!("{year}/{psu}/{}", person.number);
            paper(questionnaire, target, person.answers, row + 2, &id)
        })
        .collect()
}

/// A wave in the field with the platform: codes issued for every commune (a fifth more than
/// the take, for households that decline); each respondent answers on a phone with their code,
/// or on the paper form that carries it, keyed by the province. Both go through the paths
/// citizens and staff use: the survey's submission and the paper import.
pub async fn collect<S: Store + StaffStore>(
    store: &S,
    wave: &Wave,
    frame: &Frame,
    questionnaire: &Questionnaire,
) -> Result<(), StoreError> {
    use crate::services::invitations::{self, BatchRequest, Target};
    let mut codes: HashMap<&str, Vec<sipas_app::survey::codes::InvitationCode>> = HashMap::new();
    let provinces: BTreeSet<&str> = frame
        .psus
        .iter()
        .map(|p| p.province_code.as_str())
        .collect();
    for province in provinces {
        let wanted: i64 = frame
            .psus
            .iter()
            .filter(|p| p.province_code == province)
            .map(|p| p.target)
            .sum();
        let target = Target::Province(province.to_owned());
        let count = (wanted as f64 * 1.2).ceil().to_string();
        let request = BatchRequest {
            wave_code: &wave.code,
            target: &target,
            count: &count,
            batch_id: invitations::batch_id(&sha256_hex(
                format!("demo batch {} {province}", wave.code).as_bytes(),
            )),
            issued_by: "demo",
            scope: &sipas_app::staff::Scope::All,
        };
        let prepared = invitations::prepare(store, &request)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        invitations::store(store, &prepared, |province, detail| {
            demo_entry(AuditAction::BatchIssued)
                .wave(&wave.code)
                .province(Some(province))
                .detail(detail)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?;
        for (psu, code) in prepared.codes {
            if let Some(listed) = frame.psus.iter().find(|p| p.psu == psu.psu) {
                codes.entry(listed.psu.as_str()).or_default().push(code);
            }
        }
    }
    let mut online = Vec::new();
    let mut forms = Vec::new();
    for person in respondents(questionnaire, frame, wave) {
        let psu = &frame.psus[person.psu].psu;
        let Some(code) = codes
            .get(psu.as_str())
            .and_then(|c| c.get(usize::try_from(person.number).unwrap_or(usize::MAX)))
        else {
            return Err(StoreError::Backend(format!(
                "demo: too few codes for {psu}"
            )));
        };
        if person.on_phone {
            online.push(SubmitRequest {
                code: code.as_str().to_owned(),
                submission_id: format!("demo-{}-{psu}-{:04}", wave.year, person.number),
                answers: person.answers,
                language: person.language.into(),
                started_at: started_at(person.minutes),
                queued: false,
            });
        } else {
            let target = PaperTarget::Code {
                code_hash: invitations::hash(code),
            };
            let id = format!("{}/{psu}/{}", wave.year, person.number);
            forms.push(paper(
                questionnaire,
                target,
                person.answers,
                forms.len() + 2,
                &id,
            ));
        }
    }
    let started = std::time::Instant::now();
    // Many phones at once: the submissions share the group commit as they would.
    let stored = futures_util::stream::iter(online.iter())
        .map(|request| async move {
            // Each demo respondent answers on a phone of their own (one device per code).
            let device =
                &sipas_app::survey::codes::sha256_hex(request.submission_id.as_bytes())[..32];
            sipas_app::survey::service::submit(store, request, Channel::Online, Some(device)).await
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    for reply in &stored {
        match reply {
            Ok(SubmitReply::Accepted(_)) => {}
            other => {
                return Err(StoreError::Backend(format!(
                    "demo submission refused: {other:?}"
                )));
            }
        }
    }
    tracing::info!(
        wave = %wave.code,
        responses = online.len(),
        secs = started.elapsed().as_secs_f64(),
        "demo submissions stored"
    );
    import(store, &wave.code, &forms).await?;
    fieldwork(store, wave, frame).await
}

/// The current wave's fieldwork as postal workers would have marked it: one worker a province
/// (`buuta.minhhoa.PP`, an account with a random password nobody knows), given the province's
/// codes commune by commune (recorded as assigned by the worker: the demonstration has no
/// officer's account). A form whose code was answered on paper is collected, one answered
/// online was handed out; of the rest (the 20% spare codes and the shortfall) half were never
/// handed out and the others were refused, found nobody, could not be found, were not eligible
/// or are still out, in proportions that vary by commune.
async fn fieldwork<S: Store + StaffStore>(
    store: &S,
    wave: &Wave,
    frame: &Frame,
) -> Result<(), StoreError> {
    use sipas_app::staff::fieldwork::{AssignedForms, Mark, NewAssignment, Outcome};
    let provinces: BTreeSet<&str> = frame
        .psus
        .iter()
        .map(|p| p.province_code.as_str())
        .collect();
    for province in provinces {
        let username = format!("buuta.minhhoa.{province}");
        let worker = sipas_app::staff::port::NewUser {
            username: username.clone(),
            display_name: format!("Bưu tá minh họa tỉnh {province}"),
            role: sipas_app::staff::Role::Field,
            province: Some(sipas_app::staff::ProvinceRef {
                geography: wave.geography,
                code: province.to_owned(),
            }),
            password_hash: crate::services::accounts::hash_password(crate::store::random_token())
                .await?,
            research: None,
            communes: Vec::new(),
        };
        let created = demo_entry(AuditAction::AccountCreated)
            .province(Some(province))
            .detail(format!("{username} (minh họa)"));
        let worker_id = store.create_user(&worker, &created).await?;
        let Some(batch) = store
            .batches(&wave.code, Some(province))
            .await?
            .into_iter()
            .find(|b| b.issued_by == "demo")
        else {
            continue;
        };
        for psu in frame.psus.iter().filter(|p| p.province_code == province) {
            let assignment = NewAssignment {
                wave_code: wave.code.clone(),
                worker_id,
                psu: psu.psu.clone(),
                forms: AssignedForms::Batch {
                    id: batch.id.clone(),
                    count: None,
                },
                hand_out_on: format!("{}-10-01", wave.year),
                collect_by: format!("{}-10-03", wave.year),
                created_by: worker_id,
            };
            let assigned = |(psu, count): &(String, i64)| {
                demo_entry(AuditAction::FieldworkAssigned)
                    .wave(&wave.code)
                    .province(Some(province))
                    .detail(format!("giao {count} phiếu của xã {psu} cho {username}"))
            };
            // A commune the batch gave no code (a target of 0) has nothing to hand out.
            let id = match store.assign(&assignment, &assigned).await {
                Ok(id) => id,
                Err(StoreError::Conflict(_)) => continue,
                Err(other) => return Err(other),
            };
            let (_, forms) = store.assignment(id).await?;
            let marks: Vec<Mark> = forms
                .iter()
                .map(|form| {
                    let now = match (form.answered, form.online) {
                        (true, false) => Outcome::Collected,
                        (true, true) => Outcome::HandedOut,
                        (false, _) => {
                            let key = format!("outcome {} {} {}", wave.code, psu.psu, form.number);
                            let u = (effect(&key) + 1.0) / 2.0;
                            // The share of them never handed out varies by commune.
                            let spare = 0.5 + 0.15 * effect(&format!("spare {}", psu.psu));
                            match u {
                                u if u < spare => Outcome::Assigned,
                                u if u < spare + 0.18 => Outcome::Refused,
                                u if u < spare + 0.28 => Outcome::NoContact,
                                u if u < spare + 0.36 => Outcome::NotFound,
                                u if u < spare + 0.42 => Outcome::NotEligible,
                                _ => Outcome::HandedOut,
                            }
                        }
                    };
                    Mark {
                        number: form.number,
                        was: form.outcome,
                        now,
                    }
                })
                .collect();
            let marked = |m: &sipas_app::staff::fieldwork::Marked| {
                demo_entry(AuditAction::FormsMarked)
                    .wave(&wave.code)
                    .province(Some(province))
                    .detail(format!("{username}: ghi {} phiếu", m.changed.len()))
            };
            store.mark_forms(id, &marks, worker_id, &marked).await?;
        }
    }
    Ok(())
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
                left_out: draft.report.quality.left_out,
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
/// closed wave drawn from the communes, its paper forms, computed and published (2024 with a
/// v2 that adds forms which arrived late); and the current wave in the field (codes, phones,
/// paper), ready to compute and review. Idempotent: a year that has a release is left alone.
pub async fn seed_history<S: Store + StaffStore>(store: &S) -> Result<(), StoreError> {
    let questionnaire =
        crate::services::questionnaires::parse(crate::services::questionnaires::SIPAS_2023)
            .map_err(|e| StoreError::Backend(e.en))?;
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
        let frame = draw_frame(store, &wave, u64::try_from(wave.year).unwrap_or(0)).await?;
        let forms = paper_forms(&questionnaire, &frame, &wave);
        if wave.year == 2024 {
            // Version 1 went out before the last province's forms arrived.
            let late_province = frame
                .psus
                .iter()
                .map(|p| p.province_code.clone())
                .max()
                .unwrap_or_default();
            let psus: HashSet<&str> = frame
                .psus
                .iter()
                .filter(|p| p.province_code == late_province)
                .map(|p| p.psu.as_str())
                .collect();
            let (late, on_time): (Vec<PaperRecord>, Vec<PaperRecord>) =
                forms.into_iter().partition(
                    |r| matches!(&r.target, PaperTarget::Point { psu, .. } if psus.contains(psu.as_str())),
                );
            import(store, &wave.code, &on_time).await?;
            publish_demo(store, &wave, "").await?;
            import(store, &wave.code, &late).await?;
            publish_demo(
                store,
                &wave,
                &format!(
                    "Bổ sung {n} phiếu giấy của tỉnh {late_province} đến sau khi công bố v1; số liệu của tỉnh \
                     và cả nước thay đổi. / Adds {n} paper forms from province {late_province} that arrived \
                     after v1; that province's and the national figures changed.",
                    n = late.len()
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
    // The current wave: in the field, so a statistician can compute and review at once.
    let current = seed_current_frame(store).await?;
    let collected: i64 = store
        .monitoring(&current.code, None)
        .await?
        .psus
        .iter()
        .map(|p| p.completes)
        .sum();
    let frame = store.frame(&current.code, None).await?;
    let expected = respondents(&questionnaire, &frame, &current).len();
    let issued = store
        .batches(&current.code, None)
        .await?
        .iter()
        .any(|b| b.issued_by == "demo");
    if collected == 0 && !issued {
        collect(store, &current, &frame, &questionnaire).await?;
    } else if usize::try_from(collected).ok() != Some(expected) {
        // An earlier run stopped half-way: its codes are stored only as hashes, so the rest
        // cannot be answered now.
        return Err(StoreError::Backend(format!(
            "the demonstration's current wave was left half-collected ({collected} of {expected} \
             responses) by an earlier run that stopped: start again from an empty database"
        )));
    }
    Ok(())
}
