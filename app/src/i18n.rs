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

/// A message in both languages, made where the reader's language is not known (the store, a
/// service) and shown by the page in the reader's ([`Text::pick`]). Logs and the command line
/// show the English ([`std::fmt::Display`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Text {
    pub vi: String,
    pub en: String,
}

impl Text {
    pub fn new(vi: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            vi: vi.into(),
            en: en.into(),
        }
    }

    pub fn pick(&self, locale: Locale) -> &str {
        locale.pick(&self.vi, &self.en)
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
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

    /// A number as this language writes it: Vietnamese groups thousands with "." and
    /// separates decimals with "," (90,09), English the other way round (90.09). "—" when
    /// undefined.
    pub fn decimal(self, x: f64, digits: usize) -> String {
        if !x.is_finite() {
            return "—".into();
        }
        let text = format!("{:.*}", digits, x.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let (group, point) = match self {
            Locale::Vi => ('.', ','),
            Locale::En => (',', '.'),
        };
        let mut out = String::new();
        if x < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
            out.push('−');
        }
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                out.push(group);
            }
            out.push(digit);
        }
        if !fraction.is_empty() {
            out.push(point);
            out.push_str(fraction);
        }
        out
    }

    /// A count as this language writes it: 36.500 in Vietnamese, 36,500 in English.
    pub fn integer(self, n: impl Into<i64>) -> String {
        self.decimal(n.into() as f64, 0)
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
    pub entry_heading: &'static str,
    pub entry_what: &'static str,
    pub entry_time: &'static str,
    pub entry_privacy: &'static str,
    pub entry_use: &'static str,
    pub entry_with_code: &'static str,
    pub entry_without_code: &'static str,
    pub entry_without_code_body: &'static str,
    pub code_ok: &'static str,
    pub code_short: &'static str,
    pub code_mistake: &'static str,
    pub loading: &'static str,
    pub load_failed: &'static str,
    pub not_found_heading: &'static str,
    pub not_found_body: &'static str,
    pub back_home: &'static str,
    pub footer: &'static str,
    pub survey_enter_heading: &'static str,
    pub results_link: &'static str,
    pub survey_enter_intro: &'static str,
    pub survey_code_label: &'static str,
    pub survey_code_hint: &'static str,
    pub survey_start: &'static str,
    pub survey_unknown_heading: &'static str,
    pub survey_unknown_body: &'static str,
    pub survey_used_heading: &'static str,
    pub survey_used_body: &'static str,
    pub survey_closed_heading: &'static str,
    pub survey_closed_body: &'static str,
    pub survey_part: &'static str,
    pub survey_back: &'static str,
    pub survey_next: &'static str,
    pub survey_submit: &'static str,
    pub survey_fix: &'static str,
    pub survey_only_if: &'static str,
    pub survey_optional: &'static str,
    pub survey_open_sample: &'static str,
    pub survey_sending: &'static str,
    pub survey_queued: &'static str,
    pub survey_send_now: &'static str,
    pub survey_failed: &'static str,
    pub survey_privacy: &'static str,
    pub survey_autosave: &'static str,
    /// An outbox record an earlier version of the page wrote and this one cannot read.
    pub outbox_unreadable_intro: &'static str,
    pub outbox_unreadable_nothing: &'static str,
    pub outbox_unreadable_restore: &'static str,
    pub outbox_unreadable_remove: &'static str,
    pub survey_province: &'static str,
    pub survey_choose_province: &'static str,
    pub survey_open_heading: &'static str,
    pub survey_open_intro: &'static str,
    pub receipt_heading: &'static str,
    pub receipt_body: &'static str,
    pub receipt_number: &'static str,
    pub receipt_time: &'static str,
    pub receipt_unknown: &'static str,
}

pub static VI: Messages = Messages {
    site_title: "SIPAS – Chỉ số hài lòng về sự phục vụ hành chính",
    site_name: "SIPAS",
    skip_to_content: "Chuyển đến nội dung chính",
    language: "Ngôn ngữ",
    entry_heading: "Khảo sát mức độ hài lòng của người dân",
    entry_what: "Bộ Nội vụ hỏi người dân ở mọi tỉnh, thành phố về sự phục vụ của cơ quan hành chính nhà nước: thủ tục, công chức, kết quả giải quyết công việc và các chính sách ở nơi bạn sống. Câu trả lời của bạn góp vào Chỉ số SIPAS công bố hằng năm.",
    entry_time: "Mất khoảng 15 phút: khoảng 60 câu ngắn, phần lớn chọn một mức từ 1 (rất không hài lòng) đến 5 (rất hài lòng). Có thể dừng giữa chừng và trả lời tiếp sau.",
    entry_privacy: "Phiếu không hỏi tên, số điện thoại hay địa chỉ, và máy chủ không lưu địa chỉ IP của bạn. Mã mời chỉ dùng được một lần và không gắn với tên của ai. Trình duyệt giữ một mã ngẫu nhiên (cookie) để phát hiện một mã mời được trả lời từ nhiều máy; máy chủ chỉ giữ mã này dưới dạng đã băm cùng mã mời, và cuối cùng chỉ giữ số máy đã trả lời mỗi mã mời.",
    entry_use: "Câu trả lời chỉ được dùng để thống kê và chỉ công bố dưới dạng tổng hợp theo tỉnh, không bao giờ theo từng người.",
    entry_with_code: "Bắt đầu với mã trên phiếu mời",
    entry_without_code: "Nếu bạn không có mã",
    entry_without_code_body: "Khảo sát chỉ hỏi những người được chọn ngẫu nhiên, để kết quả phản ánh đúng người dân của tỉnh. Nhân viên bưu điện mang phiếu mời (có mã và mã QR) đến các hộ được chọn; bạn cũng có thể trả lời trên phiếu giấy và gửi lại cho nhân viên bưu điện. Nếu không được chọn, bạn không cần làm gì.",
    code_ok: "Mã đúng dạng. Bấm Bắt đầu.",
    code_short: "Mã có 17 ký tự (không kể dấu gạch ngang).",
    code_mistake: "Mã có ký tự gõ sai: hãy so lại với phiếu mời.",
    loading: "Đang tải…",
    load_failed: "Không tải được dữ liệu. Vui lòng thử lại.",
    not_found_heading: "Không tìm thấy trang",
    not_found_body: "Trang bạn tìm không tồn tại.",
    back_home: "Về trang chủ",
    footer: "Bộ Nội vụ – Chỉ số SIPAS",
    survey_enter_heading: "Trả lời khảo sát",
    results_link: "Xem kết quả SIPAS",
    survey_enter_intro: "Nhập mã in trên phiếu mời của bạn (hoặc quét mã QR).",
    survey_code_label: "Mã trên phiếu mời",
    survey_code_hint: "Ví dụ: 7KQM-9T2X-4RPA-8VNE-J. Không phân biệt chữ hoa, chữ thường.",
    survey_start: "Bắt đầu",
    survey_unknown_heading: "Không tìm thấy mã này",
    survey_unknown_body: "Vui lòng kiểm tra lại mã trên phiếu mời và nhập lại.",
    survey_used_heading: "Mã này đã được sử dụng",
    survey_used_body: "Mỗi mã chỉ dùng được một lần, và đã có phiếu trả lời được gửi với mã này. Cảm ơn bạn!",
    survey_closed_heading: "Khảo sát đã đóng",
    survey_closed_body: "Đợt khảo sát này không nhận phiếu trả lời (đã kết thúc hoặc chưa mở). Xin cảm ơn ông/bà.",
    survey_part: "Phần",
    survey_back: "Quay lại",
    survey_next: "Tiếp tục",
    survey_submit: "Gửi phiếu",
    survey_fix: "Vui lòng trả lời các câu được đánh dấu bên dưới.",
    survey_only_if: "Chỉ trả lời nếu câu trên được chọn:",
    survey_optional: "(không bắt buộc)",
    survey_open_sample: "Khảo sát mở, không chọn mẫu ngẫu nhiên: kết quả chỉ mang tính tham khảo.",
    survey_sending: "Đang gửi…",
    survey_queued: "Đã lưu trên điện thoại này. Phiếu sẽ tự động được gửi khi có mạng trở lại.",
    survey_send_now: "Gửi ngay",
    survey_failed: "Chưa gửi được phiếu:",
    survey_privacy: "Phiếu không hỏi tên, số điện thoại, thư điện tử hay địa chỉ của bạn. Trình duyệt giữ một mã ngẫu nhiên (cookie) để phát hiện mã mời được trả lời từ nhiều máy.",
    survey_autosave: "Câu trả lời được lưu khi bạn chuyển phần; mở lại cùng đường dẫn để tiếp tục.",
    outbox_unreadable_intro: "Một phiếu lưu trên điện thoại này (bởi phiên bản trước của trang) không đọc được nên chưa được gửi. Các câu trả lời còn đọc lại được:",
    outbox_unreadable_nothing: "Không đọc lại được câu trả lời nào.",
    outbox_unreadable_restore: "Đưa các câu trả lời này vào phiếu",
    outbox_unreadable_remove: "Xoá khỏi điện thoại này",
    survey_province: "Tỉnh, thành phố",
    survey_choose_province: "Chọn tỉnh, thành phố nơi bạn sống",
    survey_open_heading: "Khảo sát mở",
    survey_open_intro: "Khảo sát thử nghiệm không cần mã mời. Hãy cho biết bạn đang sống ở đâu để bắt đầu.",
    receipt_heading: "Cảm ơn bạn!",
    receipt_body: "Phiếu trả lời của bạn đã được ghi nhận.",
    receipt_number: "Số biên nhận",
    receipt_time: "Thời điểm nhận",
    receipt_unknown: "Không tìm thấy biên nhận này.",
};

pub static EN: Messages = Messages {
    site_title: "SIPAS – Satisfaction Index of Public Administrative Services",
    site_name: "SIPAS",
    skip_to_content: "Skip to main content",
    language: "Language",
    entry_heading: "Citizen satisfaction survey",
    entry_what: "The Ministry of Home Affairs asks people in every province about the service of public administration: procedures, civil servants, how their matters were settled, and the policies where they live. Your answers go into the SIPAS index published every year.",
    entry_time: "It takes about 15 minutes: about 60 short questions, most answered on a scale from 1 (very dissatisfied) to 5 (very satisfied). You can stop and come back later.",
    entry_privacy: "The form asks no name, phone number or address, and the server keeps no IP address of yours. An invitation code works once and is linked to nobody's name. Your browser keeps a random number (a cookie) so that a code answered from many devices can be noticed; the server keeps it only scrambled with the code, and in the end only how many devices answered each code.",
    entry_use: "Answers are used for statistics only and published only as totals per province, never person by person.",
    entry_with_code: "Start with the code on your invitation",
    entry_without_code: "If you have no code",
    entry_without_code_body: "The survey asks only people drawn at random, so that the results describe each province's people faithfully. Postal staff bring invitations (with a code and a QR code) to the households drawn; you can also answer on the paper form and hand it back. If you were not drawn, there is nothing you need to do.",
    code_ok: "The code looks right. Press Start.",
    code_short: "A code has 17 characters (not counting dashes).",
    code_mistake: "A character of the code is mistyped: check it against your invitation.",
    loading: "Loading…",
    load_failed: "The data could not be loaded. Please try again.",
    not_found_heading: "Page not found",
    not_found_body: "The page you asked for does not exist.",
    back_home: "Back to the home page",
    footer: "Ministry of Home Affairs – SIPAS",
    survey_enter_heading: "Answer the survey",
    results_link: "See the SIPAS results",
    survey_enter_intro: "Type the code printed on your invitation (or scan its QR code).",
    survey_code_label: "Code on your invitation",
    survey_code_hint: "For example 7KQM-9T2X-4RPA-8VNE-J. Upper or lower case both work.",
    survey_start: "Start",
    survey_unknown_heading: "We could not find this code",
    survey_unknown_body: "Please check the code on your invitation and type it again.",
    survey_used_heading: "This code has already been used",
    survey_used_body: "Each code can be used once, and a response has already been received with this one. Thank you!",
    survey_closed_heading: "This survey has closed",
    survey_closed_body: "This survey wave is not accepting answers (it has ended, or has not opened). Thank you.",
    survey_part: "Part",
    survey_back: "Back",
    survey_next: "Next",
    survey_submit: "Submit",
    survey_fix: "Please answer the questions marked below.",
    survey_only_if: "Answer only if you chose above:",
    survey_optional: "(optional)",
    survey_open_sample: "Open survey, not a random sample: its results are indicative only.",
    survey_sending: "Sending…",
    survey_queued: "Saved on this phone. It will be sent automatically when the connection returns.",
    survey_send_now: "Send now",
    survey_failed: "The response could not be sent:",
    survey_privacy: "We never ask for your name, phone number, e-mail or address. Your browser keeps a random number (a cookie) so that a code answered from many devices can be noticed.",
    survey_autosave: "Your answers are kept as you go; open the same link again to continue.",
    outbox_unreadable_intro: "A response saved on this phone (by an earlier version of this page) could not be read, so it was not sent. The answers that could be recovered:",
    outbox_unreadable_nothing: "No answer could be recovered.",
    outbox_unreadable_restore: "Put these answers back in the form",
    outbox_unreadable_remove: "Remove it from this phone",
    survey_province: "Province or city",
    survey_choose_province: "Choose the province or city where you live",
    survey_open_heading: "Open survey",
    survey_open_intro: "A pilot survey that needs no invitation. Tell us where you live to begin.",
    receipt_heading: "Thank you!",
    receipt_body: "Your response has been received.",
    receipt_number: "Receipt number",
    receipt_time: "Received at",
    receipt_unknown: "There is no such receipt.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_made_away_from_the_page_is_shown_in_the_readers_language() {
        let text = Text::new("Đợt này đã đóng.", "The wave is closed already.");
        assert_eq!(text.pick(Locale::Vi), "Đợt này đã đóng.");
        assert_eq!(text.pick(Locale::En), "The wave is closed already.");
        // Logs and the command line: English.
        assert_eq!(text.to_string(), "The wave is closed already.");
    }

    #[test]
    fn numbers_are_written_the_way_each_language_writes_them() {
        assert_eq!(Locale::Vi.decimal(90.094, 2), "90,09");
        assert_eq!(Locale::En.decimal(90.094, 2), "90.09");
        assert_eq!(Locale::Vi.decimal(1234567.26, 1), "1.234.567,3");
        assert_eq!(Locale::En.decimal(1234.5, 0), "1,234");
        assert_eq!(Locale::Vi.decimal(-3.26, 1), "−3,3");
        assert_eq!(Locale::Vi.decimal(-0.01, 1), "0,0");
        assert_eq!(Locale::En.decimal(f64::NAN, 1), "—");
    }

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
