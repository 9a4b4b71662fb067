//! Recognising values that look like personal data: email addresses and phone numbers sent
//! where the plan does not expect them.

use std::sync::LazyLock;

use regex::Regex;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
        .expect("valid pattern")
});

/// International numbers as people and forms write them: a plus, then 8 to 15 digits with
/// optional spaces, dashes, dots or parentheses between them.
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\+[1-9][0-9 ().-]{6,20}[0-9]$").expect("valid pattern"));

/// What a value looks like, if it looks like personal data.
pub fn looks_personal(value: &str) -> Option<&'static str> {
    let value = value.trim();
    if value.len() > 254 {
        return None;
    }
    // Cheap tests first: most values are neither.
    if value.contains('@') && EMAIL.is_match(value) {
        return Some("an email address");
    }
    if !value.starts_with('+') {
        return None;
    }
    let digits = value.chars().filter(char::is_ascii_digit).count();
    if (8..=15).contains(&digits) && PHONE.is_match(value) {
        return Some("a phone number");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::looks_personal;

    #[test]
    fn emails_and_phone_numbers_are_recognised() {
        assert_eq!(
            looks_personal("Anna.Berg@example.fi"),
            Some("an email address")
        );
        assert_eq!(looks_personal("+358 40 123 4567"), Some("a phone number"));
        assert_eq!(looks_personal("+1 (555) 010-9999"), Some("a phone number"));
    }

    #[test]
    fn ordinary_values_are_not() {
        for value in [
            "ORD-2026-0001",
            "49.90",
            "@handle",
            "a@b",
            "+12",
            "2026-12-02",
            "EUR",
        ] {
            assert_eq!(looks_personal(value), None, "{value}");
        }
    }
}
