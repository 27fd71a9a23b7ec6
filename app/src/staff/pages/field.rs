//! The sample frame, invitation batches and the printed sheet of codes.

use leptos::prelude::*;

use crate::i18n::Locale;

use super::{Ctx, Sort, document, problems_list, sort_header};
use crate::staff::frame::Frame;
use crate::staff::port::{BatchSummary, WaveDetails};
use crate::staff::sheet::CellProblem;

pub fn frame_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    frame: Frame,
    can_upload: bool,
    problems: Option<(Vec<CellProblem>, usize)>,
) -> String {
    let code = wave.wave.code.clone();
    let title = format!("{} · {}", ctx.t("Dàn mẫu", "Sample frame"), code);
    let map_2025 = wave.wave.geography == crate::domain::Geography::G2025;
    let upload = can_upload.then(|| {
        let action = format!("/staff/waves/{code}/frame");
        view! {
            <h2>{ctx.t("Tải dàn mẫu lên", "Upload the frame")}</h2>
            <p class="hint">{ctx.t(
                "CSV hoặc XLSX, mỗi dòng một PSU (xã/phường) được chọn, các cột: province, stratum, stratum_population, stratum_psus, psu, psu_name, target. Tải lên lại sẽ thay thế toàn bộ dàn mẫu (PSU đã có mã mời phải giữ nguyên).",
                "CSV or XLSX, one row per sampled PSU (commune), columns: province, stratum, stratum_population, stratum_psus, psu, psu_name, target. Uploading again replaces the whole frame (PSUs with codes must stay as they are).")}</p>
            <dl class="facts">
                <dt>"province"</dt><dd>{ctx.t("mã tỉnh hai chữ số theo địa giới của đợt (ví dụ 01 Hà Nội, 79 Hồ Chí Minh)", "the two-digit province code in the wave's geography (e.g. 01 Hà Nội, 79 Hồ Chí Minh)")}</dd>
                <dt>"stratum"</dt><dd>{if map_2025 { ctx.t(
                    "mã tầng, không trùng giữa các tỉnh; để trống thì phường vào tầng thành thị (ví dụ 01-thanh-thi), xã và đặc khu vào tầng nông thôn (01-nong-thon)",
                    "the stratum's code, unique across provinces; left empty, a ward goes to the urban stratum (e.g. 01-thanh-thi), a commune or special zone to the rural one (01-nong-thon)")
                } else { ctx.t(
                    "mã tầng do bạn đặt, không trùng giữa các tỉnh, ví dụ 01-thanh-thi, 01-nong-thon",
                    "your code for the stratum, unique across provinces, e.g. 01-thanh-thi, 01-nong-thon")
                }}</dd>
                <dt>"stratum_population"</dt><dd>{ctx.t("số người trưởng thành sống trong tầng", "adults living in the stratum")}</dd>
                <dt>"stratum_psus"</dt><dd>{if map_2025 { ctx.t(
                    "tổng số xã/phường của tầng (được chọn hay không); để trống ở tầng mặc định thì lấy số phường (hoặc số xã và đặc khu) của tỉnh trong danh sách chính thức",
                    "communes in the stratum in total, sampled or not; left empty for a default stratum, the province's number of wards (or communes and special zones) on the official list")
                } else { ctx.t("tổng số xã/phường của tầng (được chọn hay không)", "communes in the stratum in total, sampled or not") }}</dd>
                <dt>"psu, psu_name"</dt><dd>{if map_2025 { ctx.t(
                    "mã chính thức 5 chữ số của xã, phường hay đặc khu được chọn (bản đồ từ 1/7/2025, ví dụ 00004 Phường Ba Đình); tên lấy từ danh sách, cột psu_name có thể để trống",
                    "the official 5-digit code of the sampled commune, ward or special zone (the map since 1 July 2025, e.g. 00004 Phường Ba Đình); the name comes from the list, psu_name may be empty")
                } else { ctx.t("mã và tên xã/phường được chọn", "code and name of the sampled commune") }}</dd>
                <dt>"target"</dt><dd>{ctx.t("số phiếu hoàn thành cần đạt ở xã/phường này", "completes wanted in this commune")}</dd>
            </dl>
            <form method="post" action=action enctype="multipart/form-data" class="inline">
                <label for="file">{ctx.t("Tệp dàn mẫu", "Frame file")}</label>
                <input id="file" name="file" type="file" accept=".csv,.xlsx" required />
                <button type="submit">{ctx.t("Tải lên", "Upload")}</button>
            </form>
        }
    });
    let problems = problems.map(|(listed, total)| problems_list(ctx, listed, total));
    let empty = frame.psus.is_empty().then(|| {
        view! { <p class="empty">{ctx.t("Chưa có dàn mẫu.", "No sample frame yet.")}</p> }
    });
    let strata = frame
        .strata
        .iter()
        .map(|s| view! { <tr><td>{s.province_code.clone()}</td><td>{s.stratum.clone()}</td><td class="num">{ctx.locale.integer(s.population)}</td><td class="num">{ctx.locale.integer(s.psus_in_population)}</td></tr> })
        .collect_view();
    let psus = frame
        .psus
        .iter()
        .map(|p| view! { <tr><td>{p.province_code.clone()}</td><td>{p.stratum.clone()}</td><td>{p.psu.clone()}</td><td>{p.name.clone()}</td><td class="num">{ctx.locale.integer(p.target)}</td></tr> })
        .collect_view();
    let tables = (!frame.psus.is_empty()).then(|| view! {
        <h2>{ctx.t("Tầng", "Strata")}</h2>
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Tỉnh", "Province")}</th><th scope="col">{ctx.t("Tầng", "Stratum")}</th>
            <th scope="col">{ctx.t("Dân số", "Population")}</th><th scope="col">{ctx.t("Số PSU", "PSUs")}</th>
        </tr></thead><tbody>{strata}</tbody></table>
        <h2>{ctx.t("PSU được chọn", "Sampled PSUs")}</h2>
        <table class="data"><thead><tr>
            <th scope="col">{ctx.t("Tỉnh", "Province")}</th><th scope="col">{ctx.t("Tầng", "Stratum")}</th>
            <th scope="col">PSU</th><th scope="col">{ctx.t("Tên", "Name")}</th><th scope="col">{ctx.t("Chỉ tiêu", "Target")}</th>
        </tr></thead><tbody>{psus}</tbody></table>
    });
    let back = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Dàn mẫu cho biết đợt khảo sát ở những xã/phường nào, mỗi nơi cần bao nhiêu phiếu, và dân số của từng tầng; trọng số được tính từ đây. Tải lên tệp mới sẽ thay dàn mẫu cũ.",
            "The frame says which communes the wave visits, how many forms each needs, and each stratum's population; the weights come from it. Uploading a new file replaces the old frame.")}
        {super::glossary(ctx, &[super::Term::Frame, super::Term::Stratum, super::Term::Psu, super::Term::Target])}
        {problems}{upload}{empty}{tables}
    };
    document(ctx, &title, body)
}

// Invitation batches and their printed sheet.

/// A batch's scope in words (stored as `psu 00001`, `stratum 79-urban`, `province 79`).
pub fn scope_label(locale: Locale, scope: &str, province_name: Option<&str>) -> String {
    if let Some(psu) = scope.strip_prefix("psu ") {
        format!("{} {psu}", locale.pick("Xã/phường (PSU)", "PSU"))
    } else if let Some(stratum) = scope.strip_prefix("stratum ") {
        format!("{} {stratum}", locale.pick("Tầng", "Stratum"))
    } else if let Some(province) = scope.strip_prefix("province ") {
        let whole = locale.pick("Cả tỉnh", "Whole province");
        match province_name {
            Some(name) => format!("{whole} {province} {name}"),
            None => format!("{whole} {province}"),
        }
    } else if scope == "paper forms without a code" {
        locale
            .pick("Phiếu giấy không kèm mã", "Paper forms without a code")
            .to_owned()
    } else {
        scope.to_owned()
    }
}

pub fn batches_page(
    ctx: &Ctx,
    (wave, units): (&WaveDetails, &[crate::domain::Province]),
    frame: Frame,
    mut batches: Vec<BatchSummary>,
    request_id: String,
    error: Option<String>,
    sort: Sort,
) -> String {
    let code = wave.wave.code.clone();
    let province_name = |code: &str| {
        units
            .iter()
            .find(|u| u.code == code)
            .map(|u| u.name_vi.as_str())
    };
    let province_label = |code: &str| match province_name(code) {
        Some(name) => format!("{code} {name}"),
        None => code.to_owned(),
    };
    sort.apply(
        &mut batches,
        &[
            ("batch", |a, b| a.id.cmp(&b.id)),
            ("province", |a, b| a.province_code.cmp(&b.province_code)),
            ("issued", |a, b| a.size.cmp(&b.size)),
            ("used", |a, b| a.used.cmp(&b.used)),
            ("progress", |a, b| a.in_progress.cmp(&b.in_progress)),
            ("date", |a, b| a.issued_at.cmp(&b.issued_at)),
        ],
    );
    let sort_base = format!("/staff/waves/{code}/batches");
    let title = format!("{} · {}", ctx.t("Mã mời", "Invitation batches"), code);
    let closed = wave.schedule.closed_at.is_some();
    let issue = if frame.psus.is_empty() {
        view! { <p class="empty">{ctx.t(
        "Chưa có dàn mẫu: cần tải dàn mẫu lên trước khi phát mã.",
        "No sample frame yet: the frame must be uploaded before codes can be issued.")}</p> }
        .into_any()
    } else if closed {
        view! { <p class="empty">{ctx.t("Đợt đã đóng.", "The wave is closed.")}</p> }.into_any()
    } else {
        let mut provinces: Vec<String> = frame
            .strata
            .iter()
            .map(|s| s.province_code.clone())
            .collect();
        provinces.dedup();
        let targets = provinces
            .iter()
            .map(|p| {
                view! { <option value=format!("province:{p}")>{scope_label(ctx.locale, &format!("province {p}"), province_name(p))}</option> }
            })
            .collect_view();
        let strata = frame
            .strata
            .iter()
            .map(|s| view! { <option value=format!("stratum:{}:{}", s.province_code, s.stratum)>{format!("{} {} · {}", ctx.t("Tầng", "Stratum"), s.stratum, province_label(&s.province_code))}</option> })
            .collect_view();
        let psus = frame
            .psus
            .iter()
            .map(|p| view! { <option value=format!("psu:{}", p.psu)>{format!("{} {} · {} ({})", ctx.t("Xã/phường (PSU)", "PSU"), p.psu, p.name, province_label(&p.province_code))}</option> })
            .collect_view();
        let action = format!("/staff/waves/{code}/batches");
        view! {
            <h2>{ctx.t("Phát mã mời", "Issue codes")}</h2>
            <p class="hint">{ctx.t(
                "Mã chỉ hiện một lần, ngay sau khi phát: in phiếu hoặc tải CSV ở trang tiếp theo. Khi phát cho cả tầng hoặc tỉnh, số mã được chia theo chỉ tiêu của từng PSU.",
                "Codes are shown once, right after issuing: print the sheet or download the CSV on the next page. Issued for a stratum or a province, the codes are shared out by each PSU's target.")}</p>
            {error.map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <form method="post" action=action class="inline">
                <input type="hidden" name="request_id" value=request_id />
                <label for="target">{ctx.t("Cho", "For")}</label>
                <select id="target" name="target">{targets}{strata}{psus}</select>
                <label for="count">{ctx.t("Số mã", "Count")}</label>
                <input id="count" name="count" type="number" min="1" max="5000" value="20" required />
                <button type="submit">{ctx.t("Phát mã", "Issue")}</button>
            </form>
        }.into_any()
    };
    let empty = batches.is_empty().then(|| view! {
        <p class="empty">{ctx.t("Chưa phát mã nào: hãy phát một lô.", "No codes issued yet: issue a batch.")}</p>
    });
    let rows = batches
        .iter()
        .map(|b| {
            let void = b.voided_at.is_none().then(|| {
                let action = format!("/staff/batches/{}/void", b.id);
                view! {
                    <form method="post" action=action class="inline">
                        <button type="submit" class="danger small"
                            aria-label=format!("{} {}", ctx.t("Hủy lô", "Void batch"), b.id)>{ctx.t("Hủy lô", "Void")}</button>
                    </form>
                }
            });
            let state = b.voided_at.as_ref().map(|at| format!("{} {}", ctx.t("đã hủy", "voided"), super::moment(ctx.locale, at)));
            view! {
                <tr>
                    <td><code>{b.id.clone()}</code></td>
                    <td>{province_label(&b.province_code)}</td>
                    <td>{scope_label(ctx.locale, &b.scope, province_name(&b.province_code))}</td>
                    <td class="num">{ctx.locale.integer(b.size)}</td>
                    <td class="num">{ctx.locale.integer(b.used)}</td>
                    <td class="num">{ctx.locale.integer(b.in_progress)}</td>
                    <td>{b.issued_by.clone()}<br/><small>{super::moment(ctx.locale, &b.issued_at)}</small></td>
                    <td>{state}{void}</td>
                </tr>
            }
        })
        .collect_view();
    let table = (!batches.is_empty()).then(|| view! {
        <table class="data sortable"><thead><tr>
            {sort_header(&sort_base, "batch", ctx.t("Lô", "Batch"), &sort)}
            {sort_header(&sort_base, "province", ctx.t("Tỉnh", "Province"), &sort)}
            <th scope="col">{ctx.t("Phạm vi", "For")}</th>
            {sort_header(&sort_base, "issued", ctx.t("Đã phát", "Issued"), &sort)}
            {sort_header(&sort_base, "used", ctx.t("Đã trả lời", "Used"), &sort)}
            {sort_header(&sort_base, "progress", ctx.t("Đang trả lời", "In progress"), &sort)}
            {sort_header(&sort_base, "date", ctx.t("Người phát, lúc", "Issued by, at"), &sort)}
            <th scope="col"><span class="visually-hidden">{ctx.t("Thao tác", "Actions")}</span></th>
        </tr></thead><tbody>{rows}</tbody></table>
    });
    let back = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href=back>{code.clone()}</a></p>
        <h1>{title.clone()}</h1>
        {super::purpose(ctx,
            "Phát mã mời một lần cho người dân ở các xã/phường đã chọn, in phiếu mời có mã QR cho bưu điện mang đi. Mã chỉ hiện một lần khi phát; lô đã in mà không dùng thì hủy.",
            "Issue one-time invitation codes for the selected communes and print QR invitation cards for postal staff. Codes are shown once, when issued; void a printed batch that will not be used.")}
        {issue}
        <h2>{ctx.t("Các lô đã phát", "Batches")}</h2>
        {empty}{table}
    };
    document(ctx, &title, body)
}

/// One printed invitation: the QR code (an SVG made by the server), the code and its link.
pub struct Card {
    /// The code's number in its batch, which the field worker marks on their phone.
    pub number: usize,
    pub code_display: String,
    pub code: String,
    pub link: String,
    pub qr_svg: String,
    pub psu: String,
    pub psu_name: String,
}

/// The cards of a batch as printed: the QR code, the address and the code to type, the promise
/// of confidentiality, and the PSU (for the postal staff).
fn sheet_cards(base_url: &str, cards: Vec<Card>) -> impl IntoView + use<> {
    let host = base_url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .to_owned();
    cards
        .into_iter()
        .map(|card| {
            let host = host.clone();
            view! {
                <article class="card">
                    <div class="qr" inner_html=card.qr_svg aria-hidden="true"></div>
                    <div>
                        <p class="card-title" lang="vi">"Khảo sát sự hài lòng của người dân (SIPAS)"</p>
                        <p lang="vi">"Quét mã QR bằng điện thoại, hoặc vào "<b>{format!("{host}/s")}</b>" và nhập mã:"</p>
                        <p class="code">{card.code_display}</p>
                        <p class="small" lang="vi">"Ý kiến của ông/bà được giữ bí mật. Mỗi mã chỉ dùng được một lần."</p>
                        <p class="small">{format!("Số {} · PSU {} · {}", card.number, card.psu, card.psu_name)}</p>
                        <p class="visually-hidden">{card.link}</p>
                    </div>
                </article>
            }
        })
        .collect_view()
}

/// The printable A4 sheet of a new batch, with the form that downloads the same codes as CSV.
pub fn batch_sheet(
    ctx: &Ctx,
    wave_title: &str,
    (batch_id, scope, province_name): (&str, &str, Option<&str>),
    base_url: &str,
    cards: Vec<Card>,
) -> String {
    let title = format!(
        "{} · {} · {} {}",
        ctx.t("Phiếu mời", "Invitation sheet"),
        scope_label(ctx.locale, scope, province_name),
        ctx.locale
            .integer(i64::try_from(cards.len()).unwrap_or(i64::MAX)),
        ctx.t("mã", "codes")
    );
    let codes: Vec<String> = cards.iter().map(|c| c.code.clone()).collect();
    let csv_action = format!("/staff/batches/{batch_id}/codes.csv");
    let cards = sheet_cards(base_url, cards);
    let body = view! {
        <div class="no-print">
            <h1>{title.clone()}</h1>
            <p>{wave_title.to_owned()}</p>
            <p class="hint">{format!("{} {batch_id}", ctx.t("Mã lô (để tra cứu hoặc hủy):", "Batch id (to look it up or void it):"))}</p>
            <p class="notice">{ctx.t(
                "Mã chỉ hiện lần này. In trang này (Ctrl+P, khổ A4) hoặc tải CSV trước khi rời trang.",
                "The codes are shown this once. Print this page (Ctrl+P, A4) or download the CSV before leaving it.")}</p>
            <form method="post" action=csv_action class="inline">
                <input type="hidden" name="codes" value=codes.join(" ") />
                <button type="submit">{ctx.t("Tải CSV", "Download CSV")}</button>
            </form>
            <p><button type="button" data-print="" hidden>{ctx.t("In phiếu", "Print the sheet")}</button></p>
        </div>
        <section class="sheet" aria-label=ctx.t("Phiếu mời", "Invitations")>{cards}</section>
    };
    document(ctx, &title, body)
}

/// The same sheet as a file of its own (`sipas codes --sheet`): the staff stylesheet inline,
/// no navigation and no forms, so it prints from any browser without the server.
pub fn batch_sheet_file(
    wave_title: &str,
    (batch_id, scope, province_name): (&str, &str, Option<&str>),
    base_url: &str,
    cards: Vec<Card>,
    stylesheet: &str,
) -> String {
    let title = format!(
        "Phiếu mời · {} · {} mã · lô {batch_id}",
        scope_label(Locale::Vi, scope, province_name),
        Locale::Vi.integer(i64::try_from(cards.len()).unwrap_or(i64::MAX))
    );
    let cards = sheet_cards(base_url, cards);
    let html = view! {
        <html lang="vi">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <title>{title.clone()}</title>
                <style inner_html=stylesheet.to_owned()></style>
            </head>
            <body class="staff">
                <main id="main">
                    <div class="no-print">
                        <h1>{title}</h1>
                        <p>{wave_title.to_owned()}</p>
                    </div>
                    <section class="sheet" aria-label="Phiếu mời">{cards}</section>
                </main>
            </body>
        </html>
    }
    .to_html();
    format!("<!DOCTYPE html>{html}")
}
