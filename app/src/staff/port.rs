//! What the staff side needs from the database, beside the survey's [`crate::ports::Store`].
//!
//! Monitoring and exports are computed by the database (GROUP BY, keyset pages), never by
//! loading a wave's responses into memory. The audit log can only be appended to and read.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::frame::{Frame, FramePsu};
use super::keying::{Keyed, KeyedForm};
use super::quality::{LeftOut, NewDecision, QueueRow, ReviewedResponse};
use super::roles::{ProvinceRef, Role, StaffUser};
use crate::domain::{SampleKind, Wave};
use crate::ports::StoreResult;
use crate::survey::questionnaire::Answers;
use sipas_stats::quality::QualityThresholds;

/// A new account: the password arrives already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub province: Option<ProvinceRef>,
    pub password_hash: String,
    /// A researcher's approval, written with the account (exactly for researchers).
    pub research: Option<super::research::ResearchAccess>,
    /// The communes (PSU codes) of its province a field worker is restricted to; empty: all.
    pub communes: Vec<String>,
}

/// The audit entry of a change whose outcome it tells (codes voided, rows imported, the version
/// published), made from that outcome inside the change's transaction.
pub type AuditOf<'a, T> = dyn Fn(&T) -> AuditEntry + Send + Sync + 'a;

/// What an audit entry records. Stored by its [`key`](AuditAction::key), which never changes;
/// shown by its [`label`](AuditAction::label) in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    SignOut,
    AccountCreated,
    AccountDisabled,
    AccountEnabled,
    PasswordReset,
    QuestionnairePublished,
    WaveCreated,
    WaveClosed,
    FrameUploaded,
    FrameDrawn,
    BatchIssued,
    BatchVoided,
    BatchCodesDownloaded,
    PaperImported,
    ExportDownloaded,
    ComputationStarted,
    ComputationCommented,
    ComputationSubmitted,
    ComputationApproved,
    ComputationReturned,
    ReleasePublished,
    ReleaseTotalsDownloaded,
    ResearchConditionsAccepted,
    ResponseReviewed,
    PaperKeyed,
    PaperResolved,
    /// Forms of a commune assigned to a field worker.
    FieldworkAssigned,
    /// A field worker marked what became of forms.
    FormsMarked,
    /// Forms not yet handed out taken back from an assignment.
    FieldworkWithdrawn,
}

impl AuditAction {
    pub const ALL: [AuditAction; 31] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::SignOut,
        Self::AccountCreated,
        Self::AccountDisabled,
        Self::AccountEnabled,
        Self::PasswordReset,
        Self::QuestionnairePublished,
        Self::WaveCreated,
        Self::WaveClosed,
        Self::FrameUploaded,
        Self::FrameDrawn,
        Self::BatchIssued,
        Self::BatchVoided,
        Self::BatchCodesDownloaded,
        Self::PaperImported,
        Self::ExportDownloaded,
        Self::ComputationStarted,
        Self::ComputationCommented,
        Self::ComputationSubmitted,
        Self::ComputationApproved,
        Self::ComputationReturned,
        Self::ReleasePublished,
        Self::ReleaseTotalsDownloaded,
        Self::ResearchConditionsAccepted,
        Self::ResponseReviewed,
        Self::PaperKeyed,
        Self::PaperResolved,
        Self::FieldworkAssigned,
        Self::FormsMarked,
        Self::FieldworkWithdrawn,
    ];

    /// The key stored in the log (and used to filter it).
    pub fn key(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::SignOut => "sign_out",
            Self::AccountCreated => "account_created",
            Self::AccountDisabled => "account_disabled",
            Self::AccountEnabled => "account_enabled",
            Self::PasswordReset => "password_reset",
            Self::QuestionnairePublished => "questionnaire_published",
            Self::WaveCreated => "wave_created",
            Self::WaveClosed => "wave_closed",
            Self::FrameUploaded => "frame_uploaded",
            Self::FrameDrawn => "frame_drawn",
            Self::BatchIssued => "batch_issued",
            Self::BatchVoided => "batch_voided",
            Self::BatchCodesDownloaded => "batch_codes_downloaded",
            Self::PaperImported => "paper_imported",
            Self::ExportDownloaded => "export_downloaded",
            Self::ComputationStarted => "computation_started",
            Self::ComputationCommented => "computation_commented",
            Self::ComputationSubmitted => "computation_submitted",
            Self::ComputationApproved => "computation_approved",
            Self::ComputationReturned => "computation_returned",
            Self::ReleasePublished => "release_published",
            Self::ReleaseTotalsDownloaded => "release_totals_downloaded",
            Self::ResearchConditionsAccepted => "research_conditions_accepted",
            Self::ResponseReviewed => "response_reviewed",
            Self::PaperKeyed => "paper_keyed",
            Self::PaperResolved => "paper_resolved",
            Self::FieldworkAssigned => "fieldwork_assigned",
            Self::FormsMarked => "forms_marked",
            Self::FieldworkWithdrawn => "fieldwork_withdrawn",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.key() == key)
    }

    /// In words: (Vietnamese, English).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Self::SignIn => ("Đăng nhập", "Signed in"),
            Self::SignInFailed => ("Đăng nhập không thành công", "Failed sign-in"),
            Self::SignOut => ("Đăng xuất", "Signed out"),
            Self::AccountCreated => ("Tạo tài khoản", "Account created"),
            Self::AccountDisabled => ("Khóa tài khoản", "Account disabled"),
            Self::AccountEnabled => ("Mở khóa tài khoản", "Account enabled"),
            Self::PasswordReset => ("Đặt lại mật khẩu", "Password reset"),
            Self::QuestionnairePublished => ("Ban hành bảng hỏi", "Questionnaire published"),
            Self::WaveCreated => ("Tạo đợt khảo sát", "Wave created"),
            Self::WaveClosed => ("Đóng đợt khảo sát", "Wave closed"),
            Self::FrameUploaded => ("Tải lên dàn mẫu", "Frame uploaded"),
            Self::FrameDrawn => ("Chọn mẫu xã/phường", "Communes drawn"),
            Self::BatchIssued => ("Phát lô mã mời", "Batch of codes issued"),
            Self::BatchVoided => ("Hủy lô mã mời", "Batch voided"),
            Self::BatchCodesDownloaded => ("Tải danh sách mã của lô", "Batch codes downloaded"),
            Self::PaperImported => ("Nhập phiếu giấy", "Paper forms imported"),
            Self::ExportDownloaded => ("Tải dữ liệu xuất", "Export downloaded"),
            Self::ComputationStarted => ("Bắt đầu tính kết quả", "Computation started"),
            Self::ComputationCommented => ("Nhận xét bản nháp", "Draft commented"),
            Self::ComputationSubmitted => ("Trình phê duyệt", "Submitted for approval"),
            Self::ComputationApproved => ("Phê duyệt kết quả", "Results approved"),
            Self::ComputationReturned => ("Trả lại bản nháp", "Draft returned"),
            Self::ReleasePublished => ("Công bố kết quả", "Release published"),
            Self::ReleaseTotalsDownloaded => ("Tải tổng số liệu đầy đủ", "Full totals downloaded"),
            Self::ResearchConditionsAccepted => (
                "Chấp nhận điều kiện sử dụng số liệu",
                "Conditions of use accepted",
            ),
            Self::ResponseReviewed => ("Rà soát chất lượng phiếu", "Response reviewed"),
            Self::PaperKeyed => ("Nhập phiếu giấy trên trình duyệt", "Paper form keyed"),
            Self::PaperResolved => (
                "Đối chiếu phiếu giấy nhập khác nhau",
                "Differing entries decided",
            ),
            Self::FieldworkAssigned => ("Giao phiếu cho nhân viên", "Forms assigned"),
            Self::FormsMarked => ("Ghi kết quả phát, thu phiếu", "Form outcomes marked"),
            Self::FieldworkWithdrawn => ("Thu hồi phiếu chưa phát", "Forms taken back"),
        }
    }
}

/// One line of the audit log as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The username (or `-` for an anonymous attempt, `cli` for the command line).
    pub actor: String,
    /// An [`AuditAction`]'s key (an older log may hold keys no longer written).
    pub action: String,
    pub wave_code: Option<String>,
    pub province_code: Option<String>,
    /// The specifics, written in Vietnamese, the language of the Ministry's record (never a
    /// password or an invitation code).
    pub detail: String,
}

impl AuditEntry {
    /// `actor` did `action`; no wave, province or detail yet.
    pub fn new(actor: &str, action: AuditAction) -> Self {
        Self {
            actor: actor.to_owned(),
            action: action.key().to_owned(),
            wave_code: None,
            province_code: None,
            detail: String::new(),
        }
    }

    pub fn wave(mut self, code: &str) -> Self {
        self.wave_code = Some(code.to_owned());
        self
    }

    pub fn province(mut self, code: Option<&str>) -> Self {
        self.province_code = code.map(str::to_owned);
        self
    }

    pub fn detail(mut self, detail: String) -> Self {
        self.detail = detail;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    pub entry: AuditEntry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub wave_code: Option<String>,
    pub province_code: Option<String>,
    /// Only records with an id below this (the next page).
    pub before_id: Option<i64>,
    /// At most this many, newest first (1 to 1,000).
    pub limit: u32,
}

impl Default for AuditFilter {
    /// Everything, a page of 100 (a derived default's limit of 0 would give one record).
    fn default() -> Self {
        Self {
            actor: None,
            action: None,
            wave_code: None,
            province_code: None,
            before_id: None,
            limit: 100,
        }
    }
}

/// The administrative schedule of a wave, beside what respondents see in [`Wave`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveSchedule {
    /// ISO dates (`YYYY-MM-DD`), Vietnam time.
    pub opens_on: Option<String>,
    pub closes_on: Option<String>,
    /// Set when a wave is closed by hand; final.
    pub closed_at: Option<String>,
    pub methodology_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveDetails {
    pub wave: Wave,
    pub schedule: WaveSchedule,
    pub created_at: String,
}

/// A batch of invitation codes and what became of them (counted by the database).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSummary {
    pub id: String,
    pub wave_code: String,
    pub province_code: String,
    /// What it was issued for: `psu 00001`, `stratum urban`, `province 01`.
    pub scope: String,
    pub size: i64,
    pub issued_by: String,
    pub issued_at: String,
    pub voided_at: Option<String>,
    pub used: i64,
    pub in_progress: i64,
}

/// A new batch: where each code goes (a PSU of the frame) and its hash.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub id: String,
    pub wave_code: String,
    pub province_code: String,
    pub scope: String,
    pub issued_by: String,
    pub kind: SampleKind,
    /// (PSU, code hash) pairs.
    pub codes: Vec<(FramePsu, String)>,
}

/// Monitoring of one PSU: the frame's target against what the field has done.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PsuProgress {
    pub province_code: String,
    pub stratum: String,
    pub psu: String,
    pub name: String,
    pub target: i64,
    /// Invitation codes issued for the PSU and not voided (not counting the code rows made for
    /// paper forms that came without one).
    pub issued: i64,
    /// Of those, the ones answered.
    pub used: i64,
    /// Responses, by any channel.
    pub completes: i64,
    pub drafts: i64,
}

/// Completes by how they arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCounts {
    /// Submitted by the page with JavaScript, online.
    pub online: i64,
    /// Submitted by a plain form post (no JavaScript).
    pub form: i64,
    /// Queued offline in the phone's outbox, sent later.
    pub outbox: i64,
    pub paper: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProvinceProgress {
    pub province_code: String,
    pub channels: ChannelCounts,
    /// Median completion time of the web responses, seconds.
    pub median_duration_secs: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Monitoring {
    pub psus: Vec<PsuProgress>,
    pub provinces: Vec<ProvinceProgress>,
    /// (Vietnam civil date, completes), oldest first.
    pub per_day: Vec<(String, i64)>,
    /// Responses on codes outside the frame (the open link; codes of a PSU a later frame dropped).
    pub outside_frame: i64,
}

/// Where a paper form goes: its printed invitation code, or a PSU and the form's own number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaperTarget {
    Code { code_hash: String },
    Point { psu: String, form_id: String },
}

/// One paper form, checked against the questionnaire, ready to store.
#[derive(Debug, Clone)]
pub struct PaperRecord {
    /// Spreadsheet row, for the report.
    pub row: usize,
    pub target: PaperTarget,
    pub answers: Answers,
    pub content_hash: String,
    pub language: String,
    pub receipt: String,
    pub export_id: String,
    /// What the quality checks measure (`crate::survey::quality`).
    pub measures: sipas_stats::quality::Measures,
}

/// What the import did (or would do) with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RowOutcome {
    New,
    /// Imported before with the same answers: nothing new.
    AlreadyImported,
    /// The code carries another response (answered online, or imported with other answers):
    /// reported, never overwritten.
    Conflict(crate::i18n::Text),
    /// The row cannot be stored; the whole file is refused.
    Problem {
        column: String,
        message: crate::i18n::Text,
    },
}

/// One page of a wave's responses for an export, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRow {
    /// Random, not the receipt number (a receipt holder must not find their row).
    pub export_id: String,
    pub province_code: String,
    pub province_name: String,
    pub stratum: String,
    pub psu: String,
    /// The frame's name of the PSU, else the official commune's; empty when neither knows it.
    pub psu_name: String,
    pub sample_kind: String,
    pub questionnaire_version: u32,
    pub mode: String,
    pub channel: String,
    pub language: String,
    pub submitted_on: String,
    pub duration_secs: Option<i64>,
    /// Browsers the code was answered from (web; empty on paper and when unknown).
    pub devices: Option<i64>,
    /// From the frame, for the design: the stratum's population and PSUs (none for responses
    /// outside the frame).
    pub stratum_population: Option<i64>,
    pub stratum_psus: Option<i64>,
    /// `counted`, `excluded:REASON` or `awaiting_review` under the quality review.
    pub quality: String,
    pub answers: Answers,
}

/// A PSU's probability-sample completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsuCompletes {
    pub province_code: String,
    pub stratum: String,
    pub psu: String,
    pub completes: i64,
}

/// One probability-sample response as the index computation reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswersRow {
    pub export_id: String,
    pub province_code: String,
    pub stratum: String,
    pub psu: String,
    /// The stored JSON object {item code: value}.
    pub answers: String,
}

/// Everything the staff workspace asks of its database, by capability: accounts and sign-in
/// throttling, sessions, the audit log, the field (waves, frames, batches, monitoring), what was
/// collected (paper forms, answers for computing, exports), computations and reviews,
/// releases, researchers' approvals. One SQL implementation serves both engines
/// (`server/src/store/`); a part of the server that needs one capability can ask for it alone.
pub trait StaffStore:
    AccountStore
    + SessionStore
    + AuditStore
    + FieldStore
    + CollectedStore
    + super::release::ReleaseStore
    + super::review::ReviewStore
    + super::research::ResearchStore
    + super::fieldwork::FieldworkStore
    + Send
    + Sync
    + 'static
{
}

impl<T> StaffStore for T where
    T: AccountStore
        + SessionStore
        + AuditStore
        + FieldStore
        + CollectedStore
        + super::release::ReleaseStore
        + super::review::ReviewStore
        + super::research::ResearchStore
        + super::fieldwork::FieldworkStore
        + Send
        + Sync
        + 'static
{
}

/// Staff accounts and the sign-in throttle.
#[async_trait]
pub trait AccountStore: Send + Sync {
    // Accounts.
    /// A username in use is a `Conflict`.
    async fn create_user(&self, user: &NewUser, audit: &AuditEntry) -> StoreResult<i64>;
    async fn user(&self, id: i64) -> StoreResult<StaffUser>;
    /// The account and its password hash, for signing in.
    async fn user_for_sign_in(&self, username: &str) -> StoreResult<(StaffUser, String)>;
    async fn users(&self) -> StoreResult<Vec<StaffUser>>;
    /// Replaces the password hash; every existing session of the account ends.
    async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Enables or disables an account; disabling ends its sessions.
    async fn set_active(&self, id: i64, active: bool, audit: &AuditEntry) -> StoreResult<()>;

    // Sign-in throttling. Keys: `account:{username}`, `pair:{username}:{client}`,
    // `client:{client}`, where client is a keyed hash of the address.
    async fn record_login_failure(&self, keys: &[String], at_unix: i64) -> StoreResult<()>;
    /// Failures of a key since a time: how many, and the latest.
    async fn login_failures(&self, key: &str, since_unix: i64) -> StoreResult<(i64, Option<i64>)>;
    /// Forgets the failures under these keys (a successful sign-in clears its own).
    async fn clear_login_keys(&self, keys: &[String]) -> StoreResult<()>;
    /// Forgets every failure of an account, from every client (a new password was set).
    async fn clear_login_failures(&self, username: &str) -> StoreResult<()>;
}

/// Staff sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    // Sessions (tower-sessions records, by the SHA-256 of their id).
    /// Inserts a new session; an id hash already present is a `Conflict`.
    async fn session_insert(&self, id_hash: &str, data: &str, expires_unix: i64)
    -> StoreResult<()>;
    async fn session_save(&self, id_hash: &str, data: &str, expires_unix: i64) -> StoreResult<()>;
    /// The data of a session that has not expired.
    async fn session_load(&self, id_hash: &str, now_unix: i64) -> StoreResult<Option<String>>;
    async fn session_delete(&self, id_hash: &str) -> StoreResult<()>;
    async fn sessions_expire(&self, now_unix: i64) -> StoreResult<u64>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    // The audit log: append and read, nothing else. A change the log records (the methods
    // here taking an `audit` entry) writes its entry in the change's own transaction: both are
    // stored or neither. `audit` alone is for what changes nothing (a download, a sign-in).
    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    async fn audit_log(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
}

/// The field: waves, their frames, invitation batches and monitoring.
#[async_trait]
pub trait FieldStore: Send + Sync {
    // Waves.
    async fn create_wave_scheduled(
        &self,
        wave: &Wave,
        schedule: &WaveSchedule,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    async fn wave_details(&self, code: &str) -> StoreResult<WaveDetails>;
    async fn wave_list(&self) -> StoreResult<Vec<WaveDetails>>;
    /// Closes a wave for good (its codes stop working); closing a closed wave is a `Conflict`.
    async fn close_wave(&self, code: &str, audit: &AuditEntry) -> StoreResult<()>;
    /// Stores a questionnaire version with its audit entry, in one transaction; whether it was
    /// new. Publishing the identical definition again changes nothing (and logs nothing); a
    /// different definition under a published (code, version) is a `Conflict`: published
    /// versions never change.
    async fn publish_questionnaire(
        &self,
        questionnaire: &crate::survey::questionnaire::Questionnaire,
        audit: &AuditEntry,
    ) -> StoreResult<bool>;
    /// Published versions of a questionnaire family, ascending.
    async fn questionnaire_versions(&self) -> StoreResult<Vec<(String, u32)>>;

    // Sample frame.
    /// Replaces a wave's frame, all or nothing. Refused (`Conflict`) when it would drop a PSU
    /// that already has codes, or move one to another stratum or province.
    async fn replace_frame(
        &self,
        wave_code: &str,
        frame: &Frame,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// Replaces the frame with one drawn on the design page, and records how it was drawn
    /// (the same checks as [`replace_frame`](Self::replace_frame), one transaction).
    async fn replace_frame_drawn(
        &self,
        wave_code: &str,
        frame: &Frame,
        draw: &crate::staff::design::DrawRecord,
        audit: &AuditEntry,
    ) -> StoreResult<()>;
    /// How the wave's frame was drawn, when it was drawn here (a frame file has no record).
    async fn frame_draw(
        &self,
        wave_code: &str,
    ) -> StoreResult<Option<crate::staff::design::DrawRecord>>;
    /// The frame, limited to one province when given.
    async fn frame(&self, wave_code: &str, province: Option<&str>) -> StoreResult<Frame>;

    // Invitation batches.
    /// Stores a batch and its codes, all or nothing; a batch id in use is a `Conflict`.
    async fn issue_batch(&self, batch: &NewBatch, audit: &AuditEntry) -> StoreResult<()>;
    async fn batches(
        &self,
        wave_code: &str,
        province: Option<&str>,
    ) -> StoreResult<Vec<BatchSummary>>;
    async fn batch(&self, id: &str) -> StoreResult<BatchSummary>;
    /// Voids a batch: its unused codes stop working. Returns how many were voided.
    async fn void_batch(&self, id: &str, by: &str, audit: &AuditOf<'_, i64>) -> StoreResult<i64>;
    /// Deletes the device hashes (quality review, `survey::device`) of codes that can take no
    /// more answers: used, voided, or of a wave closed by hand or past its last day (`today`,
    /// Vietnam's date). Returns how many went. Run hourly by the server.
    async fn forget_stale_devices(&self, today: &str) -> StoreResult<u64>;

    // Monitoring, computed by the database.
    async fn monitoring(&self, wave_code: &str, province: Option<&str>) -> StoreResult<Monitoring>;
}

/// What was collected: paper forms keyed in, answers for computing, exports.
#[async_trait]
pub trait CollectedStore: Send + Sync {
    // Paper import.
    /// Checks every record and, unless `dry_run`, stores the new ones, in one transaction. When
    /// any row has a `Problem`, nothing is stored.
    async fn import_paper(
        &self,
        wave_code: &str,
        province: Option<&str>,
        records: &[PaperRecord],
        dry_run: bool,
        audit: &AuditOf<'_, [RowOutcome]>,
    ) -> StoreResult<Vec<RowOutcome>>;

    /// A keyset page of the probability sample's answers (raw JSON) after `after` (an export
    /// id), for computing indices: only what the statistics need, and only responses a
    /// reviewer has not excluded (`super::quality::QueueRow::counts`).
    async fn answers_page(
        &self,
        wave_code: &str,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<AnswersRow>>;

    /// Probability-sample completes per PSU that a reviewer has not excluded:
    /// `(province, stratum, psu, count)`, the denominators of the weights (one pass over an
    /// index, not the wide rows).
    async fn completes(&self, wave_code: &str) -> StoreResult<Vec<PsuCompletes>>;

    // Double data entry (`super::keying`).
    /// Keys `record` as `clerk`'s entry of its form, in one transaction with its audit entry
    /// (written for a first entry, a stored form or a difference); `province` limits it to one
    /// province's forms.
    async fn key_form(
        &self,
        wave_code: &str,
        province: Option<&str>,
        record: &PaperRecord,
        clerk: i64,
        audit: &AuditOf<'_, Keyed>,
    ) -> StoreResult<Keyed>;
    /// The wave's keyed forms (one province's), differing ones first, at most `limit`.
    async fn keyed_forms(
        &self,
        wave_code: &str,
        province: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<KeyedForm>>;
    /// One keyed form of the wave with its entries (`NotFound` outside the wave).
    async fn keyed_form(&self, wave_code: &str, id: i64) -> StoreResult<KeyedForm>;
    /// Stores a supervisor's reading of a form whose entries differ (`record` carries the
    /// form's target and the decided answers). `SameClerk` for either clerk.
    async fn resolve_form(
        &self,
        wave_code: &str,
        id: i64,
        record: &PaperRecord,
        supervisor: i64,
        audit: &AuditOf<'_, Keyed>,
    ) -> StoreResult<Keyed>;

    // Quality review.
    /// Marks every response of the wave that has a twin (the same answers in its commune); the
    /// check on arrival cannot see a twin stored by a concurrent transaction.
    async fn mark_twins(&self, wave_code: &str) -> StoreResult<()>;
    /// Responses flagged under `quality` or decided on, undecided first, at most `limit`.
    async fn quality_queue(
        &self,
        wave_code: &str,
        quality: &QualityThresholds,
        province: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<QueueRow>>;
    /// One response of the wave with its answers and decisions (`NotFound` outside the wave).
    async fn reviewed_response(
        &self,
        wave_code: &str,
        export_id: &str,
    ) -> StoreResult<ReviewedResponse>;
    /// Records a decision (the response's latest) and its audit entry, in one transaction.
    async fn decide(
        &self,
        wave_code: &str,
        export_id: &str,
        decision: &NewDecision,
        audit: &AuditOf<'_, QueueRow>,
    ) -> StoreResult<()>;
    /// Per province, the probability-sample responses excluded by a reviewer (by reason) and
    /// those flagged under `quality` that nobody has decided on (reason `awaiting_review`).
    async fn review_summary(
        &self,
        wave_code: &str,
        quality: &QualityThresholds,
    ) -> StoreResult<Vec<LeftOut>>;
    /// The id of the latest review decision on the wave's responses (0: none).
    async fn last_decision(&self, wave_code: &str) -> StoreResult<i64>;
    /// One decision for every undecided probability response of the wave (one province's)
    /// flagged for `flag` alone under `quality`, each with its history row, and one audit entry
    /// (told the count); returns the count.
    async fn decide_all(
        &self,
        wave_code: &str,
        province: Option<&str>,
        flag: sipas_stats::quality::Flag,
        quality: &QualityThresholds,
        decision: &NewDecision,
        audit: &AuditOf<'_, i64>,
    ) -> StoreResult<i64>;

    // Exports: keyset pages of at most `limit` rows after `after` (an export id); each row says
    // whether it counts under the quality review with `quality`.
    async fn export_page(
        &self,
        wave_code: &str,
        quality: &QualityThresholds,
        province: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<ExportRow>>;
}

#[cfg(test)]
mod audit_action_tests {
    use super::AuditAction;

    #[test]
    fn every_action_has_one_key_and_its_own_words() {
        let mut keys: Vec<_> = AuditAction::ALL.iter().map(|a| a.key()).collect();
        let mut words: Vec<_> = AuditAction::ALL.iter().map(|a| a.label().0).collect();
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::from_key(action.key()), Some(action));
        }
        keys.sort_unstable();
        keys.dedup();
        words.sort_unstable();
        words.dedup();
        assert_eq!(keys.len(), AuditAction::ALL.len());
        assert_eq!(words.len(), AuditAction::ALL.len());
        assert_eq!(AuditAction::from_key("not_an_action"), None);
    }
}
