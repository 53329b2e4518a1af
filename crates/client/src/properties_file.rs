//! `--command-config FILE`: a Java properties file of client settings, as Kafka's tools read
//! it (`kafka-topics --command-config client.properties`).
//!
//! Syntax (java.util.Properties, the parts client configs use):
//! ```text
//! # comment            ! comment            (blank lines are skipped)
//! key=value            key: value           key value      (first '=', ':' or blank ends the key)
//! sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
//!     username="alice" password="alice-secret";          (a trailing '\' continues the line)
//! ```
//! Escapes: `\t`, `\n`, `\r`, `\f`, `\uXXXX`, and `\` before any other character stands for that
//! character (`\=`, `\:`, `\\`, `\ `). Leading blanks of a value and of a continuation line
//! are dropped.

use std::path::Path;

use anyhow::{anyhow, bail, Result};

/// The `(key, value)` pairs of the file at `path`, in file order.
pub fn read_properties(path: &Path) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("--command-config {}: {e}", path.display()))?;
    parse_properties(&text).map_err(|e| anyhow!("--command-config {}: {e}", path.display()))
}

/// The `(key, value)` pairs of a properties text, in order.
pub fn parse_properties(text: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((number, line)) = lines.next() {
        let first = line.trim_start();
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        // Join continuation lines: an odd number of trailing backslashes continues.
        let mut logical = first.to_string();
        while ends_with_continuation(&logical) {
            logical.pop();
            match lines.next() {
                Some((_, next)) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        let key = unescape(key).map_err(|e| anyhow!("line {}: {e}", number + 1))?;
        let value = unescape(value).map_err(|e| anyhow!("line {}: {e}", number + 1))?;
        if key.is_empty() {
            bail!("line {}: a property without a key", number + 1);
        }
        pairs.push((key, value));
    }
    Ok(pairs)
}

fn ends_with_continuation(line: &str) -> bool {
    line.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1
}

/// Splits at the first unescaped `=`, `:` or blank (blanks around the separator skipped).
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' => return (&line[..i], line[i + 1..].trim_start()),
            ' ' | '\t' | '\u{c}' => {
                let rest = line[i..].trim_start();
                let rest = rest.strip_prefix(['=', ':']).map_or(rest, str::trim_start);
                return (&line[..i], rest);
            }
            _ => {}
        }
    }
    (line, "")
}

fn unescape(text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4)
                    .and_then(char::from_u32)
                    .ok_or_else(|| anyhow!("malformed \\u escape"))?;
                out.push(code);
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn java_properties_syntax_is_read() {
        let text = "# client settings\n\
                    ! also a comment\n\
                    \n\
                    security.protocol=SASL_SSL\n\
                    sasl.mechanism : SCRAM-SHA-256\n\
                    client.id cli\n\
                    sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n\
                    \x20   username=\"alice\" \\\n\
                    \x20   password=\"a=b\\\\c\";\n\
                    ssl.truststore.location = /etc/ca.pem\n\
                    weird\\=key=x\\u0041\n\
                    empty=\n";
        assert_eq!(
            parse_properties(text).expect("valid"),
            pairs(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-256"),
                ("client.id", "cli"),
                (
                    "sasl.jaas.config",
                    "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"a=b\\c\";"
                ),
                ("ssl.truststore.location", "/etc/ca.pem"),
                ("weird=key", "xA"),
                ("empty", ""),
            ])
        );
        let err = parse_properties("a=\\u00zz").expect_err("bad escape");
        assert_eq!(err.to_string(), "line 1: malformed \\u escape");
    }

    #[test]
    fn a_missing_file_is_named() {
        let err = read_properties(Path::new("/nonexistent/client.properties")).expect_err("none");
        assert!(
            err.to_string()
                .starts_with("--command-config /nonexistent/client.properties: "),
            "{err}"
        );
    }
}
