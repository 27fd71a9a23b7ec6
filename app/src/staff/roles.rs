//! Who may do what: one role per account, and for provincial officers one province.
//!
//! Every staff handler asks [`StaffUser::may`] for its action and [`StaffUser::sees`] for the
//! province of the record it touches; nothing is decided in the browser.

use serde::{Deserialize, Serialize};

use crate::domain::Geography;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Manages accounts and reads the audit log; sees no survey data.
    Admin,
    /// Ministry staff: every province.
    Central,
    /// A Department of Home Affairs officer: one province only.
    Provincial,
    /// Computes results and submits drafts; reads monitoring and exports.
    Statistician,
    /// Approves and publishes results computed by a statistician (the second pair of eyes).
    Approver,
    /// Read-only monitoring.
    Viewer,
    /// A researcher outside the Ministry with an approved project: downloads the full totals of
    /// the releases the approval names, until it expires (`super::research`).
    Researcher,
    /// Postal staff in the field: one province (optionally some of its communes); sees and
    /// marks only the forms assigned to them (`super::fieldwork`).
    Field,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Central,
        Role::Provincial,
        Role::Statistician,
        Role::Approver,
        Role::Viewer,
        Role::Researcher,
        Role::Field,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Central => "central",
            Role::Provincial => "provincial",
            Role::Statistician => "statistician",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
            Role::Researcher => "researcher",
            Role::Field => "field",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|role| role.key() == key.trim())
    }

    /// The role's name for people, in Vietnamese and English.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Role::Admin => ("Quản trị tài khoản", "Account administrator"),
            Role::Central => ("Cán bộ Bộ Nội vụ", "Ministry staff"),
            Role::Provincial => ("Cán bộ Sở Nội vụ", "Provincial officer"),
            Role::Statistician => ("Thống kê viên", "Statistician"),
            Role::Approver => ("Lãnh đạo phê duyệt kết quả", "Approving official"),
            Role::Viewer => ("Người xem", "Viewer"),
            Role::Researcher => ("Nhà nghiên cứu được cấp phép", "Accredited researcher"),
            Role::Field => ("Nhân viên phát, thu phiếu", "Field worker"),
        }
    }

    /// Whether an account of this role belongs to one province (and must name it).
    pub fn has_province(self) -> bool {
        matches!(self, Role::Provincial | Role::Field)
    }

    /// Whether this role may perform an action (the province is checked separately).
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        match self {
            Role::Admin => matches!(action, ManageAccounts | ReadAudit),
            Role::Central => matches!(
                action,
                ManageWaves
                    | UploadFrame
                    | IssueCodes
                    | ImportPaper
                    | Export
                    | Monitor
                    | DesignSample
                    | ReviewResponses
                    | AssignFieldwork
            ),
            Role::Provincial => matches!(
                action,
                IssueCodes | ImportPaper | Export | Monitor | AssignFieldwork
            ),
            Role::Statistician => matches!(
                action,
                Export
                    | Monitor
                    | ReadResults
                    | ComputeResults
                    | DownloadFullTotals
                    | DesignSample
                    | ReviewResponses
            ),
            Role::Approver => matches!(action, Monitor | ReadResults | ApproveResults),
            Role::Viewer => matches!(action, Monitor),
            // Only what the approval names, checked against it on every download.
            Role::Researcher => matches!(action, DownloadFullTotals),
            // Their own assignments only, checked on every request (`StaffUser::id`).
            Role::Field => matches!(action, DoFieldwork),
        }
    }
}

/// Everything a staff member can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ManageAccounts,
    ReadAudit,
    /// Create and close waves, publish questionnaire versions.
    ManageWaves,
    UploadFrame,
    /// Issue and void invitation batches.
    IssueCodes,
    ImportPaper,
    Export,
    /// Waves, questionnaires, frames, batches and monitoring, read-only.
    Monitor,
    /// Unpublished results (drafts), their weights reports and comments; comment on them.
    ReadResults,
    /// Start a computation and submit its draft for approval.
    ComputeResults,
    /// Approve a submitted draft (not one's own), return it, publish an approved one.
    ApproveResults,
    /// A published release's full per-commune totals (accredited access).
    DownloadFullTotals,
    /// Compare allocations of the sample and draw the communes.
    DesignSample,
    /// Review flagged responses: approve or exclude them from the indices. Central staff and
    /// statisticians only: a provincial officer's province is what the index ranks.
    ReviewResponses,
    /// Assign forms of a commune to a field worker (of one's province, for an officer).
    AssignFieldwork,
    /// See one's own assignments and mark what became of each form.
    DoFieldwork,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::ManageAccounts,
        Action::ReadAudit,
        Action::ManageWaves,
        Action::UploadFrame,
        Action::IssueCodes,
        Action::ImportPaper,
        Action::Export,
        Action::Monitor,
        Action::ReadResults,
        Action::ComputeResults,
        Action::ApproveResults,
        Action::DownloadFullTotals,
        Action::DesignSample,
        Action::ReviewResponses,
        Action::AssignFieldwork,
        Action::DoFieldwork,
    ];

    /// What it lets one do, in words (the accounts page lists each role's from [`Role::may`]).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Action::ManageAccounts => (
                "tạo, khóa tài khoản và đặt lại mật khẩu",
                "create and disable accounts, reset passwords",
            ),
            Action::ReadAudit => ("xem nhật ký thay đổi", "read the audit log"),
            Action::ManageWaves => (
                "tạo và đóng đợt khảo sát, đăng phiên bản bảng hỏi",
                "create and close waves, publish questionnaire versions",
            ),
            Action::UploadFrame => ("tải lên dàn mẫu", "upload the sample frame"),
            Action::IssueCodes => ("phát và hủy lô mã mời", "issue and void invitation batches"),
            Action::ImportPaper => ("nhập phiếu giấy", "import paper forms"),
            Action::Export => ("tải dữ liệu trả lời", "download the responses"),
            Action::Monitor => ("theo dõi tiến độ thu thập", "follow fieldwork progress"),
            Action::ReadResults => (
                "xem bản nháp kết quả và nhận xét",
                "read draft results and comment",
            ),
            Action::ComputeResults => (
                "tính kết quả và trình phê duyệt",
                "compute results and submit them",
            ),
            Action::ApproveResults => (
                "phê duyệt (không phải bản mình tính) và công bố",
                "approve (not one's own) and publish",
            ),
            Action::DownloadFullTotals => (
                "tải tổng số liệu đầy đủ của bản công bố",
                "download a release's full totals",
            ),
            Action::DesignSample => (
                "thiết kế mẫu: phân bổ và chọn xã/phường",
                "design the sample: allocate it and draw communes",
            ),
            Action::ReviewResponses => (
                "rà soát chất lượng phiếu: chấp thuận hoặc loại",
                "review flagged responses: approve or exclude them",
            ),
            Action::AssignFieldwork => (
                "giao phiếu của xã/phường cho nhân viên phát, thu phiếu",
                "assign a commune's forms to field workers",
            ),
            Action::DoFieldwork => (
                "xem phiếu được giao và ghi kết quả phát, thu từng phiếu",
                "see one's assigned forms and mark what became of each",
            ),
        }
    }
}

/// A staff account as the application sees it (never its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Set exactly for provincial officers and field workers.
    pub province: Option<ProvinceRef>,
    pub active: bool,
    /// Changes when the password is reset or the account disabled; sessions carry the value
    /// they were made with and stop working when it differs.
    pub credentials_version: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProvinceRef {
    pub geography: Geography,
    pub code: String,
}

/// Which provinces a request may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Province(ProvinceRef),
}

/// What of a wave's data a member may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvinceFilter<'a> {
    /// Every province.
    All,
    /// This province only.
    Only(&'a str),
    /// Nothing: a provincial officer and a wave on another geography (codes were reused in
    /// 2025, so the officer's code names another unit there).
    Nothing,
}

impl Scope {
    pub fn filter_for(&self, wave_geography: Geography) -> ProvinceFilter<'_> {
        match self {
            Scope::All => ProvinceFilter::All,
            Scope::Province(p) if p.geography == wave_geography && !p.code.is_empty() => {
                ProvinceFilter::Only(p.code.as_str())
            }
            Scope::Province(_) => ProvinceFilter::Nothing,
        }
    }

    pub fn allows(&self, geography: Geography, province_code: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Province(p) => p.geography == geography && p.code == province_code,
        }
    }
}

impl StaffUser {
    pub fn may(&self, action: Action) -> bool {
        self.active && self.role.may(action)
    }

    pub fn scope(&self) -> Scope {
        match (&self.role, &self.province) {
            (Role::Provincial | Role::Field, Some(province)) => Scope::Province(province.clone()),
            // A provincial account without a province cannot exist (a CHECK constraint), but if
            // it did it must see nothing rather than everything.
            (Role::Provincial | Role::Field, None) => Scope::Province(ProvinceRef {
                geography: Geography::G2025,
                code: String::new(),
            }),
            _ => Scope::All,
        }
    }
}

/// Usernames: 3 to 40 lower-case letters, digits, dots, dashes or underscores.
pub fn valid_username(name: &str) -> bool {
    (3..=40).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_')
        })
}

/// Passwords: at least 12 characters (NIST SP 800-63B: length over composition rules), at most
/// 256 bytes (argon2 hashes anything, but a megabyte password is an attack, not a password).
pub fn password_problem(password: &str) -> Option<(&'static str, &'static str)> {
    if password.chars().count() < 12 {
        Some((
            "mật khẩu phải có ít nhất 12 ký tự",
            "the password must have at least 12 characters",
        ))
    } else if password.len() > 256 {
        Some((
            "mật khẩu dài tối đa 256 byte",
            "the password must have at most 256 bytes",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_listed_once_and_every_role_may_something() {
        let distinct: std::collections::HashSet<_> = Action::ALL.iter().collect();
        assert_eq!(distinct.len(), Action::ALL.len());
        // A new action must join ALL (the accounts page lists each role's from it).
        let listed = |a: Action| Action::ALL.contains(&a);
        assert!(listed(Action::DownloadFullTotals) && listed(Action::ManageAccounts));
        for role in Role::ALL {
            assert!(Action::ALL.iter().any(|a| role.may(*a)), "{role:?}");
        }
    }

    #[test]
    fn only_admins_manage_accounts_and_admins_see_no_survey_data() {
        for role in Role::ALL {
            assert_eq!(role.may(Action::ManageAccounts), role == Role::Admin);
        }
        assert!(!Role::Admin.may(Action::Monitor));
        // The province an officer works for is what the index ranks: no officer decides which
        // of its responses count.
        for role in Role::ALL {
            assert_eq!(
                role.may(Action::ReviewResponses),
                matches!(role, Role::Central | Role::Statistician),
                "{role:?}"
            );
        }
        assert!(!Role::Admin.may(Action::Export));
    }

    #[test]
    fn results_are_computed_by_statisticians_and_approved_by_approvers_only() {
        for role in Role::ALL {
            assert_eq!(
                role.may(Action::ComputeResults),
                role == Role::Statistician,
                "{role:?}"
            );
            assert_eq!(
                role.may(Action::ApproveResults),
                role == Role::Approver,
                "{role:?}"
            );
            // Drafts are embargoed: provincial officers, viewers and admins do not see them.
            assert_eq!(
                role.may(Action::ReadResults),
                matches!(role, Role::Statistician | Role::Approver),
                "{role:?}"
            );
        }
    }

    #[test]
    fn researchers_download_full_totals_and_nothing_else() {
        for role in Role::ALL {
            assert_eq!(
                role.may(Action::DownloadFullTotals),
                matches!(role, Role::Statistician | Role::Researcher),
                "{role:?}"
            );
        }
        for action in Action::ALL
            .into_iter()
            .filter(|a| *a != Action::DownloadFullTotals)
        {
            assert!(!Role::Researcher.may(action), "{action:?}");
        }
        assert_eq!(Role::parse("researcher"), Some(Role::Researcher));
    }

    #[test]
    fn field_workers_do_fieldwork_and_nothing_else() {
        for role in Role::ALL {
            assert_eq!(
                role.may(Action::DoFieldwork),
                role == Role::Field,
                "{role:?}"
            );
            assert_eq!(
                role.may(Action::AssignFieldwork),
                matches!(role, Role::Central | Role::Provincial),
                "{role:?}"
            );
            assert_eq!(
                role.has_province(),
                matches!(role, Role::Provincial | Role::Field)
            );
        }
        for action in Action::ALL
            .into_iter()
            .filter(|a| *a != Action::DoFieldwork)
        {
            assert!(!Role::Field.may(action), "{action:?}");
        }
        let worker = StaffUser {
            id: 7,
            username: "buu.ta".into(),
            display_name: "Bưu tá".into(),
            role: Role::Field,
            province: Some(ProvinceRef {
                geography: Geography::G2025,
                code: "01".into(),
            }),
            active: true,
            credentials_version: 1,
            created_at: String::new(),
        };
        assert!(worker.scope().allows(Geography::G2025, "01"));
        assert!(!worker.scope().allows(Geography::G2025, "79"));
        let lost = StaffUser {
            province: None,
            ..worker
        };
        assert_eq!(
            lost.scope().filter_for(Geography::G2025),
            ProvinceFilter::Nothing
        );
        assert_eq!(Role::parse("field"), Some(Role::Field));
    }

    #[test]
    fn provincial_officers_see_their_province_only() {
        let user = StaffUser {
            id: 1,
            username: "hanoi".into(),
            display_name: "Hà Nội".into(),
            role: Role::Provincial,
            province: Some(ProvinceRef {
                geography: Geography::G2025,
                code: "01".into(),
            }),
            active: true,
            credentials_version: 1,
            created_at: String::new(),
        };
        let scope = user.scope();
        assert!(scope.allows(Geography::G2025, "01"));
        assert!(!scope.allows(Geography::G2025, "79"));
        assert!(!scope.allows(Geography::G2004, "01"));
        assert_eq!(
            scope.filter_for(Geography::G2025),
            ProvinceFilter::Only("01")
        );
        assert_eq!(scope.filter_for(Geography::G2004), ProvinceFilter::Nothing);
        assert_eq!(Scope::All.filter_for(Geography::G2004), ProvinceFilter::All);
        assert!(user.may(Action::IssueCodes));
        assert!(!user.may(Action::UploadFrame));
        let disabled = StaffUser {
            active: false,
            ..user
        };
        assert!(!disabled.may(Action::Monitor));
    }

    #[test]
    fn usernames_and_passwords() {
        assert!(valid_username("nguyen.van-a_1"));
        assert!(!valid_username("ab"));
        assert!(!valid_username("Nguyen"));
        assert!(!valid_username("a b c"));
        assert!(password_problem("short").is_some());
        assert!(password_problem("mật khẩu đủ dài rồi").is_none());
        assert!(password_problem(&"x".repeat(300)).is_some());
    }
}
