//! Email destinations: each message rendered from the destination's template and sent through
//! SMTP to the person's address, with a one-click unsubscribe link (RFC 8058) in the headers and
//! wherever the template places `recipient.unsubscribe_url`.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::config::{
    EmailTemplate, MAX_SUBJECT_TEMPLATE_CHARS, MAX_TEXT_TEMPLATE_CHARS, SecretRef,
};
use crate::deliver::{Failure, Message};

/// Template evaluation steps allowed per message, so no template can loop for long.
const TEMPLATE_FUEL: u64 = 200_000;

fn environment() -> Environment<'static> {
    let mut environment = Environment::new();
    environment.set_fuel(Some(TEMPLATE_FUEL));
    // `{{ traits.first_name | default("there") }}` works when the event has no traits at all.
    environment.set_undefined_behavior(UndefinedBehavior::Chainable);
    environment
}

/// Whether both parts of `template` are within their limits and parse.
pub fn check_template(template: &EmailTemplate) -> Result<(), String> {
    if template.subject.trim().is_empty()
        || template.subject.chars().count() > MAX_SUBJECT_TEMPLATE_CHARS
    {
        return Err(format!(
            "target.template.subject must be 1 to {MAX_SUBJECT_TEMPLATE_CHARS} characters"
        ));
    }
    if template.text.trim().is_empty() || template.text.chars().count() > MAX_TEXT_TEMPLATE_CHARS {
        return Err(format!(
            "target.template.text must be 1 to {MAX_TEXT_TEMPLATE_CHARS} characters"
        ));
    }
    let environment = environment();
    for (part, source) in [("subject", &template.subject), ("text", &template.text)] {
        environment
            .template_from_str(source)
            .map_err(|error| format!("target.template.{part}: {error}"))?;
    }
    Ok(())
}

/// The subject (on one line) and body of `message`.
pub fn render(template: &EmailTemplate, message: &Value) -> Result<(String, String), String> {
    let environment = environment();
    let subject = environment
        .render_str(&template.subject, message)
        .map_err(|error| format!("template subject: {error}"))?;
    let text = environment
        .render_str(&template.text, message)
        .map_err(|error| format!("template text: {error}"))?;
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((subject, text))
}

pub struct EmailSender {
    pub url: String,
    pub from: String,
    pub template: EmailTemplate,
    pub username: Option<SecretRef>,
    pub password: Option<SecretRef>,
    pub timeout: Duration,
}

fn permanent(reason: String) -> Failure {
    Failure {
        reason,
        retryable: false,
        retry_after: None,
        status: None,
    }
}

fn transient(reason: String) -> Failure {
    Failure {
        reason,
        retryable: true,
        retry_after: None,
        status: None,
    }
}

impl EmailSender {
    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
        let url = url::Url::parse(&self.url).map_err(|error| permanent(error.to_string()))?;
        let host = url.host_str().unwrap_or_default().to_string();
        let tls = TlsParameters::new(host.clone())
            .map_err(|error| permanent(format!("smtp tls: {error}")))?;
        let (tls, default_port) = if url.scheme() == "smtps" {
            (Tls::Wrapper(tls), 465)
        } else {
            (Tls::Opportunistic(tls), 587)
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
            .port(url.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(self.timeout));
        if let (Some(username), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(
                username.read().map_err(transient)?,
                password.read().map_err(transient)?,
            ));
        }
        Ok(builder.build())
    }

    /// Sends one email per message, over one connection; each message carries its
    /// `recipient` (`email`, `unsubscribe_url`).
    pub async fn send(&self, messages: &[Message]) -> Result<String, Failure> {
        let transport = self.transport()?;
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| permanent("the sender address is invalid".to_string()))?;
        for (key, message) in messages {
            let email = self.compose(&from, key, message)?;
            transport.send(email).await.map_err(|error| {
                let reason = format!("smtp: {error}");
                if error.is_permanent() {
                    permanent(reason)
                } else {
                    transient(reason)
                }
            })?;
        }
        Ok(format!("sent {} emails", messages.len()))
    }

    fn compose(
        &self,
        from: &Mailbox,
        key: &str,
        message: &Value,
    ) -> Result<lettre::Message, Failure> {
        let recipient = &message["recipient"];
        let to: Mailbox = recipient["email"]
            .as_str()
            .and_then(|address| address.parse().ok())
            .ok_or_else(|| permanent("the person has no valid email address".to_string()))?;
        let (subject, text) = render(&self.template, message).map_err(permanent)?;
        // The same event gives the same Message-ID on every retry.
        let id = hex::encode(&Sha256::digest(key.as_bytes())[..16]);
        let mut builder = lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{id}@silta>")))
            .header(ContentType::TEXT_PLAIN);
        if let Some(link) = recipient["unsubscribe_url"].as_str() {
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{link}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_string(),
                ));
        }
        builder
            .body(text)
            .map_err(|error| permanent(format!("email: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(subject: &str, text: &str) -> EmailTemplate {
        EmailTemplate {
            subject: subject.into(),
            text: text.into(),
        }
    }

    #[test]
    fn templates_see_the_event_and_the_recipient_only() {
        let message = json!({"event": "Order Completed", "properties": {"order_id": "o-1"},
                             "recipient": {"email": "ada@example.com",
                                           "unsubscribe_url": "https://cdp.example/u/x"}});
        let (subject, text) = render(
            &template(
                "Thanks for\n order {{ properties.order_id }}",
                "Hi {{ traits.first_name | default('there') }}!\nStop: {{ recipient.unsubscribe_url }}",
            ),
            &message,
        )
        .expect("renders");
        assert_eq!(subject, "Thanks for order o-1");
        assert_eq!(text, "Hi there!\nStop: https://cdp.example/u/x");
    }

    #[test]
    fn bad_templates_are_named_and_long_loops_run_out_of_fuel() {
        let error = check_template(&template("{{ oops", "x")).expect_err("does not parse");
        assert!(error.starts_with("target.template.subject"), "{error}");
        let error = check_template(&template("", "x")).expect_err("empty");
        assert!(error.contains("1 to"), "{error}");
        let endless = template(
            "x",
            "{% for a in range(10000) %}{% for b in range(10000) %}.{% endfor %}{% endfor %}",
        );
        assert!(check_template(&endless).is_ok());
        assert!(render(&endless, &json!({})).is_err());
    }
}
