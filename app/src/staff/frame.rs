//! The sample frame of a wave: strata (province, stratum, population, PSUs in the population)
//! and the sampled PSUs (communes) with their target completes. The weights are built from it.
//!
//! One file, one row per sampled PSU; the stratum columns repeat on each of its PSUs' rows and
//! must agree. All or nothing: a file with any problem stores nothing.
//!
//! On the 2025 map a PSU is a commune, ward or special zone named by its official 5-digit code:
//! an unknown code, or one of another province, is refused; the official name is used (the
//! `psu_name` column may be empty); an empty `stratum` is the province's urban stratum for a
//! ward and its rural one otherwise, and an empty `stratum_psus` of such a stratum is the number
//! of the province's wards (or communes and special zones) on the list.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::sheet::{Problems, Table, parse_count};
use crate::domain::Commune;

/// The default stratum of a commune of the 2025 map: urban for a ward, rural otherwise.
pub fn default_stratum(commune: &Commune) -> String {
    let area = if commune.kind.urban() {
        "thanh-thi"
    } else {
        "nong-thon"
    };
    format!("{}-{area}", commune.province_code)
}

pub const COLUMNS: [&str; 7] = [
    "province",
    "stratum",
    "stratum_population",
    "stratum_psus",
    "psu",
    "psu_name",
    "target",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameStratum {
    pub province_code: String,
    pub stratum: String,
    /// Adults living in the stratum (the population the weights add up to).
    pub population: i64,
    /// PSUs (communes) in the stratum's population, sampled or not.
    pub psus_in_population: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FramePsu {
    pub province_code: String,
    pub stratum: String,
    pub psu: String,
    pub name: String,
    pub target: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub strata: Vec<FrameStratum>,
    pub psus: Vec<FramePsu>,
}

impl Frame {
    pub fn total_target(&self) -> i64 {
        self.psus.iter().map(|p| p.target).sum()
    }
}

/// Identifiers (strata, PSU codes): 1 to 40 visible characters.
fn valid_key(text: &str) -> bool {
    !text.is_empty() && text.chars().count() <= 40 && !text.chars().any(char::is_control)
}

/// Checks a frame file against the provinces of the wave's geography and, on the 2025 map, its
/// communes (by code).
pub fn parse(
    mut table: Table,
    provinces: &HashSet<String>,
    communes: Option<&HashMap<String, Commune>>,
) -> Result<Frame, Problems> {
    table.normalise_header();
    let mut problems = Problems::default();
    let Some(cols) = table.require(&COLUMNS, &mut problems) else {
        return Err(problems);
    };
    let [
        province,
        stratum,
        population,
        psus_in_pop,
        psu,
        psu_name,
        target,
    ] = [
        cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6],
    ];
    // (province, stratum) → (stratum, first row that named it)
    let mut strata: BTreeMap<(String, String), (FrameStratum, usize)> = BTreeMap::new();
    let mut sampled: BTreeMap<(String, String), i64> = BTreeMap::new();
    let mut seen_psus: HashSet<String> = HashSet::new();
    // stratum code → (its province, the row that first named it)
    let mut stratum_province: std::collections::HashMap<String, (String, usize)> =
        std::collections::HashMap::new();
    let mut psus = Vec::new();
    // (province, urban) → how many such units the province has: a default stratum's size.
    let mut units_by_area: HashMap<(&str, bool), i64> = HashMap::new();
    for commune in communes.into_iter().flat_map(|list| list.values()) {
        *units_by_area
            .entry((commune.province_code.as_str(), commune.kind.urban()))
            .or_default() += 1;
    }
    for (row_number, row) in table.data() {
        let cell = |index| Table::cell(row, index);
        let province_code = cell(province).to_owned();
        if !provinces.contains(&province_code) {
            problems.add(
                row_number,
                COLUMNS[0],
                (
                    format!("{province_code:?} không phải mã tỉnh trên bản đồ của đợt này"),
                    format!("{province_code:?} is not a province code of this wave's geography"),
                ),
            );
        }
        let psu_code = cell(psu).to_owned();
        let official = match communes {
            None => None,
            Some(list) => match list.get(&psu_code) {
                Some(commune) if commune.province_code == province_code => Some(commune),
                Some(commune) => {
                    problems.add(
                        row_number,
                        COLUMNS[4],
                        (
                            format!(
                                "{psu_code} ({}) thuộc tỉnh {}, không thuộc tỉnh {province_code}",
                                commune.name_vi, commune.province_code
                            ),
                            format!(
                                "{psu_code} ({}) is in province {}, not {province_code}",
                                commune.name_vi, commune.province_code
                            ),
                        ),
                    );
                    None
                }
                None => {
                    problems.add(
                        row_number,
                        COLUMNS[4],
                        (
                            format!(
                                "{psu_code:?} không phải mã chính thức (5 chữ số) của một xã, phường hay đặc khu trên bản đồ từ 1/7/2025"
                            ),
                            format!(
                                "{psu_code:?} is not the official 5-digit code of a commune, ward or special zone of the map in force since 1 July 2025"
                            ),
                        ),
                    );
                    None
                }
            },
        };
        let defaulted = official.filter(|_| cell(stratum).is_empty());
        // A code not on the list says so once: its empty defaults are not reported again.
        let unresolved = communes.is_some() && official.is_none();
        let stratum_key = match defaulted {
            Some(commune) => default_stratum(commune),
            None => cell(stratum).to_owned(),
        };
        let reported_elsewhere = unresolved && stratum_key.is_empty();
        if !valid_key(&stratum_key) && !reported_elsewhere {
            problems.add(
                row_number,
                COLUMNS[1],
                (
                    "cần tên tầng từ 1 đến 40 ký tự",
                    "a stratum name of 1 to 40 characters is needed",
                ),
            );
        }
        let positive = |index, column: &str, problems: &mut Problems| match parse_count(cell(index))
        {
            Some(n) if n > 0 => Some(n),
            _ => {
                problems.add(
                    row_number,
                    column,
                    (
                        "cần một số nguyên lớn hơn 0",
                        "a whole number above 0 is needed",
                    ),
                );
                None
            }
        };
        let pop = positive(population, COLUMNS[2], &mut problems);
        let n_psus = match defaulted {
            Some(commune) if cell(psus_in_pop).is_empty() => units_by_area
                .get(&(commune.province_code.as_str(), commune.kind.urban()))
                .copied(),
            None if unresolved && cell(psus_in_pop).is_empty() => None,
            _ => positive(psus_in_pop, COLUMNS[3], &mut problems),
        };
        if !valid_key(&psu_code) {
            problems.add(
                row_number,
                COLUMNS[4],
                (
                    "cần mã PSU từ 1 đến 40 ký tự",
                    "a PSU code of 1 to 40 characters is needed",
                ),
            );
        } else if !seen_psus.insert(psu_code.clone()) {
            problems.add(
                row_number,
                COLUMNS[4],
                (
                    format!("PSU {psu_code:?} xuất hiện hai lần"),
                    format!("PSU {psu_code:?} is listed twice"),
                ),
            );
        }
        let name = match official {
            Some(commune) => commune.name_vi.clone(),
            None => cell(psu_name).to_owned(),
        };
        if (name.is_empty() && !unresolved) || name.chars().count() > 120 {
            problems.add(
                row_number,
                COLUMNS[5],
                (
                    "cần tên từ 1 đến 120 ký tự",
                    "a name of 1 to 120 characters is needed",
                ),
            );
        }
        let target_value = match parse_count(cell(target)) {
            Some(n) if n <= 100_000 => Some(n),
            _ => {
                problems.add(
                    row_number,
                    COLUMNS[6],
                    (
                        "cần một số nguyên từ 0 đến 100000",
                        "a whole number from 0 to 100000 is needed",
                    ),
                );
                None
            }
        };
        let (Some(pop), Some(n_psus), Some(target_value)) = (pop, n_psus, target_value) else {
            continue;
        };
        // A stratum belongs to one province: the same code in another would pool two
        // provinces' strata when the export is analysed (R's svydesign does so silently).
        match stratum_province.get(&stratum_key) {
            Some((other, first_row)) if *other != province_code => problems.add(
                row_number,
                COLUMNS[1],
                (
                    format!(
                        "tầng {stratum_key:?} đã dùng ở tỉnh {other} (dòng {first_row}): mã tầng \
                         không được trùng giữa các tỉnh; hãy thêm mã tỉnh phía trước, ví dụ \
                         {province_code}-{stratum_key}"
                    ),
                    format!(
                        "stratum {stratum_key:?} is already used in province {other} (row {first_row}): \
                         stratum codes must be unique across provinces; prefix them with the \
                         province, e.g. {province_code}-{stratum_key}"
                    ),
                ),
            ),
            Some(_) => {}
            None => {
                stratum_province.insert(stratum_key.clone(), (province_code.clone(), row_number));
            }
        }
        let key = (province_code.clone(), stratum_key.clone());
        match strata.get(&key) {
            Some((known, first_row)) => {
                if known.population != pop {
                    problems.add(
                        row_number,
                        COLUMNS[2],
                        (
                            format!("dòng {first_row} ghi cho tầng này {}", known.population),
                            format!("row {first_row} gives this stratum {}", known.population),
                        ),
                    );
                }
                if known.psus_in_population != n_psus {
                    problems.add(
                        row_number,
                        COLUMNS[3],
                        (
                            format!(
                                "dòng {first_row} ghi cho tầng này {}",
                                known.psus_in_population
                            ),
                            format!(
                                "row {first_row} gives this stratum {}",
                                known.psus_in_population
                            ),
                        ),
                    );
                }
            }
            None => {
                strata.insert(
                    key.clone(),
                    (
                        FrameStratum {
                            province_code: province_code.clone(),
                            stratum: stratum_key.clone(),
                            population: pop,
                            psus_in_population: n_psus,
                        },
                        row_number,
                    ),
                );
            }
        }
        *sampled.entry(key).or_default() += 1;
        psus.push(FramePsu {
            province_code,
            stratum: stratum_key,
            psu: psu_code,
            name,
            target: target_value,
        });
    }
    for (key, (stratum, first_row)) in &strata {
        let count = sampled.get(key).copied().unwrap_or(0);
        if count > stratum.psus_in_population {
            problems.add(
                *first_row,
                COLUMNS[3],
                (
                    format!(
                        "tầng {:?} của tỉnh {} có {count} PSU được chọn nhưng tổng thể chỉ có {}",
                        stratum.stratum, stratum.province_code, stratum.psus_in_population
                    ),
                    format!(
                        "stratum {:?} of province {} has {count} sampled PSUs but only {} in its population",
                        stratum.stratum, stratum.province_code, stratum.psus_in_population
                    ),
                ),
            );
        }
    }
    if psus.is_empty() && problems.is_empty() {
        problems.add(
            0,
            "",
            ("tệp không có dòng dữ liệu nào", "the file has no data rows"),
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Frame {
        strata: strata.into_values().map(|(s, _)| s).collect(),
        psus,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[&str]) -> Table {
        let mut lines = rows
            .iter()
            .map(|r| r.split(',').map(str::to_owned).collect());
        Table {
            header: lines.next().unwrap_or_default(),
            rows: lines.collect(),
            row_offset: 0,
        }
    }

    fn provinces() -> HashSet<String> {
        ["01", "79"].into_iter().map(str::to_owned).collect()
    }

    const HEADER: &str =
        "\u{feff}Province,stratum,stratum_population,stratum_psus,psu,psu_name,target";

    #[test]
    fn a_good_frame() {
        let frame = parse(
            table(&[
                HEADER,
                "01,urban,500000,120,00001,Phường Ba Đình,30",
                "01,urban,500000,120,00004,Phường Ngọc Hà,30",
                "79,rural,800000,200,26734,Xã Bình Chánh,40",
            ]),
            &provinces(),
            None,
        )
        .expect("valid frame");
        assert_eq!(frame.strata.len(), 2);
        assert_eq!(frame.psus.len(), 3);
        assert_eq!(frame.total_target(), 100);
    }

    #[test]
    fn problems_name_row_and_column() {
        let problems = parse(
            table(&[
                HEADER,
                "01,urban,500000,120,00001,Phường Ba Đình,30",
                "01,urban,400000,120,00001,Phường Ngọc Hà,x",
                "99,rural,0,1,26734,,40",
            ]),
            &provinces(),
            None,
        )
        .expect_err("invalid frame");
        let text: Vec<String> = problems.listed.iter().map(ToString::to_string).collect();
        assert!(text.contains(&"row 3, column psu: PSU \"00001\" is listed twice".to_owned()));
        // The page shows the reader's language: each problem is written in both.
        assert!(problems.listed.iter().any(|p| p.row == 3
            && p.column == "psu"
            && p.message.vi == "PSU \"00001\" xuất hiện hai lần"));
        assert!(
            problems
                .listed
                .iter()
                .all(|p| !p.message.vi.is_empty() && p.message.vi != p.message.en)
        );
        assert!(text.contains(
            &"row 3, column target: a whole number from 0 to 100000 is needed".to_owned()
        ));
        assert!(
            text.iter()
                .any(|t| t.starts_with("row 4, column province:"))
        );
        assert!(text.contains(
            &"row 4, column stratum_population: a whole number above 0 is needed".to_owned()
        ));
        assert!(
            text.iter()
                .any(|t| t.starts_with("row 4, column psu_name:"))
        );
    }

    #[test]
    fn disagreeing_strata_and_missing_columns() {
        let problems = parse(
            table(&[
                HEADER,
                "01,urban,500000,1,00001,A,3",
                "01,urban,400000,1,00002,B,3",
            ]),
            &provinces(),
            None,
        )
        .expect_err("invalid frame");
        let text: Vec<String> = problems.listed.iter().map(ToString::to_string).collect();
        assert!(text.contains(
            &"row 3, column stratum_population: row 2 gives this stratum 500000".to_owned()
        ));
        assert!(
            text.iter()
                .any(|t| t.contains("has 2 sampled PSUs but only 1"))
        );
        let missing =
            parse(table(&["province,stratum", "01,a"]), &provinces(), None).expect_err("missing");
        assert_eq!(missing.total, 5);
    }

    #[test]
    fn a_stratum_code_in_two_provinces_is_refused() {
        let problems = parse(
            table(&[
                HEADER,
                "01,urban,500000,120,00001,Phường Ba Đình,30",
                "79,urban,800000,200,26734,Phường Bến Nghé,40",
            ]),
            &provinces(),
            None,
        )
        .expect_err("a shared stratum code");
        let text: Vec<String> = problems.listed.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|t| t.starts_with("row 3, column stratum:")
                && t.contains("province 01 (row 2)")
                && t.contains("79-urban")),
            "{text:?}"
        );
    }

    fn communes() -> HashMap<String, Commune> {
        use crate::domain::CommuneKind;
        [
            ("01", "00004", "Phường Ba Đình", CommuneKind::Ward),
            ("01", "00008", "Phường Ngọc Hà", CommuneKind::Ward),
            ("01", "00376", "Xã Sóc Sơn", CommuneKind::Commune),
            ("01", "00377", "Xã Đa Phúc", CommuneKind::Commune),
            ("01", "00378", "Xã Nội Bài", CommuneKind::Commune),
            ("79", "26740", "Phường Sài Gòn", CommuneKind::Ward),
        ]
        .into_iter()
        .map(|(province, code, name, kind)| {
            (
                code.to_owned(),
                Commune {
                    province_code: province.to_owned(),
                    code: code.to_owned(),
                    name_vi: name.to_owned(),
                    kind,
                },
            )
        })
        .collect()
    }

    #[test]
    fn on_the_2025_map_psus_are_official_communes_with_default_strata() {
        let list = communes();
        let frame = parse(
            table(&[
                HEADER,
                // Names and strata from the list; a typed name is replaced by the official one.
                "01,,500000,,00004,,30",
                "01,,300000,,00376,Sóc Sơn,30",
                "01,,300000,,00377,,30",
                "79,79-trung-tam,800000,200,26740,,40",
            ]),
            &provinces(),
            Some(&list),
        )
        .expect("valid frame");
        let names: Vec<&str> = frame.psus.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Phường Ba Đình",
                "Xã Sóc Sơn",
                "Xã Đa Phúc",
                "Phường Sài Gòn"
            ]
        );
        let strata: Vec<(&str, i64)> = frame
            .strata
            .iter()
            .map(|s| (s.stratum.as_str(), s.psus_in_population))
            .collect();
        // Hà Nội's wards (2 on this list) and communes (3); a stratum given keeps its count.
        assert_eq!(
            strata,
            [
                ("01-nong-thon", 3),
                ("01-thanh-thi", 2),
                ("79-trung-tam", 200)
            ]
        );

        // An unknown code and a commune of another province are refused, naming row and column.
        let problems = parse(
            table(&[HEADER, "01,,500000,,99999,,30", "79,,800000,,00008,,40"]),
            &provinces(),
            Some(&list),
        )
        .expect_err("refused");
        let text: Vec<String> = problems
            .listed
            .iter()
            .map(|p| format!("{} {} {}", p.row, p.column, p.message.en))
            .collect();
        assert!(
            text.iter()
                .any(|t| t.starts_with("2 psu") && t.contains("official 5-digit code")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("3 psu") && t.contains("is in province 01, not 79")),
            "{text:?}"
        );
    }
}
