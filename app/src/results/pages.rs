//! The public results pages as whole HTML documents.

use leptos::prelude::*;

use super::charts::{
    Dot, SeriesKind, SeriesPoint, Tier, TileData, dot_chart, escape, series_chart, tile_map, tiles,
};
use super::{ROOT, ReleaseData, Site, Sort, map_label, province_path, release_path};
use crate::i18n::Locale;
use crate::staff::release::{ReleaseCell, ReleaseInfo};

/// The level of the published tests: a p-value adjusted by Holm's method under it is
/// "statistically significant at 5%".
const SIGNIFICANT: f64 = 0.05;

/// The p-value a change is judged on: Holm-adjusted over the provinces (a province's), or the
/// test made alone (the national rows).
fn change_p(c: &ReleaseCell) -> Option<f64> {
    c.change_p_holm.or(c.change_p)
}

fn pct(locale: Locale, x: Option<f64>, digits: usize) -> String {
    x.map_or("—".into(), |v| {
        format!("{}%", locale.decimal(100.0 * v, digits))
    })
}

fn interval(locale: Locale, c: &ReleaseCell) -> String {
    match (c.ci_low, c.ci_high) {
        (Some(lo), Some(hi)) => format!(
            "{} – {}%",
            locale.decimal(100.0 * lo, 1),
            locale.decimal(100.0 * hi, 1)
        ),
        _ => "—".into(),
    }
}

fn rank_interval(site: &Site, c: &ReleaseCell) -> String {
    match (c.rank_best, c.rank_worst, c.ranked_of) {
        (Some(best), Some(worst), Some(of)) if best == worst => {
            format!("{best} / {of}")
        }
        (Some(best), Some(worst), Some(of)) => {
            format!("{best}–{worst} / {of}")
        }
        _ => "—".into(),
    }
    .replace("/", site.t("trên", "of"))
}

/// "+1,2 điểm (có ý nghĩa thống kê)" — the change since the previous release, and whether it
/// is statistically significant at 5% (after Holm's adjustment over the provinces).
fn change_text(site: &Site, c: &ReleaseCell) -> String {
    match (c.change, change_p(c)) {
        (Some(d), Some(p)) => format!(
            "{}{} {} ({})",
            if d >= 0.0 { "+" } else { "" },
            site.locale.decimal(100.0 * d, 1),
            site.t("điểm", "pts"),
            if p < SIGNIFICANT {
                site.t("có ý nghĩa thống kê", "statistically significant")
            } else {
                site.t("chưa có ý nghĩa thống kê", "not statistically significant")
            }
        ),
        _ => "—".into(),
    }
}

/// How many provinces were tested for the index against the nation (the family Holm's
/// adjustment runs over).
fn comparisons(data: &ReleaseData) -> usize {
    data.provinces()
        .iter()
        .filter(|c| c.vs_national_p.is_some())
        .count()
}

/// "p = 0,012", or "p < 0,001" for smaller values.
fn p_value(locale: Locale, p: f64) -> String {
    if p < 0.001 {
        format!("p < {}", locale.decimal(0.001, 3))
    } else {
        format!("p = {}", locale.decimal(p, 3))
    }
}

fn is_latest_of_year(info: &ReleaseInfo, releases: &[ReleaseInfo]) -> bool {
    !releases
        .iter()
        .any(|r| r.year == info.year && r.version > info.version)
}

/// A whole public page: header with navigation and language switch, the body, a footer.
/// `share` is the Open Graph title and description of a shared link.
pub fn document(
    site: &Site,
    title: &str,
    share: (&str, &str),
    body: impl IntoView + 'static,
) -> String {
    let locale = site.locale;
    let switch = Locale::ALL
        .into_iter()
        .map(|other| {
            let href = format!(
                "/lang/{}?next={}",
                other.code(),
                crate::url::url_part(&site.path)
            );
            view! {
                <li>
                    <a href=href lang=other.code() hreflang=other.code() rel="nofollow"
                        aria-current=(other == locale).then_some("true")>{other.endonym()}</a>
                </li>
            }
        })
        .collect_view();
    let og_url = site.origin.as_ref().map_or(String::new(), |origin| {
        format!(
            r#"<meta property="og:url" content="{}">"#,
            escape(&format!("{origin}{}", site.path))
        )
    });
    // The head as text: Open Graph's `property` attribute is not one the view macro knows.
    let head = format!(
        r#"<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} · SIPAS</title><meta name="description" content="{description}"><meta property="og:type" content="website"><meta property="og:site_name" content="SIPAS"><meta property="og:title" content="{share_title}"><meta property="og:description" content="{description}"><meta property="og:locale" content="{og_locale}">{og_url}<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/results.css"></head>"#,
        title = escape(title),
        description = escape(share.1),
        share_title = escape(share.0),
        og_locale = locale.pick("vi_VN", "en_GB"),
    );
    let html = view! {
            <body class="results">
                <a class="skip-link" href="#main">{site.t("Bỏ qua, đến nội dung chính", "Skip to main content")}</a>
                <header class="results-header">
                    <a class="brand" href="/">{site.t("Chỉ số SIPAS", "SIPAS index")}</a>
                    <nav aria-label=site.t("Mục chính", "Main")>
                        <ul class="menu">
                            <li><a href="/ket-qua">{site.t("Kết quả", "Results")}</a></li>
                            <li><a href="/phuong-phap">{site.t("Phương pháp", "Methodology")}</a></li>
                            <li><a href="/api/v1/releases">{site.t("API dữ liệu", "Data API")}</a></li>
                            <li><a href="/khao-sat">{site.t("Trả lời khảo sát", "Answer the survey")}</a></li>
                        </ul>
                    </nav>
                    <nav aria-label=site.t("Ngôn ngữ", "Language")><ul class="lang-switch">{switch}</ul></nav>
                </header>
                <main id="main">{body}</main>
                <footer class="results-footer">
                    <p>{site.t(
                        "Chỉ số hài lòng của người dân, tổ chức đối với sự phục vụ của cơ quan hành chính nhà nước (SIPAS), Bộ Nội vụ. Số liệu có trọng số, kèm khoảng tin cậy và dữ liệu mở; mọi con số kiểm tra lại được bằng lệnh sipas verify.",
                        "Index of citizens' satisfaction with public administrative services (SIPAS), Ministry of Home Affairs. Weighted figures with confidence intervals and open data; every number can be checked with sipas verify.",
                    )}</p>
                </footer>
            </body>
    }
    .to_html();
    format!(
        "<!DOCTYPE html><html lang=\"{}\">{head}{html}</html>",
        locale.code()
    )
}

/// Links to every year (its latest version), the current one marked.
fn year_nav(site: &Site, info: &ReleaseInfo, releases: &[ReleaseInfo]) -> impl IntoView + use<> {
    let mut years: Vec<&ReleaseInfo> = releases
        .iter()
        .filter(|r| is_latest_of_year(r, releases))
        .collect();
    years.sort_by_key(|r| std::cmp::Reverse(r.year));
    let links = years
        .into_iter()
        .map(|r| {
            let current = (r.year == info.year).then_some("page");
            view! { <li><a href=release_path(r, true) aria-current=current>{r.year}</a></li> }
        })
        .collect_view();
    view! {
        <nav class="years" aria-label=site.t("Năm công bố", "Release years")>
            <ul>{links}</ul>
        </nav>
    }
}

/// "Bản này thiếu tỉnh …": the provinces of the map with no respondents in this release.
fn missing_note(site: &Site, data: &ReleaseData) -> impl IntoView + use<> {
    (!data.missing_provinces.is_empty()).then(|| {
        view! {
            <p class="notice" role="note" data-testid="missing-provinces">{format!("{} {}. {}",
                site.t("Bản này không có số liệu của", "This release has no figures for"),
                data.missing_provinces.join(", "),
                site.t("Trung bình các tỉnh được tính trên các tỉnh có số liệu.",
                    "The mean of provinces is over the provinces that have them."))}</p>
        }
    })
}

/// Version line: "Phiên bản 2 (đính chính): …" with links to the other versions of the year.
fn version_note(
    site: &Site,
    info: &ReleaseInfo,
    releases: &[ReleaseInfo],
) -> impl IntoView + use<> {
    let others: Vec<&ReleaseInfo> = releases
        .iter()
        .filter(|r| r.year == info.year && r.version != info.version)
        .collect();
    let latest = is_latest_of_year(info, releases);
    let superseded = (!latest).then(|| {
        view! {
            <p class="notice" role="note">{site.t(
                "Đây là phiên bản cũ, đã được đính chính. ",
                "This version has been corrected. ",
            )}<a href=format!("/ket-qua/{}", info.year)>{site.t("Xem phiên bản mới nhất", "See the latest version")}</a></p>
        }
    });
    let changelog = (!info.changelog.is_empty()).then(|| {
        view! {
            <p class="changelog"><strong>{format!("{} v{}: ", if info.version > 1 { site.t("Đính chính", "Correction") } else { site.t("Ghi chú", "Note") }, info.version)}</strong>{info.changelog.clone()}</p>
        }
    });
    let versions = (!others.is_empty()).then(|| {
        let links = others
            .into_iter()
            .map(|r| {
                view! { <a href=format!("/ket-qua/{}/v{}", r.year, r.version)>{format!("v{}", r.version)}</a>" " }
            })
            .collect_view();
        view! { <p class="versions">{site.t("Các phiên bản khác của năm: ", "Other versions of this year: ")}{links}</p> }
    });
    view! { {superseded}{changelog}{versions} }
}

fn tier_of(cell: &ReleaseCell) -> Tier {
    Tier::parse(cell.tier.as_deref())
}

/// The overview of a release: the national figures, every province with its interval on a
/// chart, a map and a table, the contents and elements nationally, and what changed.
pub fn overview(site: &Site, data: &ReleaseData, releases: &[ReleaseInfo], sort: Sort) -> String {
    let locale = site.locale;
    let info = &data.info;
    let latest = is_latest_of_year(info, releases);
    let national = data.cell("national", ROOT);
    let mean = data.cell("national_mean", ROOT);
    let mut provinces = data.provinces();
    match sort {
        Sort::Index => provinces.sort_by(|a, b| {
            b.estimate
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.estimate.unwrap_or(f64::NEG_INFINITY))
        }),
        Sort::Name => provinces.sort_by(|a, b| {
            crate::domain::fold_vietnamese(data.name(&a.domain))
                .cmp(&crate::domain::fold_vietnamese(data.name(&b.domain)))
        }),
    }
    let title = format!("{} {}", site.t("Chỉ số SIPAS", "SIPAS index"), info.year);
    // One national figure on the whole page: the methodology's rule, which the tiers, the
    // chart's line and the comparison text all use; the other is shown for reference only.
    let (reference, other) = if data.reference == "national" {
        (national, mean)
    } else {
        (mean, national)
    };
    let share_text = match reference {
        Some(n) => format!(
            "{}: {} ({} {})",
            site.t("Cả nước", "Nationally"),
            pct(locale, n.estimate, 2),
            site.t("khoảng tin cậy 95%", "95% interval"),
            interval(locale, n)
        ),
        None => title.clone(),
    };
    let tested = comparisons(data);

    let count = |tier: Tier| provinces.iter().filter(|c| tier_of(c) == tier).count();
    let headline = view! {
        <section class="headline" aria-labelledby="headline-heading">
            <h2 id="headline-heading" class="visually-hidden">{site.t("Con số chính", "Headline figures")}</h2>
            <div class="figure">
                <p class="figure-label">{reference_name(site, data.reference)}</p>
                <p class="figure-value" data-testid="national">{pct(locale, reference.and_then(|c| c.estimate), 2)}</p>
                <p class="figure-ci">{site.t("Khoảng tin cậy 95%: ", "95% confidence interval: ")}{reference.map(|c| interval(locale, c)).unwrap_or_default()}</p>
                <p class="figure-change">{site.t("So với năm trước: ", "Since the previous release: ")}{reference.map(|c| change_text(site, c)).unwrap_or_default()}</p>
                <p class="figure-note">{site.t(
                    "Con số cả nước dùng trên toàn trang: đường dọc của biểu đồ, các nhóm và mọi so sánh \"so với cả nước\".",
                    "The national figure used throughout this page: the chart's vertical line, the tiers and every \"against the nation\" comparison.")}
                    " "{format!("{} {}: {}.",
                        site.t("Tham khảo,", "For reference,"),
                        reference_name(site, if data.reference == "national" { "national_mean" } else { "national" }).to_lowercase(),
                        pct(locale, other.and_then(|c| c.estimate), 2))}</p>
            </div>
            <div class="figure">
                <p class="figure-label">{site.t("So với cả nước (có ý nghĩa thống kê ở mức 5%)", "Against the nation (statistically significant at 5%)")}</p>
                <ul class="tier-counts">
                    <li><span class=format!("swatch {}", Tier::Above.class()) aria-hidden="true">{Tier::Above.symbol()}</span>{format!(" {} {}", count(Tier::Above), site.t("tỉnh cao hơn", "provinces above"))}</li>
                    <li><span class=format!("swatch {}", Tier::NotDistinguishable.class()) aria-hidden="true">{Tier::NotDistinguishable.symbol()}</span>{format!(" {} {}", count(Tier::NotDistinguishable), site.t("tỉnh không khác biệt rõ", "provinces not distinguishable"))}</li>
                    <li><span class=format!("swatch {}", Tier::Below.class()) aria-hidden="true">{Tier::Below.symbol()}</span>{format!(" {} {}", count(Tier::Below), site.t("tỉnh thấp hơn", "provinces below"))}</li>
                </ul>
                <p class="figure-note">{format!("{} {tested} {}",
                    site.t("Đã tính đến", "Allowing for the"),
                    site.t("phép so sánh (phương pháp Holm): khi mọi tỉnh thật sự bằng cả nước, tối đa 5% số lần công bố có tỉnh bị xếp nhầm.",
                        "comparisons made (Holm's method): if every province truly equalled the nation, at most 5% of releases would place any of them wrongly."))}</p>
            </div>
        </section>
    };

    // The chart, the map and the table show the same numbers; the table is the text
    // alternative of both.
    let dots: Vec<Dot<'_>> = provinces
        .iter()
        .filter_map(|c| {
            Some(Dot {
                name: data.name(&c.domain),
                href: province_path(info, latest, &c.domain),
                estimate: c.estimate?,
                low: c.ci_low?,
                high: c.ci_high?,
                tier: tier_of(c),
            })
        })
        .collect();
    let chart = dot_chart(
        locale,
        &format!("{title}: {}", site.t("các tỉnh và khoảng tin cậy 95%", "provinces with 95% intervals")),
        site.t(
            "Mỗi chấm là chỉ số của một tỉnh, đường ngang là khoảng tin cậy 95%, đường dọc là cả nước. Bảng bên dưới có cùng các con số.",
            "Each dot is a province's index, its line the 95% interval, the vertical line the national figure. The table below has the same numbers.",
        ),
        &dots,
        reference.and_then(|c| c.estimate),
    );
    let base = release_path(info, latest);
    let sort_links = view! {
        <p class="sort">{site.t("Sắp xếp: ", "Sort: ")}
            <a href=format!("{base}#cac-tinh") aria-current=(sort == Sort::Index).then_some("true")>{site.t("theo chỉ số", "by index")}</a>" · "
            <a href=format!("{base}?sap-xep=ten#cac-tinh") aria-current=(sort == Sort::Name).then_some("true")>{site.t("theo tên", "by name")}</a>
        </p>
    };

    let map = {
        let tiles = tiles(info.geography);
        let summaries: std::collections::BTreeMap<String, (String, String, Tier, String)> =
            provinces
                .iter()
                .map(|c| {
                    let name = data.name(&c.domain).to_owned();
                    let summary = format!(
                        "{name}: {}, {}",
                        pct(locale, c.estimate, 2),
                        tier_of(c).label(locale)
                    );
                    let href = province_path(info, latest, &c.domain);
                    (c.domain.clone(), (name, href, tier_of(c), summary))
                })
                .collect();
        let lookup = move |code: &str| {
            summaries
                .get(code)
                .map(|(name, href, tier, summary)| TileData {
                    name: name.clone(),
                    href: href.clone(),
                    tier: *tier,
                    summary: summary.clone(),
                })
        };
        tile_map(
            &format!("{title}: {}", site.t("bản đồ theo nhóm", "map by tier")),
            site.t(
                "Mỗi ô là một tỉnh, đặt gần đúng vị trí địa lý; màu và ký hiệu cho biết tỉnh cao hơn, không khác biệt rõ hay thấp hơn cả nước.",
                "Each square is a province, placed roughly where it lies; its shade and symbol say whether it is above, not distinguishable from or below the national figure.",
            ),
            &tiles,
            &lookup,
        )
    };
    let legend = Tier::ALL
        .into_iter()
        .filter(|t| *t != Tier::Unknown)
        .map(|t| {
            view! { <li><span class=format!("swatch {}", t.class()) aria-hidden="true">{t.symbol()}</span>" "{t.label(locale)}</li> }
        })
        .collect_view();

    let rows = provinces
        .iter()
        .map(|c| {
            let tier = tier_of(c);
            view! {
                <tr>
                    <th scope="row"><a href=province_path(info, latest, &c.domain)>{data.name(&c.domain).to_owned()}</a></th>
                    <td class="num">{pct(locale, c.estimate, 2)}</td>
                    <td class="num">{interval(locale, c)}</td>
                    <td class="num">{rank_interval(site, c)}</td>
                    <td><span class=format!("swatch {}", tier.class()) aria-hidden="true">{tier.symbol()}</span>" "{tier.label(locale)}</td>
                    <td>{change_text(site, c)}</td>
                </tr>
            }
        })
        .collect_view();

    let elements = node_rows(site, data, data.reference, data.children(ROOT), 0);

    let changes = {
        let compared = info.compared_with;
        let mut up: Vec<&ReleaseCell> = Vec::new();
        let mut down: Vec<&ReleaseCell> = Vec::new();
        for c in &provinces {
            if let (Some(d), Some(p)) = (c.change, change_p(c))
                && p < SIGNIFICANT
            {
                if d > 0.0 {
                    up.push(c);
                } else {
                    down.push(c);
                }
            }
        }
        let list = |cells: Vec<&ReleaseCell>| {
            cells
                .into_iter()
                .map(|c| {
                    view! { <li><a href=province_path(info, latest, &c.domain)>{data.name(&c.domain).to_owned()}</a>": "{change_text(site, c)}</li> }
                })
                .collect_view()
        };
        match compared {
            None => view! { <p>{site.t("Chưa có năm trước để so sánh.", "There is no earlier release to compare with.")}</p> }.into_any(),
            Some(with) => {
                let merged = with.reaggregated.then(|| site.t(
                    " Năm trước tính trên 63 tỉnh cũ, đã được gộp theo 34 đơn vị mới để so sánh.",
                    " The previous year was on the 63 old provinces, merged into today's 34 units to compare.",
                ));
                let (n_up, n_down) = (up.len(), down.len());
                let changed = provinces.iter().filter(|c| change_p(c).is_some()).count();
                view! {
                    <p>{format!("{} SIPAS {} v{}.", site.t("So với", "Compared with"), with.year, with.version)}{merged}
                       {format!(" {n_up} {} · {n_down} {} · {} {}",
                           site.t("tỉnh tăng có ý nghĩa thống kê", "provinces rose significantly"),
                           site.t("tỉnh giảm có ý nghĩa thống kê", "fell significantly"),
                           provinces.len() - n_up - n_down,
                           site.t("tỉnh chưa có thay đổi có ý nghĩa thống kê", "show no statistically significant change"))}
                       {format!(" ({} {changed} {})",
                           site.t("mức 5%, đã tính đến", "at 5%, allowing for the"),
                           site.t("phép so sánh theo phương pháp Holm", "comparisons made, by Holm's method"))}</p>
                    <h3>{site.t("Tăng có ý nghĩa", "Significant rises")}</h3>
                    <ul>{list(up)}</ul>
                    <h3>{site.t("Giảm có ý nghĩa", "Significant falls")}</h3>
                    <ul>{list(down)}</ul>
                }
                .into_any()
            }
        }
    };

    let downloads = downloads(site, data, None);
    let body = view! {
        {year_nav(site, info, releases)}
        <h1>{if info.version > 1 { format!("{title} (v{})", info.version) } else { title.clone() }}</h1>
        <p class="meta">{format!("{} {} · {} · {}",
            site.t("Công bố", "Published"), site.date(&info.published_at),
            map_label(locale, info.geography),
            info.title)}</p>
        {version_note(site, info, releases)}
        {missing_note(site, data)}
        {headline}
        <section id="cac-tinh" aria-labelledby="provinces-heading">
            <h2 id="provinces-heading">{site.t("Các tỉnh, thành phố", "Provinces and cities")}</h2>
            <p class="hint">{site.t(
                "Khoảng tin cậy 95% cho biết con số có thể sai lệch bao nhiêu do chỉ khảo sát một mẫu. Hai tỉnh có khoảng chồng lên nhau nhiều thì chưa thể nói tỉnh nào hơn; vì vậy thứ hạng được ghi là một khoảng.",
                "The 95% interval shows how far a figure may be off because only a sample was asked. When two provinces' intervals overlap a lot, neither can be said to be ahead; that is why ranks are given as ranges.",
            )}</p>
            <p class="hint">{format!("{} {tested} {}", site.t(
                "\"Có ý nghĩa thống kê ở mức 5%\": khó có thể chỉ do chọn mẫu, kể cả khi đã tính đến",
                "\"Statistically significant at 5%\": unlikely to come from sampling alone, even allowing for the",
            ), site.t(
                "phép so sánh giữa các tỉnh (phương pháp Holm). \"Chưa có ý nghĩa thống kê\": có thể chỉ do chọn mẫu.",
                "comparisons between provinces (Holm's method). \"Not statistically significant\": it may come from sampling alone.",
            ))}</p>
            {sort_links}
            <figure class="chart" inner_html=chart></figure>
        </section>
        <section id="ban-do" aria-labelledby="map-heading">
            <h2 id="map-heading">{site.t("Bản đồ", "Map")}</h2>
            <div class="map-wrap">
                <figure class="map" inner_html=map></figure>
                <ul class="legend">{legend}</ul>
            </div>
        </section>
        <section id="bang" aria-labelledby="table-heading">
            <h2 id="table-heading">{site.t("Bảng số liệu", "Table")}</h2>
            <div class="table-scroll" tabindex="0">
                <table class="results-table">
                    <caption>{format!("{title}: {}", site.t("chỉ số, khoảng tin cậy, khoảng thứ hạng và nhóm của từng tỉnh", "each province's index, interval, rank range and tier"))}</caption>
                    <thead><tr>
                        <th scope="col">{site.t("Tỉnh, thành phố", "Province")}</th>
                        <th scope="col">{site.t("Chỉ số", "Index")}</th>
                        <th scope="col">{site.t("Khoảng tin cậy 95%", "95% interval")}</th>
                        <th scope="col">{site.t("Thứ hạng (khoảng)", "Rank (range)")}</th>
                        <th scope="col">{site.t("So với cả nước", "Against the nation")}</th>
                        <th scope="col">{site.t("Thay đổi so với năm trước", "Change since last year")}</th>
                    </tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
        <section aria-labelledby="elements-heading">
            <h2 id="elements-heading">{site.t("Nội dung và yếu tố (cả nước)", "Contents and elements (national)")}</h2>
            <div class="table-scroll" tabindex="0">
                <table class="results-table">
                    <thead><tr>
                        <th scope="col">{site.t("Nội dung, yếu tố", "Content, element")}</th>
                        <th scope="col">{site.t("Tỷ lệ hài lòng", "Share satisfied")}</th>
                        <th scope="col">{site.t("Khoảng tin cậy 95%", "95% interval")}</th>
                        <th scope="col">{site.t("Thay đổi so với năm trước", "Change since last year")}</th>
                    </tr></thead>
                    <tbody>{elements}</tbody>
                </table>
            </div>
        </section>
        <section aria-labelledby="changes-heading">
            <h2 id="changes-heading">{site.t("Thay đổi so với năm trước", "What changed since last year")}</h2>
            {changes}
        </section>
        {downloads}
    };
    document(site, &title, (&title, &share_text), body)
}

/// Rows of contents and elements (and, below `depth` 1, nothing more) of one domain.
fn node_rows(
    site: &Site,
    data: &ReleaseData,
    domain: &str,
    codes: &[String],
    depth: usize,
) -> Vec<AnyView> {
    let mut out = Vec::new();
    for code in codes {
        let Some(c) = data.cell(domain, code) else {
            continue;
        };
        let class = if depth == 0 { "content" } else { "element" };
        out.push(
            view! {
                <tr class=class>
                    <th scope="row">{data.label(site.locale, code)}</th>
                    <td class="num">{pct(site.locale, c.estimate, 2)}</td>
                    <td class="num">{interval(site.locale, c)}</td>
                    <td>{change_text(site, c)}</td>
                </tr>
            }
            .into_any(),
        );
        let children: Vec<String> = data
            .children(code)
            .iter()
            .filter(|child| data.wording.tree.iter().any(|n| &n.code == *child))
            .cloned()
            .collect();
        if depth == 0 {
            out.extend(node_rows(site, data, domain, &children, depth + 1));
        }
    }
    out
}

/// The release's downloads; on a province page (`province`: its code) the province's own
/// table comes first, in the same three formats. Then how to check every number, with the
/// SHA-256 of the files the check reads.
fn downloads(site: &Site, data: &ReleaseData, province: Option<&str>) -> impl IntoView + use<> {
    let info = &data.info;
    let base = format!("/du-lieu/{}/v{}", info.year, info.version);
    let own = province.map(|code| {
        [
            (
                format!("tinh-{code}.csv"),
                site.t(
                    "Bảng của tỉnh này (CSV tiếng Việt, mở bằng Excel)",
                    "This province's table (CSV, opens in Excel)",
                ),
            ),
            (
                format!("tinh-{code}.xlsx"),
                site.t("Bảng của tỉnh này (Excel)", "This province's table (Excel)"),
            ),
            (
                format!("tinh-{code}.json"),
                site.t("Bảng của tỉnh này (JSON)", "This province's table (JSON)"),
            ),
        ]
    });
    let files = [
        (
            "results.csv",
            site.t(
                "Bảng kết quả (CSV cho máy đọc, tên cột tiếng Anh)",
                "Results table (CSV, machine-readable)",
            ),
        ),
        (
            "results.xlsx",
            site.t("Bảng kết quả (Excel)", "Results table (Excel)"),
        ),
        (
            "results.json",
            site.t("Bảng kết quả (JSON)", "Results table (JSON)"),
        ),
        (
            "aggregates.csv",
            site.t(
                "Số liệu tổng hợp theo tỉnh để kiểm tra (không có số liệu theo xã hay theo người)",
                "Aggregates per province, to check the results (nothing per commune or person)",
            ),
        ),
        (
            "methodology.toml",
            site.t("Phương pháp đã dùng", "The methodology as used"),
        ),
        (
            "README.txt",
            site.t(
                "Hướng dẫn: các tệp và cách kiểm tra mọi con số",
                "Read me: the files and how to check every number",
            ),
        ),
    ];
    let verifiable = super::verifiable(&data.checksums);
    let links = own
        .into_iter()
        .flatten()
        .chain(
            files
                .into_iter()
                .filter(|(file, _)| verifiable || *file != "aggregates.csv")
                .map(|(file, label)| (file.to_owned(), label)),
        )
        .map(|(file, label)| view! { <li><a href=format!("{base}/{file}")>{label.to_owned()}</a></li> })
        .collect_view();
    let api = match province {
        Some(code) => format!(
            "/api/v1/releases/{}/{}/provinces/{code}",
            info.year, info.version
        ),
        None => format!("/api/v1/releases/{}/{}", info.year, info.version),
    };
    let sums = data
        .checksums
        .iter()
        .map(|(file, hash)| view! { <li><code>{file.clone()}</code>": "<code class="digest">{hash.clone()}</code></li> })
        .collect_view();
    view! {
        <section aria-labelledby="downloads-heading" class="downloads">
            <h2 id="downloads-heading">{site.t("Tải dữ liệu", "Download the data")}</h2>
            <ul>{links}</ul>
            <p>{site.t("Cùng số liệu qua API: ", "The same numbers through the API: ")}<a href=api.clone()><code>{api.clone()}</code></a>
               " · "<a href="/api/v1/openapi.json">"OpenAPI"</a></p>
            <h3>{site.t("Tự kiểm tra mọi con số", "Check every number yourself")}</h3>
            <p data-testid="verify-how">{if verifiable { site.t(
                "Tải results.csv, aggregates.csv và methodology.toml vào một thư mục rồi chạy lệnh sipas verify (xem README.txt): lệnh tính lại mọi con số đã công bố và báo những con số không khớp. Mã SHA-256 dưới đây cho biết tệp bạn tải về đúng là tệp đã công bố.",
                "Download results.csv, aggregates.csv and methodology.toml into one folder and run sipas verify (see README.txt): it recomputes every published number and reports any that does not match. The SHA-256 below tell you the files you downloaded are the ones published.",
            ) } else { site.t(
                "Bản này được công bố trước khi nền tảng công khai số liệu tổng hợp theo tỉnh, nên không thể kiểm tra bằng sipas verify; nhà nghiên cứu được phép có thể kiểm tra từ tổng số liệu đầy đủ theo xã. Mã SHA-256 dưới đây cho biết tệp bạn tải về đúng là tệp đã công bố.",
                "This release was published before the platform published aggregates per province, so sipas verify cannot check it; accredited researchers can, from the full per-commune totals. The SHA-256 below tell you the files you downloaded are the ones published.",
            ) }}</p>
            <ul class="checksums" data-testid="checksums">{sums}</ul>
            <p class="hint">{format!("{}: ", site.t(
                "Mã SHA-256 của tổng số liệu đầy đủ theo xã (Bộ Nội vụ lưu giữ, cấp cho nhà nghiên cứu được phép)",
                "SHA-256 of the full per-commune totals (kept by the Ministry, given to accredited researchers)"))}<code class="digest">{info.input_digest.clone()}</code></p>
        </section>
    }
}

/// A province's page: its index with interval, rank range and tier, the series over the
/// years, contents, elements and items, and how it compares with the nation and its
/// neighbours in the ranking. `None` when the release has no such province.
pub fn province(
    site: &Site,
    data: &ReleaseData,
    releases: &[ReleaseInfo],
    code: &str,
    series: &[SeriesPoint],
) -> Option<String> {
    let locale = site.locale;
    let info = &data.info;
    let latest = is_latest_of_year(info, releases);
    let cell = data.cell(code, ROOT)?;
    if !data.names.contains_key(code) {
        return None;
    }
    let name = data.name(code).to_owned();
    // The figure the tier and the difference "against the nation" are measured from.
    let national = data.cell(data.reference, ROOT);
    let tier = tier_of(cell);
    let title = format!(
        "{name}: {} {}",
        site.t("Chỉ số SIPAS", "SIPAS index"),
        info.year
    );
    let share = format!(
        "{name}: {} ({} {}) · {}",
        pct(locale, cell.estimate, 2),
        site.t("khoảng tin cậy 95%", "95% interval"),
        interval(locale, cell),
        tier.label(locale)
    );

    let vs_national = match (
        cell.vs_national_difference,
        cell.vs_national_p_holm.or(cell.vs_national_p),
    ) {
        (Some(d), Some(p)) => format!(
            "{}{} {} {}: {} ({}, {} {} {})",
            if d >= 0.0 { "+" } else { "" },
            locale.decimal(100.0 * d, 1),
            site.t("điểm so với", "pts against"),
            reference_name(site, data.reference).to_lowercase(),
            if p < SIGNIFICANT {
                site.t(
                    "có ý nghĩa thống kê ở mức 5%",
                    "statistically significant at 5%",
                )
            } else {
                site.t("chưa có ý nghĩa thống kê", "not statistically significant")
            },
            p_value(locale, p),
            site.t("đã tính đến", "allowing for"),
            comparisons(data),
            site.t("phép so sánh", "comparisons")
        ),
        _ => "—".into(),
    };
    let headline_flag = flag_label(site, &cell.flag);

    // Neighbours in the ranking: the provinces just above and below by estimate.
    let mut ranked = data.provinces();
    ranked.sort_by(|a, b| {
        b.estimate
            .unwrap_or(f64::NEG_INFINITY)
            .total_cmp(&a.estimate.unwrap_or(f64::NEG_INFINITY))
    });
    let position = ranked.iter().position(|c| c.domain == code).unwrap_or(0);
    let from = position.saturating_sub(2);
    let to = (position + 3).min(ranked.len());
    let neighbour_rows = ranked[from..to]
        .iter()
        .map(|c| {
            let own = c.domain == code;
            let t = tier_of(c);
            view! {
                <tr class:own=own>
                    <th scope="row">{if own {
                        view! { <strong>{data.name(&c.domain).to_owned()}</strong> }.into_any()
                    } else {
                        view! { <a href=province_path(info, latest, &c.domain)>{data.name(&c.domain).to_owned()}</a> }.into_any()
                    }}</th>
                    <td class="num">{pct(locale, c.estimate, 2)}</td>
                    <td class="num">{interval(locale, c)}</td>
                    <td class="num">{rank_interval(site, c)}</td>
                    <td><span class=format!("swatch {}", t.class()) aria-hidden="true">{t.symbol()}</span>" "{t.label(locale)}</td>
                </tr>
            }
        })
        .collect_view();
    let national_row = national.map(|n| {
        view! {
            <tr class="national-row">
                <th scope="row">{reference_name(site, data.reference)}</th>
                <td class="num">{pct(locale, n.estimate, 2)}</td>
                <td class="num">{interval(locale, n)}</td>
                <td></td><td></td>
            </tr>
        }
    });

    let series_view = (!series.is_empty()).then(|| {
        let chart = series_chart(
            locale,
            &format!("{name}: {}", site.t("chỉ số SIPAS qua các năm", "SIPAS index over the years")),
            series,
        );
        let rows = series
            .iter()
            .map(|p| {
                let (kind, source) = match &p.kind {
                    SeriesKind::Computed { version } => (
                        format!("{} (v{version})", site.t("Tính từ khảo sát, có trọng số", "Computed from the survey, weighted")),
                        None,
                    ),
                    SeriesKind::Reaggregated { version } => (
                        format!("{} (v{version})", site.t(
                            "Tính lại: các tỉnh cũ gộp theo 34 đơn vị mới",
                            "Re-aggregated: old provinces merged into today's units",
                        )),
                        None,
                    ),
                    SeriesKind::Elsewhere { label, source } => (
                        format!("{}: {label}", site.t(
                            "Công bố trước nền tảng này, không có khoảng tin cậy",
                            "Published before this platform, without an interval",
                        )),
                        Some(source.clone()),
                    ),
                };
                let ci = p.interval.map_or("—".to_owned(), |(lo, hi)| {
                    format!("{} – {}%", locale.decimal(100.0 * lo, 1), locale.decimal(100.0 * hi, 1))
                });
                let source = source.map(|s| view! { " "<a href=s rel="external nofollow">{site.t("nguồn", "source")}</a> });
                let class = if matches!(p.kind, SeriesKind::Elsewhere { .. }) { "elsewhere" } else { "computed" };
                view! {
                    <tr class=class>
                        <th scope="row">{p.year}</th>
                        <td class="num">{pct(locale, Some(p.estimate), 2)}</td>
                        <td class="num">{ci}</td>
                        <td>{kind}{source}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section aria-labelledby="series-heading">
                <h2 id="series-heading">{site.t("Qua các năm", "Over the years")}</h2>
                <figure class="chart" inner_html=chart></figure>
                <p class="hint">{site.t(
                    "Chấm tròn: tính từ khảo sát với khoảng tin cậy 95% (chấm rỗng: tính lại theo bản đồ mới). Hình thoi: con số công bố trước đây, không có khoảng tin cậy, không so sánh trực tiếp được.",
                    "Dots: computed from the survey with a 95% interval (hollow: re-aggregated to today's map). Diamonds: figures published before, without an interval, not directly comparable.",
                )}</p>
                <div class="table-scroll" tabindex="0">
                    <table class="results-table">
                        <thead><tr>
                            <th scope="col">{site.t("Năm", "Year")}</th>
                            <th scope="col">{site.t("Chỉ số", "Index")}</th>
                            <th scope="col">{site.t("Khoảng tin cậy 95%", "95% interval")}</th>
                            <th scope="col">{site.t("Nguồn số liệu", "Kind")}</th>
                        </tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
            </section>
        }
    });

    // Every content, element and item of the province.
    let mut detail: Vec<AnyView> = Vec::new();
    fn walk(
        site: &Site,
        data: &ReleaseData,
        code: &str,
        node: &str,
        depth: usize,
        out: &mut Vec<AnyView>,
    ) {
        for child in data.children(node) {
            let Some(c) = data.cell(code, child) else {
                continue;
            };
            let flag = flag_label(site, &c.flag);
            let class = format!("depth-{depth}");
            out.push(
                view! {
                    <tr class=class>
                        <th scope="row">{data.label(site.locale, child)}
                            {(!flag.is_empty()).then(|| view! { <span class="flag">{format!(" ({flag})")}</span> })}</th>
                        <td class="num">{pct(site.locale, c.estimate, 2)}</td>
                        <td class="num">{interval(site.locale, c)}</td>
                        <td>{change_text(site, c)}</td>
                    </tr>
                }
                .into_any(),
            );
            walk(site, data, code, child, depth + 1, out);
        }
    }
    walk(site, data, code, ROOT, 0, &mut detail);

    let body = view! {
        <p class="crumbs"><a href=release_path(info, latest)>{format!("{} {}", site.t("Kết quả", "Results"), info.year)}</a>" › "{name.clone()}</p>
        <h1>{title.clone()}</h1>
        {version_note(site, info, releases)}
        <section class="headline" aria-labelledby="headline-heading">
            <h2 id="headline-heading" class="visually-hidden">{site.t("Con số chính", "Headline figures")}</h2>
            <div class="figure">
                <p class="figure-label">{site.t("Chỉ số SIPAS", "SIPAS index")}</p>
                <p class="figure-value" data-testid="province-index">{pct(locale, cell.estimate, 2)}</p>
                <p class="figure-ci">{site.t("Khoảng tin cậy 95%: ", "95% confidence interval: ")}{interval(locale, cell)}</p>
                {(!headline_flag.is_empty()).then(|| view! { <p class="flag" data-testid="province-flag">{format!("({headline_flag})")}</p> })}
            </div>
            <div class="figure">
                <p class="figure-label">{site.t("Thứ hạng (khoảng tin cậy)", "Rank (with its interval)")}</p>
                <p class="figure-value">{rank_interval(site, cell)}</p>
                <p class="figure-ci"><span class=format!("swatch {}", tier.class()) aria-hidden="true">{tier.symbol()}</span>" "{tier.label(locale)}</p>
            </div>
            <div class="figure">
                <p class="figure-label">{site.t("So với năm trước", "Since the previous release")}</p>
                <p class="figure-change">{change_text(site, cell)}</p>
                <p class="figure-ci">{vs_national}</p>
            </div>
        </section>
        <p class="meta">{format!("{}: {} · {}: {}",
            site.t("Người trả lời", "Respondents"),
            cell.n.map_or("—".into(), |n| locale.decimal(n, 0)),
            site.t("cỡ mẫu hiệu dụng", "effective sample size"),
            cell.n_eff.map_or("—".into(), |n| locale.decimal(n, 0)))}</p>
        {series_view}
        <section aria-labelledby="detail-heading">
            <h2 id="detail-heading">{site.t("Nội dung, yếu tố và câu hỏi", "Contents, elements and questions")}</h2>
            <div class="table-scroll" tabindex="0">
                <table class="results-table detail">
                    <thead><tr>
                        <th scope="col">{site.t("Nội dung, yếu tố, câu hỏi", "Content, element, question")}</th>
                        <th scope="col">{site.t("Tỷ lệ hài lòng", "Share satisfied")}</th>
                        <th scope="col">{site.t("Khoảng tin cậy 95%", "95% interval")}</th>
                        <th scope="col">{site.t("Thay đổi so với năm trước", "Change since last year")}</th>
                    </tr></thead>
                    <tbody>{detail}</tbody>
                </table>
            </div>
        </section>
        <section aria-labelledby="neighbours-heading">
            <h2 id="neighbours-heading">{site.t("So với cả nước và các tỉnh gần nhất trong bảng xếp hạng", "Against the nation and the provinces nearest in the ranking")}</h2>
            <div class="table-scroll" tabindex="0">
                <table class="results-table">
                    <thead><tr>
                        <th scope="col">{site.t("Tỉnh, thành phố", "Province")}</th>
                        <th scope="col">{site.t("Chỉ số", "Index")}</th>
                        <th scope="col">{site.t("Khoảng tin cậy 95%", "95% interval")}</th>
                        <th scope="col">{site.t("Thứ hạng (khoảng)", "Rank (range)")}</th>
                        <th scope="col">{site.t("So với cả nước", "Against the nation")}</th>
                    </tr></thead>
                    <tbody>{neighbour_rows}{national_row}</tbody>
                </table>
            </div>
        </section>
        {downloads(site, data, Some(code))}
    };
    Some(document(site, &title, (&title, &share), body))
}

/// A cell's flag in words (empty when it is `ok`): the same words in a headline and a table.
fn flag_label(site: &Site, flag: &str) -> &'static str {
    super::flag_words(site.locale, flag)
}

/// The name of a tier reference domain (see [`ReleaseData::reference`]).
fn reference_name(site: &Site, domain: &str) -> String {
    match domain {
        "national" => site.t("Cả nước (mọi người trả lời)", "National (all respondents)"),
        _ => site.t(
            "Cả nước (bình quân các tỉnh)",
            "National (mean of provinces)",
        ),
    }
    .to_owned()
}

/// The page shown when nothing has been published yet.
pub fn nothing_published(site: &Site) -> String {
    let title = site.t("Chỉ số SIPAS", "SIPAS index").to_owned();
    let body = view! {
        <h1>{title.clone()}</h1>
        <p>{site.t("Chưa có kết quả nào được công bố.", "No results have been published yet.")}</p>
        <p><a href="/khao-sat">{site.t("Trả lời khảo sát", "Answer the survey")}</a></p>
    };
    document(site, &title, (&title, &title), body)
}

/// The methodology, written for a journalist, with every correction ever published.
pub fn methodology(site: &Site, releases: &[ReleaseInfo]) -> String {
    let title = site
        .t(
            "Phương pháp: đọc con số SIPAS thế nào",
            "Methodology: how to read the SIPAS figures",
        )
        .to_owned();
    let corrections = releases
        .iter()
        .filter(|r| !r.changelog.is_empty())
        .map(|r| {
            view! {
                <li><a href=format!("/ket-qua/{}/v{}", r.year, r.version)>{format!("SIPAS {} v{}", r.year, r.version)}</a>
                    {format!(" ({}): {}", site.date(&r.published_at), r.changelog)}</li>
            }
        })
        .collect_view();
    let no_corrections = releases.iter().all(|r| r.changelog.is_empty()).then(|| {
        view! { <p>{site.t("Chưa có đính chính nào.", "No corrections so far.")}</p> }
    });
    let section = |heading: &str, paragraphs: Vec<&str>| {
        let ps = paragraphs
            .into_iter()
            .map(|p| view! { <p>{p.to_owned()}</p> })
            .collect_view();
        view! { <section><h2>{heading.to_owned()}</h2>{ps}</section> }
    };
    let body = view! {
        <h1>{title.clone()}</h1>
        {section(site.t("Đo cái gì", "What is measured"), vec![
            site.t("SIPAS đo tỷ lệ người dân hài lòng với sự phục vụ của cơ quan hành chính nhà nước ở từng tỉnh: hai nội dung (xây dựng, thực hiện chính sách; cung ứng dịch vụ hành chính công), mỗi nội dung gồm các yếu tố (tiếp cận dịch vụ, thủ tục, công chức, kết quả, tiếp nhận phản ánh; trách nhiệm giải trình, sự tham gia, chất lượng và tác động của chính sách).",
                "SIPAS measures the share of citizens satisfied with the service of public administration in each province: two contents (making and carrying out policy; public administrative services), each made of elements (access, procedures, civil servants, results, feedback handling; accountability, participation, policy quality and impact)."),
            site.t("Một người được tính là hài lòng với một câu hỏi khi chọn 4 hoặc 5 trên thang 5 mức. Chỉ số của một yếu tố là trung bình các câu hỏi của nó, của một nội dung là trung bình các yếu tố, và Chỉ số SIPAS là trung bình hai nội dung.",
                "Someone counts as satisfied with a question when they answer 4 or 5 on the five-point scale. An element's figure is the mean of its questions, a content's the mean of its elements, and the SIPAS index the mean of the two contents."),
        ])}
        {section(site.t("Mẫu và trọng số", "Sample and weights"), vec![
            site.t("Ở mỗi tỉnh, một số xã, phường được chọn ngẫu nhiên, và trong đó một số người được mời trả lời. Mỗi câu trả lời có trọng số: một người ở nơi ít được chọn đại diện cho nhiều người hơn. Trọng số được điều chỉnh cho người không trả lời, để tổng trọng số bằng dân số của tỉnh.",
                "In each province some communes are drawn at random, and in them some people are invited. Each answer carries a weight: someone from a place less likely to be drawn stands for more people. Weights are adjusted for those who did not answer, so that they add up to the province's population."),
            site.t("Con số cả nước có hai cách: trung bình cộng các tỉnh (cách Bộ Nội vụ công bố) và cả nước theo mọi người trả lời (có trọng số theo dân số). Trang kết quả dùng một con số cả nước duy nhất, theo phương pháp của bản công bố (trung bình các tỉnh), cho đường dọc của biểu đồ, các nhóm và mọi so sánh; con số còn lại chỉ để tham khảo.",
                "The national figure comes two ways: the plain mean of the provinces (the Ministry's published rule) and all respondents weighted by population. The results pages use one national figure, the release methodology's (the mean of provinces), for the chart's line, the tiers and every comparison; the other is shown for reference only."),
        ])}
        {section(site.t("Khoảng tin cậy nghĩa là gì", "What the interval means"), vec![
            site.t("Vì chỉ hỏi một mẫu, mỗi con số có sai số. Khoảng tin cậy 95% là khoảng mà, nếu lặp lại cuộc khảo sát nhiều lần, 95 trên 100 lần sẽ chứa con số thật. Khoảng được tính theo thiết kế mẫu (chọn theo cụm xã, có trọng số), giống gói survey của R, nên thường rộng hơn cách tính đơn giản.",
                "Because only a sample is asked, every figure has an error. A 95% interval is one that, if the survey were repeated many times, would contain the true figure 95 times in 100. It follows the sample design (communes drawn as clusters, weights), as R's survey package does, so it is usually wider than a naive calculation."),
            site.t("Một thay đổi so với năm trước, hay một tỉnh cao hơn hoặc thấp hơn cả nước, được gọi là có ý nghĩa thống kê ở mức 5% khi khó có khả năng chỉ là do chọn mẫu, kể cả khi đã tính đến việc so sánh cùng lúc 34 tỉnh (phương pháp Holm): nếu mọi tỉnh thật sự bằng nhau, tối đa 5 trong 100 lần công bố có một tỉnh bị gọi nhầm.",
                "A change since last year, or a province above or below the nation, is called statistically significant at 5% when it is unlikely to come from sampling alone, even allowing for the 34 provinces compared at once (Holm's method): if every province truly were equal, at most 5 releases in 100 would single one out wrongly."),
        ])}
        {section(site.t("Vì sao thứ hạng là một khoảng", "Why ranks are ranges"), vec![
            site.t("Hai tỉnh cách nhau nửa điểm phần trăm thường không khác nhau thật. Vì vậy mỗi tỉnh có khoảng thứ hạng (ví dụ 3–12 trên 34), đúng đồng thời cho mọi tỉnh với độ tin cậy 95%, và được xếp vào một trong ba nhóm: cao hơn, không khác biệt rõ, hoặc thấp hơn cả nước.",
                "Two provinces half a point apart usually do not really differ. So each province has a rank range (for example 3–12 of 34) that holds for all provinces at once with 95% confidence, and is put in one of three tiers: above, not distinguishable from, or below the national figure."),
        ])}
        {section(site.t("Cờ chất lượng số liệu", "Data-quality flags"), vec![
            site.t("Con số dựa trên quá ít người trả lời hoặc quá thiếu chính xác không được công bố; con số có độ chính xác thấp được đánh dấu. Quy tắc theo Tiêu chuẩn trình bày tỷ lệ của NCHS (Hoa Kỳ).",
                "Figures resting on too few answers or too imprecise are withheld; those of low precision are marked. The rules are the NCHS Data Presentation Standards for Proportions."),
        ])}
        {section(site.t("Bản đồ 34 tỉnh và các năm trước", "The 34-unit map and earlier years"), vec![
            site.t("Từ 1/7/2025 cả nước có 34 tỉnh, thành phố. Các năm trước được khảo sát trên 63 tỉnh cũ; để so sánh, số liệu các tỉnh cũ được gộp theo đơn vị mới và được ghi rõ là 'tính lại'. Con số công bố trước khi có nền tảng này không có khoảng tin cậy và được hiển thị riêng.",
                "Since 1 July 2025 the country has 34 provinces and cities. Earlier years were surveyed on the 63 old provinces; to compare, the old provinces' data are merged into the new units and marked 're-aggregated'. Figures published before this platform have no interval and are shown apart."),
        ])}
        <section>
            <h2>{site.t("Đính chính", "Corrections")}</h2>
            <p>{site.t("Một bản đã công bố không bao giờ bị sửa; mỗi đính chính là một phiên bản mới có ghi chú, và các phiên bản cũ vẫn xem được.",
                "A published release is never changed; each correction is a new version with a note, and earlier versions stay readable.")}</p>
            <ul>{corrections}</ul>
            {no_corrections}
        </section>
        <section>
            <h2>{site.t("Tài liệu đầy đủ và tính lại", "Full documentation and reproduction")}</h2>
            <p>{site.t("Mỗi bản công bố có dữ liệu mở: bảng kết quả của cả nước và từng tỉnh, số liệu tổng hợp theo tỉnh (số câu trả lời và tổng có trọng số của từng câu hỏi, không có gì theo xã hay theo từng người) và phương pháp. Từ các tệp đó, lệnh sipas verify tính lại mọi con số đã công bố (chỉ số, khoảng tin cậy, thứ hạng, nhóm, thay đổi) và báo con số nào không khớp; sai số chuẩn, bậc tự do và hệ số thiết kế cần số liệu theo xã nên được công bố như đã tính. Các con số được làm tròn đến 0,01 điểm phần trăm, và mọi con số suy ra đều tính từ con số đã làm tròn, nên kiểm tra được chính xác. Tổng số liệu đầy đủ theo xã có thể nhận diện người trả lời nên không công khai: Bộ Nội vụ cấp cho nhà nghiên cứu được cấp phép (dự án được phê duyệt, có thời hạn, mỗi lần tải đều được ghi lại). Vì lý do đó cũng không công bố kết quả theo giới tính, độ tuổi. Phương pháp chi tiết (công thức, so khớp với gói survey của R) nằm trong tệp docs/methodology.md của mã nguồn.",
                "Each release has open data: the national and every province's results table, aggregates per province (each question's answers and weighted sums, nothing per commune or person) and the methodology. From those files, sipas verify recomputes every published number (indices, intervals, ranks, tiers, changes) and reports any that does not match; standard errors, degrees of freedom and design effects need the per-commune data and are published as computed. Figures are rounded to 0.01 percentage points, and everything derived is computed from the rounded figures, so the check is exact. The full per-commune totals could identify respondents and are not public: the Ministry of Home Affairs gives them to accredited researchers (an approved project, for a limited time, every download logged). For the same reason no results by sex or age are published. The detailed methodology (formulas, the match with R's survey package) is docs/methodology.md in the source code.")}</p>
            <ul>
                <li><a href="/phuong-phap/methodology.md">{site.t("Phương pháp chi tiết (tiếng Anh, Markdown)", "The detailed methodology (Markdown)")}</a></li>
                <li><a href="/phuong-phap/golden-r-survey.R">{site.t("Mã R đối chiếu với gói survey", "The R script that checks the statistics against R's survey package")}</a></li>
            </ul>
        </section>
    };
    document(site, &title, (&title, &title), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_ranges_read_as_words() {
        let site = Site {
            locale: Locale::Vi,
            path: "/".into(),
            origin: None,
        };
        let cell = ReleaseCell {
            domain: "01".into(),
            subgroup: String::new(),
            node: "sipas".into(),
            n: None,
            df: None,
            estimate: None,
            se: None,
            ci_low: None,
            ci_high: None,
            deff: None,
            n_eff: None,
            cv: None,
            flag: "ok".into(),
            note: String::new(),
            rank: Some(4),
            rank_best: Some(3),
            rank_worst: Some(12),
            ranked_of: Some(34),
            tier: None,
            vs_national_difference: None,
            vs_national_se: None,
            vs_national_p: None,
            vs_national_p_holm: None,
            change: Some(0.012),
            change_p: Some(0.01),
            change_p_holm: Some(0.01),
            change_se: None,
            change_df: None,
        };
        assert_eq!(rank_interval(&site, &cell), "3–12 trên 34");
        assert_eq!(change_text(&site, &cell), "+1,2 điểm (có ý nghĩa thống kê)");
        // Judged on the Holm-adjusted p-value when there is one.
        let adjusted = ReleaseCell {
            change_p_holm: Some(0.2),
            ..cell.clone()
        };
        assert_eq!(
            change_text(&site, &adjusted),
            "+1,2 điểm (chưa có ý nghĩa thống kê)"
        );
    }
}
