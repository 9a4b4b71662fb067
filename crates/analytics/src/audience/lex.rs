//! Tokens of the text form. Strings are decoded here (JSON escapes); numbers and
//! identifiers keep their source text for the parser to interpret in context.

use super::parse::ParseError;
use crate::filter::Comparison;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum TokenKind {
    /// A keyword, function name, field path (`properties.plan`) or trait name.
    Identifier,
    /// The decoded contents of a string in double quotes.
    String(String),
    Number,
    LeftParenthesis,
    RightParenthesis,
    Comma,
    Dot,
    Comparison(Comparison),
    /// A character no token starts with, left for the parser to report in context.
    Unknown,
    End,
    /// A malformed string: the tokens stop here.
    Invalid(ParseError),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token<'a> {
    pub kind: TokenKind,
    /// The source text of the token, empty for the end of input.
    pub text: &'a str,
    /// Byte offset of the token in the source.
    pub offset: usize,
}

impl Token<'_> {
    pub fn is_keyword(&self, keyword: &str) -> bool {
        self.kind == TokenKind::Identifier && self.text == keyword
    }
}

/// The tokens of `text`, ending with `End`, or with `Invalid` at the first malformed string.
pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut offset = 0;
    loop {
        let rest = &text[offset..];
        offset += rest.len() - rest.trim_start().len();
        let Some(first_char) = text[offset..].chars().next() else {
            tokens.push(Token {
                kind: TokenKind::End,
                text: "",
                offset,
            });
            return tokens;
        };
        let (kind, length) = match lex_token(text, offset, first_char) {
            Ok(kind_and_length) => kind_and_length,
            Err(error) => {
                tokens.push(Token {
                    kind: TokenKind::Invalid(error),
                    text: &text[offset..offset + first_char.len_utf8()],
                    offset,
                });
                return tokens;
            }
        };
        tokens.push(Token {
            kind,
            text: &text[offset..offset + length],
            offset,
        });
        offset += length;
    }
}

fn lex_token(
    text: &str,
    offset: usize,
    first_char: char,
) -> Result<(TokenKind, usize), ParseError> {
    let rest = &text[offset..];
    let second_char = rest[first_char.len_utf8()..].chars().next();
    let kind_and_length = match (first_char, second_char) {
        ('(', _) => (TokenKind::LeftParenthesis, 1),
        (')', _) => (TokenKind::RightParenthesis, 1),
        (',', _) => (TokenKind::Comma, 1),
        ('.', _) => (TokenKind::Dot, 1),
        ('=', _) => (TokenKind::Comparison(Comparison::Eq), 1),
        ('!', Some('=')) => (TokenKind::Comparison(Comparison::Ne), 2),
        ('>', Some('=')) => (TokenKind::Comparison(Comparison::Gte), 2),
        ('>', _) => (TokenKind::Comparison(Comparison::Gt), 1),
        ('<', Some('=')) => (TokenKind::Comparison(Comparison::Lte), 2),
        ('<', _) => (TokenKind::Comparison(Comparison::Lt), 1),
        ('"', _) => return lex_string(text, offset),
        ('0'..='9', _) | ('-', Some('0'..='9')) => (TokenKind::Number, number_length(rest)),
        _ if is_identifier_start(first_char) => {
            let length = rest
                .find(|character| !is_identifier_continue(character))
                .unwrap_or(rest.len());
            (TokenKind::Identifier, length)
        }
        _ => (TokenKind::Unknown, first_char.len_utf8()),
    };
    Ok(kind_and_length)
}

fn is_identifier_start(character: char) -> bool {
    character.is_ascii_alphabetic() || matches!(character, '_' | '$')
}

/// Dots and dashes belong to identifiers so that field paths (`context.campaign.source`)
/// and trait names (`first-name`) are one token; a method call's dot follows a `)`.
fn is_identifier_continue(character: char) -> bool {
    character.is_ascii_alphanumeric() || matches!(character, '_' | '$' | '.' | '-')
}

/// Whether `text` reads back as one identifier token, so needs no quotes.
pub(super) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(is_identifier_start) && chars.all(is_identifier_continue)
}

/// JSON's number syntax: `-`, digits, an optional fraction and an optional exponent. A
/// fraction or exponent without digits is left out, so that `30d` is `30` then `d`.
fn number_length(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let digits_from = |start: usize| {
        bytes[start.min(bytes.len())..]
            .iter()
            .take_while(|byte| byte.is_ascii_digit())
            .count()
    };
    let mut end = usize::from(bytes[0] == b'-');
    end += digits_from(end);
    if bytes.get(end) == Some(&b'.') && digits_from(end + 1) > 0 {
        end += 1 + digits_from(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exponent_digits_start = end + 1;
        if matches!(bytes.get(exponent_digits_start), Some(b'+' | b'-')) {
            exponent_digits_start += 1;
        }
        let exponent_digits = digits_from(exponent_digits_start);
        if exponent_digits > 0 {
            end = exponent_digits_start + exponent_digits;
        }
    }
    end
}

/// A string from its opening quote at `start`: its decoded contents and its length in bytes.
fn lex_string(text: &str, start: usize) -> Result<(TokenKind, usize), ParseError> {
    let mut contents = String::new();
    let mut chars = text[start + 1..].char_indices();
    while let Some((index, character)) = chars.next() {
        match character {
            '"' => return Ok((TokenKind::String(contents), index + 2)),
            '\\' => {
                let escape_offset = start + 1 + index;
                let decoded = match chars.next().map(|(_, escaped)| escaped) {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('/') => '/',
                    Some('b') => '\u{8}',
                    Some('f') => '\u{c}',
                    Some('n') => '\n',
                    Some('r') => '\r',
                    Some('t') => '\t',
                    Some('u') => decode_unicode_escape(text, escape_offset, &mut chars)?,
                    Some(other) => {
                        return Err(ParseError::at(
                            text,
                            escape_offset,
                            ESCAPE_EXPECTED,
                            format!("'\\{other}'"),
                        ));
                    }
                    None => break,
                };
                contents.push(decoded);
            }
            other => contents.push(other),
        }
    }
    Err(ParseError::at(
        text,
        start,
        "a '\"' closing this string",
        "end of input",
    ))
}

const ESCAPE_EXPECTED: &str = "an escape: \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX";

/// The character of `\uXXXX` (the `\u` already read), or of a UTF-16 surrogate pair
/// `\uD83D\uDE00` as JSON writes characters outside the basic plane.
fn decode_unicode_escape(
    text: &str,
    escape_offset: usize,
    chars: &mut std::str::CharIndices<'_>,
) -> Result<char, ParseError> {
    let bad_escape = || {
        let excerpt: String = text[escape_offset..].chars().take(12).collect();
        ParseError::at(
            text,
            escape_offset,
            "\\u and four hex digits of a unicode character",
            super::quote(&excerpt),
        )
    };
    let read_hex = |chars: &mut std::str::CharIndices<'_>| {
        let mut code_unit = 0u32;
        for _ in 0..4 {
            let digit = chars
                .next()
                .and_then(|(_, character)| character.to_digit(16))
                .ok_or_else(bad_escape)?;
            code_unit = code_unit * 16 + digit;
        }
        Ok(code_unit)
    };
    let first = read_hex(chars)?;
    if !(0xD800..0xDC00).contains(&first) {
        return char::from_u32(first).ok_or_else(bad_escape);
    }
    let low_surrogate_follows =
        matches!(chars.next(), Some((_, '\\'))) && matches!(chars.next(), Some((_, 'u')));
    if !low_surrogate_follows {
        return Err(bad_escape());
    }
    let second = read_hex(chars)?;
    if !(0xDC00..0xE000).contains(&second) {
        return Err(bad_escape());
    }
    char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)).ok_or_else(bad_escape)
}
