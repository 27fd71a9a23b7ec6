//! The keying screen (double data entry of paper forms) and a keyed form's page, where a
//! supervisor decides the fields the two clerks keyed differently.
//!
//! Built for the keyboard alone: the form's code, then one short field per item in questionnaire
//! order (the digits of the answer; Tab passes an item the paper leaves empty). Without
//! JavaScript the clerk moves with Tab and the server applies the questionnaire's rules when the
//! form is saved; with `/staff.js` each digit moves to the next field and items the form skips
//! are switched off.

use leptos::prelude::*;

use super::{Ctx, document, moment};
use crate::staff::keying::{FormStatus, KeyedForm, NO_ANSWER};
use crate::staff::port::WaveDetails;
use crate::staff::sheet::Problems;
use crate::survey::questionnaire::{Item, Questionnaire};

/// A field's value as typed before (a page shown again with its problems).
fn typed<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, v)| v.as_str())
}

/// The values an item takes, as the hint and the script read them.
fn values(questionnaire: &Questionnaire, item: &Item) -> Vec<i64> {
    questionnaire.choices(item).map(|c| c.value).collect()
}

fn hint(questionnaire: &Questionnaire, item: &Item) -> String {
    let values = values(questionnaire, item);
    let scale = questionnaire.scales.get(&item.scale);
    let na = scale
        .and_then(|s| s.not_applicable.as_ref())
        .map(|c| c.value);
    let options: Vec<i64> = values.iter().copied().filter(|v| Some(*v) != na).collect();
    let range = match (options.first(), options.last()) {
        (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    };
    match na {
        Some(na) => format!("{range} · {na}"),
        None => range,
    }
}

/// The keying screen, empty or with what was typed and its problems.
pub fn keying_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    questionnaire: &Questionnaire,
    fields: &[(String, String)],
    problems: Option<&Problems>,
    message: Option<String>,
    forms: &[KeyedForm],
) -> String {
    let code = wave.wave.code.clone();
    let title = format!(
        "{} · {code}",
        ctx.t("Nhập phiếu giấy hai lần", "Double entry of paper forms")
    );
    let problem_list = problems.map(|p| {
        let items = p
            .listed
            .iter()
            .map(|c| {
                let text = format!("{}: {}", c.column, ctx.t(&c.message.vi, &c.message.en));
                view! { <li>{text}</li> }
            })
            .collect_view();
        view! {
            <div class="error" role="alert">
                <p>{ctx.t("Chưa lưu: sửa các ô sau rồi lưu lại.", "Not saved: correct these fields and save again.")}</p>
                <ul>{items}</ul>
            </div>
        }
    });
    let message = message.map(|m| view! { <p class="error" role="alert">{m}</p> });
    let widest = questionnaire
        .items()
        .flat_map(|i| values(questionnaire, i))
        .map(|v| v.to_string().len())
        .max()
        .unwrap_or(1);
    let inputs = questionnaire
        .items()
        .enumerate()
        .map(|(n, item)| {
            let id = format!("i-{}", item.code);
            let allowed = values(questionnaire, item)
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(" ");
            let (show_item, show_values) = match &item.show_if {
                Some(rule) => (
                    Some(rule.item.clone()),
                    Some(
                        rule.any_of
                            .iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                ),
                None => (None, None),
            };
            let hint_id = format!("h-{}", item.code);
            view! {
                <li>
                    <label for=id.clone()>{format!("{}. {}", n + 1, item.text(ctx.locale))}</label>
                    <input id=id name=item.code.clone() inputmode="numeric" autocomplete="off"
                        maxlength=widest.to_string() size="2" pattern="[0-9]*"
                        value=typed(fields, &item.code).to_owned()
                        aria-describedby=hint_id.clone()
                        data-values=allowed data-show-item=show_item data-show-values=show_values />
                    <span class="hint" id=hint_id>{hint(questionnaire, item)}</span>
                </li>
            }
        })
        .collect_view();
    let listed = forms
        .iter()
        .map(|f| {
            let href = format!("/staff/waves/{code}/keying/{}", f.id);
            let (vi, en) = f.status.label();
            let which = if f.form_number.is_empty() {
                ctx.t("theo mã mời", "by its code").to_owned()
            } else {
                format!("{} {}", ctx.t("số", "no."), f.form_number)
            };
            let clerks = f
                .entries
                .iter()
                .map(|e| e.clerk.clone())
                .collect::<Vec<_>>()
                .join(", ");
            view! {
                <tr>
                    <th scope="row"><a href=href>{format!("#{}", f.id)}</a></th>
                    <td>{f.province_code.clone()}</td>
                    <td>{format!("{} · {which}", f.psu)}</td>
                    <td>{ctx.t(vi, en).to_owned()}</td>
                    <td>{clerks}</td>
                    <td>{moment(ctx.locale, &f.updated_at)}</td>
                </tr>
            }
        })
        .collect_view();
    let back = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        <p class="purpose">{ctx.t(
            "Mỗi phiếu giấy được hai người nhập độc lập. Khi hai lần nhập khớp, phiếu được lưu thành phiếu trả lời; khi khác, người thứ ba đối chiếu với phiếu giấy và quyết định. Gõ mã mời in trên phiếu (hoặc xã/phường và số phiếu), rồi mỗi câu một chữ số; câu để trống trên phiếu thì bấm Tab. Enter để lưu.",
            "Each paper form is keyed by two people independently. When the two entries agree the form is stored as a response; when they differ, a third person checks the paper and decides. Type the invitation code printed on the form (or the commune and the form's number), then one digit per item; Tab passes an item left empty on the paper. Enter saves.")}</p>
        {problem_list}
        {message}
        <form method="post" class="keying" id="keying">
            <fieldset>
                <legend>{ctx.t("Phiếu", "Form")}</legend>
                <label for="code">{ctx.t("Mã mời in trên phiếu", "Invitation code printed on the form")}</label>
                <input id="code" name="code" autocomplete="off" autocapitalize="characters" spellcheck="false"
                    autofocus=true value=typed(fields, "code").to_owned() data-code-length="17" />
                <p class="hint">{ctx.t("hoặc, với phiếu phát không kèm mã:", "or, for a form handed out without a code:")}</p>
                <label for="psu">{ctx.t("Mã xã/phường", "Commune code")}</label>
                <input id="psu" name="psu" autocomplete="off" inputmode="numeric" size="6" value=typed(fields, "psu").to_owned() />
                <label for="form_id">{ctx.t("Số phiếu", "Form number")}</label>
                <input id="form_id" name="form_id" autocomplete="off" size="6" value=typed(fields, "form_id").to_owned() />
            </fieldset>
            <ol class="keying-items">{inputs}</ol>
            <button type="submit">{ctx.t("Lưu lần nhập", "Save this entry")}</button>
        </form>
        <h2>{ctx.t("Phiếu đã nhập", "Forms keyed")}</h2>
        <table class="data">
            <thead><tr>
                <th scope="col">{ctx.t("Phiếu", "Form")}</th>
                <th scope="col">{ctx.t("Tỉnh", "Province")}</th>
                <th scope="col">{ctx.t("Xã/phường · phiếu", "Commune · form")}</th>
                <th scope="col">{ctx.t("Tình trạng", "Status")}</th>
                <th scope="col">{ctx.t("Người nhập", "Keyed by")}</th>
                <th scope="col">{ctx.t("Cập nhật", "Updated")}</th>
            </tr></thead>
            <tbody>{listed}</tbody>
        </table>
    };
    document(ctx, &title, body)
}

/// A keyed form: its entries side by side where they differ, and for a supervisor (neither
/// clerk) the choice of each differing answer against the paper.
pub fn keyed_form_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    questionnaire: &Questionnaire,
    form: &KeyedForm,
    may_resolve: bool,
    message: Option<String>,
) -> String {
    let code = wave.wave.code.clone();
    let title = format!("{} #{}", ctx.t("Phiếu giấy", "Paper form"), form.id);
    let (vi, en) = form.status.label();
    let differing = form.differing_items(questionnaire);
    let entry = |i: usize, item: &str| {
        form.entries
            .get(i)
            .and_then(|e| e.answers.get(item))
            .map_or_else(|| ctx.t("trống", "empty").to_owned(), i64::to_string)
    };
    let clerk = |i: usize| {
        form.entries
            .get(i)
            .map(|e| e.clerk.clone())
            .unwrap_or_default()
    };
    let deciding = may_resolve && form.status == FormStatus::Differs;
    let rows = differing
        .iter()
        .map(|item_code| {
            let item = questionnaire.item(item_code);
            let text = item
                .map(|i| i.text(ctx.locale).to_owned())
                .unwrap_or_default();
            let select = deciding.then(|| {
                let id = format!("d-{item_code}");
                let options = item
                    .map(|i| values(questionnaire, i))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| view! { <option value=v.to_string()>{v}</option> })
                    .collect_view();
                let label = format!("{} {item_code}", ctx.t("Theo phiếu giấy:", "On the paper:"));
                view! {
                    <label class="visually-hidden" for=id.clone()>{label}</label>
                    <select id=id name=item_code.clone() required>
                        <option value="">{ctx.t("— chọn —", "— choose —")}</option>
                        <option value=NO_ANSWER>{ctx.t("trống", "empty")}</option>
                        {options}
                    </select>
                }
            });
            view! {
                <tr>
                    <th scope="row"><code>{item_code.clone()}</code>" "{text}</th>
                    <td class="num">{entry(0, item_code)}</td>
                    <td class="num">{entry(1, item_code)}</td>
                    <td>{select}</td>
                </tr>
            }
        })
        .collect_view();
    let action = format!("/staff/waves/{code}/keying/{}", form.id);
    let back = format!("/staff/waves/{code}/keying");
    let which = if form.form_number.is_empty() {
        ctx.t(
            "tìm theo mã mời in trên phiếu",
            "found by the code printed on it",
        )
        .to_owned()
    } else {
        format!("{} {}", ctx.t("phiếu số", "form no."), form.form_number)
    };
    let message = message.map(|m| view! { <p class="error" role="alert">{m}</p> });
    let explain = if deciding {
        ctx.t(
            "Đối chiếu từng câu dưới đây với phiếu giấy và chọn câu trả lời ghi trên phiếu. Các câu khác hai lần nhập đã khớp.",
            "Check each item below against the paper form and choose the answer written on it. The two entries agree on every other item.",
        )
    } else if form.status == FormStatus::Differs {
        ctx.t(
            "Người nhập phiếu không tự quyết định: một người khác có quyền nhập phiếu đối chiếu với phiếu giấy.",
            "A clerk who keyed the form does not decide: someone else allowed to key forms checks the paper.",
        )
    } else {
        ""
    };
    let body = view! {
        <p class="crumbs"><a href=back>{ctx.t("Nhập phiếu giấy hai lần", "Double entry of paper forms")}</a></p>
        <h1>{title.clone()}</h1>
        {message}
        <dl class="facts">
            <dt>{ctx.t("Tình trạng", "Status")}</dt><dd>{ctx.t(vi, en).to_owned()}</dd>
            <dt>{ctx.t("Tỉnh · xã/phường", "Province · commune")}</dt><dd>{format!("{} · {} · {which}", form.province_code, form.psu)}</dd>
            <dt>{ctx.t("Lần nhập thứ nhất", "First entry")}</dt><dd>{format!("{} · {}", clerk(0), form.entries.first().map(|e| moment(ctx.locale, &e.entered_at)).unwrap_or_default())}</dd>
            <dt>{ctx.t("Lần nhập thứ hai", "Second entry")}</dt><dd>{format!("{} · {}", clerk(1), form.entries.get(1).map(|e| moment(ctx.locale, &e.entered_at)).unwrap_or_default())}</dd>
        </dl>
        <p>{explain}</p>
        <form method="post" action=action class="stack">
            <table class="data">
                <thead><tr>
                    <th scope="col">{ctx.t("Câu hỏi", "Item")}</th>
                    <th scope="col">{clerk(0)}</th>
                    <th scope="col">{clerk(1)}</th>
                    <th scope="col">{ctx.t("Theo phiếu giấy", "On the paper")}</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
            {deciding.then(|| view! { <button type="submit">{ctx.t("Lưu theo phiếu giấy", "Save as on the paper")}</button> })}
        </form>
    };
    document(ctx, &title, body)
}
