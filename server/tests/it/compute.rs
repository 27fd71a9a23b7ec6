//! `sipas compute` end to end: files in, results out, errors that name the place.

use std::path::Path;

fn golden(name: &str) -> String {
    Path::new(
        &std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned()),
    )
    .join("../stats/golden")
    .join(name)
    .display()
    .to_string()
}

/// A golden microdata file without its `fpc` column (the golden files quote no commas).
fn golden_without_fpc(name: &str) -> String {
    let text = std::fs::read_to_string(golden(name)).expect("golden");
    let header: Vec<&str> = text.lines().next().expect("header").split(',').collect();
    let fpc = header
        .iter()
        .position(|h| *h == "\"fpc\"")
        .expect("fpc column");
    text.lines()
        .map(|line| {
            let mut fields: Vec<&str> = line.split(',').collect();
            fields.remove(fpc);
            fields.join(",") + "\n"
        })
        .collect()
}

fn sipas(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args)
        .output()
        .expect("run sipas")
}

/// `sipas compute --data DATA` with the golden methodology, and one more flag.
fn compute_data(
    data: &std::path::Path,
    out: &std::path::Path,
    flag: Option<&str>,
) -> std::process::Output {
    let (data, out) = (data.display().to_string(), out.display().to_string());
    let methodology = golden("methodology.toml");
    let mut args = vec![
        "compute",
        "--data",
        &data,
        "--methodology",
        &methodology,
        "--out",
        &out,
    ];
    args.extend(flag);
    sipas(&args)
}

/// The run failed saying `expected`, and wrote nothing to `out`.
fn refused(output: &std::process::Output, out: &std::path::Path, expected: &str) {
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains(expected), "{message}");
    assert!(!out.exists(), "nothing written");
}

/// The run succeeded (its error output is the failure's message).
fn succeeded(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn writes_csv_and_json() {
    let dir = tempfile::tempdir().expect("dir");
    for ext in ["csv", "json"] {
        let out = dir.path().join(format!("results.{ext}"));
        let output = sipas(&[
            "compute",
            "--data",
            &golden("microdata.csv"),
            "--methodology",
            &golden("methodology.toml"),
            "--out",
            out.to_str().expect("path"),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(&out).expect("results");
        assert!(text.contains("national_mean") && text.contains("sipas"));
        if ext == "csv" {
            assert!(text.starts_with(
                "domain,subgroup,node,n,df,estimate,se,ci_low,ci_high,deff,n_eff,flag"
            ));
        } else {
            let rows: Vec<serde_json::Value> = serde_json::from_str(&text).expect("json");
            assert!(rows.len() > 100);
        }
    }
}

#[test]
fn a_bad_file_names_row_and_column_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("bad.csv");
    let original = std::fs::read_to_string(golden("microdata.csv")).expect("golden");
    let mut lines: Vec<String> = original.lines().map(String::from).collect();
    // Row 5 of the file gets a weight that is not a number.
    let header: Vec<&str> = lines[0].split(',').collect();
    let weight_col = header
        .iter()
        .position(|h| h.trim_matches('"') == "weight")
        .expect("weight column");
    let mut fields: Vec<String> = lines[4].split(',').map(String::from).collect();
    fields[weight_col] = "heavy".into();
    lines[4] = fields.join(",");
    std::fs::write(&data, lines.join("\n")).expect("write");
    let out = dir.path().join("results.csv");
    std::fs::write(&out, "previous results").expect("write");
    let output = sipas(&[
        "compute",
        "--data",
        data.to_str().expect("p"),
        "--methodology",
        &golden("methodology.toml"),
        "--out",
        out.to_str().expect("p"),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("row 5, column weight"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("kept"),
        "previous results",
        "nothing half-written"
    );
}

/// The `sample` column as a person may leave it after editing the file in a spreadsheet.
#[test]
fn open_link_rows_are_found_whatever_the_case_and_spacing() {
    let dir = tempfile::tempdir().expect("dir");
    let original = std::fs::read_to_string(golden("microdata.csv")).expect("golden");
    for (header, value) in [(" Sample ", " OPEN "), ("SAMPLE", "Open")] {
        let data = dir.path().join("edited.csv");
        let rows: Vec<String> = original
            .lines()
            .enumerate()
            .map(|(i, line)| match i {
                0 => format!("{line},{header}"),
                5 => format!("{line},{value}"),
                _ => format!("{line},probability"),
            })
            .collect();
        std::fs::write(&data, rows.join("\n")).expect("write");
        let out = dir.path().join("results.csv");
        let refused = sipas(&[
            "compute",
            "--data",
            &data.display().to_string(),
            "--methodology",
            &golden("methodology.toml"),
            "--out",
            &out.display().to_string(),
        ]);
        assert!(
            !refused.status.success(),
            "{header:?}/{value:?} let through"
        );
        let message = String::from_utf8_lossy(&refused.stderr);
        assert!(message.contains("the first at row 6"), "{message}");
        assert!(!out.exists());
    }
}

/// The export's `quality` column: rows the review excluded are refused (the platform's indices
/// leave them out); without them the results are those of the file with those rows deleted,
/// and `--keep-excluded` computes with them.
#[test]
fn rows_the_quality_review_excluded_are_refused_or_kept_on_request() {
    let dir = tempfile::tempdir().expect("dir");
    let original = std::fs::read_to_string(golden("microdata.csv")).expect("golden");
    let lines: Vec<&str> = original.lines().collect();
    let marked: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| match i {
            0 => format!("{line},quality"),
            4 => format!("{line},excluded:speeding"),
            // Retyped in a spreadsheet.
            9 => format!("{line}, Excluded:other"),
            7 => format!("{line},awaiting_review"),
            _ => format!("{line},counted"),
        })
        .collect();
    let with_quality = dir.path().join("with-quality.csv");
    std::fs::write(&with_quality, marked.join("\n")).expect("write");
    let out = dir.path().join("results.csv");
    refused(
        &compute_data(&with_quality, &out, None),
        &out,
        "2 row(s), the first at row 5, column quality",
    );

    // With the two rows deleted (as the platform leaves them out) it computes; kept on
    // request, the results are the whole file's.
    let kept: Vec<String> = marked
        .iter()
        .enumerate()
        .filter(|(i, _)| ![4, 9].contains(i))
        .map(|(_, line)| line.clone())
        .collect();
    let without = dir.path().join("without.csv");
    std::fs::write(&without, kept.join("\n")).expect("write");
    let out_without = dir.path().join("without-results.csv");
    succeeded(&compute_data(&without, &out_without, None));
    let out_kept = dir.path().join("kept-results.csv");
    succeeded(&compute_data(
        &with_quality,
        &out_kept,
        Some("--keep-excluded"),
    ));
    let out_original = dir.path().join("original-results.csv");
    succeeded(&compute_data(
        std::path::Path::new(&golden("microdata.csv")),
        &out_original,
        None,
    ));
    let read = |path: &std::path::Path| std::fs::read_to_string(path).expect("results");
    assert_eq!(read(&out_kept), read(&out_original), "kept: the whole file");
    assert_ne!(read(&out_without), read(&out_original), "two rows fewer");
}

#[test]
fn open_link_rows_are_refused_or_every_result_says_non_probability() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("with-open.csv");
    let original = std::fs::read_to_string(golden("microdata.csv")).expect("golden");
    // The export's `sample` column, with row 4 of the file from the open link.
    let with_sample: Vec<String> = original
        .lines()
        .enumerate()
        .map(|(i, line)| match i {
            0 => format!("{line},sample"),
            3 => format!("{line},open"),
            _ => format!("{line},probability"),
        })
        .collect();
    std::fs::write(&data, with_sample.join("\n")).expect("write");
    let out = dir.path().join("results.csv");
    refused(
        &compute_data(&data, &out, None),
        &out,
        "1 row(s), the first at row 4, column sample",
    );

    succeeded(&compute_data(&data, &out, Some("--non-probability")));
    let mut reader = csv::Reader::from_path(&out).expect("results");
    let flag = reader
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == "flag")
        .expect("flag column");
    let flags: Vec<String> = reader
        .records()
        .map(|r| r.expect("row")[flag].to_owned())
        .collect();
    assert!(flags.iter().any(|f| f == "non_probability"));
    assert!(
        flags
            .iter()
            .all(|f| ["non_probability", "suppressed", "no_data"].contains(&f.as_str())),
        "no result looks like a probability estimate"
    );
}

/// `--population` rakes each province to its census totals; the numbers are R's
/// `calibrate(calfun = "raking")` (stats/golden, scenario "calibrated").
#[test]
fn calibrated_compute_matches_r_and_needs_its_population_file() {
    let dir = tempfile::tempdir().expect("dir");
    // R's calibrated design has no fpc.
    let data = golden_without_fpc("microdata_calibrated.csv");
    let data_path = dir.path().join("data.csv");
    std::fs::write(&data_path, data).expect("write data");
    let methodology = std::fs::read_to_string(golden("methodology.toml")).expect("methodology")
        + "\n[calibration]\nmargins = [\"sex\", \"urban\"]\n";
    let methodology_path = dir.path().join("methodology.toml");
    std::fs::write(&methodology_path, methodology).expect("write methodology");
    let out = dir.path().join("results.csv");
    let args = |population: Option<&str>| {
        let mut args = vec![
            "compute".to_owned(),
            "--data".to_owned(),
            data_path.display().to_string(),
            "--methodology".to_owned(),
            methodology_path.display().to_string(),
            "--out".to_owned(),
            out.display().to_string(),
        ];
        if let Some(p) = population {
            args.extend(["--population".to_owned(), p.to_owned()]);
        }
        args
    };
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args(None))
        .output()
        .expect("run");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--population"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let population = golden("population.csv");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
        .args(args(Some(&population)))
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results = std::fs::read_to_string(&out).expect("results");
    let row = results
        .lines()
        .find(|l| l.starts_with("01,,sipas,"))
        .expect("province 01 overall");
    let fields: Vec<&str> = row.split(',').collect();
    let expected = std::fs::read_to_string(golden("expected.csv")).expect("expected");
    let r_row = expected
        .lines()
        .find(|l| l.starts_with("\"calibrated\",\"logit\",\"01\",\"\",\"sipas\","))
        .expect("R row");
    let r: Vec<f64> = r_row
        .split(',')
        .skip(5)
        .take(8)
        .map(|f| f.trim_matches('"').parse().expect("number"))
        .collect();
    // n, df, estimate, se, ci_low, ci_high, deff in both files' order.
    for (i, theirs) in [(3usize, r[0]), (4, r[1]), (5, r[2]), (6, r[3]), (9, r[6])] {
        let ours: f64 = fields[i].parse().expect("number");
        assert!(
            (ours - theirs).abs() <= 1e-7 * theirs.abs(),
            "column {i}: ours {ours}, R {theirs}"
        );
    }
}

/// `--previous-data` adds each cell's change since last year; with `--linked-psus` (communes
/// surveyed in both years) its variance is R's on the stacked design (stats/golden/linked.csv).
#[test]
fn changes_since_last_year_independent_and_linked() {
    let dir = tempfile::tempdir().expect("dir");
    let previous = golden_without_fpc("microdata.csv");
    let previous_path = dir.path().join("previous.csv");
    std::fs::write(&previous_path, previous).expect("write");
    let run = |linked: bool| {
        let out = dir.path().join(format!("results-{linked}.csv"));
        let mut args = vec![
            "compute".to_owned(),
            "--data".to_owned(),
            golden("microdata_year2.csv"),
            "--methodology".to_owned(),
            golden("methodology.toml"),
            "--previous-data".to_owned(),
            previous_path.display().to_string(),
            "--out".to_owned(),
            out.display().to_string(),
        ];
        if linked {
            args.push("--linked-psus".to_owned());
        }
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sipas"))
            .args(&args)
            .output()
            .expect("run");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::read_to_string(out).expect("results")
    };
    let column = |text: &str, name: &str| {
        text.lines()
            .next()
            .expect("header")
            .split(',')
            .position(|h| h == name)
            .expect(name)
    };
    let value = |text: &str, prefix: &str, name: &str| -> f64 {
        let row = text
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no row {prefix}"));
        row.split(',')
            .nth(column(text, name))
            .expect("field")
            .parse()
            .expect("number")
    };
    let linked = run(true);
    let r = std::fs::read_to_string(golden("linked.csv")).expect("linked");
    for line in r.lines().skip(1) {
        let f: Vec<&str> = line.split(',').map(|x| x.trim_matches('"')).collect();
        let prefix = format!("{},,{},", f[0], f[1]);
        let (difference, se): (f64, f64) = (f[2].parse().expect("d"), f[3].parse().expect("se"));
        let ours_d = value(&linked, &prefix, "change");
        let ours_se = value(&linked, &prefix, "change_se");
        assert!(
            (ours_d - difference).abs() <= 1e-9 * difference.abs(),
            "{prefix}: {ours_d} vs {difference}"
        );
        assert!(
            (ours_se - se).abs() <= 1e-9 * se,
            "{prefix}: {ours_se} vs {se}"
        );
    }
    // Independent samples: the variances add.
    let independent = run(false);
    let before = {
        let out = dir.path().join("before.csv");
        let output = sipas(&[
            "compute",
            "--data",
            previous_path.to_str().expect("path"),
            "--methodology",
            &golden("methodology.toml"),
            "--out",
            out.to_str().expect("path"),
        ]);
        assert!(output.status.success());
        std::fs::read_to_string(out).expect("before")
    };
    let prefix = "national,,sipas,";
    let se_before = value(&before, prefix, "se");
    let se_after = value(&independent, prefix, "se");
    let se_change = value(&independent, prefix, "change_se");
    assert!((se_change - (se_before.powi(2) + se_after.powi(2)).sqrt()).abs() < 1e-12);
}

/// `--write-totals` then `--totals`: the same results file, byte for byte, from per-PSU totals
/// alone (a release's open data), and the same input digest printed.
#[test]
fn totals_reproduce_the_results_exactly() {
    let dir = tempfile::tempdir().expect("dir");
    let totals = dir.path().join("totals.json");
    let from_data = dir.path().join("from-data.csv");
    let from_totals = dir.path().join("from-totals.csv");
    let first = sipas(&[
        "compute",
        "--data",
        &golden("microdata.csv"),
        "--methodology",
        &golden("methodology.toml"),
        "--write-totals",
        totals.to_str().expect("path"),
        "--out",
        from_data.to_str().expect("path"),
    ]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let second = sipas(&[
        "compute",
        "--totals",
        totals.to_str().expect("path"),
        "--methodology",
        &golden("methodology.toml"),
        "--out",
        from_totals.to_str().expect("path"),
    ]);
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(
        std::fs::read(&from_data).expect("a"),
        std::fs::read(&from_totals).expect("b")
    );
    let digest = |out: &std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        text.split("sha256:")
            .nth(1)
            .map(|d| d[..64].to_owned())
            .expect("digest")
    };
    assert_eq!(digest(&first), digest(&second));
    // The digest is the file's SHA-256: anyone can check a release's open data against it.
    assert_eq!(
        digest(&first),
        sipas_app::survey::codes::sha256_hex(&std::fs::read(&totals).expect("totals"))
    );
    // Neither or both inputs: a clear usage error.
    let neither = sipas(&[
        "compute",
        "--methodology",
        &golden("methodology.toml"),
        "--out",
        "x.csv",
    ]);
    assert!(!neither.status.success());
    assert!(String::from_utf8_lossy(&neither.stderr).contains("--data"));
    // A damaged totals file names the place and writes nothing.
    let text = std::fs::read_to_string(&totals).expect("totals");
    std::fs::write(&totals, text.replacen("\"rows\":[", "\"rows\":[7,", 1)).expect("write");
    let broken_out = dir.path().join("broken.csv");
    let broken = sipas(&[
        "compute",
        "--totals",
        totals.to_str().expect("path"),
        "--methodology",
        &golden("methodology.toml"),
        "--out",
        broken_out.to_str().expect("path"),
    ]);
    assert!(!broken.status.success());
    let message = String::from_utf8_lossy(&broken.stderr);
    assert!(
        message.contains("domain 0") && message.contains("rows"),
        "{message}"
    );
    assert!(!broken_out.exists());
}
