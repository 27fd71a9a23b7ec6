//! Fieldwork pages: the field worker's phone view (their assignments, and one assignment's
//! forms to mark), and the staff page of a wave's fieldwork (assigning forms, per-worker rows,
//! response rates by province and commune).
//!
//! The phone pages are plain server-rendered forms: they work without JavaScript on a 360 px
//! screen (one column, large targets); a save posts every form's shown and chosen outcome, and
//! the server changes only those that differ.

use leptos::prelude::*;

use super::{Ctx, day, document, moment};
use crate::domain::Province;
use crate::staff::fieldwork::{AssignedForm, Assignment, FieldworkTallies, Outcome, Tally, Worker};
use crate::staff::frame::FramePsu;
use crate::staff::port::{BatchSummary, WaveDetails};

/// A rate as a percentage with one decimal in the reader's notation, or "—" when it has no
/// denominator.
fn rate(locale: crate::i18n::Locale, value: Option<f64>) -> String {
    value.map_or_else(
        || "—".into(),
        |v| format!("{}%", locale.decimal(100.0 * v, 1)),
    )
}

/// What became of an assignment's forms, every outcome counted once (so they add up to the
/// forms), then how many codes were answered.
fn progress(ctx: &Ctx, tally: &Tally) -> String {
    let mut parts: Vec<String> = [
        (tally.collected, ctx.t("đã thu", "collected")),
        (
            tally.handed_out,
            ctx.t("đã phát, chờ thu", "handed out, to collect"),
        ),
        (tally.assigned, ctx.t("chưa phát", "not handed out")),
        (tally.refused, ctx.t("từ chối", "refused")),
        (tally.no_contact, ctx.t("không gặp được ai", "nobody met")),
        (tally.not_found, ctx.t("không tìm thấy hộ", "not found")),
        (
            tally.not_eligible,
            ctx.t("không thuộc đối tượng", "not eligible"),
        ),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, label)| format!("{n} {label}"))
    .collect();
    if tally.answered > 0 {
        parts.push(format!(
            "{} {}",
            tally.answered,
            ctx.t("mã đã được trả lời", "codes answered")
        ));
    }
    parts.join(" · ")
}

fn forms_label(ctx: &Ctx, a: &Assignment) -> String {
    let range = if a.first_form == a.last_form {
        format!("{}", a.first_form)
    } else {
        format!("{}–{}", a.first_form, a.last_form)
    };
    match &a.batch {
        Some(batch) => format!(
            "{} {}, {} {range}",
            ctx.t("mã mời lô", "invitation codes of batch"),
            batch,
            ctx.t("số", "numbers")
        ),
        None => format!("{} {range}", ctx.t("phiếu giấy số", "paper forms numbered")),
    }
}

/// The worker's start page: their assignments, newest hand-out first.
pub fn field_home(ctx: &Ctx, assignments: &[Assignment]) -> String {
    let title = ctx.t("Phiếu được giao", "My assignments");
    let items = assignments
        .iter()
        .map(|a| {
            let href = format!("/staff/field/{}", a.id);
            let heading = format!("{} · {} · {}", a.psu_name, a.psu, forms_label(ctx, a));
            let dates = format!(
                "{} {} · {} {}",
                ctx.t("Phát", "Hand out"),
                day(ctx.locale, Some(&a.hand_out_on), ("", "")),
                ctx.t("hạn thu", "collect by"),
                day(ctx.locale, Some(&a.collect_by), ("", "")),
            );
            view! {
                <li class="assignment">
                    <h2><a href=href>{heading}</a></h2>
                    <p>{format!("{} · {} {}", a.wave_code, a.tally.forms, ctx.t("phiếu", "forms"))}</p>
                    <p>{dates}</p>
                    <p>{progress(ctx, &a.tally)}</p>
                </li>
            }
        })
        .collect_view();
    let empty = assignments.is_empty().then(|| {
        view! { <p>{ctx.t("Chưa có phiếu nào được giao cho bạn.", "No forms have been assigned to you yet.")}</p> }
    });
    let body = view! {
        <div class="phone">
            <h1>{title}</h1>
            {empty}
            <ul class="assignments">{items}</ul>
        </div>
    };
    document(ctx, title, body)
}

/// One assignment's forms, each with its outcome to mark; `stale` forms changed elsewhere since
/// the page was last shown.
pub fn field_assignment(
    ctx: &Ctx,
    assignment: &Assignment,
    forms: &[AssignedForm],
    error: Option<String>,
) -> String {
    let title = format!("{} · {}", assignment.psu_name, assignment.psu);
    let options = |current: Outcome| {
        Outcome::ALL
            .into_iter()
            .map(|o| {
                let (vi, en) = o.label();
                view! { <option value=o.key() selected=o == current>{ctx.t(vi, en)}</option> }
            })
            .collect_view()
    };
    let rows = forms
        .iter()
        .map(|f| {
            let id = format!("o{}", f.number);
            let label = format!("{} {}", ctx.t("Phiếu số", "Form no."), f.number);
            let note = format!("n{}", f.number);
            let answered = f.answered.then(|| {
                let text = if f.online {
                    ctx.t("✓ đã trả lời trực tuyến", "✓ answered online")
                } else {
                    ctx.t("✓ đã nhập phiếu giấy", "✓ paper form keyed")
                };
                view! { <span class="answered" id=note.clone()>{text}</span> }
            });
            let described = f.answered.then_some(note);
            view! {
                <li>
                    <label for=id.clone()>{label}</label>
                    {answered}
                    <input type="hidden" name=format!("w{}", f.number) value=f.outcome.key() />
                    <select id=id.clone() name=id aria-describedby=described>{options(f.outcome)}</select>
                </li>
            }
        })
        .collect_view();
    let action = format!("/staff/field/{}", assignment.id);
    let error = error.map(|e| view! { <p class="error" role="alert">{e}</p> });
    let dates = format!(
        "{} {} · {} {}",
        ctx.t("Phát", "Hand out"),
        day(ctx.locale, Some(&assignment.hand_out_on), ("", "")),
        ctx.t("hạn thu", "collect by"),
        day(ctx.locale, Some(&assignment.collect_by), ("", "")),
    );
    let meanings = Outcome::ALL
        .into_iter()
        .map(|o| {
            let (vi, en) = o.label();
            let (meaning_vi, meaning_en) = meaning(o);
            view! { <li><b>{ctx.t(vi, en)}</b>": "{ctx.t(meaning_vi, meaning_en)}</li> }
        })
        .collect_view();
    let body = view! {
        <div class="phone">
            <p><a href="/staff/field">{ctx.t("← Phiếu được giao", "← My assignments")}</a></p>
            <h1>{title.clone()}</h1>
            <p>{format!("{} · {}", assignment.wave_code, forms_label(ctx, assignment))}</p>
            <p>{dates}</p>
            <p>{progress(ctx, &assignment.tally)}</p>
            {error}
            <form method="post" action=action class="field-forms">
                <ol class="forms">{rows}</ol>
                <button type="submit">{ctx.t("Lưu", "Save")}</button>
                <button type="submit" name="bulk" value="handed_out" class="secondary">
                    {ctx.t("Lưu, và ghi mọi phiếu còn “Chưa phát” là đã phát", "Save, and mark every form still “not handed out” as handed out")}
                </button>
            </form>
            <details class="help">
                <summary>{ctx.t("Cách ghi kết quả", "What to mark")}</summary>
                <ul>{meanings}</ul>
                <p>{ctx.t(
                    "Số phiếu là số in trên phiếu hoặc trên thẻ mã mời; hãy ghi số phiếu bên cạnh địa chỉ hộ trong sổ của bạn khi phát. Phiếu có dấu ✓ đã được trả lời: không cần thu lại, dù ghi kết quả gì vẫn được tính là hoàn thành. Trang chỉ lưu khi bấm Lưu.",
                    "The form number is the one printed on the form or on the invitation card; note it beside the household's address in your book when you hand it out. A form with ✓ was answered: no need to collect it, and it counts as complete whatever is marked. Nothing is saved until you press Save."
                )}</p>
            </details>
        </div>
    };
    document(ctx, &title, body)
}

/// When to choose each outcome (the worker's help).
fn meaning(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::Assigned => ("phiếu còn trong tay bạn", "the form is still with you"),
        Outcome::HandedOut => (
            "đã đưa cho người từ 18 tuổi trong hộ, hẹn ngày thu",
            "given to an adult of the household, to be collected",
        ),
        Outcome::Collected => (
            "đã thu lại phiếu có trả lời",
            "the answered form was collected",
        ),
        Outcome::Refused => (
            "hộ không nhận phiếu, hoặc trả lại phiếu trống",
            "the household would not take the form, or gave it back empty",
        ),
        Outcome::NoContact => (
            "đến nhiều lần không gặp ai",
            "nobody was met after repeated visits",
        ),
        Outcome::NotFound => (
            "không tìm được địa chỉ hoặc hộ",
            "the address or household could not be found",
        ),
        Outcome::NotEligible => (
            "nhà trống, không phải nơi ở, hoặc không có ai từ 18 tuổi",
            "vacant, not a dwelling, or no adult lives there",
        ),
    }
}

/// The assignment form as typed (shown again, with what is wrong, when refused).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AssignmentForm {
    /// The province whose page the form was on.
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub worker: String,
    #[serde(default)]
    pub psu: String,
    #[serde(default)]
    pub batch: String,
    #[serde(default)]
    pub count: String,
    #[serde(default)]
    pub hand_out_on: String,
    #[serde(default)]
    pub collect_by: String,
}

/// What the fieldwork page shows.
pub struct FieldworkView {
    pub wave: WaveDetails,
    pub tallies: FieldworkTallies,
    pub assignments: Vec<Assignment>,
    pub province_names: Vec<Province>,
    /// The province shown (`None`: the national comparison), and the frame's provinces the
    /// member may choose from.
    pub province: Option<String>,
    pub provinces: Vec<String>,
    /// The assignment form (`None`: the member may not assign): workers, the frame's communes
    /// and the wave's batches in the member's provinces.
    pub assigning: Option<(Vec<Worker>, Vec<FramePsu>, Vec<BatchSummary>)>,
    /// Whether the member may take forms not yet handed out back from an assignment.
    pub can_withdraw: bool,
    pub typed: AssignmentForm,
    pub error: Option<String>,
}

fn tally_cells(ctx: &Ctx, tally: &Tally) -> impl IntoView + use<> {
    view! {
        <td class="num">{tally.forms}</td>
        <td class="num">{tally.assigned}</td>
        <td class="num">{tally.out()}</td>
        <td class="num">{tally.collected}</td>
        <td class="num">{tally.online}</td>
        <td class="num">{tally.refused}</td>
        <td class="num">{tally.complete}</td>
        <td class="num">{tally.refusal}</td>
        <td class="num">{tally.non_contact}</td>
        <td class="num">{tally.unknown}</td>
        <td class="num">{tally.ineligible}</td>
        <td class="num">{rate(ctx.locale, tally.rr1())}</td>
        <td class="num">{rate(ctx.locale, tally.rr3())}</td>
    }
}

/// The columns: what the workers marked, then the AAPOR groups the rates are computed from,
/// so a reader can redo the rates from the row.
fn tally_headers(ctx: &Ctx, first: &'static str) -> impl IntoView + use<> {
    let marked = [
        (ctx.t("Phiếu giao", "Forms"), ""),
        (ctx.t("Chưa phát", "Not handed out"), ""),
        (
            ctx.t("Đã phát (gồm đã thu)", "Handed out (incl. collected)"),
            "",
        ),
        (ctx.t("Đã thu", "Collected"), ""),
        (ctx.t("Trả lời trực tuyến", "Answered online"), ""),
        (ctx.t("Từ chối", "Refused"), ""),
        ("I", ctx.t("hoàn thành", "complete")),
        (
            "R",
            ctx.t(
                "từ chối, kể cả đã phát chưa thu",
                "refusal, incl. handed out and not collected",
            ),
        ),
        ("NC", ctx.t("không gặp được ai", "non-contact")),
        (
            "UH",
            ctx.t(
                "chưa rõ đủ điều kiện: chưa phát, không tìm thấy hộ",
                "unknown eligibility: not handed out, household not found",
            ),
        ),
        ("NE", ctx.t("không thuộc đối tượng", "not eligible")),
        ("RR1", ""),
        ("RR3", ""),
    ]
    .map(|(name, title)| {
        if title.is_empty() {
            view! { <th scope="col" class="num">{name}</th> }.into_any()
        } else {
            view! { <th scope="col" class="num"><abbr title=title>{name}</abbr></th> }.into_any()
        }
    });
    view! { <tr><th scope="col">{first}</th>{marked.into_iter().collect_view()}</tr> }
}

pub fn fieldwork_page(ctx: &Ctx, view: FieldworkView) -> String {
    let code = view.wave.wave.code.clone();
    let title = format!(
        "{} · {}",
        ctx.t(
            "Phát, thu phiếu và tỷ lệ trả lời",
            "Fieldwork and response rates"
        ),
        code
    );
    let province_name = |c: &str| {
        view.province_names
            .iter()
            .find(|p| p.code == c)
            .map_or_else(|| c.to_owned(), |p| format!("{c} {}", p.name_vi))
    };
    let provinces = view
        .tallies
        .provinces
        .iter()
        .map(|(c, t)| {
            let href = format!("/staff/waves/{code}/fieldwork?province={c}");
            view! { <tr><th scope="row"><a href=href>{province_name(c)}</a></th>{tally_cells(ctx, t)}</tr> }
        })
        .collect_view();
    let communes = view
        .tallies
        .communes
        .iter()
        .map(|(p, psu, name, t)| {
            view! { <tr><th scope="row">{format!("{psu} {name} ({p})")}</th>{tally_cells(ctx, t)}</tr> }
        })
        .collect_view();
    let workers = view
        .tallies
        .workers
        .iter()
        .map(|(_, username, name, p, t)| {
            view! { <tr><th scope="row">{format!("{name} ({username}, {p})")}</th>{tally_cells(ctx, t)}</tr> }
        })
        .collect_view();
    let can_withdraw = view.can_withdraw;
    let assignments = view
        .assignments
        .iter()
        .map(|a| {
            let withdraw = (can_withdraw && a.tally.assigned > 0).then(|| {
                let action = format!("/staff/waves/{code}/fieldwork/{}/withdraw", a.id);
                // Forms that came back stay whatever their mark, so no count is promised here.
                let label = ctx.t("Thu hồi phiếu chưa phát", "Take back forms not handed out");
                view! {
                    <form method="post" action=action class="inline">
                        <button type="submit" class="small secondary">{label}</button>
                    </form>
                }
            });
            view! {
                <tr>
                    <td>{a.worker.clone()}</td>
                    <td>{format!("{} {}", a.psu, a.psu_name)}</td>
                    <td>{forms_label(ctx, a)}</td>
                    <td>{day(ctx.locale, Some(&a.hand_out_on), ("", ""))}</td>
                    <td>{day(ctx.locale, Some(&a.collect_by), ("", ""))}</td>
                    <td>{progress(ctx, &a.tally)}</td>
                    <td>{format!("{} · {}", a.created_by, moment(ctx.locale, &a.created_at))}</td>
                    <td>{withdraw}</td>
                </tr>
            }
        })
        .collect_view();
    let typed = view.typed.clone();
    // A refusal is shown above the form it is about (or at the top when there is none).
    let error = view
        .error
        .map(|e| view! { <p class="error" role="alert">{e}</p> });
    let (error, top_error) = if view.assigning.is_some() {
        (error, None)
    } else {
        (None, error)
    };
    let form = view.assigning.map(|(workers, psus, batches)| {
        let workers = workers
            .into_iter()
            .filter(|w| w.active)
            .map(|w| {
                let only = if w.communes.is_empty() {
                    String::new()
                } else {
                    format!(" — {} {}", ctx.t("chỉ xã/phường", "only communes"), w.communes.join(", "))
                };
                let id = w.id.to_string();
                let selected = typed.worker == id;
                view! { <option value=id selected=selected>{format!("{} ({}){only}", w.display_name, w.username)}</option> }
            })
            .collect_view();
        let psus = psus
            .into_iter()
            .map(|p| {
                let selected = typed.psu == p.psu;
                view! { <option value=p.psu.clone() selected=selected>{format!("{} {}", p.psu, p.name)}</option> }
            })
            .collect_view();
        let batches = batches
            .into_iter()
            .filter(|b| b.voided_at.is_none())
            .map(|b| {
                let selected = typed.batch == b.id;
                let label = format!(
                    "{} · {} · {} {}",
                    b.id,
                    super::scope_label(ctx.locale, &b.scope, None),
                    b.size,
                    ctx.t("mã", "codes")
                );
                view! { <option value=b.id.clone() selected=selected>{label}</option> }
            })
            .collect_view();
        let action = format!("/staff/waves/{code}/fieldwork");
        let chosen = view.province.clone().unwrap_or_default();
        view! {
            <h2 id="assign">{ctx.t("Giao phiếu", "Assign forms")}</h2>
            {error}
            <form method="post" action=action class="stacked">
                <input type="hidden" name="province" value=chosen />
                <label for="assign-worker">{ctx.t("Nhân viên phát và thu phiếu", "Field worker")}</label>
                <select id="assign-worker" name="worker" required><option value="">"—"</option>{workers}</select>
                <label for="assign-psu">{ctx.t("Xã/phường (PSU)", "Commune (PSU)")}</label>
                <select id="assign-psu" name="psu" required><option value="">"—"</option>{psus}</select>
                <fieldset>
                    <legend>{ctx.t("Phiếu: một lô mã mời, hoặc phiếu giấy", "Forms: a batch of codes, or paper forms")}</legend>
                    <label for="assign-batch">{ctx.t("Tất cả mã mời chưa giao của lô này ở xã/phường đã chọn", "Every unassigned code of this batch in the chosen commune")}</label>
                    <select id="assign-batch" name="batch"><option value="">"—"</option>{batches}</select>
                    <label for="assign-count">{ctx.t("hoặc số phiếu giấy (đánh số tiếp theo số cuối của xã/phường)", "or a number of paper forms (numbered on from the commune's last)")}</label>
                    <input id="assign-count" name="count" type="number" min="1" max="2000" inputmode="numeric" value=typed.count.clone() />
                </fieldset>
                <label for="assign-out">{ctx.t("Ngày phát", "Hand out on")}</label>
                <input id="assign-out" name="hand_out_on" type="date" required value=typed.hand_out_on.clone() />
                <label for="assign-by">{ctx.t("Hạn thu (hết ngày này)", "Collect by (end of this day)")}</label>
                <input id="assign-by" name="collect_by" type="date" required value=typed.collect_by.clone() />
                <button type="submit">{ctx.t("Giao", "Assign")}</button>
            </form>
        }
    });
    let chooser = (view.provinces.len() > 1).then(|| {
        let options = view
            .provinces
            .iter()
            .map(|c| view! { <option value=c.clone() selected=view.province.as_deref() == Some(c.as_str())>{province_name(c)}</option> })
            .collect_view();
        let action = format!("/staff/waves/{code}/fieldwork");
        view! {
            <form method="get" action=action class="inline">
                <label for="fw-province">{ctx.t("Tỉnh", "Province")}</label>" "
                <select id="fw-province" name="province">{options}</select>" "
                <button type="submit">{ctx.t("Xem", "Show")}</button>
            </form>
        }
    });
    let national = view.province.is_none().then(|| {
        view! { <p class="hint">{ctx.t(
            "Chọn một tỉnh để xem các xã/phường, từng nhân viên, các lần giao phiếu và để giao phiếu.",
            "Choose a province for its communes, each field worker, the assignments, and to assign forms."
        )}</p> }
    });
    let monitor = format!("/staff/waves/{code}/monitor");
    let body = view! {
        <p><a href=monitor>{ctx.t("← Theo dõi tiến độ", "← Monitoring")}</a></p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Ai giữ phiếu nào, đã phát, thu được bao nhiêu, và tỷ lệ trả lời theo chuẩn AAPOR. Nhân viên phát, thu phiếu ghi kết quả từng phiếu trên điện thoại; phiếu có mã mời đã được trả lời được tính là hoàn thành.",
            "Who has which forms, how many were handed out and collected, and AAPOR response rates. Field workers mark each form on their phones; a form whose invitation code was answered counts as complete.")}
        {top_error}
        {chooser}
        {national}
        {form}
        <h2>{ctx.t("Tỷ lệ trả lời theo tỉnh", "Response rates by province")}</h2>
        <table class="data"><thead>{tally_headers(ctx, ctx.t("Tỉnh", "Province"))}</thead><tbody>{provinces}</tbody></table>
        <h2>{ctx.t("Theo xã/phường", "By commune")}</h2>
        <table class="data"><thead>{tally_headers(ctx, ctx.t("Xã/phường", "Commune"))}</thead><tbody>{communes}</tbody></table>
        <h2>{ctx.t("Theo nhân viên", "By field worker")}</h2>
        <table class="data"><thead>{tally_headers(ctx, ctx.t("Nhân viên", "Field worker"))}</thead><tbody>{workers}</tbody></table>
        <details class="help">
            <summary>{ctx.t("Cách tính RR1 và RR3", "How RR1 and RR3 are computed")}</summary>
            <p>{ctx.t(
                "Mỗi phiếu được xếp vào một nhóm kết quả cuối cùng của AAPOR: hoàn thành I (đã thu, hoặc mã đã được trả lời), từ chối R (từ chối, hoặc đã phát mà chưa thu được), không gặp NC, chưa rõ đủ điều kiện UH (chưa phát, không tìm thấy hộ), không thuộc đối tượng NE.",
                "Each form falls in one of AAPOR's final disposition groups: complete I (collected, or its code answered), refusal R (refused, or handed out and not collected), non-contact NC, unknown eligibility UH (not handed out, household not found), not eligible NE."
            )}</p>
            <p><code>"RR1 = I / (I + R + NC + UH)"</code>" · "<code>"RR3 = I / (I + R + NC + e·UH)"</code>", "<code>"e = (I + R + NC) / (I + R + NC + NE)"</code></p>
            <p>{ctx.t(
                "Khi đợt còn đang thu, phiếu đã phát chưa thu được tính là từ chối, nên tỷ lệ tăng dần khi phiếu được thu về. Chỉ phiếu đã giao được tính.",
                "While fieldwork runs, forms handed out and not yet collected count as refusals, so the rates rise as forms come back. Only assigned forms count."
            )}</p>
            <p>{ctx.t(
                "Cột I, R, NC, UH, NE là các nhóm trên, nên có thể tính lại tỷ lệ từ từng dòng. Một phiếu ghi “từ chối” mà mã đã được trả lời vẫn là I. “—”: chưa tính được (RR3 cần ít nhất một phiếu đã biết có thuộc đối tượng hay không).",
                "Columns I, R, NC, UH, NE are these groups, so each row's rates can be redone from it. A form marked refused whose code was answered is still I. “—”: cannot be computed yet (RR3 needs at least one form whose eligibility is known)."
            )}</p>
        </details>
        <h2>{ctx.t("Các lần giao phiếu", "Assignments")}</h2>
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Nhân viên", "Worker")}</th>
            <th scope="col">{ctx.t("Xã/phường", "Commune")}</th>
            <th scope="col">{ctx.t("Phiếu", "Forms")}</th>
            <th scope="col">{ctx.t("Phát", "Hand out")}</th>
            <th scope="col">{ctx.t("Hạn thu", "Collect by")}</th>
            <th scope="col">{ctx.t("Tiến độ", "Progress")}</th>
            <th scope="col">{ctx.t("Người giao", "Assigned by")}</th>
            <th scope="col">{ctx.t("Thao tác", "Actions")}</th>
        </tr></thead><tbody>{assignments}</tbody></table>
    };
    document(ctx, &title, body)
}
