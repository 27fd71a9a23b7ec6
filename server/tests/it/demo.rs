//! The demonstration is the reference scenario: a national wave designed and drawn from the
//! official communes by the design page's code, answered like a household survey (a skewed
//! profile, routed feedback items, paper and phones, communes short of their target).

use std::collections::{BTreeMap, HashMap};

use sipas_app::domain::{Geography, Wave};
use sipas_app::ports::Store;
use sipas_app::staff::FieldStore;
use sipas_app::staff::design::Rule;
use sipas_server::services::demo::{
    self, CURRENT_SEED, EXAMPLE_COMMUNE, EXAMPLE_PROVINCE, EXAMPLE_STRATUM,
};

use crate::common;

fn questionnaire() -> sipas_app::survey::questionnaire::Questionnaire {
    sipas_server::services::questionnaires::parse(
        sipas_server::services::questionnaires::SIPAS_2023,
    )
    .expect("questionnaire")
}

/// The demonstration's current wave with its drawn frame (no responses).
async fn current_wave(
    store: &sipas_server::store::SqlStore,
) -> (Wave, sipas_app::staff::frame::Frame) {
    demo::seed(store).await.expect("seed");
    let wave = demo::seed_current_frame(store).await.expect("frame");
    let frame = store.frame(&wave.code, None).await.expect("frame");
    (wave, frame)
}

/// The current wave's frame is a draw of the official list as the design page makes it; the
/// 63-province years are drawn from the same communes given back to their old provinces.
async fn drawn_from_the_official_communes(url: &str) {
    let store = common::store_on(url).await;
    let (wave, frame) = current_wave(&store).await;
    let communes: HashMap<String, sipas_app::domain::Commune> = store
        .communes()
        .await
        .expect("communes")
        .into_iter()
        .map(|c| (c.code.clone(), c))
        .collect();
    // 34 units × 11 communes, each the take of 91 (the equal rule: 34,000 over 34, in 11).
    assert_eq!(frame.psus.len(), 34 * 11);
    assert!(frame.psus.iter().all(|p| p.target == 91));
    for psu in &frame.psus {
        let official = &communes[&psu.psu];
        assert_eq!(official.province_code, psu.province_code, "{}", psu.psu);
        assert_eq!(official.name_vi, psu.name);
    }
    let example = frame
        .psus
        .iter()
        .find(|p| p.psu == EXAMPLE_COMMUNE)
        .expect("the example commune is drawn");
    assert_eq!(
        (example.province_code.as_str(), example.stratum.as_str()),
        (EXAMPLE_PROVINCE, EXAMPLE_STRATUM)
    );
    // Each stratum's population is its units' adults; its units are on the official list.
    for stratum in &frame.strata {
        let units: Vec<&sipas_app::domain::Commune> = communes
            .values()
            .filter(|c| c.province_code == stratum.province_code)
            .filter(|c| {
                let urban = stratum.stratum.ends_with("-thanh-thi");
                let whole = stratum.stratum.ends_with("-toan-tinh");
                whole || c.kind.urban() == urban
            })
            .collect();
        assert_eq!(
            units.len() as i64,
            stratum.psus_in_population,
            "{}",
            stratum.stratum
        );
        let adults: f64 = units.iter().map(|c| demo::adults(c)).sum();
        assert_eq!(stratum.population, adults as i64, "{}", stratum.stratum);
    }
    // Recorded as drawn: the seed, the rule, each commune's probability; drawing again with
    // the record's seed gives the same communes.
    let record = store
        .frame_draw(&wave.code)
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(record.draw.seed, CURRENT_SEED);
    assert_eq!(record.options.rule, Rule::Equal);
    assert!(
        record
            .draw
            .communes
            .iter()
            .all(|c| c.inclusion_probability > 0.0 && c.inclusion_probability <= 1.0)
    );
    let (again, _) = demo::design(store.as_ref(), &wave, CURRENT_SEED)
        .await
        .expect("design");
    let codes = |psus: &[sipas_app::staff::frame::FramePsu]| {
        let mut codes: Vec<String> = psus.iter().map(|p| p.psu.clone()).collect();
        codes.sort();
        codes
    };
    assert_eq!(codes(&again.psus), codes(&frame.psus));
    // The 63-province years: ten communes in each old province, 40 forms each (Yamane's
    // n ≈ 400 for a province of a million adults), every commune in one old province only.
    let old = Wave {
        code: "sipas-2023-demo".into(),
        title: String::new(),
        year: 2023,
        geography: Geography::G2004,
        questionnaire: None,
        open_link: false,
        closed: false,
    };
    let (old_frame, old_record) = demo::design(store.as_ref(), &old, 2023)
        .await
        .expect("old design");
    assert_eq!(old_record.options.rule, Rule::Yamane);
    let mut per_province: BTreeMap<&str, usize> = BTreeMap::new();
    for psu in &old_frame.psus {
        *per_province.entry(psu.province_code.as_str()).or_default() += 1;
        assert_eq!(psu.target, 40, "{}", psu.psu);
    }
    assert_eq!(per_province.len(), 63);
    assert!(per_province.values().all(|n| *n == 10), "{per_province:?}");
    let crosswalk = sipas_server::services::compute::crosswalk_2004_2025();
    for psu in &old_frame.psus {
        assert_eq!(
            crosswalk[&psu.province_code], communes[&psu.psu].province_code,
            "{} drawn in old province {}",
            psu.psu, psu.province_code
        );
    }
}

#[tokio::test]
async fn the_demo_is_drawn_from_the_official_communes_sqlite() {
    let db = common::sqlite_db();
    drawn_from_the_official_communes(&db.url).await;
}

#[tokio::test]
async fn the_demo_is_drawn_from_the_official_communes_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    drawn_from_the_official_communes(&url).await;
    common::drop_postgres_db(&name).await;
}

/// Who answers and how, over the whole current wave (no database: the frame is drawn from the
/// migration's list on a fresh SQLite file).
#[tokio::test]
async fn the_demo_answers_like_a_household_survey() {
    let db = common::sqlite_db();
    let store = common::store_on(&db.url).await;
    let (wave, frame) = current_wave(&store).await;
    let questionnaire = questionnaire();
    let people = demo::respondents(&questionnaire, &frame, &wave);
    let n = people.len() as f64;
    let share = |test: &dyn Fn(&demo::Respondent) -> bool| {
        people.iter().filter(|p| test(p)).count() as f64 / n
    };
    // About 34,000 forms: every commune its 91, but about one in ten short of it.
    let mut per_psu = vec![0i64; frame.psus.len()];
    for person in &people {
        per_psu[person.psu] += 1;
    }
    let short = per_psu.iter().filter(|n| **n < 91).count();
    assert!(per_psu.iter().all(|n| *n <= 91 && *n >= 50), "{per_psu:?}");
    assert!((20..=60).contains(&short), "{short} communes short");
    assert!((32_000.0..34_034.0).contains(&n), "{n}");
    // More women and more people over 50 than among adults (51% and 36%).
    let female = share(&|p| p.answers.get("sex") == Some(&2));
    let over_50 = share(&|p| p.answers.get("age_band").is_some_and(|a| *a >= 4));
    assert!((0.57..0.63).contains(&female), "{female}");
    assert!((0.54..0.62).contains(&over_50), "{over_50}");
    // The feedback items are answered only by those who gave feedback (about a fifth).
    let rated_feedback = share(&|p| p.answers.contains_key("fb_1"));
    assert!((0.15..0.25).contains(&rated_feedback), "{rated_feedback}");
    assert!(
        people
            .iter()
            .all(|p| !p.answers.contains_key("fb_1") || p.answers.get("gave_feedback") == Some(&1))
    );
    // A third on phones, the rest on paper; paper forms have blanks, phone answers none.
    let phones = share(&|p| p.on_phone);
    assert!((0.25..0.4).contains(&phones), "{phones}");
    let required_blank = |p: &demo::Respondent| {
        questionnaire.items().any(|item| {
            item.required && !p.answers.contains_key(&item.code) && {
                let mut before = p.answers.clone();
                before.remove(&item.code);
                item.is_relevant(&before)
            }
        })
    };
    assert!(
        people
            .iter()
            .filter(|p| p.on_phone)
            .all(|p| !required_blank(p))
    );
    assert!(share(&|p| !p.on_phone && required_blank(p)) > 0.2);
    // Satisfaction about where the Ministry's published figures are (about 80%).
    let rated: Vec<i64> = people
        .iter()
        .filter_map(|p| p.answers.get("acc_1").copied())
        .filter(|v| *v <= 5)
        .collect();
    let satisfied = rated.iter().filter(|v| **v >= 4).count() as f64 / rated.len() as f64;
    assert!((0.7..0.9).contains(&satisfied), "{satisfied}");
}

/// Raking the current wave to the population's sex and age margins moves weights and the
/// index: the sample has too many women and older people, who are more satisfied.
async fn raking_moves_the_demo(url: &str) {
    let store = common::store_on(url).await;
    let (wave, mut frame) = current_wave(&store).await;
    // Two units collected (the whole wave is ~34,000 forms; the other units stay empty).
    frame
        .psus
        .retain(|p| ["01", "79"].contains(&p.province_code.as_str()));
    frame
        .strata
        .retain(|s| ["01", "79"].contains(&s.province_code.as_str()));
    demo::collect(store.as_ref(), &wave, &frame, &questionnaire())
        .await
        .expect("collected");
    let plain = sipas_stats::methodology::Methodology::from_toml(
        sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY,
    )
    .expect("methodology");
    let raked = sipas_stats::methodology::Methodology::from_toml(&format!(
        "{}\n[calibration]\nmargins = [\"sex\", \"age_band\"]\n",
        sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY
    ))
    .expect("raking methodology");
    let margins = demo::population_margins(&frame);
    let progress = sipas_server::jobs::wave_totals::Progress::default();
    let before = sipas_server::jobs::wave_totals::wave_totals_reporting(
        store.as_ref(),
        &wave.code,
        &plain,
        None,
        &progress,
    )
    .await
    .expect("weighted");
    let after = sipas_server::jobs::wave_totals::wave_totals_reporting(
        store.as_ref(),
        &wave.code,
        &raked,
        Some(&margins),
        &progress,
    )
    .await
    .expect("raked");
    // g = w / w₀: the young weigh about 2.4 times more, the over-60s about two thirds.
    for province in &after.weighting {
        let (_, g_min, g_max) = province.calibrated.expect("raked");
        println!("{}: g in [{g_min:.3}, {g_max:.3}]", province.province);
        assert!(
            g_min < 0.75 && g_max > 1.8,
            "{}: g in [{g_min}, {g_max}]",
            province.province
        );
    }
    let index = |stats: &sipas_stats::totals::SufficientStats, m, province: &str| {
        sipas_stats::estimate::estimate_all(stats, m)
            .expect("estimates")
            .cells
            .into_iter()
            .find(|c| c.domain == province && c.node == "sipas" && c.subgroup.is_empty())
            .expect("index")
            .estimate
    };
    // The stored wave's per-commune totals fail the disclosure rule (small cells), raked or not.
    assert!(matches!(
        sipas_stats::disclosure::public_totals(&before.stats, &plain, 5, None),
        Ok(Err(sipas_stats::disclosure::Withheld::SmallCells(_)))
    ));
    for province in ["01", "79"] {
        let moved = index(&after.stats, &raked, province) - index(&before.stats, &plain, province);
        println!("{province}: raking moved the index by {moved:.4}");
        assert!(
            moved < -0.01,
            "{province}: raking moved the index by {moved}"
        );
    }
}

#[tokio::test]
async fn raking_moves_the_demo_sqlite() {
    let db = common::sqlite_db();
    raking_moves_the_demo(&db.url).await;
}

#[tokio::test]
async fn raking_moves_the_demo_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    raking_moves_the_demo(&url).await;
    common::drop_postgres_db(&name).await;
}

/// The disclosure rule for per-commune totals (no commune × item cell of satisfied, not
/// satisfied or not answering with 1 to 4 people; `stats::disclosure::public_totals`) on the
/// current wave's answers: the numbers docs/methodology.md gives.
#[tokio::test]
async fn the_disclosure_rule_on_the_demo_wave() {
    let db = common::sqlite_db();
    let store = common::store_on(&db.url).await;
    let (wave, frame) = current_wave(&store).await;
    let items = sipas_stats::methodology::Methodology::from_toml(
        sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY,
    )
    .expect("methodology")
    .compile()
    .expect("tree")
    .items;
    let people = demo::respondents(&questionnaire(), &frame, &wave);
    // (commune, sex × age band or none) → per item [satisfied, not satisfied, not answering].
    type Cell = (usize, Option<(i64, i64)>);
    let mut cells: BTreeMap<Cell, Vec<[u32; 3]>> = BTreeMap::new();
    for person in &people {
        let profile = (person.answers["sex"], person.answers["age_band"]);
        for key in [(person.psu, None), (person.psu, Some(profile))] {
            let counts = cells
                .entry(key)
                .or_insert_with(|| vec![[0; 3]; items.len()]);
            for (count, item) in counts.iter_mut().zip(&items) {
                match person.answers.get(item) {
                    Some(4 | 5) => count[0] += 1,
                    Some(1..=3) => count[1] += 1,
                    _ => count[2] += 1,
                }
            }
        }
    }
    let small = |c: &[u32; 3]| c.iter().any(|n| (1..5).contains(n));
    let tally = |subgroups: bool| {
        let chosen: Vec<&Vec<[u32; 3]>> = cells
            .iter()
            .filter(|((_, group), _)| group.is_some() == subgroups)
            .map(|(_, counts)| counts)
            .collect();
        let all = chosen.len() * items.len();
        let small_cells = chosen
            .iter()
            .flat_map(|c| c.iter())
            .filter(|c| small(c))
            .count();
        let groups = chosen.iter().filter(|c| c.iter().any(small)).count();
        // Which count is small: satisfied, not satisfied, not answering.
        let by_kind: Vec<usize> = (0..3)
            .map(|k| {
                chosen
                    .iter()
                    .flat_map(|c| c.iter())
                    .filter(|c| (1..5).contains(&c[k]))
                    .count()
            })
            .collect();
        (all, small_cells, groups, chosen.len(), by_kind)
    };
    // 374 communes × 34 items: 36% of the cells have a count of 1 to 4 people, in every
    // commune; of those small counts, most are the few not answering (not applicable, a blank,
    // a feedback item not asked), then the few not satisfied (the last number: small counts
    // of each kind; a cell can have two).
    assert_eq!(
        tally(false),
        (12_716, 4_592, 374, 374, vec![5, 1_073, 3_539])
    );
    // By sex × age band inside a commune: 93% of the cells.
    assert_eq!(
        tally(true),
        (125_732, 116_590, 3_698, 3_698, vec![51_269, 78_812, 61_625])
    );
}
