//! The staff workspace over HTTP, on both engines: the role matrix (every staff route × every
//! role and anonymous), province isolation (IDOR), sessions (fixation, expiry, disabling),
//! cross-origin posts, sign-in throttling, and a wave run end to end: frame, batch, a citizen's
//! answer, monitoring, paper import and exports.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sipas_app::domain::Geography;
use sipas_app::staff::port::NewUser;
use sipas_app::staff::{AccountStore, FieldStore, SessionStore};
use sipas_app::staff::{Action, ProvinceRef, Role};
use sipas_server::staff::StaffSettings;
use sqlx::AnyPool;

const PASSWORD: &str = "mật khẩu thử nghiệm 2026";
const WAVE: &str = "sipas-2026-demo";

use common::browser::{Browser, Reply};

struct World {
    app: axum::Router,
    store: std::sync::Arc<sipas_server::store::SqlStore>,
}

impl World {
    fn pool(&self) -> &AnyPool {
        self.store.pool()
    }
}

async fn world(url: &str, settings: StaffSettings) -> World {
    let store = common::store_on(url).await;
    sipas_server::services::demo::seed(store.as_ref())
        .await
        .expect("seed");
    let hash = sipas_server::services::accounts::hash_password(PASSWORD.into())
        .await
        .expect("hash");
    for (username, role, province) in [
        ("admin", Role::Admin, None),
        ("central", Role::Central, None),
        ("hanoi", Role::Provincial, Some("01")),
        ("hcm", Role::Provincial, Some("79")),
        ("stats", Role::Statistician, None),
        ("approver", Role::Approver, None),
        ("viewer", Role::Viewer, None),
        ("researcher", Role::Researcher, None),
        ("field", Role::Field, Some("01")),
    ] {
        // The matrix's researcher is approved for an unpublished release (its download is a
        // 404, not a refusal) and has accepted the conditions of use.
        let research =
            (role == Role::Researcher).then(|| sipas_app::staff::research::ResearchAccess {
                project: "Ma trận vai trò".into(),
                approval: "1/QĐ-TEST".into(),
                expires_on: "2099-12-31".into(),
                releases: vec![(2099, 1)],
                conditions_accepted_at: Some("2026-12-06T00:00:00Z".into()),
            });
        store
            .create_user(
                &NewUser {
                    username: username.into(),
                    display_name: format!("Người dùng {username}"),
                    role,
                    province: province.map(|code: &str| ProvinceRef {
                        geography: Geography::G2025,
                        code: code.into(),
                    }),
                    password_hash: hash.clone(),
                    research,
                    communes: Vec::new(),
                },
                &common::audit("account_created"),
            )
            .await
            .expect("user");
    }
    let state = {
        // Each test browser says where it is with the header a proxy would set.
        let limits =
            sipas_server::web::limits::Limits::from_config(&sipas_server::config::Config {
                client_ip_header: Some("x-real-ip".into()),
                limit_open_link_per_minute: 0,
                limit_code_pages_per_minute: 0,
                limit_submissions_per_minute: 0,
                ..Default::default()
            });
        sipas_server::startup::Settings {
            limits,
            staff: settings,
            ..sipas_server::startup::Settings::in_process()
        }
    };
    World {
        app: common::application(store.clone(), state).router(),
        store,
    }
}

/// Row counts of every table a staff request could change.
async fn snapshot(pool: &AnyPool) -> BTreeMap<&'static str, i64> {
    let mut counts = BTreeMap::new();
    for table in [
        "waves",
        "questionnaires",
        "frame_strata",
        "frame_psus",
        "invitation_batches",
        "invitation_codes",
        "responses",
        "staff_users",
        "audit_log",
        "computations",
        "computation_comments",
        "releases",
        "field_assignments",
        "assignment_forms",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(pool)
            .await
            .expect("count");
        counts.insert(table, n);
    }
    let closed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM waves WHERE closed_at IS NOT NULL")
        .fetch_one(pool)
        .await
        .expect("count");
    counts.insert("closed waves", closed);
    let voided: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM invitation_codes WHERE voided_at IS NOT NULL")
            .fetch_one(pool)
            .await
            .expect("count");
    counts.insert("voided codes", voided);
    let disabled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM staff_users WHERE active = 0 OR credentials_version <> 1",
    )
    .fetch_one(pool)
    .await
    .expect("count");
    counts.insert("changed accounts", disabled);
    let marked: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM assignment_forms WHERE outcome <> 'assigned'")
            .fetch_one(pool)
            .await
            .expect("count");
    counts.insert("marked forms", marked);
    counts
}

const FRAME: &str = "province,stratum,stratum_population,stratum_psus,psu,psu_name,target\n\
01,01-urban,500000,120,00004,Phường Ba Đình,30\n\
01,01-rural,300000,80,00376,Xã Sóc Sơn,10\n\
79,79-urban,800000,200,26740,Phường Sài Gòn,40\n";

enum Body_ {
    None,
    Form(Vec<(&'static str, String)>),
    Upload(Vec<u8>),
}

struct Route {
    method: &'static str,
    path: String,
    body: Body_,
    action: Action,
}

/// Every staff route, with input that an allowed role gets a non-refusal answer to without
/// changing anything (invalid forms, unconfirmed closes, unknown ids), so one matrix can run
/// all roles against the same data.
fn routes(batch: &str, user_id: i64) -> Vec<Route> {
    use Action::*;
    let get = |path: &str, action| Route {
        method: "GET",
        path: path.into(),
        body: Body_::None,
        action,
    };
    let form = |path: &str, fields: Vec<(&'static str, String)>, action| Route {
        method: "POST",
        path: path.into(),
        body: Body_::Form(fields),
        action,
    };
    let upload = |path: &str, action| Route {
        method: "POST",
        path: path.into(),
        body: Body_::Upload(b"not,a,valid\nfile\n".to_vec()),
        action,
    };
    let w = WAVE;
    vec![
        get("/staff", Monitor),
        get("/staff/waves/new", ManageWaves),
        form("/staff/waves", vec![("code", "X".into())], ManageWaves),
        get(&format!("/staff/waves/{w}"), Monitor),
        form(&format!("/staff/waves/{w}/close"), vec![], ManageWaves),
        get(&format!("/staff/waves/{w}/design"), DesignSample),
        // Drawing replaces the frame: design and frame rights both (central staff).
        upload(&format!("/staff/waves/{w}/design"), UploadFrame),
        get(
            &format!(
                "/staff/waves/{w}/design?rule=precision&margin=3&p=80&deff=2.5&communes=12&strata=2&yamane_e=5&total=1000"
            ),
            DesignSample,
        ),
        get("/staff/questionnaires", Monitor),
        upload("/staff/questionnaires", ManageWaves),
        get("/staff/questionnaires/sipas-2023/1", Monitor),
        get(
            "/staff/questionnaires/diff?from=sipas-2023%401&to=sipas-2023%401",
            Monitor,
        ),
        get(&format!("/staff/waves/{w}/frame"), Monitor),
        upload(&format!("/staff/waves/{w}/frame"), UploadFrame),
        get(&format!("/staff/waves/{w}/batches"), IssueCodes),
        form(
            &format!("/staff/waves/{w}/batches"),
            vec![("count", "0".into())],
            IssueCodes,
        ),
        form("/staff/batches/no-such-batch/void", vec![], IssueCodes),
        form(
            &format!("/staff/batches/{batch}/codes.csv"),
            vec![("codes", "not-a-code".into())],
            IssueCodes,
        ),
        get(&format!("/staff/waves/{w}/monitor"), Monitor),
        get(&format!("/staff/waves/{w}/import"), ImportPaper),
        upload(&format!("/staff/waves/{w}/import"), ImportPaper),
        get(&format!("/staff/waves/{w}/export"), Export),
        get(&format!("/staff/waves/{w}/export.csv"), Export),
        get(&format!("/staff/waves/{w}/export.xlsx"), Export),
        get(&format!("/staff/waves/{w}/export.json"), Export),
        get(&format!("/staff/waves/{w}/export.codebook.csv"), Export),
        get(&format!("/staff/waves/{w}/export.R"), Export),
        get("/staff/users", ManageAccounts),
        form(
            "/staff/users",
            vec![("username", "x".into())],
            ManageAccounts,
        ),
        form(
            &format!("/staff/users/{user_id}/password"),
            vec![("password", "short".into())],
            ManageAccounts,
        ),
        get("/staff/audit", ReadAudit),
        // Results: a methodology that does not parse, comments and reasons left empty, an
        // unknown computation, an unconfirmed publication: answered, nothing changes.
        get(&format!("/staff/waves/{w}/results"), ReadResults),
        form(
            &format!("/staff/waves/{w}/results"),
            vec![("methodology", "not = [toml".into())],
            ComputeResults,
        ),
        get("/staff/computations/987654", ReadResults),
        form(
            "/staff/computations/987654/comment",
            vec![("body", " ".into())],
            ReadResults,
        ),
        form("/staff/computations/987654/submit", vec![], ComputeResults),
        form("/staff/computations/987654/approve", vec![], ApproveResults),
        form(
            "/staff/computations/987654/return",
            vec![("body", "".into())],
            ApproveResults,
        ),
        form(
            "/staff/computations/987654/publish",
            vec![("title", "SIPAS".into())],
            ApproveResults,
        ),
        get("/staff/releases/2099/v1/totals.json", DownloadFullTotals),
        // Fieldwork: an assignment that does not exist (a 404 for the worker), an assignment
        // form without a worker.
        get(&format!("/staff/waves/{w}/fieldwork"), Monitor),
        form(
            &format!("/staff/waves/{w}/fieldwork"),
            vec![("worker", "x".into())],
            AssignFieldwork,
        ),
        form(
            &format!("/staff/waves/{w}/fieldwork/987654/withdraw"),
            vec![],
            AssignFieldwork,
        ),
        get("/staff/field", DoFieldwork),
        get("/staff/field/987654", DoFieldwork),
        form(
            "/staff/field/987654",
            vec![("o1", "refused".into())],
            DoFieldwork,
        ),
    ]
}

async fn call(browser: &mut Browser, route: &Route) -> Reply {
    match &route.body {
        Body_::None => browser.get(&route.path).await,
        Body_::Form(fields) => {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post(&route.path, &fields).await
        }
        Body_::Upload(bytes) => browser.upload(&route.path, bytes, &[]).await,
    }
}

fn refused(reply: &Reply) -> bool {
    matches!(
        reply.status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
    ) || reply
        .location
        .as_deref()
        .is_some_and(|l| l.starts_with("/staff/login"))
}

async fn role_matrix(world: &World) {
    // A batch of province 79, for the province checks on batch routes.
    let mut central = Browser::new(&world.app);
    assert_eq!(
        central.sign_in("central", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );
    let frame = central
        .upload(&format!("/staff/waves/{WAVE}/frame"), FRAME.as_bytes(), &[])
        .await;
    assert_eq!(frame.status, StatusCode::SEE_OTHER, "{}", frame.body);
    let batches = central.get(&format!("/staff/waves/{WAVE}/batches")).await;
    let token = between(&batches.body, "name=\"request_id\" value=\"", "\"");
    let issued = central
        .post(
            &format!("/staff/waves/{WAVE}/batches"),
            &[
                ("request_id", &token),
                ("target", "psu:26740"),
                ("count", "3"),
            ],
        )
        .await;
    assert_eq!(issued.status, StatusCode::OK, "{}", issued.body);
    let batch = format!("b{}", &token[..16]);
    // And one of province 01, the matrix's provincial officer's own.
    let token_01 = between(
        &central
            .get(&format!("/staff/waves/{WAVE}/batches"))
            .await
            .body,
        "name=\"request_id\" value=\"",
        "\"",
    );
    let issued_01 = central
        .post(
            &format!("/staff/waves/{WAVE}/batches"),
            &[
                ("request_id", &token_01),
                ("target", "psu:00004"),
                ("count", "2"),
            ],
        )
        .await;
    assert_eq!(issued_01.status, StatusCode::OK);
    let batch_01 = format!("b{}", &token_01[..16]);
    let viewer_id = world
        .store
        .user_for_sign_in("viewer")
        .await
        .expect("viewer")
        .0
        .id;

    let roles = [
        (None, "anonymous"),
        (Some(Role::Admin), "admin"),
        (Some(Role::Central), "central"),
        (Some(Role::Provincial), "hanoi"),
        (Some(Role::Statistician), "stats"),
        (Some(Role::Approver), "approver"),
        (Some(Role::Viewer), "viewer"),
        (Some(Role::Researcher), "researcher"),
        (Some(Role::Field), "field"),
    ];
    let mut checked = 0;
    for (role, username) in roles {
        let mut browser = Browser::new(&world.app);
        if role.is_some() {
            let signed = browser.sign_in(username, PASSWORD).await;
            assert_eq!(signed.status, StatusCode::SEE_OTHER, "{username} signs in");
        }
        for route in routes(&batch_01, viewer_id) {
            let before = snapshot(world.pool()).await;
            let reply = call(&mut browser, &route).await;
            let after = snapshot(world.pool()).await;
            let allowed = role.is_some_and(|r| r.may(route.action))
                // The start page sends an account administrator to the accounts and a field
                // worker to their assignments, and shows a researcher their releases.
                || (route.path == "/staff"
                    && matches!(role, Some(Role::Admin | Role::Researcher | Role::Field)));
            let what = format!(
                "{username} {} {} -> {}",
                route.method, route.path, reply.status
            );
            if allowed {
                assert!(
                    !refused(&reply),
                    "allowed but refused: {what}\n{}",
                    reply.body
                );
                assert_ne!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{what}");
            } else {
                assert!(refused(&reply), "refused expected: {what}");
                if role.is_none() {
                    // Anonymous: pages go to sign-in, changes get 401.
                    if route.method == "GET" {
                        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{what}");
                    } else {
                        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}");
                    }
                } else {
                    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{what}");
                }
            }
            // Neither an allowed call with invalid input nor a refused one changes anything
            // (reads and refusals write no audit record either); a download is audited.
            let mut after = after;
            if allowed && route.path.contains("/export.") {
                assert_eq!(
                    after["audit_log"],
                    before["audit_log"] + 1,
                    "download audited: {what}"
                );
                after.insert("audit_log", before["audit_log"]);
            }
            assert_eq!(before, after, "changed something: {what}");
            checked += 1;
        }
    }
    assert_eq!(checked, 9 * routes("x", 0).len());

    // Province isolation: the officer of 01 edits ids in requests to reach province 79.
    let mut hanoi = Browser::new(&world.app);
    hanoi.sign_in("hanoi", PASSWORD).await;
    let before = snapshot(world.pool()).await;
    assert_eq!(
        hanoi
            .post(&format!("/staff/batches/{batch}/void"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        hanoi
            .get(&format!("/staff/waves/{WAVE}/monitor?province=79"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let token = between(
        &hanoi
            .get(&format!("/staff/waves/{WAVE}/batches"))
            .await
            .body,
        "name=\"request_id\" value=\"",
        "\"",
    );
    for target in ["psu:26740", "province:79", "stratum:79:79-urban"] {
        let reply = hanoi
            .post(
                &format!("/staff/waves/{WAVE}/batches"),
                &[("request_id", &token), ("target", target), ("count", "2")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{target}");
    }
    let csv_codes = between(&issued.body, "name=\"codes\" value=\"", "\"");
    assert_eq!(
        hanoi
            .post(
                &format!("/staff/batches/{batch}/codes.csv"),
                &[("codes", &csv_codes)]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(before, snapshot(world.pool()).await);
    // A wave on the 63-province geography: the officer's code 01 is bound to the 34-unit
    // geography, where codes mean other units, so that wave shows them nothing at all.
    let old_wave = sipas_app::domain::Wave {
        code: "w-2004".into(),
        title: "Đợt cũ".into(),
        year: 2024,
        geography: Geography::G2004,
        questionnaire: Some(sipas_app::domain::QuestionnaireRef {
            code: "sipas-2023".into(),
            version: 1,
        }),
        open_link: false,
        closed: false,
    };
    world
        .store
        .create_wave_scheduled(
            &old_wave,
            &Default::default(),
            &common::audit("wave_created"),
        )
        .await
        .expect("2004 wave");
    for path in [
        "",
        "/monitor",
        "/frame",
        "/batches",
        "/export",
        "/export.csv",
        "/export.json",
    ] {
        let reply = hanoi.get(&format!("/staff/waves/w-2004{path}")).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "w-2004{path}");
    }
    let mut central_old = Browser::new(&world.app);
    central_old.sign_in("central", PASSWORD).await;
    assert_eq!(
        central_old
            .get("/staff/waves/w-2004/export.csv")
            .await
            .status,
        StatusCode::OK
    );
    let own = hanoi.get(&format!("/staff/waves/{WAVE}/batches")).await;
    assert!(
        !own.body.contains(&batch),
        "another province's batch is listed"
    );
    let frame_page = hanoi.get(&format!("/staff/waves/{WAVE}/frame")).await;
    assert!(frame_page.body.contains("00004") && !frame_page.body.contains("26740"));
    let monitor = hanoi.get(&format!("/staff/waves/{WAVE}/monitor")).await;
    assert!(monitor.body.contains("00004") && !monitor.body.contains("26740"));
}

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} in page"))
        + start.len();
    let to = text[from..].find(end).expect("end") + from;
    text[from..to].replace("&amp;", "&")
}

/// Sessions: a new id at sign-in, sign-out, disabling ends sessions, cross-origin posts are
/// refused, failed sign-ins back off, expired sessions are gone.
async fn sessions(world: &World) {
    let mut browser = Browser::new(&world.app);
    browser.sign_in("central", PASSWORD).await;
    let first = browser.cookie.clone().expect("cookie");
    let reply = browser.sign_in("central", PASSWORD).await;
    let second = browser.cookie.clone().expect("cookie");
    assert_ne!(first, second, "the session id changes at sign-in");
    let set_cookie = reply
        .headers
        .get(header::SET_COOKIE)
        .expect("set")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Strict")
            && set_cookie.contains("Path=/staff"),
        "{set_cookie}"
    );
    let mut stale = Browser::new(&world.app);
    stale.cookie = Some(first);
    assert_eq!(
        stale.get("/staff").await.location.as_deref(),
        Some("/staff/login?next=/staff")
    );
    assert_eq!(browser.get("/staff").await.status, StatusCode::OK);
    // Vietnamese first; the language cookie switches the workspace to English.
    assert!(browser.get("/staff").await.body.contains("Đợt khảo sát"));
    let mut english = browser.clone();
    english.cookie = english.cookie.map(|c| format!("{c}; lang=en"));
    let page = english.get("/staff").await.body;
    assert!(
        page.contains("<html lang=\"en\"") && page.contains("Survey waves"),
        "{page}"
    );

    // Cross-origin: a forged form post from another site changes nothing.
    let before = snapshot(world.pool()).await;
    let mut forged = browser.clone();
    forged.origin = "https://evil.example".into();
    let reply = forged
        .post(
            "/staff/waves",
            &[
                ("code", "evil-wave"),
                ("title", "x"),
                ("year", "2026"),
                ("questionnaire", "sipas-2023@1"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(before, snapshot(world.pool()).await);

    // Disabling an account ends its sessions at once.
    let mut admin = Browser::new(&world.app);
    admin.sign_in("admin", PASSWORD).await;
    let viewer_id = world
        .store
        .user_for_sign_in("viewer")
        .await
        .expect("viewer")
        .0
        .id;
    let mut viewer = Browser::new(&world.app);
    viewer.sign_in("viewer", PASSWORD).await;
    assert_eq!(viewer.get("/staff").await.status, StatusCode::OK);
    // The accounts page offers no lock on one's own account, and no password box in the list.
    let admin_id = world
        .store
        .user_for_sign_in("admin")
        .await
        .expect("admin")
        .0
        .id;
    let users = admin.get("/staff/users").await.body;
    assert!(!users.contains(&format!("/staff/users/{admin_id}/disable")));
    assert!(users.contains(&format!("/staff/users/{viewer_id}/disable")));
    assert!(!users.contains(
        "name=\"password\" minlength=\"12\" autocomplete=\"new-password\" required placeholder"
    ));
    // Locking is asked first; the new password is asked on its own page, never carried hidden.
    let asked = admin
        .post(&format!("/staff/users/{viewer_id}/disable"), &[])
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        asked.body.contains("Khóa tài khoản viewer"),
        "{}",
        asked.body
    );
    assert_eq!(viewer.get("/staff").await.status, StatusCode::OK, "not yet");
    let asked = admin
        .post(&format!("/staff/users/{viewer_id}/password"), &[])
        .await;
    assert!(asked.body.contains("type=\"password\""), "{}", asked.body);
    assert!(!asked.body.contains("type=\"hidden\" name=\"password\""));
    // A refused account keeps what was typed (never the password) and says why in Vietnamese.
    let refused = admin
        .post(
            "/staff/users",
            &[
                ("username", "ba.tinh"),
                ("display_name", "Bà Tỉnh"),
                ("role", "provincial"),
                ("province", ""),
                ("password", "một mật khẩu đủ dài"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains("cán bộ tỉnh và nhân viên phát, thu phiếu cần có tỉnh"),
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("value=\"ba.tinh\"") && refused.body.contains("value=\"Bà Tỉnh\"")
    );
    assert!(
        refused
            .body
            .contains("<option value=\"provincial\" selected")
    );
    assert!(!refused.body.contains("một mật khẩu đủ dài"));
    // Made: the next page says so.
    let made = admin
        .post(
            "/staff/users",
            &[
                ("username", "ba.tinh"),
                ("display_name", "Bà Tỉnh"),
                ("role", "provincial"),
                ("province", "79"),
                ("password", "một mật khẩu đủ dài"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    let next = admin.get("/staff/users").await.body;
    assert!(next.contains("Đã tạo tài khoản ba.tinh"), "{next}");
    assert!(
        !admin
            .get("/staff/users")
            .await
            .body
            .contains("Đã tạo tài khoản"),
        "said once"
    );
    assert_eq!(
        admin
            .post(
                &format!("/staff/users/{viewer_id}/disable"),
                &[("confirm", "yes")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(viewer.get("/staff").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        viewer.sign_in("viewer", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    admin
        .post(&format!("/staff/users/{viewer_id}/enable"), &[])
        .await;
    // A password reset ends sessions too, and the new password works.
    let mut stats = Browser::new(&world.app);
    stats.sign_in("stats", PASSWORD).await;
    let stats_id = world
        .store
        .user_for_sign_in("stats")
        .await
        .expect("stats")
        .0
        .id;
    let new_password = "một mật khẩu mới dài hơn";
    assert_eq!(
        admin
            .post(
                &format!("/staff/users/{stats_id}/password"),
                &[("password", new_password), ("confirm", "yes")]
            )
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(stats.get("/staff").await.status, StatusCode::SEE_OTHER);
    assert_eq!(
        stats.sign_in("stats", new_password).await.status,
        StatusCode::SEE_OTHER
    );

    // Sign-out ends the session on the server, not just in the browser.
    let cookie = browser.cookie.clone();
    browser.post("/staff/logout", &[]).await;
    let mut replay = Browser::new(&world.app);
    replay.cookie = cookie;
    assert_eq!(replay.get("/staff").await.status, StatusCode::SEE_OTHER);

    // Failed sign-ins: five are free, then the account waits from that client (even with the
    // right password), while its owner signs in from their own office.
    let mut attacker = Browser::new(&world.app);
    attacker.address = "10.0.0.66".into();
    for _ in 0..5 {
        assert_eq!(
            attacker.sign_in("hcm", "wrong password here").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = attacker.sign_in("hcm", PASSWORD).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers.get(header::RETRY_AFTER).is_some());
    let owner = Browser::new(&world.app).sign_in("hcm", PASSWORD).await;
    assert_eq!(
        owner.status,
        StatusCode::SEE_OTHER,
        "{:?}",
        owner
            .body
            .split("<main")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take(400)
            .collect::<String>()
    );
    // The owner's success does not lift the attacker's wait.
    assert_eq!(
        attacker.sign_in("hcm", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A burst of parallel guesses from one client gets no more than the free five.
    let mut guesses = Vec::new();
    for _ in 0..10 {
        let mut guesser = Browser::new(&world.app);
        guesser.address = "10.0.0.77".into();
        guesses.push(tokio::spawn(async move {
            guesser
                .sign_in("viewer", "a wrong guess in parallel")
                .await
                .status
        }));
    }
    let mut statuses = Vec::new();
    for guess in guesses {
        statuses.push(guess.await.expect("guess"));
    }
    let wrong = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let held = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((wrong, held), (5, 5), "{statuses:?}");
    // A session that is gone is not brought back by a late save.
    world
        .store
        .session_save(&"f".repeat(64), "{}", i64::MAX / 2)
        .await
        .expect("save");
    assert_eq!(
        world
            .store
            .session_load(&"f".repeat(64), 0)
            .await
            .expect("load"),
        None
    );
    // A password reset by an administrator lifts the wait.
    let hcm_id = world.store.user_for_sign_in("hcm").await.expect("hcm").0.id;
    let reset = admin
        .post(
            &format!("/staff/users/{hcm_id}/password"),
            &[("password", "mật khẩu mới của hcm"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER);
    assert_eq!(
        attacker.sign_in("hcm", "mật khẩu mới của hcm").await.status,
        StatusCode::SEE_OTHER
    );
    // Unknown usernames answer like wrong passwords.
    assert_eq!(
        Browser::new(&world.app)
            .sign_in("nobody", PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let failures: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'sign_in_failed'")
            .fetch_one(world.pool())
            .await
            .expect("count");
    assert!(failures >= 6);
    // No raw address is stored: throttle keys are account names or hashes.
    let keys: Vec<String> = sqlx::query_scalar("SELECT DISTINCT throttle_key FROM login_failures")
        .fetch_all(world.pool())
        .await
        .expect("keys");
    let hashed =
        |k: &str| k.len() >= 64 && k[k.len() - 64..].bytes().all(|b| b.is_ascii_hexdigit());
    assert!(
        keys.iter().all(|k| k.starts_with("account:")
            || (k.starts_with("client:") && k.len() == 71)
            || (k.starts_with("pair:") && hashed(k)))
            && keys.iter().all(|k| !k.contains("10.0.0.")),
        "{keys:?}"
    );
}

/// A wave run end to end by staff, with a citizen's answer and paper forms.
async fn wave_story(world: &World) {
    let mut central = Browser::new(&world.app);
    central.sign_in("central", PASSWORD).await;
    let created = central
        .post(
            "/staff/waves",
            &[
                ("code", "sipas-2027"),
                ("title", "Khảo sát SIPAS 2027"),
                ("year", "2027"),
                ("geography", "2025"),
                ("questionnaire", "sipas-2023@1"),
                ("opens_on", "2027-03-01"),
                ("closes_on", "2027-10-31"),
                ("methodology_version", "2023.1"),
            ],
        )
        .await;
    assert_eq!(
        created.location.as_deref(),
        Some("/staff/waves/sipas-2027"),
        "{}",
        created.body
    );
    let duplicate = central
        .post(
            "/staff/waves",
            &[
                ("code", "sipas-2027"),
                ("title", "again"),
                ("year", "2027"),
                ("questionnaire", "sipas-2023@1"),
            ],
        )
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    let page = central.get("/staff/waves/sipas-2027").await;
    assert!(page.body.contains("Khảo sát SIPAS 2027") && page.body.contains("31/10/2027"));

    // Questionnaire versions: a broken file is refused naming the field; a new version is
    // published, shown, and compared with the one before.
    let broken = central
        .upload(
            "/staff/questionnaires",
            b"code = \"sipas-2023\"\nversion = 2\n",
            &[],
        )
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert!(
        broken.body.contains("thiếu trường bắt buộc «title_vi»"),
        "{}",
        broken.body
    );
    let v2 = sipas_server::services::questionnaires::SIPAS_2023
        .replacen("version = 1", "version = 2", 1)
        .replacen("\"Very dissatisfied\"", "\"Very unhappy\"", 1)
        .replacen("code = \"acc_1\"", "code = \"acc_1b\"", 1);
    let published = central
        .upload("/staff/questionnaires", v2.as_bytes(), &[])
        .await;
    assert_eq!(
        published.location.as_deref(),
        Some("/staff/questionnaires/sipas-2023/2"),
        "{}",
        published.body
    );
    let shown = central.get("/staff/questionnaires/sipas-2023/2").await;
    assert!(shown.body.contains("Very unhappy") && shown.body.contains("Rất không hài lòng"));
    let diff = central
        .get("/staff/questionnaires/diff?from=sipas-2023%401&to=sipas-2023%402")
        .await;
    assert!(
        diff.body.contains("acc_1b") && diff.body.contains("Thêm"),
        "{}",
        diff.body
    );
    assert!(
        diff.body.contains("<code>acc_1</code></td><td>Bỏ"),
        "removed item listed"
    );
    // A changed scale is said in words: the items on it changed their choices.
    assert!(
        diff.body.contains("Sửa</td><td>các lựa chọn trả lời") && !diff.body.contains("choices"),
        "{}",
        diff.body
    );
    // A frame with problems stores nothing and names rows and columns.
    let bad = "province,stratum,stratum_population,stratum_psus,psu,psu_name,target\n99,urban,0,1,00004,,x\n";
    let refused = central
        .upload("/staff/waves/sipas-2027/frame", bad.as_bytes(), &[])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("stratum_population") && refused.body.contains(">2<"),
        "{}",
        refused.body
    );
    assert!(
        world
            .store
            .frame("sipas-2027", None)
            .await
            .expect("frame")
            .psus
            .is_empty()
    );
    // On the 2025 map a PSU is an official commune of its province.
    let invented = "province,stratum,stratum_population,stratum_psus,psu,psu_name,target\n\
                    01,,500000,,00004,,30\n01,,500000,,phuong-1,Phường 1,30\n79,,800000,,00376,,40\n";
    let refused = central
        .upload("/staff/waves/sipas-2027/frame", invented.as_bytes(), &[])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("\"phuong-1\" không phải mã chính thức")
            && refused.body.contains("00376 (Xã Sóc Sơn) thuộc tỉnh 01, không thuộc tỉnh 79")
            // Said once: the empty defaults of a code not on the list are not reported again.
            && refused.body.contains("<h2 id=\"problems-heading\">2 lỗi</h2>"),
        "{}",
        refused.body
    );
    let stored = central
        .upload("/staff/waves/sipas-2027/frame", FRAME.as_bytes(), &[])
        .await;
    assert_eq!(stored.status, StatusCode::SEE_OTHER, "{}", stored.body);
    // The sample design: the Ministry's rule by default, about 400 per province in whole
    // communes (12 × 34 = 408; Hà Nội's 800,000 adults from the frame give 399.8 → 400).
    let design = central.get("/staff/waves/sipas-2027/design").await;
    assert_eq!(design.status, StatusCode::OK, "{}", design.body);
    assert!(
        design.body.contains("01 Hà Nội</th><td class=\"num\">800.000</td>")
            && design.body.contains("<td class=\"num\">408</td><td class=\"num\">12</td><td class=\"num\">34</td>")
            // 34 provinces × 408.
            && design.body.contains("<dd>13.872</dd>"),
        "{}",
        design.body
    );
    // An equal split too thin for the published tables is said; a word in a number field too.
    let thin = central
        .get("/staff/waves/sipas-2027/design?rule=equal&total=3400")
        .await;
    assert!(
        thin.body.contains("dưới 10 người mỗi xã/phường"),
        "{}",
        thin.body
    );
    let typo = central
        .get("/staff/waves/sipas-2027/design?communes=mười")
        .await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    assert!(typo.body.contains("không phải số hợp lệ"), "{}", typo.body);
    assert_eq!(
        world
            .store
            .frame("sipas-2027", None)
            .await
            .expect("frame")
            .total_target(),
        80
    );

    // A batch over province 01 is shared out by target (30:10).
    let token = between(
        &central.get("/staff/waves/sipas-2027/batches").await.body,
        "name=\"request_id\" value=\"",
        "\"",
    );
    let sheet = central
        .post(
            "/staff/waves/sipas-2027/batches",
            &[
                ("request_id", &token),
                ("target", "province:01"),
                ("count", "8"),
            ],
        )
        .await;
    assert_eq!(sheet.status, StatusCode::OK);
    assert_eq!(
        sheet
            .headers
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap_or("")),
        Some("no-store")
    );
    assert_eq!(sheet.body.matches("class=\"card\"").count(), 8);
    assert_eq!(sheet.body.matches("PSU 00004").count(), 6);
    assert!(sheet.body.contains("<svg"), "QR codes on the sheet");
    // The same form posted twice issues nothing more.
    let again = central
        .post(
            "/staff/waves/sipas-2027/batches",
            &[
                ("request_id", &token),
                ("target", "province:01"),
                ("count", "8"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let codes = between(&sheet.body, "name=\"codes\" value=\"", "\"");
    let batch = format!("b{}", &token[..16]);
    let csv = central
        .post(
            &format!("/staff/batches/{batch}/codes.csv"),
            &[("codes", &codes)],
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert_eq!(csv.body.lines().count(), 9);
    let codes: Vec<&str> = codes.split_whitespace().collect();

    // A citizen answers one code online.
    let questionnaire = world.store.questionnaire("sipas-2023", 1).await.expect("q");
    let answers = common::load::complete_answers(&questionnaire);
    let submit = Request::post("/api/survey/submit")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(common::load::submit_body(
            codes[0],
            "0123456789abcdef0123",
            &answers,
        )))
        .expect("request");
    let (status, _, body) = common::send(&world.app, submit).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Two more, started 100 and 300 seconds ago; the second comes from the phone's outbox.
    for (code, seconds_ago, queued, id) in [
        (codes[3], 100, false, "1123456789abcdef0123"),
        (codes[4], 300, true, "2123456789abcdef0123"),
    ] {
        let started = (time::OffsetDateTime::now_utc() - time::Duration::seconds(seconds_ago))
            .format(&time::format_description::well_known::Rfc3339)
            .expect("time");
        let body = serde_json::json!({ "request": {
            "code": code, "submission_id": id, "answers": answers, "language": "vi",
            "started_at": started, "queued": queued,
        }});
        let submit = Request::post("/api/survey/submit")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, _, body) = common::send(&world.app, submit).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    // Monitoring counts them against the target, in the database.
    let monitoring = world
        .store
        .monitoring("sipas-2027", None)
        .await
        .expect("monitoring");
    let answered_psu = codes_psu(world, codes[0]).await;
    let psu = monitoring
        .psus
        .iter()
        .find(|p| p.psu == answered_psu)
        .expect("psu");
    assert!(psu.completes >= 1);
    assert_eq!(monitoring.psus.iter().map(|p| p.completes).sum::<i64>(), 3);
    assert_eq!(monitoring.psus.iter().map(|p| p.issued).sum::<i64>(), 8);
    assert_eq!(monitoring.psus.iter().map(|p| p.used).sum::<i64>(), 3);
    let hanoi = &monitoring.provinces[0];
    assert_eq!((hanoi.channels.online, hanoi.channels.outbox), (2, 1));
    // The median of 100 and 300 seconds (the first came without a start time).
    let median = hanoi.median_duration_secs.expect("median");
    assert!((195.0..=205.0).contains(&median), "{median}");
    assert_eq!(monitoring.per_day.iter().map(|(_, n)| n).sum::<i64>(), 3);
    let page = central.get("/staff/waves/sipas-2027/monitor").await;
    assert!(page.body.contains("<progress"), "progress bars");
    // The provisional margins are computed in the background: the first view says so and
    // does not wait; a later one shows when they were computed.
    assert!(page.body.contains("Sai số tạm tính"), "{}", page.body);
    let mut computed = None;
    for _ in 0..100 {
        let again = central.get("/staff/waves/sipas-2027/monitor").await;
        if again.body.contains("Tính lúc") {
            computed = Some(again.body);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let computed = computed.expect("the provisional margins were never computed");
    // The section shows what the job computes: each province's margin, or why there is none.
    let section = between(&computed, "id=\"provisional\"", "</section>");
    let expected = sipas_server::jobs::precision::compute(world.store.as_ref(), "sipas-2027").await;
    match &expected.error {
        Some(error) => assert!(section.contains(error.as_str()), "{section}"),
        None if expected.by_province.is_empty() => {
            assert!(section.contains("Chưa tỉnh nào đủ phiếu"), "{section}");
        }
        None => {
            for (province, (_, margin)) in &expected.by_province {
                let shown = format!(
                    "<td class=\"num\">± {}</td>",
                    sipas_app::i18n::Locale::Vi.decimal(100.0 * margin, 1)
                );
                assert!(
                    section.contains(province.as_str()) && section.contains(&shown),
                    "{section}"
                );
            }
        }
    }
    // Batches and accounts sort by any column, by the address (no script needed).
    let by_used = central
        .get("/staff/waves/sipas-2027/batches?sort=used&dir=desc")
        .await;
    assert!(by_used.body.contains("aria-sort=\"descending\""));
    let sorted = central
        .get("/staff/waves/sipas-2027/monitor?sort=completes&dir=desc")
        .await;
    assert!(sorted.body.contains("aria-sort=\"descending\""));

    // Paper forms: a file with problems stores nothing and lists them by row and column.
    let header_row = {
        let mut cols = vec!["code".to_owned()];
        cols.extend(answers.keys().cloned());
        cols.join(",")
    };
    let row = |code: &str, answers: &BTreeMap<String, i64>| {
        let mut cells = vec![code.to_owned()];
        cells.extend(answers.values().map(ToString::to_string));
        cells.join(",")
    };
    let mut broken = answers.clone();
    let first_item = broken.keys().next().cloned().expect("item");
    broken.insert(first_item.clone(), 77);
    let bad_file = format!(
        "{header_row}\n{}\n{}\n{}\n",
        row(codes[1], &answers),
        row(codes[2], &broken),
        row("NOTACODE", &answers)
    );
    let before = snapshot(world.pool()).await;
    let refused = central
        .upload("/staff/waves/sipas-2027/import", bad_file.as_bytes(), &[])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .body
            .contains(&format!("<td>3</td><td><code>{first_item}</code></td>")),
        "{}",
        refused.body
    );
    assert!(
        refused
            .body
            .contains("<td>4</td><td><code>code</code></td>")
    );
    assert_eq!(before, snapshot(world.pool()).await);

    // The good file: a dry run stores nothing, the real run stores exactly its new rows, the
    // code answered online is a conflict (never overwritten), and the same file again adds nothing.
    let good = format!(
        "{header_row}\n{}\n{}\n{}\n",
        row(codes[1], &answers),
        row(codes[2], &answers),
        row(codes[0], &answers)
    );
    let dry = central
        .upload(
            "/staff/waves/sipas-2027/import",
            good.as_bytes(),
            &[("dry_run", "yes")],
        )
        .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
    assert!(
        dry.body.contains("2 new forms would be stored")
            || dry.body.contains("2 phiếu mới sẽ được lưu"),
        "{}",
        dry.body
    );
    assert_eq!(before, snapshot(world.pool()).await);
    let real = central
        .upload("/staff/waves/sipas-2027/import", good.as_bytes(), &[])
        .await;
    assert_eq!(real.status, StatusCode::OK);
    assert!(
        real.body.contains("đã được trả lời trực tuyến"),
        "{}",
        real.body
    );
    let paper: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM responses WHERE wave_code = 'sipas-2027' AND channel = 'paper'",
    )
    .fetch_one(world.pool())
    .await
    .expect("count");
    assert_eq!(paper, 2);
    let online: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM responses WHERE wave_code = 'sipas-2027' AND channel = 'online'",
    )
    .fetch_one(world.pool())
    .await
    .expect("count");
    assert_eq!(online, 2, "the online answers are kept");
    let once_more = snapshot(world.pool()).await;
    central
        .upload("/staff/waves/sipas-2027/import", good.as_bytes(), &[])
        .await;
    let mut after = snapshot(world.pool()).await;
    after.insert("audit_log", once_more["audit_log"]);
    assert_eq!(once_more, after, "the same file twice stores nothing new");
    // Forms handed out without a code: PSU and form number.
    let mut point_header = vec!["psu".to_owned(), "form_id".to_owned()];
    point_header.extend(answers.keys().cloned());
    let values: Vec<String> = answers.values().map(ToString::to_string).collect();
    let point_file = format!(
        "{}\n00376,F-1,{}\n00376,F-2,{}\n",
        point_header.join(","),
        values.join(","),
        values.join(",")
    );
    assert_eq!(
        central
            .upload("/staff/waves/sipas-2027/import", point_file.as_bytes(), &[])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        central
            .upload("/staff/waves/sipas-2027/import", point_file.as_bytes(), &[])
            .await
            .status,
        StatusCode::OK
    );
    let paper: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM responses WHERE wave_code = 'sipas-2027' AND channel = 'paper'",
    )
    .fetch_one(world.pool())
    .await
    .expect("count");
    assert_eq!(paper, 4);
    // The province's batch of paper forms without a code counts them once (the second
    // upload of the file stored nothing).
    let paper_batch: i64 =
        sqlx::query_scalar("SELECT size FROM invitation_batches WHERE id = 'paper-sipas-2027-01'")
            .fetch_one(world.pool())
            .await
            .expect("the paper batch");
    assert_eq!(paper_batch, 2);

    // Exports: CSV with a byte-order mark and Vietnamese intact, no receipt numbers.
    let receipts: Vec<String> =
        sqlx::query_scalar("SELECT receipt FROM responses WHERE wave_code = 'sipas-2027'")
            .fetch_all(world.pool())
            .await
            .expect("receipts");
    let csv = central.get("/staff/waves/sipas-2027/export.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert!(csv.body.contains("Hà Nội"), "diacritics");
    assert_eq!(csv.body.lines().count(), 1 + 7);
    // Communes by name beside their code.
    assert!(csv.body.contains(",psu,psu_name,sample,"), "{}", csv.body);
    assert!(
        csv.body.contains(",00004,Phường Ba Đình,") || csv.body.contains(",00376,Xã Sóc Sơn,"),
        "{}",
        csv.body
    );
    assert!(
        receipts.iter().all(|r| !csv.body.contains(r.as_str())),
        "receipt numbers exported"
    );
    // Compressed on the way, as browsers ask: the compressor polls the stream once more after
    // its end (an unfused stream panicked here).
    for file in ["export.csv", "export.json"] {
        let compressed = central
            .send(
                Request::get(format!("/staff/waves/sipas-2027/{file}"))
                    .header(header::ACCEPT_ENCODING, "gzip, deflate, br, zstd"),
                Body::empty(),
            )
            .await;
        assert_eq!(compressed.status, StatusCode::OK);
        assert_eq!(
            compressed
                .headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap_or("")),
            Some("br")
        );
        assert!(compressed.bytes.len() > 100, "{file}");
    }
    let xlsx = central.get("/staff/waves/sipas-2027/export.xlsx").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    let table = sipas_server::staff::upload::table(&xlsx.bytes).expect("xlsx reads back");
    assert_eq!(table.rows.len(), 7);
    let json: serde_json::Value = serde_json::from_str(
        &central
            .get("/staff/waves/sipas-2027/export.json")
            .await
            .body,
    )
    .expect("json");
    assert_eq!(json["rows"].as_array().map(Vec::len), Some(7));
    let codebook = central
        .get("/staff/waves/sipas-2027/export.codebook.csv")
        .await;
    assert!(
        codebook.body.contains(&first_item) && codebook.body.contains("Rất hài lòng")
            || codebook.body.contains("hài lòng")
    );
    assert!(
        central
            .get("/staff/waves/sipas-2027/export.R")
            .await
            .body
            .contains("svydesign(")
    );
    // A provincial officer's export holds their province only (all of these are in 01).
    let mut hcm = Browser::new(&world.app);
    hcm.sign_in("hcm", PASSWORD).await;
    assert_eq!(
        hcm.get("/staff/waves/sipas-2027/export.csv")
            .await
            .body
            .lines()
            .count(),
        1
    );

    // Voiding is asked first, saying how many unused codes stop working; nothing changes yet.
    let asked = central
        .post(&format!("/staff/batches/{batch}/void"), &[])
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(asked.body.contains("Mã chưa dùng:"), "{}", asked.body);
    let (status, _, _) = common::get(&world.app, &format!("/s/{}", codes[5])).await;
    assert_eq!(status, StatusCode::OK, "not voided before it is confirmed");
    // Voiding stops unused codes; closing the wave stops the rest.
    let void = central
        .post(
            &format!("/staff/batches/{batch}/void"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(void.status, StatusCode::SEE_OTHER);
    // The next page says what happened.
    let batches = central
        .get(&void.location.clone().expect("to the batches"))
        .await;
    assert!(batches.body.contains("Đã hủy lô"), "{}", batches.body);
    let (status, _, _) = common::get(&world.app, &format!("/s/{}", codes[5])).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a voided code no longer works"
    );
    let close = central
        .post("/staff/waves/sipas-2027/close", &[("confirm", "yes")])
        .await;
    assert_eq!(close.status, StatusCode::SEE_OTHER);
    let (status, _, body) = common::get(&world.app, &format!("/s/{}", codes[1])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Khảo sát đã đóng"), "the closed page");

    // Everything above is in the audit log, with who and where.
    let mut admin = Browser::new(&world.app);
    admin.sign_in("admin", PASSWORD).await;
    let accounts = admin.get("/staff/users?sort=username&dir=desc").await.body;
    let (viewer_at, admin_at) = (accounts.find(">viewer<"), accounts.find(">admin<"));
    assert!(
        viewer_at.is_some() && viewer_at < admin_at,
        "usernames descending"
    );
    let log = admin.get("/staff/audit?wave=sipas-2027").await.body;
    for action in [
        "wave_created",
        "frame_uploaded",
        "batch_issued",
        "batch_codes_downloaded",
        "paper_imported",
        "export_downloaded",
        "batch_voided",
        "wave_closed",
    ] {
        assert!(log.contains(action), "{action} in the audit log");
    }
    assert!(log.contains("central"));
}

async fn codes_psu(world: &World, code: &str) -> String {
    let code = sipas_app::survey::codes::InvitationCode::parse(code).expect("code");
    world
        .store
        .invitation(&sipas_app::survey::codes::hash(&code))
        .await
        .expect("invitation")
        .sample
        .psu
}

use sipas_app::ports::Store;

async fn expiry(url: &str) {
    let world = world(
        url,
        StaffSettings {
            session_idle: Duration::from_secs(30),
            session_absolute: Duration::from_secs(1),
            secure_cookies: true,
            ..StaffSettings::default()
        },
    )
    .await;
    let mut browser = Browser::new(&world.app);
    let reply = browser.sign_in("central", PASSWORD).await;
    let set = reply
        .headers
        .get(header::SET_COOKIE)
        .expect("cookie")
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(set.contains("Secure"), "{set}");
    assert_eq!(browser.get("/staff").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        browser.get("/staff").await.status,
        StatusCode::SEE_OTHER,
        "absolute timeout"
    );

    let world = world_idle(url).await;
    let mut browser = Browser::new(&world.app);
    browser.sign_in("central", PASSWORD).await;
    let cookie = browser.cookie.clone();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut later = Browser::new(&world.app);
    later.cookie = cookie;
    assert_eq!(
        later.get("/staff").await.status,
        StatusCode::SEE_OTHER,
        "idle timeout"
    );
}

async fn world_idle(url: &str) -> World {
    // The same database, a server with a one-second idle timeout.
    let store = common::store_on(url).await;
    let settings = sipas_server::startup::Settings {
        staff: StaffSettings {
            session_idle: Duration::from_secs(1),
            ..StaffSettings::default()
        },
        ..sipas_server::startup::Settings::in_process()
    };
    World {
        app: common::application(store.clone(), settings).router(),
        store,
    }
}

/// What the extractors check before a handler runs: a wave coded like a fixed route cannot be
/// made, and a provincial officer reaches no page or upload of a wave on another map (their
/// code names another unit there): 403 before an uploaded file is read.
async fn guards(world: &World) {
    let mut central = Browser::new(&world.app);
    central.sign_in("central", PASSWORD).await;
    let new = central
        .post(
            "/staff/waves",
            &[
                ("code", "new"),
                ("title", "Mới"),
                ("year", "2026"),
                ("geography", "2025"),
                ("questionnaire", "sipas-2023@1"),
            ],
        )
        .await;
    assert_eq!(new.status, StatusCode::BAD_REQUEST, "{}", new.body);
    assert!(new.body.contains("trùng tên một trang"), "{}", new.body);
    assert!(
        world.store.wave_details("new").await.is_err(),
        "no wave coded new"
    );
    // A wave on the 63-province map.
    let old = central
        .post(
            "/staff/waves",
            &[
                ("code", "sipas-2024-old"),
                ("title", "SIPAS 2024"),
                ("year", "2024"),
                ("geography", "2004"),
                ("questionnaire", "sipas-2023@1"),
            ],
        )
        .await;
    assert_eq!(old.status, StatusCode::SEE_OTHER, "{}", old.body);
    let mut hanoi = Browser::new(&world.app);
    hanoi.sign_in("hanoi", PASSWORD).await;
    let before = snapshot(world.pool()).await;
    for path in [
        "/staff/waves/sipas-2024-old",
        "/staff/waves/sipas-2024-old/import",
        "/staff/waves/sipas-2024-old/export",
        "/staff/waves/sipas-2024-old/monitor",
    ] {
        assert_eq!(
            hanoi.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // Not a 400 listing the file's problems: refused before the upload is read.
    let upload = hanoi
        .upload(
            "/staff/waves/sipas-2024-old/import",
            b"not,a,valid\nfile\n",
            &[],
        )
        .await;
    assert_eq!(upload.status, StatusCode::FORBIDDEN, "{}", upload.body);
    assert_eq!(before, snapshot(world.pool()).await);
}

/// The sample drawn in the browser from the official communes becomes the frame, with its
/// record; the same seed draws the same communes; a sizes file with a wrong code stores nothing.
async fn draw_story(world: &World) {
    use sipas_app::ports::Store;
    use sipas_app::staff::FieldStore;
    let mut central = Browser::new(&world.app);
    central.sign_in("central", PASSWORD).await;
    for code in ["draw-a", "draw-b"] {
        let created = central
            .post(
                "/staff/waves",
                &[
                    ("code", code),
                    ("title", "Chọn mẫu thử"),
                    ("year", "2028"),
                    ("geography", "2025"),
                    ("questionnaire", "sipas-2023@1"),
                ],
            )
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    }
    let communes = world.store.communes().await.expect("communes");
    // Adults per commune: a few thousand each, wards larger, one very large ward.
    let mut sizes = String::from("commune,size\n");
    for (i, c) in communes.iter().enumerate() {
        let size = if c.code == "00004" {
            900_000
        } else {
            2_000 + (i * 37) % 9_000 + if c.kind.urban() { 4_000 } else { 0 }
        };
        sizes.push_str(&format!("{},{size}\n", c.code));
    }
    let fields = [
        ("rule", "yamane"),
        ("yamane_e", "5"),
        ("total", "34000"),
        ("margin", "4"),
        ("p", "50"),
        ("deff", "2"),
        ("communes", "10"),
        ("strata", "2"),
        ("seed", "20261207"),
    ];
    let drawn = central
        .upload("/staff/waves/draw-a/design", sizes.as_bytes(), &fields)
        .await;
    assert_eq!(
        drawn.location.as_deref(),
        Some("/staff/waves/draw-a/frame"),
        "{}",
        drawn.body
    );
    // Hà Nội's very large ward is taken with certainty (below): it adds no df, and the page
    // that follows the draw says which provinces that left under 8.
    let after = central.get("/staff/waves/draw-a/frame").await;
    assert!(
        after.body.contains("có bậc tự do dưới 8") && after.body.contains("01 (7)"),
        "{}",
        after.body
    );
    let frame = world.store.frame("draw-a", None).await.expect("frame");
    // 34 provinces × 10 communes, each an official unit of its province, 400 / 10 = 40 each.
    assert_eq!(frame.psus.len(), 340);
    assert!(frame.psus.iter().all(|p| p.target == 40));
    assert!(frame.psus.iter().all(|p| {
        communes
            .iter()
            .any(|c| c.code == p.psu && c.province_code == p.province_code && c.name_vi == p.name)
    }));
    // The very large ward of Hà Nội is drawn with certainty.
    assert!(frame.psus.iter().any(|p| p.psu == "00004"));
    let record = world
        .store
        .frame_draw("draw-a")
        .await
        .expect("draw")
        .expect("recorded");
    assert_eq!(record.draw.seed, 20_261_207);
    assert_eq!(record.draw.communes.len(), 340);
    assert!(
        record
            .draw
            .communes
            .iter()
            .any(|c| c.code == "00004" && c.inclusion_probability == 1.0)
    );
    let logged: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'frame_drawn' AND wave_code = 'draw-a'",
    )
    .fetch_one(world.pool())
    .await
    .expect("audit");
    assert_eq!(logged, 1);
    // Opened again, the design page shows the options the frame was drawn with (ten communes,
    // not the default twelve); an address with options shows those.
    let again = central.get("/staff/waves/draw-a/design").await;
    assert!(
        again
            .body
            .contains(r#"name="communes" type="number" min="4" max="200" step="1" value="10""#),
        "{}",
        again.body
    );
    let asked = central
        .get("/staff/waves/draw-a/design?rule=yamane&communes=14")
        .await;
    assert!(
        asked.body.contains(r#"step="1" value="14""#),
        "{}",
        asked.body
    );
    // The same seed and sizes draw the same communes for another wave.
    central
        .upload("/staff/waves/draw-b/design", sizes.as_bytes(), &fields)
        .await;
    let again = world.store.frame("draw-b", None).await.expect("frame");
    let codes = |f: &sipas_app::staff::frame::Frame| {
        let mut c: Vec<String> = f.psus.iter().map(|p| p.psu.clone()).collect();
        c.sort();
        c
    };
    assert_eq!(codes(&frame), codes(&again));
    // A sizes file naming a code not on the list is refused, naming the row; nothing changes.
    let wrong = "commune,size\n00004,5000\n99999,3000\n";
    let refused = central
        .upload("/staff/waves/draw-a/design", wrong.as_bytes(), &fields)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body.contains("dòng 3, cột commune"),
        "{}",
        refused.body
    );
    assert_eq!(
        codes(&world.store.frame("draw-a", None).await.expect("frame")),
        codes(&frame)
    );
    // A frame file replaces the drawn frame and its record.
    let uploaded = central
        .upload("/staff/waves/draw-a/frame", FRAME.as_bytes(), &[])
        .await;
    assert_eq!(uploaded.status, StatusCode::SEE_OTHER, "{}", uploaded.body);
    assert!(
        world
            .store
            .frame_draw("draw-a")
            .await
            .expect("draw")
            .is_none()
    );
}

async fn everything(url: &str) {
    let world = world(url, StaffSettings::default()).await;
    role_matrix(&world).await;
    guards(&world).await;
    wave_story(&world).await;
    draw_story(&world).await;
    sessions(&world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_sqlite() {
    let db = common::sqlite_db();
    everything(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn staff_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    everything(&url).await;
    common::drop_postgres_db(&name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_expiry_sqlite() {
    let db = common::sqlite_db();
    expiry(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_expiry_postgres() {
    let Some((url, name)) = common::postgres_db().await else {
        return;
    };
    expiry(&url).await;
    common::drop_postgres_db(&name).await;
}
