//! Staff accounts: creating one, resetting a password, locking and unlocking, as the staff
//! accounts page and `sipas user` both do them (one set of checks, one audit entry each).

use argon2::{Argon2, PasswordHasher};
use sipas_app::domain::Geography;
use sipas_app::i18n::Text;
use sipas_app::ports::StoreError;
use sipas_app::staff::port::{AuditEntry, NewUser};
use sipas_app::staff::research::{ResearchAccess, parse_releases, valid_date};
use sipas_app::staff::roles::{password_problem, valid_username};
use sipas_app::staff::{ProvinceRef, Role, StaffStore, StaffUser};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field is wrong; the message starts with the field's name.
    #[error("{0}")]
    Invalid(Text),
    #[error("{0}")]
    Taken(Text),
    #[error("the database failed: {0}")]
    Store(StoreError),
}

/// A field's problem, in both languages.
fn invalid(vi: impl Into<String>, en: impl Into<String>) -> AccountError {
    AccountError::Invalid(Text::new(vi, en))
}

impl From<StoreError> for AccountError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes, OWASP's minimum),
/// off the async threads.
pub async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| StoreError::Backend(err.to_string()))
    })
    .await
    .map_err(|err| StoreError::Backend(err.to_string()))?
}

/// A new account as typed (the form, or the command line's arguments).
#[derive(Default)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: &'a str,
    /// A provincial officer's province (2025 map); empty for the other roles.
    pub province: &'a str,
    pub password: &'a str,
    /// A researcher's approval: project, its reference, expiry date, releases (`2025 v1, …`).
    pub project: &'a str,
    pub approval: &'a str,
    pub expires_on: &'a str,
    pub releases: &'a str,
    /// A field worker's communes (5-digit codes of the province, separated by spaces or
    /// commas); empty: the whole province.
    pub communes: &'a str,
}

/// Checks and creates an account; `entry(province, detail)` is its `account_created` audit
/// entry for whoever creates it. `provinces` are the 2025 map's codes; `published` the releases
/// a researcher's approval may name; `today` Vietnam's date. The username, as stored.
pub async fn create(
    store: &dyn StaffStore,
    account: &NewAccount<'_>,
    provinces: &[String],
    today: &str,
    entry: impl FnOnce(Option<&str>, String) -> AuditEntry,
) -> Result<(String, Role), AccountError> {
    let username = account.username.trim().to_lowercase();
    if !valid_username(&username) {
        return Err(invalid(
            "tên đăng nhập: 3 đến 40 chữ thường, chữ số, dấu chấm, gạch ngang hoặc gạch dưới",
            "username: 3 to 40 lower-case letters, digits, dots, dashes or underscores",
        ));
    }
    let display_name = account.display_name.trim().to_owned();
    if display_name.is_empty() || display_name.chars().count() > 120 {
        return Err(invalid(
            "họ tên: 1 đến 120 ký tự",
            "name: 1 to 120 characters",
        ));
    }
    let role = Role::parse(account.role).ok_or_else(|| {
        invalid(
            "vai trò: admin, central, provincial, statistician, approver, viewer, researcher hoặc field",
            "role: admin, central, provincial, statistician, approver, viewer, researcher or field",
        )
    })?;
    let province = province_of(role, account.province.trim(), provinces)?;
    if let Some((vi, en)) = password_problem(account.password) {
        return Err(invalid(
            format!("mật khẩu: {vi}"),
            format!("password: {en}"),
        ));
    }
    let research = research_of(role, account, today)?;
    let communes = communes_of(role, account.communes)?;
    // The approval covers releases that exist: a typo would give access to nothing, or to a
    // version published later that the approval never named.
    if let Some(access) = &research {
        let published: Vec<(i32, i32)> = store
            .releases()
            .await?
            .iter()
            .map(|r| (r.year, r.version))
            .collect();
        if let Some((year, version)) = access.releases.iter().find(|r| !published.contains(r)) {
            return Err(invalid(
                format!("bản công bố: {year} v{version} chưa được công bố"),
                format!("releases: {year} v{version} has not been published"),
            ));
        }
    }
    let detail = match &research {
        Some(r) => format!(
            "{username} ({}), dự án: {} ({}), đến hết ngày {}, bản công bố {}",
            role.label().0,
            r.project,
            r.approval,
            sipas_app::staff::pages::day(
                sipas_app::i18n::Locale::Vi,
                Some(&r.expires_on),
                ("", "")
            ),
            r.releases
                .iter()
                .map(|(y, v)| format!("{y} v{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        None if !communes.is_empty() => format!(
            "{username} ({}), xã/phường: {}",
            role.label().0,
            communes.join(", ")
        ),
        None => format!("{username} ({})", role.label().0),
    };
    let audit = entry(province.as_ref().map(|p| p.code.as_str()), detail);
    let user = NewUser {
        username: username.clone(),
        display_name,
        role,
        province,
        password_hash: hash_password(account.password.to_owned()).await?,
        research,
        communes,
    };
    match store.create_user(&user, &audit).await {
        Ok(_) => Ok((username, role)),
        Err(StoreError::Conflict(message)) => Err(AccountError::Taken(message)),
        Err(err) => Err(err.into()),
    }
}

fn province_of(
    role: Role,
    province: &str,
    provinces: &[String],
) -> Result<Option<ProvinceRef>, AccountError> {
    match (role.has_province(), province.is_empty()) {
        (true, true) => Err(invalid(
            "tỉnh: cán bộ tỉnh và nhân viên phát, thu phiếu cần có tỉnh",
            "province: a provincial officer or a field worker needs a province",
        )),
        (true, false) if !provinces.iter().any(|p| p == province) => Err(invalid(
            format!("tỉnh: {province:?} không thuộc 34 đơn vị cấp tỉnh"),
            format!("province: {province:?} is not one of the 34 provincial units"),
        )),
        (true, false) => Ok(Some(ProvinceRef {
            geography: Geography::G2025,
            code: province.to_owned(),
        })),
        (false, false) => Err(invalid(
            "tỉnh: chỉ cán bộ tỉnh và nhân viên phát, thu phiếu gắn với một tỉnh",
            "province: only provincial officers and field workers are bound to a province",
        )),
        (_, true) => Ok(None),
    }
}

/// A field worker's communes: 5-digit codes, each once (whether they are the province's is
/// checked where the account is stored).
fn communes_of(role: Role, communes: &str) -> Result<Vec<String>, AccountError> {
    let mut codes: Vec<String> = Vec::new();
    for code in communes.split(|c: char| c == ',' || c.is_whitespace()) {
        if code.is_empty() {
            continue;
        }
        if role != Role::Field {
            return Err(invalid(
                "xã/phường: chỉ tài khoản nhân viên phát, thu phiếu mới giới hạn theo xã/phường",
                "communes: only a field worker's account is restricted to communes",
            ));
        }
        if code.len() != 5 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                format!("xã/phường: {code:?} không phải mã 5 chữ số"),
                format!("communes: {code:?} is not a 5-digit commune code"),
            ));
        }
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_owned());
        }
    }
    Ok(codes)
}

/// A researcher's approval (exactly for the researcher role; `today` is Vietnam's date).
fn research_of(
    role: Role,
    account: &NewAccount<'_>,
    today: &str,
) -> Result<Option<ResearchAccess>, AccountError> {
    let project = account.project.trim();
    let approval = account.approval.trim();
    let expires_on = account.expires_on.trim();
    if role != Role::Researcher {
        return if [project, approval, expires_on, account.releases.trim()]
            .iter()
            .all(|f| f.is_empty())
        {
            Ok(None)
        } else {
            Err(invalid(
                "đề tài: chỉ nhà nghiên cứu mới có đề tài và văn bản phê duyệt",
                "project: only researchers carry a project and an approval",
            ))
        };
    }
    if project.is_empty() || project.chars().count() > 300 {
        return Err(invalid(
            "đề tài: tên đề tài được duyệt, 1 đến 300 ký tự",
            "project: the approved project's title, 1 to 300 characters",
        ));
    }
    if approval.is_empty() || approval.chars().count() > 200 {
        return Err(invalid(
            "phê duyệt: số hiệu văn bản phê duyệt, 1 đến 200 ký tự",
            "approval: the reference of the approval, 1 to 200 characters",
        ));
    }
    if !valid_date(expires_on) {
        return Err(invalid(
            format!("hết hạn: {expires_on:?} không phải ngày (YYYY-MM-DD)"),
            format!("expires_on: {expires_on:?} is not a date (YYYY-MM-DD)"),
        ));
    }
    if expires_on < today {
        return Err(invalid(
            format!("hết hạn: {expires_on} đã qua"),
            format!("expires_on: {expires_on} is already past"),
        ));
    }
    let releases = parse_releases(account.releases).map_err(|entry| {
        invalid(
            format!("bản công bố: {entry:?} không phải một bản công bố (viết 2025 v1, 2024 v2)"),
            format!("releases: {entry:?} is not a release (write 2025 v1, 2024 v2)"),
        )
    })?;
    if releases.is_empty() {
        return Err(invalid(
            "bản công bố: ghi các bản công bố được phép (2025 v1, ...)",
            "releases: name the releases the approval covers (2025 v1, ...)",
        ));
    }
    Ok(Some(ResearchAccess {
        project: project.to_owned(),
        approval: approval.to_owned(),
        expires_on: expires_on.to_owned(),
        releases,
        conditions_accepted_at: None,
    }))
}

/// Sets a new password (audited as `password_reset`), and lifts the account's sign-in wait.
pub async fn reset_password(
    store: &dyn StaffStore,
    user: &StaffUser,
    password: String,
    audit: &AuditEntry,
) -> Result<(), AccountError> {
    if let Some((vi, en)) = password_problem(&password) {
        return Err(invalid(
            format!("mật khẩu: {vi}"),
            format!("password: {en}"),
        ));
    }
    let hash = hash_password(password).await?;
    store.set_password(user.id, &hash, audit).await?;
    // A failure here leaves an old wait that expires by itself; the password is set.
    if let Err(err) = store.clear_login_failures(&user.username).await {
        tracing::warn!(error = %err, "sign-in wait not lifted");
    }
    Ok(())
}
