//! Fieldwork pages: the field worker's phone view (their assignments, and one assignment's
//! forms to mark), and the staff page of a wave's fieldwork (assigning forms, per-worker rows,
//! response rates by province and commune).
//!
//! The phone pages are plain server-rendered forms: they work without JavaScript on a 360 px
//! screen (one column, large targets), and a save sends only what the worker changed.

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

/// "12 / 30 collected …": the few numbers a worker looks at.
fn progress(ctx: &Ctx, tally: &Tally) -> String {
    format!(
        "{} {} · {} {} · {} {} · {} {}",
        tally.collected,
        ctx.t("đã thu", "collected"),
        tally.online,
        ctx.t("trả lời trực tuyến", "answered online"),
        tally.handed_out,
        ctx.t("chờ thu", "to collect"),
        tally.assigned,
        ctx.t("chưa phát", "not handed out"),
    )
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
            let heading = format!("{} · {}", a.psu_name, a.psu);
            let dates = format!(
                "{} {} · {} {}",
                ctx.t("Phát", "Hand out"),
                day(ctx.locale, Some(&a.hand_out_on), ("", "")),
                ctx.t("thu trước", "collect by"),
                day(ctx.locale, Some(&a.collect_by), ("", "")),
            );
            view! {
                <li class="assignment">
                    <h2><a href=href>{heading}</a></h2>
                    <p>{format!("{} · {} · {} {}", a.wave_code, forms_label(ctx, a), a.tally.forms, ctx.t("phiếu", "forms"))}</p>
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
            let answered = f.answered.then(|| {
                let text = if f.online {
                    ctx.t("✓ đã trả lời trực tuyến", "✓ answered online")
                } else {
                    ctx.t("✓ đã nhập phiếu giấy", "✓ paper form keyed")
                };
                view! { <span class="answered">{text}</span> }
            });
            view! {
                <li>
                    <label for=id.clone()>{label}</label>
                    {answered}
                    <input type="hidden" name=format!("w{}", f.number) value=f.outcome.key() />
                    <select id=id.clone() name=id>{options(f.outcome)}</select>
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
        ctx.t("thu trước", "collect by"),
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
                <button type="submit" name="bulk" value="handed_out" class="secondary">
                    {ctx.t("Đánh dấu mọi phiếu chưa phát là đã phát", "Mark every form not handed out as handed out")}
                </button>
                <ol class="forms">{rows}</ol>
                <button type="submit">{ctx.t("Lưu", "Save")}</button>
            </form>
            <details class="help">
                <summary>{ctx.t("Ghi kết quả thế nào", "What to mark")}</summary>
                <ul>{meanings}</ul>
                <p>{ctx.t(
                    "Phiếu có mã mời đã được trả lời thì được tính là hoàn thành, dù ghi gì. Ghi kết quả ngay khi có thể; trang chỉ lưu khi bấm Lưu.",
                    "A form whose code was answered counts as complete whatever is marked. Mark forms as soon as you can; nothing is saved until you press Save."
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
    pub error: Option<String>,
}

fn tally_cells(ctx: &Ctx, tally: &Tally) -> impl IntoView + use<> {
    view! {
        <td class="num">{tally.forms}</td>
        <td class="num">{tally.out()}</td>
        <td class="num">{tally.collected}</td>
        <td class="num">{tally.online}</td>
        <td class="num">{tally.refused}</td>
        <td class="num">{tally.no_contact}</td>
        <td class="num">{tally.not_found}</td>
        <td class="num">{tally.not_eligible}</td>
        <td class="num">{rate(ctx.locale, tally.rr1())}</td>
        <td class="num">{rate(ctx.locale, tally.rr3())}</td>
    }
}

fn tally_headers(ctx: &Ctx, first: &'static str) -> impl IntoView + use<> {
    let names = [
        ctx.t("Phiếu giao", "Forms"),
        ctx.t("Đã phát", "Handed out"),
        ctx.t("Đã thu", "Collected"),
        ctx.t("Trực tuyến", "Online"),
        ctx.t("Từ chối", "Refused"),
        ctx.t("Không gặp", "No contact"),
        ctx.t("Không tìm thấy", "Not found"),
        ctx.t("Không thuộc đối tượng", "Not eligible"),
        "RR1",
        "RR3",
    ]
    .map(|n| view! { <th scope="col" class="num">{n}</th> });
    view! { <tr><th scope="col">{first}</th>{names.into_iter().collect_view()}</tr> }
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
    let assignments = view
        .assignments
        .iter()
        .map(|a| {
            view! {
                <tr>
                    <td>{a.worker.clone()}</td>
                    <td>{format!("{} {}", a.psu, a.psu_name)}</td>
                    <td>{forms_label(ctx, a)}</td>
                    <td>{day(ctx.locale, Some(&a.hand_out_on), ("", ""))}</td>
                    <td>{day(ctx.locale, Some(&a.collect_by), ("", ""))}</td>
                    <td>{progress(ctx, &a.tally)}</td>
                    <td>{format!("{} · {}", a.created_by, moment(ctx.locale, &a.created_at))}</td>
                </tr>
            }
        })
        .collect_view();
    let form = view.assigning.map(|(workers, psus, batches)| {
        let workers = workers
            .into_iter()
            .filter(|w| w.active)
            .map(|w| {
                let only = if w.communes.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", w.communes.join(", "))
                };
                view! { <option value=w.id.to_string()>{format!("{} ({}, {}){only}", w.display_name, w.username, w.province_code)}</option> }
            })
            .collect_view();
        let psus = psus
            .into_iter()
            .map(|p| view! { <option value=p.psu.clone()>{format!("{} {} ({})", p.psu, p.name, p.province_code)}</option> })
            .collect_view();
        let batches = batches
            .into_iter()
            .filter(|b| b.voided_at.is_none())
            .map(|b| view! { <option value=b.id.clone()>{format!("{} · {} · {}", b.id, b.scope, b.size)}</option> })
            .collect_view();
        let action = format!("/staff/waves/{code}/fieldwork");
        let chosen = view.province.clone().unwrap_or_default();
        view! {
            <h2 id="assign">{ctx.t("Giao phiếu", "Assign forms")}</h2>
            <form method="post" action=action class="stacked">
                <input type="hidden" name="province" value=chosen />
                <label for="assign-worker">{ctx.t("Nhân viên phát, thu phiếu", "Field worker")}</label>
                <select id="assign-worker" name="worker" required>{workers}</select>
                <label for="assign-psu">{ctx.t("Xã/phường (PSU)", "Commune (PSU)")}</label>
                <select id="assign-psu" name="psu" required>{psus}</select>
                <fieldset>
                    <legend>{ctx.t("Phiếu", "Forms")}</legend>
                    <label for="assign-batch">{ctx.t("Các mã mời chưa giao của lô ở xã/phường này", "The batch's unassigned codes in this commune")}</label>
                    <select id="assign-batch" name="batch"><option value="">"—"</option>{batches}</select>
                    <label for="assign-count">{ctx.t("hoặc số phiếu giấy (đánh số tiếp theo của xã/phường)", "or a number of paper forms (numbered on from the commune's last)")}</label>
                    <input id="assign-count" name="count" type="number" min="1" max="2000" inputmode="numeric" />
                </fieldset>
                <label for="assign-out">{ctx.t("Ngày phát", "Hand out on")}</label>
                <input id="assign-out" name="hand_out_on" type="date" required />
                <label for="assign-by">{ctx.t("Thu trước ngày", "Collect by")}</label>
                <input id="assign-by" name="collect_by" type="date" required />
                <button type="submit">{ctx.t("Giao", "Assign")}</button>
            </form>
        }
    });
    let error = view
        .error
        .map(|e| view! { <p class="error" role="alert">{e}</p> });
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
        {error}
        {chooser}
        {national}
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
        </details>
        {form}
        <h2>{ctx.t("Các lần giao phiếu", "Assignments")}</h2>
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Nhân viên", "Worker")}</th>
            <th scope="col">{ctx.t("Xã/phường", "Commune")}</th>
            <th scope="col">{ctx.t("Phiếu", "Forms")}</th>
            <th scope="col">{ctx.t("Phát", "Hand out")}</th>
            <th scope="col">{ctx.t("Thu trước", "Collect by")}</th>
            <th scope="col">{ctx.t("Tiến độ", "Progress")}</th>
            <th scope="col">{ctx.t("Người giao", "Assigned by")}</th>
        </tr></thead><tbody>{assignments}</tbody></table>
    };
    document(ctx, &title, body)
}
