//! Fieldwork (issue #25, part 1): invitation codes or paper forms assigned to a field worker
//! (postal staff) for one commune, the outcome of each form as the worker marks it, and the
//! response rates those outcomes give.
//!
//! Outcomes map to the final dispositions of AAPOR's *Standard Definitions* (in-person household
//! surveys), and the rates are AAPOR's RR1 and RR3 (docs/methodology.md, "Response rates").
//! A form whose invitation code was answered counts as complete whatever the worker marked:
//! the response is the evidence.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::port::AuditOf;
use crate::ports::StoreResult;

/// What became of one form, as the field worker marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// Assigned to the worker, not yet handed out.
    Assigned,
    /// Handed to an adult of the household; waiting to be collected.
    HandedOut,
    /// The filled form was collected.
    Collected,
    /// The household refused the form, or handed it back empty.
    Refused,
    /// Nobody could be met at the address after the visits the instructions ask for.
    NoContact,
    /// The address or household could not be found: whether an eligible household lives there
    /// is unknown.
    NotFound,
    /// Found, but not in the survey's population: vacant, not a dwelling, no adult resident.
    NotEligible,
}

/// AAPOR's final disposition groups (Standard Definitions, 2023), as far as SIPAS needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// I: complete (1.1).
    Complete,
    /// R: refusal and break-off, including a form handed out and never returned (2.10).
    Refusal,
    /// NC: non-contact (2.20).
    NonContact,
    /// UH: unknown if an eligible household (3.10), including forms never handed out (3.11).
    UnknownEligibility,
    /// NE: not eligible (4.0).
    NotEligible,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Assigned,
        Outcome::HandedOut,
        Outcome::Collected,
        Outcome::Refused,
        Outcome::NoContact,
        Outcome::NotFound,
        Outcome::NotEligible,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Outcome::Assigned => "assigned",
            Outcome::HandedOut => "handed_out",
            Outcome::Collected => "collected",
            Outcome::Refused => "refused",
            Outcome::NoContact => "no_contact",
            Outcome::NotFound => "not_found",
            Outcome::NotEligible => "not_eligible",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.key() == key.trim())
    }

    /// In words, for the worker's phone and the monitoring pages.
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Outcome::Assigned => ("Chưa phát", "Not handed out yet"),
            Outcome::HandedOut => ("Đã phát, chờ thu", "Handed out, to collect"),
            Outcome::Collected => ("Đã thu phiếu", "Collected"),
            Outcome::Refused => ("Từ chối", "Refused"),
            Outcome::NoContact => ("Không gặp được ai", "Nobody met"),
            Outcome::NotFound => ("Không tìm thấy hộ", "Household not found"),
            Outcome::NotEligible => ("Không thuộc đối tượng", "Not eligible"),
        }
    }

    /// The final disposition of a form whose code was not answered (`answered` forms are
    /// complete whatever they are marked).
    pub fn disposition(self, answered: bool) -> Disposition {
        if answered {
            return Disposition::Complete;
        }
        match self {
            Outcome::Collected => Disposition::Complete,
            // Handed to the household and never returned: an implicit refusal. While fieldwork
            // runs the rates therefore rise as forms come back.
            Outcome::HandedOut | Outcome::Refused => Disposition::Refusal,
            Outcome::NoContact => Disposition::NonContact,
            // Never attempted, or the household not located: eligibility unknown.
            Outcome::Assigned | Outcome::NotFound => Disposition::UnknownEligibility,
            Outcome::NotEligible => Disposition::NotEligible,
        }
    }
}

/// Forms counted by outcome, and how many of them were answered with their code (online, or on
/// paper keyed by its code).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub forms: i64,
    pub assigned: i64,
    pub handed_out: i64,
    pub collected: i64,
    pub refused: i64,
    pub no_contact: i64,
    pub not_found: i64,
    pub not_eligible: i64,
    /// Forms whose code has a response (online or keyed), whatever their mark.
    pub answered: i64,
    /// Of those, answered online (the web survey, with or without JavaScript, or its outbox).
    pub online: i64,
    /// Final dispositions (`Outcome::disposition`).
    pub complete: i64,
    pub refusal: i64,
    pub non_contact: i64,
    pub unknown: i64,
    pub ineligible: i64,
}

impl Tally {
    /// Counts `n` forms marked `outcome`, `answered` of which have a response on their code,
    /// `online` of those from the web survey.
    pub fn add(&mut self, outcome: Outcome, n: i64, answered: bool, online: bool) {
        self.forms += n;
        *match outcome {
            Outcome::Assigned => &mut self.assigned,
            Outcome::HandedOut => &mut self.handed_out,
            Outcome::Collected => &mut self.collected,
            Outcome::Refused => &mut self.refused,
            Outcome::NoContact => &mut self.no_contact,
            Outcome::NotFound => &mut self.not_found,
            Outcome::NotEligible => &mut self.not_eligible,
        } += n;
        if answered {
            self.answered += n;
        }
        if answered && online {
            self.online += n;
        }
        *match outcome.disposition(answered) {
            Disposition::Complete => &mut self.complete,
            Disposition::Refusal => &mut self.refusal,
            Disposition::NonContact => &mut self.non_contact,
            Disposition::UnknownEligibility => &mut self.unknown,
            Disposition::NotEligible => &mut self.ineligible,
        } += n;
    }

    pub fn merge(&mut self, other: &Tally) {
        self.forms += other.forms;
        self.assigned += other.assigned;
        self.handed_out += other.handed_out;
        self.collected += other.collected;
        self.refused += other.refused;
        self.no_contact += other.no_contact;
        self.not_found += other.not_found;
        self.not_eligible += other.not_eligible;
        self.answered += other.answered;
        self.online += other.online;
        self.complete += other.complete;
        self.refusal += other.refusal;
        self.non_contact += other.non_contact;
        self.unknown += other.unknown;
        self.ineligible += other.ineligible;
    }

    /// Forms that went out to a household: handed out, then collected or not (a refusal at the
    /// door never took the form).
    pub fn out(&self) -> i64 {
        self.handed_out + self.collected
    }

    /// AAPOR RR1 = I / ((I + P) + (R + NC + O) + (UH + UO)); SIPAS has no partials (P) and no
    /// other (O), and every unknown is a household's (UH). `None` with no eligible or unknown
    /// form.
    pub fn rr1(&self) -> Option<f64> {
        let denominator = self.complete + self.refusal + self.non_contact + self.unknown;
        (denominator > 0).then(|| self.complete as f64 / denominator as f64)
    }

    /// The share of forms of known eligibility that were eligible, AAPOR's e estimated the
    /// usual way: (I + R + NC) / (I + R + NC + NE). `None` while no form's eligibility is known.
    pub fn eligibility(&self) -> Option<f64> {
        let known = self.complete + self.refusal + self.non_contact;
        let all = known + self.ineligible;
        (all > 0).then(|| known as f64 / all as f64)
    }

    /// AAPOR RR3 = I / ((I + P) + (R + NC + O) + e (UH + UO)), with e from [`Tally::eligibility`].
    pub fn rr3(&self) -> Option<f64> {
        let e = self.eligibility()?;
        let denominator =
            (self.complete + self.refusal + self.non_contact) as f64 + e * self.unknown as f64;
        (denominator > 0.0).then(|| self.complete as f64 / denominator)
    }
}

/// One assignment as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub id: i64,
    pub wave_code: String,
    pub worker_id: i64,
    pub worker: String,
    pub province_code: String,
    pub psu: String,
    pub psu_name: String,
    /// The invitation batch whose codes (for this commune) are the forms; `None` for numbered
    /// paper forms.
    pub batch: Option<String>,
    pub first_form: i64,
    pub last_form: i64,
    /// Civil dates (YYYY-MM-DD): when the forms go out, and when they are to be collected.
    pub hand_out_on: String,
    pub collect_by: String,
    pub created_by: String,
    pub created_at: String,
    pub tally: Tally,
}

/// One form of an assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignedForm {
    /// The number printed on the form or on its invitation card.
    pub number: i64,
    pub outcome: Outcome,
    /// Its code has a response, and whether that came from the web survey.
    pub answered: bool,
    pub online: bool,
    pub marked_at: Option<String>,
}

/// The most forms one assignment may hold (a village takes about 31; the phone page lists them
/// all and posts two fields a form).
pub const MAX_FORMS: i64 = 2000;

/// What is being assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignedForms {
    /// The unvoided codes of this batch in the commune not yet assigned, in their order: all of
    /// them, or the first `count`.
    Batch { id: String, count: Option<i64> },
    /// This many paper forms, numbered on from the commune's last.
    Paper(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAssignment {
    pub wave_code: String,
    pub worker_id: i64,
    pub psu: String,
    pub forms: AssignedForms,
    pub hand_out_on: String,
    pub collect_by: String,
    pub created_by: i64,
}

/// A field worker as the assignment form lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub province_code: String,
    /// The communes the account is restricted to; empty: the whole province.
    pub communes: Vec<String>,
    pub active: bool,
}

/// One change the worker asks for: form `number` from `was` (as their page showed it) to `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub number: i64,
    pub was: Outcome,
    pub now: Outcome,
}

/// What a save did: the numbers of the forms changed, and of those changed to something else
/// (or taken off the assignment) since the page was shown, left as they are. A form that
/// already had the asked outcome (the same save sent twice) is neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marked {
    pub changed: Vec<i64>,
    pub stale: Vec<i64>,
}

/// A wave's fieldwork in numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FieldworkTallies {
    /// (province code, tally), by code.
    pub provinces: Vec<(String, Tally)>,
    /// (province code, PSU, commune name, tally), by PSU.
    pub communes: Vec<(String, String, String, Tally)>,
    /// (worker id, username, display name, province code, tally), by username.
    pub workers: Vec<(i64, String, String, String, Tally)>,
}

/// Assignments and outcomes in the database.
#[async_trait]
pub trait FieldworkStore: Send + Sync {
    /// Field workers of a province (all provinces with `None`).
    async fn field_workers(&self, province: Option<&str>) -> StoreResult<Vec<Worker>>;
    /// Stores an assignment and its forms, all or nothing, with its audit entry; checks the
    /// worker, the wave, the commune and the batch (a `StoreError::Conflict` says which).
    /// Forms whose code is voided later leave the assignment (and its counts).
    async fn assign(
        &self,
        assignment: &NewAssignment,
        audit: &AuditOf<'_, (String, i64)>,
    ) -> StoreResult<i64>;
    /// A wave's assignments, of one province or worker if given.
    async fn assignments(
        &self,
        wave_code: Option<&str>,
        province: Option<&str>,
        worker: Option<i64>,
    ) -> StoreResult<Vec<Assignment>>;
    async fn assignment(&self, id: i64) -> StoreResult<(Assignment, Vec<AssignedForm>)>;
    /// Applies a worker's marks: a form changes only if it is still as their page showed it;
    /// refused once the wave is closed.
    async fn mark_forms(
        &self,
        assignment: i64,
        marks: &[Mark],
        by: i64,
        audit: &AuditOf<'_, Marked>,
    ) -> StoreResult<Marked>;
    async fn fieldwork(
        &self,
        wave_code: &str,
        province: Option<&str>,
    ) -> StoreResult<FieldworkTallies>;
    /// Takes the forms not yet handed out (and not come back) off an assignment (a worker who
    /// left, a commune given to the wrong person): their codes can be assigned again. How many
    /// were taken off; refused once the wave is closed.
    async fn withdraw_unmarked(
        &self,
        assignment: i64,
        audit: &AuditOf<'_, i64>,
    ) -> StoreResult<i64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(rows: &[(Outcome, i64, bool)]) -> Tally {
        let mut t = Tally::default();
        for (outcome, n, answered) in rows {
            t.add(*outcome, *n, *answered, *answered);
        }
        t
    }

    #[test]
    fn rates_follow_aapor_by_hand() {
        // 30 forms of a village: 18 collected, 2 answered online (marked handed out), 3 still
        // out, 2 refused, 1 nobody met, 2 not found, 1 vacant, 1 never handed out.
        let t = tally(&[
            (Outcome::Collected, 18, false),
            (Outcome::HandedOut, 2, true),
            (Outcome::HandedOut, 3, false),
            (Outcome::Refused, 2, false),
            (Outcome::NoContact, 1, false),
            (Outcome::NotFound, 2, false),
            (Outcome::NotEligible, 1, false),
            (Outcome::Assigned, 1, false),
        ]);
        assert_eq!(t.forms, 30);
        // I = 20, R = 3 + 2 = 5, NC = 1, UH = 2 + 1 = 3, NE = 1.
        assert_eq!(
            (
                t.complete,
                t.refusal,
                t.non_contact,
                t.unknown,
                t.ineligible
            ),
            (20, 5, 1, 3, 1)
        );
        // RR1 = 20 / (20 + 5 + 1 + 3) = 20/29.
        assert!((t.rr1().unwrap() - 20.0 / 29.0).abs() < 1e-15);
        // e = 26/27; RR3 = 20 / (26 + 3 · 26/27).
        let e = 26.0 / 27.0;
        assert!((t.eligibility().unwrap() - e).abs() < 1e-15);
        assert!((t.rr3().unwrap() - 20.0 / (26.0 + 3.0 * e)).abs() < 1e-15);
        assert!(t.rr3().unwrap() > t.rr1().unwrap());
        assert_eq!((t.answered, t.online, t.out()), (2, 2, 23));
    }

    #[test]
    fn an_answered_code_is_complete_whatever_its_mark() {
        for outcome in Outcome::ALL {
            assert_eq!(outcome.disposition(true), Disposition::Complete);
        }
        let t = tally(&[(Outcome::Refused, 1, true)]);
        assert_eq!((t.complete, t.refusal, t.refused), (1, 0, 1));
    }

    #[test]
    fn rates_are_none_without_forms_and_rr3_equals_rr1_without_unknowns() {
        assert_eq!(Tally::default().rr1(), None);
        assert_eq!(Tally::default().rr3(), None);
        // Only ineligible forms: no denominator.
        let vacant = tally(&[(Outcome::NotEligible, 4, false)]);
        assert_eq!(vacant.rr1(), None);
        assert_eq!(vacant.eligibility(), Some(0.0));
        let known = tally(&[(Outcome::Collected, 3, false), (Outcome::Refused, 1, false)]);
        assert_eq!(known.rr1(), Some(0.75));
        assert_eq!(known.rr3(), Some(0.75));
        // All unknown: e cannot be estimated.
        let unknown = tally(&[(Outcome::Assigned, 5, false)]);
        assert_eq!(unknown.rr1(), Some(0.0));
        assert_eq!(unknown.rr3(), None);
    }

    #[test]
    fn merged_tallies_add_up_and_keys_round_trip() {
        let mut a = tally(&[(Outcome::Collected, 2, false)]);
        a.merge(&tally(&[
            (Outcome::Refused, 1, false),
            (Outcome::Assigned, 1, true),
        ]));
        assert_eq!((a.forms, a.complete, a.refusal, a.answered), (4, 3, 1, 1));
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.key()), Some(outcome));
        }
        assert_eq!(Outcome::parse("lost"), None);
    }
}
