//! The text form of a condition, read by recursive descent over the tokens of `lex`. Errors
//! say where (line and column) and what was expected, and so do the limits of `validate`,
//! reported at the condition that breaks them.

use chrono::NaiveDate;

use super::lex::{Token, TokenKind, tokenize};
use super::quote;
use super::tree::{
    Condition, CountCondition, EventCondition, EventMatch, MAX_DEPTH, SequenceCondition,
    TraitComparison, TraitCondition,
};
use crate::filter::{Comparison, Field, Filter, Window};

/// Longest text accepted, in bytes.
pub const MAX_TEXT_BYTES: usize = 10_000;

/// Parentheses and `not` nest no deeper than conditions may, checked while parsing so that
/// hostile input cannot exhaust the stack. Printed trees never nest deeper than that.
const MAX_NESTING: usize = MAX_DEPTH;

const CONDITION_EXPECTED: &str = "a condition (event, any_event, trait, computed, consent, \
                                  in_audience, channel, source, not or '(')";
const STRING_EXPECTED: &str = "a string in double quotes";
const VALUE_EXPECTED: &str = "a value (a string in double quotes, a number, true or false)";
const WINDOW_EXPECTED: &str =
    "a window (last 30d, last 2w or between \"2026-01-01\" and \"2026-01-31\")";
const DATE_EXPECTED: &str = "a date in double quotes, like \"2026-01-31\"";
const FIELD_EXPECTED: &str = "a field, like properties.plan or channel";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: expected {expected}, found {found}")]
pub struct ParseError {
    /// Byte offset in the text.
    pub offset: usize,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub expected: String,
    /// The offending token in single quotes, or `end of input`.
    pub found: String,
}

impl ParseError {
    pub(super) fn at(
        text: &str,
        offset: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> ParseError {
        debug_assert!(text.is_char_boundary(offset));
        let before = text.get(..offset).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        ParseError {
            offset,
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            expected: expected.into(),
            found: found.into(),
        }
    }
}

/// Reads the text form of a condition and checks it against the limits of `validate`.
pub fn parse(text: &str) -> Result<Condition, ParseError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ParseError::at(
            text,
            0,
            format!("at most {MAX_TEXT_BYTES} bytes"),
            format!("{} bytes", text.len()),
        ));
    }
    let mut parser = Parser {
        text,
        tokens: tokenize(text),
        position: 0,
        nesting: 0,
        node_offsets: Vec::new(),
    };
    let condition = parser.parse_or()?;
    if parser.peek()?.kind != TokenKind::End {
        return parser.fail("'and', 'or' or end of input");
    }
    if let Err(violation) = condition.find_violation() {
        let offset = parser
            .node_offsets
            .get(violation.node_index)
            .copied()
            .unwrap_or(0);
        return Err(ParseError::at(
            text,
            offset,
            violation.error.expected,
            violation.error.found,
        ));
    }
    Ok(condition)
}

struct Parser<'a> {
    text: &'a str,
    /// Ends with `End` or `Invalid`, which the parser never moves past.
    tokens: Vec<Token<'a>>,
    position: usize,
    /// Parentheses and `not` around the current token.
    nesting: usize,
    /// Where each condition starts, in the pre-order of `Condition::find_violation`.
    node_offsets: Vec<usize>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Result<&Token<'a>, ParseError> {
        let token = &self.tokens[self.position];
        if let TokenKind::Invalid(error) = &token.kind {
            return Err(error.clone());
        }
        Ok(token)
    }

    /// The token after the next one, for decisions that take two (`.then`, `name(`).
    fn peek_second(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.position + 1)
    }

    fn advance(&mut self) {
        if self.position + 1 < self.tokens.len() {
            self.position += 1;
        }
    }

    /// An error at the next token.
    fn fail<T>(&self, expected: impl Into<String>) -> Result<T, ParseError> {
        let token = self.peek()?;
        let found = match token.kind {
            TokenKind::End => "end of input".to_string(),
            _ => quote(token.text),
        };
        Err(ParseError::at(self.text, token.offset, expected, found))
    }

    fn expect(&mut self, kind: TokenKind, expected: &str) -> Result<(), ParseError> {
        if self.peek()?.kind != kind {
            return self.fail(expected);
        }
        self.advance();
        Ok(())
    }

    fn next_is_keyword(&self, keyword: &str) -> Result<bool, ParseError> {
        Ok(self.peek()?.is_keyword(keyword))
    }

    /// Whether `.method` comes next.
    fn next_is_method(&self, method: &str) -> Result<bool, ParseError> {
        let next_is_dot = self.peek()?.kind == TokenKind::Dot;
        Ok(next_is_dot
            && self
                .peek_second()
                .is_some_and(|token| token.is_keyword(method)))
    }

    fn parse_or(&mut self) -> Result<Condition, ParseError> {
        self.parse_chain("or", Parser::parse_and, Condition::Or)
    }

    fn parse_and(&mut self) -> Result<Condition, ParseError> {
        self.parse_chain("and", Parser::parse_unary, Condition::And)
    }

    /// `operand (keyword operand)*` as one group: `a and b and c` is one `and` of three,
    /// while `a and (b and c)` keeps its inner group, so that printing reads back the same.
    fn parse_chain(
        &mut self,
        keyword: &str,
        parse_operand: fn(&mut Parser<'a>) -> Result<Condition, ParseError>,
        group: fn(Vec<Condition>) -> Condition,
    ) -> Result<Condition, ParseError> {
        let group_index = self.node_offsets.len();
        let group_offset = self.peek()?.offset;
        let first_operand = parse_operand(self)?;
        if !self.next_is_keyword(keyword)? {
            return Ok(first_operand);
        }
        let mut operands = vec![first_operand];
        while self.next_is_keyword(keyword)? {
            self.advance();
            operands.push(parse_operand(self)?);
        }
        // In pre-order the group comes before its operands, but it is only known after the
        // first one.
        self.node_offsets.insert(group_index, group_offset);
        Ok(group(operands))
    }

    fn parse_unary(&mut self) -> Result<Condition, ParseError> {
        let token = self.peek()?;
        let offset = token.offset;
        if token.is_keyword("not") {
            self.enter_nesting()?;
            self.node_offsets.push(offset);
            self.advance();
            let negated = self.parse_unary()?;
            self.nesting -= 1;
            return Ok(Condition::Not(Box::new(negated)));
        }
        if token.kind == TokenKind::LeftParenthesis {
            self.enter_nesting()?;
            self.advance();
            let inner = self.parse_or()?;
            self.expect(TokenKind::RightParenthesis, "'and', 'or' or ')'")?;
            self.nesting -= 1;
            return Ok(inner);
        }
        self.parse_atom()
    }

    fn enter_nesting(&mut self) -> Result<(), ParseError> {
        if self.nesting == MAX_NESTING {
            return self.fail(format!(
                "at most {MAX_NESTING} levels of parentheses and 'not'"
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    fn parse_atom(&mut self) -> Result<Condition, ParseError> {
        let token = self.peek()?;
        if token.kind != TokenKind::Identifier {
            return self.fail(CONDITION_EXPECTED);
        }
        let (function, offset) = (token.text, token.offset);
        self.node_offsets.push(offset);
        match function {
            "event" | "any_event" => self.parse_event_atom(),
            "trait" => self.parse_trait(false),
            "computed" => self.parse_trait(true),
            "consent" => Ok(Condition::Consent(self.parse_string_call()?)),
            "in_audience" => Ok(Condition::InAudience(self.parse_string_call()?)),
            "channel" => Ok(column_equals("channel", self.parse_string_call()?)),
            "source" => Ok(column_equals("source", self.parse_string_call()?)),
            _ if self
                .peek_second()
                .is_some_and(|next| next.kind == TokenKind::LeftParenthesis) =>
            {
                Err(ParseError::at(
                    self.text,
                    offset,
                    CONDITION_EXPECTED,
                    format!("unknown function {}", quote(function)),
                ))
            }
            _ => self.fail(CONDITION_EXPECTED),
        }
    }

    /// `function("text")`, the function name being the next token.
    fn parse_string_call(&mut self) -> Result<String, ParseError> {
        let function = self.peek()?.text;
        self.advance();
        self.expect(TokenKind::LeftParenthesis, &format!("'(' after {function}"))?;
        let contents = self.parse_string(STRING_EXPECTED)?;
        self.expect(TokenKind::RightParenthesis, "')'")?;
        Ok(contents)
    }

    fn parse_string(&mut self, expected: &str) -> Result<String, ParseError> {
        let TokenKind::String(contents) = &self.peek()?.kind else {
            return self.fail(expected);
        };
        let contents = contents.clone();
        self.advance();
        Ok(contents)
    }

    fn parse_event_atom(&mut self) -> Result<Condition, ParseError> {
        let event = self.parse_event_reference()?;
        if self.next_is_method("then")? {
            return self.parse_sequence(event);
        }
        if self.next_is_method("count")? {
            self.advance_past_method();
            self.expect(TokenKind::LeftParenthesis, "'(' after .count")?;
            let window = if self.peek()?.kind == TokenKind::RightParenthesis {
                None
            } else {
                Some(self.parse_window()?)
            };
            self.expect(TokenKind::RightParenthesis, "')' after the window")?;
            let op = self
                .parse_comparison(false, "a comparison (=, !=, >, >=, <, <=) after count(...)")?;
            let value = self.parse_whole_number::<u64>("a whole number of times")?;
            return Ok(Condition::Event(EventCondition {
                event,
                window,
                count: CountCondition { op, value },
            }));
        }
        let window = if self.next_is_method("within")? {
            self.advance_past_method();
            Some(self.parse_window_call()?)
        } else {
            if self.peek()?.kind == TokenKind::Dot {
                self.advance();
                let expected = if event.filters.is_empty() {
                    "'.where', '.then', '.count' or '.within' after the event"
                } else {
                    "'.then', '.count' or '.within' after the filters"
                };
                return self.fail(expected);
            }
            None
        };
        Ok(Condition::Event(EventCondition {
            event,
            window,
            count: CountCondition::AT_LEAST_ONCE,
        }))
    }

    fn advance_past_method(&mut self) {
        self.advance();
        self.advance();
    }

    /// `event("name")` or `any_event()`, then optionally `.where(filter, ...)`.
    fn parse_event_reference(&mut self) -> Result<EventMatch, ParseError> {
        let token = self.peek()?;
        let name = if token.is_keyword("event") {
            Some(self.parse_string_call()?)
        } else if token.is_keyword("any_event") {
            self.advance();
            self.expect(TokenKind::LeftParenthesis, "'(' after any_event")?;
            self.expect(
                TokenKind::RightParenthesis,
                "')': any_event takes no argument",
            )?;
            None
        } else {
            return self.fail("event(...) or any_event()");
        };
        let mut filters = Vec::new();
        if self.next_is_method("where")? {
            self.advance_past_method();
            self.expect(TokenKind::LeftParenthesis, "'(' after .where")?;
            filters.push(self.parse_filter()?);
            while self.peek()?.kind == TokenKind::Comma {
                self.advance();
                filters.push(self.parse_filter()?);
            }
            self.expect(TokenKind::RightParenthesis, "',' or ')' after a filter")?;
        }
        Ok(EventMatch { name, filters })
    }

    fn parse_sequence(&mut self, first_step: EventMatch) -> Result<Condition, ParseError> {
        let mut steps = vec![first_step];
        while self.next_is_method("then")? {
            self.advance_past_method();
            self.expect(TokenKind::LeftParenthesis, "'(' after .then")?;
            steps.push(self.parse_event_reference()?);
            self.expect(TokenKind::RightParenthesis, "')' after the step")?;
        }
        if self.next_is_method("count")? {
            self.advance();
            return self.fail("'.then' or '.within' (a sequence has no count)");
        }
        let window = if self.next_is_method("within")? {
            self.advance_past_method();
            Some(self.parse_window_call()?)
        } else {
            None
        };
        Ok(Condition::Sequence(SequenceCondition { steps, window }))
    }

    fn parse_filter(&mut self) -> Result<Filter, ParseError> {
        let token = self.peek()?;
        let field_text = match &token.kind {
            TokenKind::Identifier => token.text.to_string(),
            TokenKind::String(contents) => contents.clone(),
            _ => return self.fail(FIELD_EXPECTED),
        };
        let field = match Field::parse(&field_text) {
            Ok(field) => field,
            Err(error) => return self.fail(format!("a valid field ({error})")),
        };
        self.advance();
        let op = self.parse_comparison(
            true,
            "a comparison (=, !=, >, >=, <, <=, contains) after the field",
        )?;
        let value = self.parse_value()?;
        Ok(Filter { field, op, value })
    }

    fn parse_comparison(
        &mut self,
        contains_allowed: bool,
        expected: &str,
    ) -> Result<Comparison, ParseError> {
        let token = self.peek()?;
        let comparison = match token.kind {
            TokenKind::Comparison(comparison) => comparison,
            _ if contains_allowed && token.is_keyword("contains") => Comparison::Contains,
            _ => return self.fail(expected),
        };
        self.advance();
        Ok(comparison)
    }

    fn parse_value(&mut self) -> Result<serde_json::Value, ParseError> {
        let token = self.peek()?;
        let value = match &token.kind {
            TokenKind::String(contents) => serde_json::Value::String(contents.clone()),
            TokenKind::Number => match number_value(token.text) {
                Some(number) => serde_json::Value::Number(number),
                None => return self.fail("a finite number that fits in 64 bits"),
            },
            _ if token.is_keyword("true") => serde_json::Value::Bool(true),
            _ if token.is_keyword("false") => serde_json::Value::Bool(false),
            _ => return self.fail(VALUE_EXPECTED),
        };
        self.advance();
        Ok(value)
    }

    /// Digits only: no sign, fraction or exponent.
    fn parse_whole_number<T: std::str::FromStr>(
        &mut self,
        expected: &str,
    ) -> Result<T, ParseError> {
        let token = self.peek()?;
        let is_digits =
            token.kind == TokenKind::Number && token.text.bytes().all(|byte| byte.is_ascii_digit());
        let Some(number) = is_digits.then(|| token.text.parse::<T>().ok()).flatten() else {
            return self.fail(expected);
        };
        self.advance();
        Ok(number)
    }

    fn parse_window_call(&mut self) -> Result<Window, ParseError> {
        self.expect(TokenKind::LeftParenthesis, "'(' after .within")?;
        let window = self.parse_window()?;
        self.expect(TokenKind::RightParenthesis, "')' after the window")?;
        Ok(window)
    }

    fn parse_window(&mut self) -> Result<Window, ParseError> {
        if self.next_is_keyword("last")? {
            self.advance();
            let amount_offset = self.peek()?.offset;
            let amount_text = self.peek()?.text;
            let amount =
                self.parse_whole_number::<u32>("a whole number of days or weeks after 'last'")?;
            let last_days = if self.next_is_keyword("d")? {
                Some(amount)
            } else if self.next_is_keyword("w")? {
                amount.checked_mul(7)
            } else {
                return self.fail("'d' (days) or 'w' (weeks) after the number");
            };
            let Some(last_days) = last_days else {
                return Err(ParseError::at(
                    self.text,
                    amount_offset,
                    "a shorter window",
                    quote(amount_text),
                ));
            };
            self.advance();
            return Ok(Window::Last { last_days });
        }
        if self.next_is_keyword("between")? {
            self.advance();
            let from = self.parse_date()?;
            if !self.next_is_keyword("and")? {
                return self.fail("'and' between the two dates");
            }
            self.advance();
            let to = self.parse_date()?;
            return Ok(Window::Between { from, to });
        }
        self.fail(WINDOW_EXPECTED)
    }

    fn parse_date(&mut self) -> Result<NaiveDate, ParseError> {
        let date = match &self.peek()?.kind {
            TokenKind::String(contents) => contents.parse::<NaiveDate>().ok(),
            _ => None,
        };
        let Some(date) = date else {
            return self.fail(DATE_EXPECTED);
        };
        self.advance();
        Ok(date)
    }

    /// `trait(name) op value` or `trait(name) exists`, and the same for `computed`.
    fn parse_trait(&mut self, computed: bool) -> Result<Condition, ParseError> {
        let function = self.peek()?.text;
        self.advance();
        self.expect(TokenKind::LeftParenthesis, &format!("'(' after {function}"))?;
        let token = self.peek()?;
        let name = match &token.kind {
            TokenKind::Identifier => token.text.to_string(),
            TokenKind::String(contents) => contents.clone(),
            _ => return self.fail("a trait name, like plan or \"plan\""),
        };
        self.advance();
        self.expect(TokenKind::RightParenthesis, "')' after the trait name")?;
        if self.next_is_keyword("exists")? {
            self.advance();
            return Ok(Condition::Trait(TraitCondition {
                name,
                computed,
                op: TraitComparison::Exists,
                value: None,
            }));
        }
        let op = self.parse_comparison(
            true,
            &format!(
                "a comparison (=, !=, >, >=, <, <=, contains) or 'exists' after {function}(...)"
            ),
        )?;
        let value = self.parse_value()?;
        Ok(Condition::Trait(TraitCondition {
            name,
            computed,
            op: TraitComparison::from(op),
            value: Some(value),
        }))
    }
}

/// `channel("x")` and `source("x")`: any event from there.
fn column_equals(column: &str, value: String) -> Condition {
    Condition::Event(EventCondition {
        event: EventMatch {
            name: None,
            filters: vec![Filter {
                field: Field::Column(column.to_string()),
                op: Comparison::Eq,
                value: serde_json::Value::String(value),
            }],
        },
        window: None,
        count: CountCondition::AT_LEAST_ONCE,
    })
}

/// Integers keep their integer form and decimals go through Rust's exact float parsing, so
/// that every number `serde_json` prints reads back equal.
fn number_value(text: &str) -> Option<serde_json::Number> {
    if text.contains(['.', 'e', 'E']) {
        return text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64);
    }
    if text.starts_with('-') {
        return text.parse::<i64>().ok().map(serde_json::Number::from);
    }
    text.parse::<u64>().ok().map(serde_json::Number::from)
}
