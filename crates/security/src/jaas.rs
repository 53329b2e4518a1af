//! Kafka's `sasl.jaas.config` values, e.g.
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required
//!     username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";
//! ```
//! Grammar (as Kafka's `JaasConfig` reads it): a login module class name, a control flag
//! (`required`, `requisite`, `sufficient` or `optional`), any number of `name=value` options,
//! and a terminating `;`. A value is a word or a double-quoted string in which `\` escapes the
//! next character. Kafka allows exactly one login module per config value.
//!
//! Option values may be passwords, so they are kept as [`Secret`]s: a parsed config can be
//! logged or printed with `{:?}` without showing any of them.

use std::collections::BTreeMap;

use crate::error::AuthError;
use crate::secret::Secret;

/// One login module of a JAAS config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasConfig {
    pub login_module: String,
    pub control_flag: String,
    options: BTreeMap<String, Secret>,
}

const FLAGS: &[&str] = &["required", "requisite", "sufficient", "optional"];

impl JaasConfig {
    /// Parses one `sasl.jaas.config` value.
    pub fn parse(text: &str) -> Result<JaasConfig, AuthError> {
        let tokens = tokenize(text)?;
        let bad = |why: &str| AuthError::Config(format!("sasl.jaas.config: {why}"));
        let mut it = tokens.into_iter().peekable();
        let Some(Token::Word(login_module)) = it.next() else {
            return Err(bad("expected a login module class name"));
        };
        let control_flag = match it.next() {
            Some(Token::Word(flag)) if FLAGS.contains(&flag.to_ascii_lowercase().as_str()) => {
                flag.to_ascii_lowercase()
            }
            _ => {
                return Err(bad(
                    "expected a control flag (required, requisite, sufficient or optional) after the login module",
                ))
            }
        };
        let mut options = BTreeMap::new();
        loop {
            match it.next() {
                Some(Token::Semicolon) => break,
                Some(Token::Word(name)) => {
                    if it.next() != Some(Token::Equals) {
                        return Err(bad(&format!("option {name} has no '=value'")));
                    }
                    let value = match it.next() {
                        Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                        _ => return Err(bad(&format!("option {name} has no value"))),
                    };
                    options.insert(name, Secret::new(value));
                }
                _ => return Err(bad("expected name=value options ended by ';'")),
            }
        }
        if it.peek().is_some() {
            return Err(bad("only one login module is allowed"));
        }
        Ok(JaasConfig {
            login_module,
            control_flag,
            options,
        })
    }

    /// The option `name` as text (None if absent or not UTF-8).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .get(name)
            .and_then(|v| std::str::from_utf8(v.expose()).ok())
    }

    /// The option `name` as a secret.
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.options.get(name)
    }

    /// The options whose name starts with `prefix`, with the prefix removed (PLAIN's
    /// `user_<name>="<password>"`).
    pub fn options_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Secret)> + 'a {
        self.options
            .iter()
            .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|rest| (rest, v)))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

fn tokenize(text: &str) -> Result<Vec<Token>, AuthError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '=' => {
                chars.next();
                tokens.push(Token::Equals);
            }
            ';' => {
                chars.next();
                tokens.push(Token::Semicolon);
            }
            '"' => {
                chars.next();
                let mut value = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some(escaped) => value.push(escaped),
                            None => break,
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        other => value.push(other),
                    }
                }
                if !closed {
                    return Err(AuthError::Config(
                        "sasl.jaas.config: a quoted value is not closed".into(),
                    ));
                }
                tokens.push(Token::Quoted(value));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '=' || c == ';' || c == '"' {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_plain_example_parses() {
        let c = JaasConfig::parse(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required
               username="admin"
               password="admin-secret"
               user_admin="admin-secret"
               user_alice="alice \"quoted\" secret";"#,
        )
        .expect("parses");
        assert_eq!(
            c.login_module,
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        );
        assert_eq!(c.control_flag, "required");
        assert_eq!(c.option("username"), Some("admin"));
        let users: Vec<(&str, &str)> = c
            .options_with_prefix("user_")
            .map(|(u, p)| (u, std::str::from_utf8(p.expose()).expect("utf-8")))
            .collect();
        assert_eq!(
            users,
            [
                ("admin", "admin-secret"),
                ("alice", "alice \"quoted\" secret")
            ]
        );
        assert!(
            !format!("{c:?}").contains("secret\""),
            "no password in Debug output: {c:?}"
        );
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        for (text, why) in [
            ("", "login module"),
            ("Module", "control flag"),
            ("Module always;", "control flag"),
            ("Module required username;", "no '=value'"),
            ("Module required username=;", "no value"),
            ("Module required username=\"x", "not closed"),
            ("Module required username=x", "ended by ';'"),
            ("Module required; Other required;", "only one"),
        ] {
            let e = JaasConfig::parse(text).expect_err(text).to_string();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        assert!(JaasConfig::parse("M optional a=b c=\"d e\";").is_ok());
    }
}
