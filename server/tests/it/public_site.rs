//! The public results site and API over HTTP, on both engines (issue 12): the overview of the
//! latest release with its chart, map and table; a year on the 63-province map; a province
//! page with its series (computed, re-aggregated, published elsewhere); corrections; the JSON
//! API agreeing with the pages; OpenAPI; ETag, Brotli and CORS; no JavaScript anywhere.

use crate::common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::browser::Browser;
use sipas_app::domain::Geography;
use sipas_app::staff::release::ReleaseStore;

struct World {
    app: axum::Router,
    store: std::sync::Arc<sipas_server::store::SqlStore>,
}

/// SIPAS 2024 on the 63-province map (74 and 77 are now inside 79, 49 inside 48), SIPAS 2025
/// on the 34 units with a correction (v2).
async fn world(url: &str) -> World {
    let store = common::store_on(url).await;
    sipas_server::services::demo::seed(store.as_ref())
        .await
        .expect("seed");
    let old = common::fixtures::collected_wave(
        &store,
        "sipas-2024-test",
        2024,
        Geography::G2004,
        &["01", "79", "74", "77", "48", "49"],
    )
    .await;
    sipas_server::services::demo::publish_demo(store.as_ref(), &old, "")
        .await
        .expect("2024");
    let new = common::fixtures::collected_wave(
        &store,
        "sipas-2025-test",
        2025,
        Geography::G2025,
        &["01", "79", "48"],
    )
    .await;
    // 2025 v1 as a release published before the platform published aggregates (migration
    // 0012 left such releases without): nothing may promise it can be verified.
    let methodology = sipas_server::services::questionnaires::SIPAS_2023_METHODOLOGY;
    let draft = sipas_server::jobs::results::compute(
        store.as_ref(),
        &new,
        methodology,
        None,
        &Default::default(),
    )
    .await
    .expect("compute 2025");
    store
        .publish_release(
            &sipas_app::staff::release::NewRelease {
                year: 2025,
                wave_code: new.code.clone(),
                geography: new.geography,
                title: "SIPAS 2025 (before aggregates)".into(),
                methodology: methodology.to_owned(),
                questionnaire_code: "sipas-2023".into(),
                questionnaire_version: 1,
                input_digest: draft.input_digest,
                software_version: "0.1.0".into(),
                computed_by: "stats".into(),
                approved_by: "boss".into(),
                changelog: String::new(),
                cells: draft.cells,
                compared_with: draft.report.compared_with,
                totals: draft.totals,
                aggregates: String::new(),
                computation: None,
                left_out: Vec::new(),
            },
            &|_: &i32| common::audit("release_published"),
        )
        .await
        .expect("2025 v1");
    sipas_server::services::demo::publish_demo(
        store.as_ref(),
        &new,
        "Sửa nhãn một câu hỏi / A question's label corrected",
    )
    .await
    .expect("2025 v2");
    World {
        app: common::application(store.clone(), sipas_server::startup::Settings::in_process())
            .router(),
        store,
    }
}

fn percent_vi(x: f64) -> String {
    format!("{:.2}%", 100.0 * x).replace('.', ",")
}

fn json(reply: &common::browser::Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.bytes).expect("json")
}

async fn story(url: &str) {
    let world = world(url).await;
    let mut public = Browser::new(&world.app);
    let (_, cells) = world.store.release(2025, None).await.unwrap().unwrap();
    let national = cells
        .iter()
        .find(|c| c.domain == "national" && c.node == "sipas" && c.subgroup.is_empty())
        .unwrap()
        .clone();

    // The latest release: national figure in Vietnamese notation, chart, map, table.
    let page = public.get("/ket-qua").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.starts_with("<!DOCTYPE html><html lang=\"vi\">"));
    assert!(page.body.contains("Chỉ số SIPAS 2025 (v2)"));
    // The front page is the same latest release (only its own address differs, in the
    // language switch), and links citizens to the survey.
    let front = public.get("/").await;
    assert_eq!(front.status, StatusCode::OK);
    assert_eq!(front.body.replace("next=/\"", "next=/ket-qua\""), page.body);
    assert!(page.body.contains("href=\"/khao-sat\""));
    assert!(
        page.body.contains(&percent_vi(national.estimate.unwrap())),
        "the national figure as 90,09%"
    );
    for part in [
        "<svg class=\"dot-chart\"",
        "<svg class=\"tile-map\"",
        "<table class=\"results-table\"",
        "href=\"/ket-qua/2025/tinh/79\"",
        "Sửa nhãn một câu hỏi",
        "property=\"og:title\"",
        "/du-lieu/2025/v2/results.csv",
    ] {
        assert!(page.body.contains(part), "{part}");
    }
    assert!(!page.body.contains("<script"), "no JavaScript");
    // Three units, each once in the map, the chart and the table.
    assert_eq!(page.body.matches("<rect class=\"tile").count(), 3);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    // Served from memory with an ETag; a client that has it gets 304; Brotli when accepted.
    let etag = page.headers["etag"].to_str().unwrap().to_owned();
    let again = public
        .send(
            axum::http::Request::get("/ket-qua").header("if-none-match", &etag),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let compressed = public
        .send(
            axum::http::Request::get("/ket-qua").header("accept-encoding", "gzip, br"),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(compressed.headers["content-encoding"], "br");
    // Its own validator (another representation), and a client holding it gets 304 too.
    let br_etag = compressed.headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(br_etag, format!("{}-br\"", etag.trim_end_matches('"')));
    let again = public
        .send(
            axum::http::Request::get("/ket-qua")
                .header("accept-encoding", "br")
                .header("if-none-match", &br_etag),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    let mut plain = Vec::new();
    brotli::BrotliDecompress(&mut compressed.bytes.as_slice(), &mut plain).unwrap();
    assert_eq!(plain, page.bytes);
    assert!(compressed.bytes.len() < page.bytes.len() / 3);
    // Without Brotli (or refusing it), the stored gzip copy; with neither, the plain page.
    for accept in ["gzip", "br;q=0, gzip"] {
        let gzipped = public
            .send(
                axum::http::Request::get("/ket-qua").header("accept-encoding", accept),
                axum::body::Body::empty(),
            )
            .await;
        assert_eq!(gzipped.headers["content-encoding"], "gzip", "{accept}");
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(gzipped.bytes.as_slice()),
            &mut plain,
        )
        .unwrap();
        assert_eq!(plain, page.bytes);
    }

    // Sorted by name: Đà Nẵng, Hà Nội, Hồ Chí Minh.
    let by_name = public.get("/ket-qua?sap-xep=ten").await;
    let table = &by_name.body[by_name.body.find("<tbody>").unwrap()..];
    let (a, b, c) = (
        table.find("Đà Nẵng").unwrap(),
        table.find("Hà Nội").unwrap(),
        table.find("Hồ Chí Minh").unwrap(),
    );
    assert!(a < b && b < c, "sorted by name");

    // English, with its number notation.
    let mut english = Browser::new(&world.app);
    english.get("/lang/en?next=/ket-qua").await;
    let page_en = english.get("/ket-qua").await;
    assert!(page_en.body.contains("<html lang=\"en\">"));
    assert!(page_en.body.contains("SIPAS index 2025"));
    assert!(
        page_en
            .body
            .contains(&format!("{:.2}%", 100.0 * national.estimate.unwrap()))
    );

    // An earlier version says it was corrected; the year on the old map has 63 squares' map
    // (six provinces of it published here).
    let v1 = public.get("/ket-qua/2025/v1").await;
    assert_eq!(v1.status, StatusCode::OK);
    assert!(v1.body.contains("Đây là phiên bản cũ"));
    assert!(
        v1.body.contains("không thể kiểm tra bằng sipas verify")
            && !v1.body.contains("/du-lieu/2025/v1/aggregates.csv"),
        "{}",
        v1.body
    );
    let v1_readme = public.get("/du-lieu/2025/v1/README.txt").await.body;
    assert!(
        v1_readme.contains("sipas verify cannot check it")
            && !v1_readme.contains("sipas verify FOLDER")
            && !v1_readme.contains("aggregates.csv "),
        "{v1_readme}"
    );
    assert_eq!(
        public.get("/du-lieu/2025/v1/aggregates.csv").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !public
            .get("/du-lieu/2025/v1/SHA256SUMS")
            .await
            .body
            .contains("aggregates.csv")
    );
    let old = public.get("/ket-qua/2024").await;
    assert_eq!(old.status, StatusCode::OK);
    assert_eq!(old.body.matches("<rect class=\"tile").count(), 6);
    assert!(old.body.contains("href=\"/ket-qua/2024/tinh/74\""));

    // A province page: index, interval, rank range, series with the re-aggregated old year
    // and the figures published before for the old provinces now inside it.
    let hcm = public.get("/ket-qua/2025/tinh/79").await;
    assert_eq!(hcm.status, StatusCode::OK, "{}", hcm.body);
    let cell = cells
        .iter()
        .find(|c| c.domain == "79" && c.node == "sipas" && c.subgroup.is_empty())
        .unwrap();
    assert!(hcm.body.contains(&percent_vi(cell.estimate.unwrap())));
    for part in [
        "Hồ Chí Minh: Chỉ số SIPAS 2025",
        "<svg class=\"series-chart\"",
        "Tính lại: các tỉnh cũ gộp theo 34 đơn vị mới",
        "Công bố trước nền tảng này",
        "Bà Rịa - Vũng Tàu",
        "Tiếp cận dịch vụ",
    ] {
        assert!(hcm.body.contains(part), "{part}");
    }
    // The tier and the difference "against the nation" are measured from the official mean of
    // provinces; the page names that figure and shows it in the comparison table.
    let mean = cells
        .iter()
        .find(|c| c.domain == "national_mean" && c.node == "sipas" && c.subgroup.is_empty())
        .unwrap();
    let difference = cell.vs_national_difference.unwrap();
    assert!((difference - (cell.estimate.unwrap() - mean.estimate.unwrap())).abs() < 1e-12);
    let shown = format!("{:+.1}", 100.0 * difference).replace('.', ",");
    assert!(
        hcm.body
            .contains(&format!("{shown} điểm so với cả nước (bình quân các tỉnh)")),
        "{shown}"
    );
    assert!(hcm.body.contains("Cả nước (bình quân các tỉnh)</th>"));
    assert!(hcm.body.contains(&percent_vi(mean.estimate.unwrap())));
    assert!(
        hcm.body.contains(&format!(
            "content=\"Hồ Chí Minh: {}",
            percent_vi(cell.estimate.unwrap())
        )),
        "a shared link shows the province and its figure"
    );
    for missing in [
        "/ket-qua/2025/tinh/74",
        "/ket-qua/2030",
        "/ket-qua/2025/v9",
        "/ket-qua/2025/x1",
        // One spelling per version: others would each be cached as a page of their own.
        "/ket-qua/2025/v01",
        "/ket-qua/2025/v+1",
        "/ket-qua/2025/v01/tinh/79",
        "/api/v1/releases/2025/01",
    ] {
        assert_eq!(
            public.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // Releases publish no rows by subgroup and no per-commune totals (accredited access
    // only): the public checks every number against the per-province aggregates.
    assert_eq!(
        public.get("/du-lieu/2025/v2/totals.json").await.status,
        StatusCode::NOT_FOUND
    );
    // Release day: many ask for the same cold file at once; one build, the same bytes to all.
    let asks = (0..8).map(|_| {
        use tower::ServiceExt;
        world.app.clone().oneshot(
            axum::http::Request::get("/du-lieu/2025/v2/results.xlsx")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
    });
    let etags: Vec<String> = futures_util::future::join_all(asks)
        .await
        .into_iter()
        .map(|reply| {
            let reply = reply.unwrap();
            assert_eq!(reply.status(), StatusCode::OK);
            reply.headers()["etag"].to_str().unwrap().to_owned()
        })
        .collect();
    assert!(etags.iter().all(|e| *e == etags[0]), "{etags:?}");
    // Addresses that do not exist: 404, however written.
    for missing in [
        "/du-lieu/2025/v2/tinh-99.csv",
        "/du-lieu/2025/v02/results.csv",
        "/du-lieu/2025/v+2/results.csv",
        "/du-lieu/2025/v9/results.csv",
    ] {
        assert_eq!(
            public.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    let readme = public.get("/du-lieu/2025/v2/README.txt").await.body;
    assert!(
        readme.contains("sipas verify FOLDER --previous PREVIOUS.csv"),
        "{readme}"
    );
    assert!(readme.contains("aggregates.csv"));
    let results = public.get("/du-lieu/2025/v2/results.csv").await;
    assert!(
        csv::Reader::from_reader(&results.bytes[..])
            .deserialize::<BTreeMap<String, String>>()
            .all(|row| row.expect("row")["subgroup"].is_empty()),
        "no rows by subgroup"
    );
    // A province's own table for people: Vietnamese columns and names, percentages with a
    // decimal comma, semicolons; every row of the province in the results, index first.
    let own = public.get("/du-lieu/2025/v2/tinh-79.csv").await;
    assert_eq!(own.status, StatusCode::OK);
    assert!(own.bytes.starts_with(b"\xEF\xBB\xBF"));
    let rows_79: Vec<BTreeMap<String, String>> = csv::Reader::from_reader(&results.bytes[3..])
        .deserialize::<BTreeMap<String, String>>()
        .map(|r| r.expect("row"))
        .filter(|r| r["domain"] == "79")
        .collect();
    assert!(rows_79.len() > 30, "index, contents, elements, items");
    let own_lines: Vec<&str> = own.body.trim_start_matches('\u{feff}').lines().collect();
    assert!(own_lines[0].starts_with("Mã tỉnh;Tỉnh, thành phố;Mã chỉ tiêu;Chỉ tiêu;"));
    assert_eq!(own_lines.len(), rows_79.len() + 1);
    let index: f64 = rows_79.iter().find(|r| r["node"] == "sipas").unwrap()["estimate"]
        .parse()
        .unwrap();
    assert!(
        own_lines[1].starts_with("79;Hồ Chí Minh;sipas;Chỉ số SIPAS;")
            && own_lines[1].contains(&format!(
                ";{};",
                format!("{:.2}", 100.0 * index).replace('.', ",")
            )),
        "{}",
        own_lines[1]
    );
    assert!(
        public
            .get("/ket-qua/2025/tinh/79")
            .await
            .body
            .contains("href=\"/du-lieu/2025/v2/tinh-79.csv\""),
        "the province page links its table"
    );
    let workbook = public.get("/du-lieu/2025/v2/tinh-79.xlsx").await;
    assert_eq!(workbook.status, StatusCode::OK);
    assert!(workbook.bytes.starts_with(b"PK"));
    let own_json = json(&public.get("/du-lieu/2025/v2/tinh-79.json").await);
    assert_eq!(
        own_json["cells"].as_array().map(Vec::len),
        Some(rows_79.len())
    );
    for missing in [
        "/du-lieu/2025/v2/tinh-74.csv",
        "/du-lieu/2025/v2/tinh-7a.csv",
        "/du-lieu/2025/v2/tinh-79.txt",
        "/du-lieu/2025/v2/tinh-.csv",
    ] {
        assert_eq!(
            public.get(missing).await.status,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // The methodology page lists the correction.
    let method = public.get("/phuong-phap").await;
    assert_eq!(method.status, StatusCode::OK);
    assert!(method.body.contains("SIPAS 2025 v2"));
    assert!(method.body.contains("Sửa nhãn một câu hỏi"));
    let docs = public.get("/phuong-phap/methodology.md").await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.body.contains("Open data and disclosure control"));
    let r = public.get("/phuong-phap/golden-r-survey.R").await;
    assert!(
        r.body.contains("library(survey)"),
        "{}",
        &r.body[..200.min(r.body.len())]
    );

    // The API: the same numbers, readable from anywhere.
    let list = public.get("/api/v1/releases").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.headers["access-control-allow-origin"], "*");
    let list = json(&list);
    assert_eq!(list["releases"].as_array().unwrap().len(), 3);
    let latest = public.get("/api/v1/releases/2025/latest").await;
    assert_eq!(latest.status, StatusCode::OK);
    let latest = json(&latest);
    assert_eq!(latest["release"]["version"], 2);
    assert_eq!(latest["compared_with"], "2024/1");
    let api_national = latest["national"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["domain"] == "national" && c["node"] == "sipas")
        .unwrap();
    assert_eq!(
        api_national["estimate"].as_f64(),
        national.estimate,
        "the API gives the stored number exactly"
    );
    assert_eq!(latest["provinces"].as_array().unwrap().len(), 3);
    let province = public.get("/api/v1/releases/2025/2/provinces/79").await;
    assert_eq!(province.status, StatusCode::OK);
    assert_eq!(
        province.headers["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let province = json(&province);
    assert_eq!(province["name"], "Hồ Chí Minh");
    assert_eq!(
        province["cells"].as_array().unwrap().len(),
        cells.iter().filter(|c| c.domain == "79").count()
    );
    let index = province["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["node"] == "sipas" && c["subgroup"] == "")
        .unwrap();
    assert!(
        hcm.body
            .contains(&percent_vi(index["estimate"].as_f64().unwrap())),
        "the page shows what the API gives"
    );
    for missing in [
        "/api/v1/releases/2025/9",
        "/api/v1/releases/2025/2/provinces/74",
        "/api/v1/releases/1999/latest",
    ] {
        let reply = public.get(missing).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(reply.headers["access-control-allow-origin"], "*");
    }
    let openapi = json(&public.get("/api/v1/openapi.json").await);
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/releases",
        "/api/v1/releases/{year}/{version}",
        "/api/v1/releases/{year}/{version}/provinces/{code}",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path}");
    }
    assert!(openapi["components"]["schemas"]["ApiCell"]["properties"]["ci_low"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_site_sqlite() {
    let db = common::sqlite_db();
    story(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_site_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    story(&url).await;
    common::drop_postgres_db(&name).await;
}
