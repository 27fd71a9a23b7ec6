//! The sample design of a wave: the allocation options and what each gives, before anything is
//! drawn. A plain GET form: the table is recomputed from the address, without JavaScript.

use leptos::prelude::*;

use super::{Ctx, Term, document, glossary, purpose};
use crate::staff::design::{MIN_DF, Options, ProvinceDesign, Rule, SMALL_TAKE};
use crate::staff::port::WaveDetails;

/// A number field of the form, with its label and current value.
fn number_field(
    id: &'static str,
    label: &'static str,
    value: String,
    (min, max, step): (&'static str, &'static str, &'static str),
) -> impl IntoView + use<> {
    view! {
        <div>
            <label for=id>{label}</label>
            <input id=id name=id type="number" min=min max=max step=step value=value required />
        </div>
    }
}

pub fn design_page(
    ctx: &Ctx,
    wave: &WaveDetails,
    options: &Options,
    outcome: Result<Vec<ProvinceDesign>, String>,
    release: Option<String>,
    seed: u64,
) -> String {
    let code = wave.wave.code.clone();
    let title = format!(
        "{} · {}",
        ctx.t("Thiết kế mẫu", "Sample design"),
        wave.wave.title
    );
    let locale = ctx.locale;
    let rules = Rule::ALL
        .into_iter()
        .map(|rule| {
            let (vi, en) = rule.label();
            let (id, target) = (format!("rule-{}", rule.key()), format!("rule-{}", rule.key()));
            view! {
                <label for=target class="choice">
                    <input id=id type="radio" name="rule" value=rule.key() checked=options.rule == rule />
                    " "{ctx.t(vi, en)}
                </label>
            }
        })
        .collect_view();
    // Form values use a point whatever the language (the browser's number field).
    let decimal = |x: f64| x.to_string();
    let form = view! {
        <form method="get" action=format!("/staff/waves/{code}/design") class="design">
            <fieldset>
                <legend>{ctx.t("Cách phân bổ số người trả lời giữa các tỉnh", "How respondents are shared across provinces")}</legend>
                {rules}
            </fieldset>
            <div class="fields">
                {number_field("yamane_e", ctx.t("e của quy tắc hiện nay (điểm %)", "e of the current rule (points)"), decimal(options.yamane_e), ("0.5", "49.5", "0.5"))}
                {number_field("total", ctx.t("Tổng số người trả lời (chia đều, theo dân số)", "All respondents (equal, proportional)"), options.total.to_string(), ("100", "10000000", "1"))}
                {number_field("margin", ctx.t("Sai số mục tiêu (± điểm %)", "Target margin (± points)"), decimal(options.margin), ("0.5", "49", "0.5"))}
                {number_field("p", ctx.t("Tỷ lệ hài lòng dự kiến (%)", "Anticipated share satisfied (%)"), decimal(options.p), ("1", "99", "1"))}
                {number_field("deff", ctx.t("Hệ số thiết kế khi bản công bố trước không có", "Design effect where the last release has none"), decimal(options.deff), ("1", "20", "0.1"))}
                {number_field("communes", ctx.t("Số xã/phường mỗi tỉnh", "Communes per province"), options.communes.to_string(), ("4", "200", "1"))}
            </div>
            <button type="submit">{ctx.t("Tính lại bảng", "Recompute the table")}</button>
        </form>
    };
    let release_line = view! {
        <p class="hint">{match release {
            Some(name) => format!("{} {name}.", ctx.t("Hệ số thiết kế của từng tỉnh lấy từ chỉ số SIPAS của", "Each province's design effect is that of the SIPAS index in")),
            None => ctx.t(
                "Chưa có bản công bố nào trên cùng bản đồ: mọi tỉnh dùng hệ số thiết kế nhập ở trên.",
                "No release on the same map yet: every province uses the design effect entered above.").to_owned(),
        }}</p>
    };
    let table = match outcome {
        Err(message) => {
            leptos::either::Either::Left(view! { <p class="error" role="alert">{message}</p> })
        }
        Ok(rows) => {
            let total: u64 = rows.iter().map(|r| r.respondents).sum();
            let communes: u64 = rows.iter().map(|r| r.communes).sum();
            let small_take = rows.iter().any(|r| r.take < SMALL_TAKE);
            let low_df = rows.iter().any(|r| r.df < MIN_DF);
            let body = rows
                .into_iter()
                .map(|r| {
                    let population = r.population.map_or_else(|| "—".to_owned(), |n| locale.decimal(n, 0));
                    let deff = format!(
                        "{}{}",
                        locale.decimal(r.deff, 2),
                        if r.deff_from_release { "" } else { " *" }
                    );
                    let mut notes = Vec::new();
                    if r.take < SMALL_TAKE {
                        notes.push(ctx.t("ít người mỗi xã: ô nhỏ, không công bố được tổng theo xã", "few per commune: small cells, no per-commune totals"));
                    }
                    if r.df < MIN_DF {
                        notes.push(ctx.t("bậc tự do dưới 8: kết quả bị đánh dấu cần xem xét", "df under 8: results marked for review"));
                    }
                    view! {
                        <tr>
                            <th scope="row">{format!("{} {}", r.code, r.name)}</th>
                            <td class="num">{population}</td>
                            <td class="num">{deff}</td>
                            <td class="num">{locale.integer(r.respondents as i64)}</td>
                            <td class="num">{locale.integer(r.communes as i64)}</td>
                            <td class="num">{locale.integer(r.take as i64)}</td>
                            <td class="num">{format!("± {}", locale.decimal(100.0 * r.margin, 1))}</td>
                            <td class="num">{locale.integer(r.df as i64)}</td>
                            <td>{notes.join("; ")}</td>
                        </tr>
                    }
                })
                .collect_view();
            leptos::either::Either::Right(view! {
                <dl class="facts">
                    <dt>{ctx.t("Tổng số người trả lời", "Respondents in all")}</dt><dd>{locale.integer(total as i64)}</dd>
                    <dt>{ctx.t("Số xã/phường phải đến", "Communes to visit")}</dt><dd>{locale.integer(communes as i64)}</dd>
                </dl>
                {small_take.then(|| view! { <p class="warning">{ctx.t(
                    "Có tỉnh chỉ có dưới 10 người mỗi xã/phường: các ô xã × câu hỏi từ 1 đến 4 người sẽ nhiều, tổng số liệu theo xã không công bố được.",
                    "Some provinces have fewer than 10 respondents per commune: commune × item cells of 1 to 4 people will be common and the per-commune totals cannot be published.")}</p> })}
                {low_df.then(|| view! { <p class="warning">{ctx.t(
                    "Có tỉnh có bậc tự do dưới 8 (số xã/phường trừ số tầng): chọn thêm xã/phường.",
                    "Some provinces have fewer than 8 degrees of freedom (communes minus strata): visit more communes.")}</p> })}
                <table class="data">
                    <thead><tr>
                        <th scope="col">{ctx.t("Tỉnh", "Province")}</th>
                        <th scope="col">{ctx.t("Dân số trưởng thành", "Adults")}</th>
                        <th scope="col">{ctx.t("Hệ số thiết kế (deff)", "Deff")}</th>
                        <th scope="col">{ctx.t("Người trả lời", "Respondents")}</th>
                        <th scope="col">{ctx.t("Xã/phường", "Communes")}</th>
                        <th scope="col">{ctx.t("Mỗi xã/phường", "Per commune")}</th>
                        <th scope="col">{ctx.t("Sai số dự kiến (điểm %, 95%)", "Expected margin (points, 95%)")}</th>
                        <th scope="col">{ctx.t("Bậc tự do (df)", "df")}</th>
                        <th scope="col">{ctx.t("Lưu ý", "Notes")}</th>
                    </tr></thead>
                    <tbody>{body}</tbody>
                </table>
                <p class="hint">{ctx.t(
                    "* hệ số thiết kế nhập ở trên (bản công bố trước không có cho tỉnh này). Dân số “—”: chưa có số đo quy mô, không hiệu chỉnh tổng thể hữu hạn và cách chia theo dân số chia đều.",
                    "* the design effect entered above (the last release has none for this province). Adults “—”: no measure of size yet; no finite-population correction, and the proportional rule shares equally.")}</p>
            })
        }
    };
    // Drawing makes the frame: on the 2025 map (the official list), with the options above
    // carried along unchanged.
    let map_2025 = wave.wave.geography == crate::domain::Geography::G2025;
    // The draw replaces the frame: for those who may upload one.
    let may_draw = ctx
        .user
        .as_ref()
        .is_some_and(|u| u.may(crate::staff::roles::Action::UploadFrame));
    let draw = (map_2025 && may_draw).then(|| {
        let hidden = [
            ("rule", options.rule.key().to_owned()),
            ("yamane_e", options.yamane_e.to_string()),
            ("total", options.total.to_string()),
            ("margin", options.margin.to_string()),
            ("p", options.p.to_string()),
            ("deff", options.deff.to_string()),
            ("communes", options.communes.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| view! { <input type="hidden" name=name value=value /> })
        .collect_view();
        view! {
            <h2>{ctx.t("Chọn xã/phường theo cách phân bổ này", "Draw the communes with this allocation")}</h2>
            <p>{ctx.t(
                "Trong mỗi tỉnh, phường vào tầng thành thị, xã và đặc khu vào tầng nông thôn (tầng dưới 2 đơn vị gộp vào tầng kia); số xã/phường của tỉnh chia cho các tầng theo dân số, mỗi tầng ít nhất 2; trong mỗi tầng chọn hệ thống với xác suất tỷ lệ với số người trưởng thành, theo thứ tự mã chính thức. Kết quả thay dàn mẫu hiện có của đợt; hạt giống và cách chọn được lưu để chọn lại y hệt.",
                "In each province wards form the urban stratum, communes and special zones the rural one (a stratum under 2 units joins the other); the province's communes are shared across its strata by population, at least 2 each; each stratum is drawn systematically with probability proportional to adults, in official-code order. The result replaces the wave's frame; the seed and the method are stored so the draw can be repeated exactly.")}</p>
            <form method="post" action=format!("/staff/waves/{code}/design") enctype="multipart/form-data" class="stacked">
                {hidden}
                <label for="sizes">{ctx.t("Số người trưởng thành của từng xã/phường (CSV hoặc XLSX, cột commune, size)", "Adults in each commune (CSV or XLSX, columns commune, size)")}</label>
                <input id="sizes" name="file" type="file" accept=".csv,.xlsx" required />
                <label for="seed">{ctx.t("Hạt giống ngẫu nhiên (ghi lại để chọn lại được)", "Random seed (recorded so the draw can be repeated)")}</label>
                <input id="seed" name="seed" type="number" min="0" step="1" value=seed.to_string() required />
                <button type="submit">{ctx.t("Chọn mẫu và lập dàn mẫu", "Draw and make the frame")}</button>
            </form>
        }
    });
    let wave_href = format!("/staff/waves/{code}");
    let body = view! {
        <p class="crumbs"><a href="/staff">{ctx.t("Đợt khảo sát", "Waves")}</a>" › "<a href=wave_href>{wave.wave.title.clone()}</a></p>
        <h1>{ctx.t("Thiết kế mẫu", "Sample design")}</h1>
        {purpose(ctx,
            "So sánh các cách phân bổ mẫu trước khi chọn: mỗi cách cho bao nhiêu người trả lời, phải đến bao nhiêu xã/phường, mỗi nơi bao nhiêu người và sai số dự kiến của chỉ số SIPAS từng tỉnh. Chưa có gì được lưu hay chọn ở trang này.",
            "Compare the ways of allocating the sample before choosing: how many respondents each gives, how many communes to visit, how many people in each and the expected margin of error of each province's SIPAS index. Nothing is stored or drawn on this page.")}
        {glossary(ctx, &[Term::Psu, Term::Stratum, Term::Deff, Term::Df])}
        {form}
        {release_line}
        {table}
        {draw}
    };
    document(ctx, &title, body)
}
