//! Server-rendered SVG charts of the public results site. Plain strings (no script, no
//! outside tiles or fonts); each chart has a title and description, and its page has a table of
//! the same numbers next to it as the text alternative.

use std::fmt::Write;

use crate::domain::Geography;
use crate::i18n::Locale;

/// Escapes text for SVG/HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A province's standing against the national figure (the release's `tier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Above,
    NotDistinguishable,
    Below,
    /// No tier (suppressed or not ranked).
    Unknown,
}

impl Tier {
    pub fn parse(tier: Option<&str>) -> Self {
        match tier {
            Some("above") => Tier::Above,
            Some("not_distinguishable") => Tier::NotDistinguishable,
            Some("below") => Tier::Below,
            _ => Tier::Unknown,
        }
    }

    /// Class name: the stylesheet gives each tier a fill that differs in lightness too, so
    /// the map reads in grey scale; the symbol says it without colour.
    pub fn class(self) -> &'static str {
        match self {
            Tier::Above => "tier-above",
            Tier::NotDistinguishable => "tier-same",
            Tier::Below => "tier-below",
            Tier::Unknown => "tier-none",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Tier::Above => "▲",
            Tier::NotDistinguishable => "●",
            Tier::Below => "▼",
            Tier::Unknown => "–",
        }
    }

    pub fn label(self, locale: Locale) -> &'static str {
        match self {
            Tier::Above => locale.pick("Cao hơn cả nước", "Above the national figure"),
            Tier::NotDistinguishable => locale.pick(
                "Không khác biệt rõ với cả nước",
                "Not distinguishable from the national figure",
            ),
            Tier::Below => locale.pick("Thấp hơn cả nước", "Below the national figure"),
            Tier::Unknown => locale.pick("Không xếp nhóm", "No tier"),
        }
    }

    pub const ALL: [Tier; 4] = [
        Tier::Above,
        Tier::NotDistinguishable,
        Tier::Below,
        Tier::Unknown,
    ];
}

/// One province on the dot chart.
pub struct Dot<'a> {
    pub name: &'a str,
    pub href: String,
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
    pub tier: Tier,
}

fn percent(locale: Locale, x: f64, digits: usize) -> String {
    locale.decimal(100.0 * x, digits)
}

/// Every province as a dot with its interval, in the order given, with the national figure as
/// a vertical line. A group (not an image): each province's row is a link. Percent axis from the lowest to the highest bound, in steps of 5 points.
pub fn dot_chart(
    locale: Locale,
    title: &str,
    description: &str,
    dots: &[Dot<'_>],
    national: Option<f64>,
) -> String {
    const ROW: f64 = 20.0;
    const LEFT: f64 = 112.0;
    const RIGHT: f64 = 14.0;
    const TOP: f64 = 28.0;
    const WIDTH: f64 = 400.0;
    let lows = dots.iter().map(|d| d.low).chain(national);
    let highs = dots.iter().map(|d| d.high).chain(national);
    let min = lows.fold(f64::INFINITY, f64::min);
    let max = highs.fold(f64::NEG_INFINITY, f64::max);
    let (min, max) = if min.is_finite() && max.is_finite() {
        (
            (min * 20.0).floor() / 20.0,
            ((max * 20.0).ceil() / 20.0).max((min * 20.0).floor() / 20.0 + 0.05),
        )
    } else {
        (0.0, 1.0)
    };
    let height = TOP + ROW * dots.len() as f64 + 8.0;
    let x = |v: f64| LEFT + (v - min) / (max - min) * (WIDTH - LEFT - RIGHT);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="dot-chart" viewBox="0 0 {WIDTH} {height}" role="group" aria-labelledby="dc-title dc-desc" xmlns="http://www.w3.org/2000/svg"><title id="dc-title">{}</title><desc id="dc-desc">{}</desc>"#,
        escape(title),
        escape(description)
    );
    // Axis: a gridline and label every 5 points, or every 10 or 20 when 5 would put the labels
    // closer than a label is wide (a 390 px phone shows the 400-unit chart at about 1:1).
    let step = tick_step(min, max, WIDTH - LEFT - RIGHT, TICK_LABEL_ROOM);
    let mut tick = min;
    while tick <= max + 1e-9 {
        let tx = x(tick);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{tx:.1}" x2="{tx:.1}" y1="{}" y2="{height}"/><text class="tick" x="{tx:.1}" y="14" text-anchor="middle">{}%</text>"#,
            TOP - 6.0,
            percent(locale, tick, 0)
        );
        tick += step;
    }
    if let Some(n) = national {
        let nx = x(n);
        let _ = write!(
            svg,
            r#"<line class="national" x1="{nx:.1}" x2="{nx:.1}" y1="{}" y2="{height}"/>"#,
            TOP - 6.0
        );
    }
    for (i, dot) in dots.iter().enumerate() {
        let y = TOP + ROW * i as f64 + ROW / 2.0;
        let _ = write!(
            svg,
            r#"<a href="{}"><text class="label" x="{}" y="{:.1}" text-anchor="end">{}</text><line class="ci {}" x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><circle class="dot {}" cx="{:.1}" cy="{y:.1}" r="4"><title>{}: {}% ({}–{}%)</title></circle></a>"#,
            escape(&dot.href),
            LEFT - 8.0,
            y + 4.0,
            escape(dot.name),
            dot.tier.class(),
            x(dot.low),
            x(dot.high),
            dot.tier.class(),
            x(dot.estimate),
            escape(dot.name),
            percent(locale, dot.estimate, 2),
            percent(locale, dot.low, 1),
            percent(locale, dot.high, 1),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Room a tick label ("100%") needs, in chart units.
const TICK_LABEL_ROOM: f64 = 40.0;

/// The step between axis ticks over [min, max] drawn `length` units long: 5 points, or 10, 20,
/// 25 or 50 when ticks 5 points apart would be closer than `room` (a label's size).
pub fn tick_step(min: f64, max: f64, length: f64, room: f64) -> f64 {
    [0.05, 0.10, 0.20, 0.25, 0.50]
        .into_iter()
        .find(|step| length * step / (max - min) >= room)
        .unwrap_or(0.5)
}

/// A map tile: a province at (row, column) of the tile grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub code: String,
    pub row: u32,
    pub col: u32,
}

/// The tile grid of a map (data/geography/tiles_*.csv): every unit one square, placed roughly
/// where it lies, so small provinces are as visible as large ones.
pub fn tiles(geography: Geography) -> Vec<Tile> {
    let text = match geography {
        Geography::G2004 => include_str!("../../../data/geography/tiles_2004.csv"),
        Geography::G2025 => include_str!("../../../data/geography/tiles_2025.csv"),
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut parts = line.split(',');
            Some(Tile {
                code: parts.next()?.to_owned(),
                row: parts.next()?.parse().ok()?,
                col: parts.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// Initials of a name ("Hồ Chí Minh" → "HCM"), for a tile.
pub fn initials(name: &str) -> String {
    name.split([' ', '-'])
        .filter_map(|word| word.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Labels for the tiles of `names`, unique among them: a name's initials ("Hồ Chí Minh" → "HCM"),
/// and where two names share them (Quảng Nam, Quảng Ngãi, Quảng Ninh) more letters of the last
/// word until they differ ("QNa", "QNg", "QNi").
pub fn tile_labels(names: &[&str]) -> Vec<String> {
    let last_word = |name: &str| -> Vec<char> {
        name.split([' ', '-'])
            .rfind(|w| !w.is_empty())
            .map(|w| w.chars().collect())
            .unwrap_or_default()
    };
    let mut extra = vec![0usize; names.len()];
    let label = |i: usize, extra: usize| -> String {
        let mut text = initials(names[i]);
        text.extend(last_word(names[i]).into_iter().skip(1).take(extra));
        text
    };
    // Each round lengthens every label that still collides; a name can only run out of
    // letters, which leaves it as long as it gets.
    for _ in 0..8 {
        let labels: Vec<String> = (0..names.len()).map(|i| label(i, extra[i])).collect();
        let mut clash = false;
        for i in 0..names.len() {
            if labels.iter().filter(|l| **l == labels[i]).count() > 1 {
                extra[i] += 1;
                clash = true;
            }
        }
        if !clash {
            break;
        }
    }
    (0..names.len()).map(|i| label(i, extra[i])).collect()
}

/// One tile's content.
pub struct TileData {
    pub name: String,
    pub href: String,
    pub tier: Tier,
    /// The tile's text for screen readers and the tooltip ("Hà Nội: 84,1%, above …").
    pub summary: String,
}

/// The tile-grid map: each unit a square coloured by tier, with its initials and the tier's
/// symbol, linked to its page.
pub fn tile_map(
    title: &str,
    description: &str,
    tiles: &[Tile],
    data: &dyn Fn(&str) -> Option<TileData>,
) -> String {
    const SIZE: f64 = 46.0;
    const GAP: f64 = 4.0;
    let rows = tiles.iter().map(|t| t.row).max().unwrap_or(0) + 1;
    let cols = tiles.iter().map(|t| t.col).max().unwrap_or(0) + 1;
    let width = f64::from(cols) * (SIZE + GAP);
    let height = f64::from(rows) * (SIZE + GAP);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="tile-map" viewBox="0 0 {width} {height}" role="group" aria-labelledby="map-title map-desc" xmlns="http://www.w3.org/2000/svg"><title id="map-title">{}</title><desc id="map-desc">{}</desc>"#,
        escape(title),
        escape(description)
    );
    let shown: Vec<(&Tile, TileData)> = tiles
        .iter()
        .filter_map(|t| data(&t.code).map(|d| (t, d)))
        .collect();
    let labels = tile_labels(
        &shown
            .iter()
            .map(|(_, d)| d.name.as_str())
            .collect::<Vec<_>>(),
    );
    for ((tile, d), label) in shown.iter().zip(labels) {
        let x = f64::from(tile.col) * (SIZE + GAP);
        let y = f64::from(tile.row) * (SIZE + GAP);
        let _ = write!(
            svg,
            r#"<a href="{}" aria-label="{}"><rect class="tile {}" x="{x}" y="{y}" width="{SIZE}" height="{SIZE}" rx="4"><title>{}</title></rect><text class="tile-name {}" x="{}" y="{}" text-anchor="middle">{}</text><text class="tile-symbol {}" x="{}" y="{}" text-anchor="middle">{}</text></a>"#,
            escape(&d.href),
            escape(&d.summary),
            d.tier.class(),
            escape(&d.summary),
            d.tier.class(),
            x + SIZE / 2.0,
            y + 20.0,
            escape(&label),
            d.tier.class(),
            x + SIZE / 2.0,
            y + 37.0,
            d.tier.symbol(),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One year of a province's series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoint {
    pub year: i32,
    /// Share satisfied, 0–1.
    pub estimate: f64,
    /// The interval, for computed releases only.
    pub interval: Option<(f64, f64)>,
    pub kind: SeriesKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SeriesKind {
    /// A release of this platform on the page's map.
    Computed { version: i32 },
    /// A release on the 63-province map, merged into today's unit.
    Reaggregated { version: i32 },
    /// A figure published before this platform, without uncertainty (`label`: the province
    /// it was published for, which may be an old province now inside this unit).
    Elsewhere { label: String, source: String },
}

/// The series as points with intervals (computed) and hollow diamonds (published elsewhere).
pub fn series_chart(locale: Locale, title: &str, points: &[SeriesPoint]) -> String {
    const WIDTH: f64 = 400.0;
    const HEIGHT: f64 = 200.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 28.0;
    const TOP: f64 = 12.0;
    let years: Vec<i32> = points.iter().map(|p| p.year).collect();
    let (first, last) = (
        years.iter().copied().min().unwrap_or(0),
        years.iter().copied().max().unwrap_or(0),
    );
    let lows = points
        .iter()
        .map(|p| p.interval.map_or(p.estimate, |i| i.0));
    let highs = points
        .iter()
        .map(|p| p.interval.map_or(p.estimate, |i| i.1));
    let min = (lows.fold(f64::INFINITY, f64::min) * 20.0).floor() / 20.0;
    let max = ((highs.fold(f64::NEG_INFINITY, f64::max) * 20.0).ceil() / 20.0).max(min + 0.05);
    let span = f64::from((last - first).max(1));
    let x = |year: i32| LEFT + 20.0 + f64::from(year - first) / span * (WIDTH - LEFT - 40.0);
    let y = |v: f64| TOP + (max - v) / (max - min) * (HEIGHT - TOP - BOTTOM);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="series-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="sc-title" xmlns="http://www.w3.org/2000/svg"><title id="sc-title">{}</title>"#,
        escape(title)
    );
    if !(min.is_finite() && max.is_finite()) {
        svg.push_str("</svg>");
        return svg;
    }
    // Labels stacked vertically need a line's height between them.
    let step = tick_step(min, max, HEIGHT - TOP - BOTTOM, 16.0);
    let mut tick = min;
    while tick <= max + 1e-9 {
        let ty = y(tick);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{WIDTH}" y1="{ty:.1}" y2="{ty:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}%</text>"#,
            LEFT - 4.0,
            ty + 4.0,
            percent(locale, tick, 0)
        );
        tick += step;
    }
    let mut seen = std::collections::BTreeSet::new();
    for year in &years {
        if seen.insert(*year) {
            let _ = write!(
                svg,
                r#"<text class="tick" x="{:.1}" y="{}" text-anchor="middle">{year}</text>"#,
                x(*year),
                HEIGHT - 8.0
            );
        }
    }
    for p in points {
        let (px, py) = (x(p.year), y(p.estimate));
        match (&p.kind, p.interval) {
            (SeriesKind::Elsewhere { label, .. }, _) => {
                let _ = write!(
                    svg,
                    r#"<path class="elsewhere" d="M{:.1} {:.1} l6 6 l-6 6 l-6 -6 z"><title>{} {}: {}%</title></path>"#,
                    px,
                    py - 6.0,
                    p.year,
                    escape(label),
                    percent(locale, p.estimate, 2)
                );
            }
            (kind, Some((lo, hi))) => {
                let class = if matches!(kind, SeriesKind::Reaggregated { .. }) {
                    "computed reaggregated"
                } else {
                    "computed"
                };
                let _ = write!(
                    svg,
                    r#"<line class="ci" x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{:.1}"/><circle class="{class}" cx="{px:.1}" cy="{py:.1}" r="5"><title>{}: {}% ({}–{}%)</title></circle>"#,
                    y(lo),
                    y(hi),
                    p.year,
                    percent(locale, p.estimate, 2),
                    percent(locale, lo, 1),
                    percent(locale, hi, 1)
                );
            }
            (_, None) => {
                let _ = write!(
                    svg,
                    r#"<circle class="computed" cx="{px:.1}" cy="{py:.1}" r="5"/>"#
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_of_each_map_has_one_tile_and_no_two_share_a_square() {
        for (geography, expected) in [(Geography::G2004, 63), (Geography::G2025, 34)] {
            let tiles = tiles(geography);
            assert_eq!(tiles.len(), expected);
            let squares: std::collections::BTreeSet<_> =
                tiles.iter().map(|t| (t.row, t.col)).collect();
            let codes: std::collections::BTreeSet<_> = tiles.iter().map(|t| &t.code).collect();
            assert_eq!(squares.len(), expected, "{geography:?}");
            assert_eq!(codes.len(), expected, "{geography:?}");
        }
    }

    #[test]
    fn tile_labels_are_unique_on_both_maps() {
        for names in [
            vec![
                "Quảng Nam",
                "Quảng Ngãi",
                "Quảng Ninh",
                "Hồ Chí Minh",
                "Thái Nguyên",
                "Tây Ninh",
            ],
            vec!["Đà Nẵng", "Đồng Nai", "Hà Nam", "Hà Nội", "Lào Cai"],
        ] {
            let labels = tile_labels(&names);
            let unique: std::collections::BTreeSet<_> = labels.iter().collect();
            assert_eq!(unique.len(), names.len(), "{labels:?}");
        }
        assert_eq!(
            tile_labels(&["Quảng Nam", "Quảng Ngãi", "Quảng Ninh", "Hồ Chí Minh"]),
            ["QNa", "QNg", "QNi", "HCM"]
        );
    }

    #[test]
    fn axis_labels_never_run_together() {
        // 40–95%: ticks every 5 points would be 25 units apart on the 274-unit axis.
        for (min, max) in [(0.40, 0.95), (0.70, 0.95), (0.0, 1.0), (0.80, 0.85)] {
            let step = tick_step(min, max, 274.0, TICK_LABEL_ROOM);
            assert!(
                274.0 * step / (max - min) >= TICK_LABEL_ROOM,
                "{min} {max} {step}"
            );
        }
        assert_eq!(tick_step(0.70, 0.95, 274.0, TICK_LABEL_ROOM), 0.05);
    }

    #[test]
    fn names_become_initials_and_text_is_escaped() {
        assert_eq!(initials("Hồ Chí Minh"), "HCM");
        assert_eq!(initials("Bà Rịa - Vũng Tàu"), "BRVT");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
