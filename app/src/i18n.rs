//! Interface languages: Vietnamese first, English second.
//!
//! The catalogue is a typed struct per language, so a missing translation is a compile error and
//! the wasm bundle carries no parser or locale data. Questionnaire wording is data, not here.
//! The choice travels in the `lang` cookie (set by `/lang/{code}`, which works without
//! JavaScript); the server renders `<html lang>` from it and the browser reads it back when
//! hydrating, so both sides always agree.

use leptos::prelude::*;

pub const LANG_COOKIE: &str = "lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Vi,
    En,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::Vi, Locale::En];

    pub fn code(self) -> &'static str {
        match self {
            Locale::Vi => "vi",
            Locale::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code.trim() {
            "vi" => Some(Locale::Vi),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    /// The text in this language from a Vietnamese–English pair (questionnaire wording is data).
    pub fn pick<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Locale::Vi => vi,
            Locale::En => en,
        }
    }

    /// The language's own name, as shown on the switch.
    pub fn endonym(self) -> &'static str {
        match self {
            Locale::Vi => "Tiếng Việt",
            Locale::En => "English",
        }
    }

    /// Finds the `lang` cookie in a `Cookie` header value.
    pub fn from_cookie_header(header: &str) -> Option<Self> {
        header.split(';').find_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            (name.trim() == LANG_COOKIE)
                .then(|| Locale::parse(value))
                .flatten()
        })
    }

    /// The locale of the current request (server) or of the rendered document (browser).
    pub fn from_request() -> Self {
        #[cfg(feature = "ssr")]
        {
            use_context::<http::request::Parts>()
                .and_then(|parts| {
                    parts
                        .headers
                        .get(http::header::COOKIE)
                        .and_then(|value| value.to_str().ok())
                        .and_then(Locale::from_cookie_header)
                })
                .unwrap_or_default()
        }
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            document()
                .document_element()
                .and_then(|html| html.get_attribute("lang"))
                .and_then(|code| Locale::parse(&code))
                .unwrap_or_default()
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            Locale::default()
        }
    }

    pub fn messages(self) -> &'static Messages {
        match self {
            Locale::Vi => &VI,
            Locale::En => &EN,
        }
    }
}

/// Determines the locale once and makes it available to every component.
pub fn provide_locale() -> Locale {
    let locale = Locale::from_request();
    provide_context(locale);
    locale
}

/// The current locale's messages (Vietnamese when none was provided).
pub fn use_messages() -> &'static Messages {
    use_context::<Locale>().unwrap_or_default().messages()
}

pub struct Messages {
    pub site_title: &'static str,
    pub site_name: &'static str,
    pub skip_to_content: &'static str,
    pub language: &'static str,
    pub home_heading: &'static str,
    pub home_intro: &'static str,
    pub provinces_heading: &'static str,
    pub provinces_note: &'static str,
    pub filter_label: &'static str,
    pub filter_button: &'static str,
    pub filter_hint: &'static str,
    pub showing: &'static str,
    pub of: &'static str,
    pub units: &'static str,
    pub no_match: &'static str,
    pub code: &'static str,
    pub name: &'static str,
    pub kind: &'static str,
    pub kind_city: &'static str,
    pub kind_province: &'static str,
    pub loading: &'static str,
    pub load_failed: &'static str,
    pub not_found_heading: &'static str,
    pub not_found_body: &'static str,
    pub back_home: &'static str,
    pub footer: &'static str,
}

pub static VI: Messages = Messages {
    site_title: "SIPAS – Chỉ số hài lòng về sự phục vụ hành chính",
    site_name: "SIPAS",
    skip_to_content: "Chuyển đến nội dung chính",
    language: "Ngôn ngữ",
    home_heading: "Chỉ số hài lòng của người dân đối với sự phục vụ của cơ quan hành chính nhà nước",
    home_intro: "Nền tảng khảo sát, tính toán và công bố chỉ số SIPAS theo từng tỉnh, thành phố, \
        có trọng số và khoảng tin cậy.",
    provinces_heading: "Các tỉnh, thành phố",
    provinces_note: "Đơn vị hành chính cấp tỉnh đang có hiệu lực (từ 01/7/2025).",
    filter_label: "Tìm tỉnh, thành phố",
    filter_button: "Tìm",
    filter_hint: "Gõ một phần tên, ví dụ: Hà",
    showing: "Hiển thị",
    of: "trên",
    units: "đơn vị",
    no_match: "Không có tỉnh, thành phố nào khớp.",
    code: "Mã",
    name: "Tên",
    kind: "Loại",
    kind_city: "Thành phố",
    kind_province: "Tỉnh",
    loading: "Đang tải…",
    load_failed: "Không tải được dữ liệu. Vui lòng thử lại.",
    not_found_heading: "Không tìm thấy trang",
    not_found_body: "Trang bạn tìm không tồn tại.",
    back_home: "Về trang chủ",
    footer: "Bộ Nội vụ – Chỉ số SIPAS",
};

pub static EN: Messages = Messages {
    site_title: "SIPAS – Satisfaction Index of Public Administrative Services",
    site_name: "SIPAS",
    skip_to_content: "Skip to main content",
    language: "Language",
    home_heading: "Citizen satisfaction with public administrative services",
    home_intro: "The platform that surveys, computes and publishes SIPAS for every province, \
        weighted and with confidence intervals.",
    provinces_heading: "Provinces and cities",
    provinces_note: "Provincial-level units in force (since 1 July 2025).",
    filter_label: "Find a province or city",
    filter_button: "Find",
    filter_hint: "Type part of a name, e.g. Hà",
    showing: "Showing",
    of: "of",
    units: "units",
    no_match: "No province or city matches.",
    code: "Code",
    name: "Name",
    kind: "Kind",
    kind_city: "City",
    kind_province: "Province",
    loading: "Loading…",
    load_failed: "The data could not be loaded. Please try again.",
    not_found_heading: "Page not found",
    not_found_body: "The page you asked for does not exist.",
    back_home: "Back to the home page",
    footer: "Ministry of Home Affairs – SIPAS",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_header_selects_locale() {
        assert_eq!(
            Locale::from_cookie_header("a=1; lang=en; b=2"),
            Some(Locale::En)
        );
        assert_eq!(Locale::from_cookie_header("lang=vi"), Some(Locale::Vi));
        assert_eq!(Locale::from_cookie_header("lang=fr"), None);
        assert_eq!(Locale::from_cookie_header("xlang=en"), None);
        assert_eq!(Locale::from_cookie_header(""), None);
    }

    #[test]
    fn codes_round_trip() {
        for locale in Locale::ALL {
            assert_eq!(Locale::parse(locale.code()), Some(locale));
        }
    }
}
