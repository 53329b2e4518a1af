//! The `consume --format` output template.
//!
//! Placeholders: `%k` key, `%v` value, `%p` partition, `%o` offset, `%t` timestamp (ms since the
//! epoch, -1 when the record has none), `%h` headers as `k=v` joined with `,`, `%T` topic, `%%` a
//! percent sign. Escapes: `\n`, `\t`, `\r`, `\\`. A null key, value or header value prints as
//! nothing. Keys, values and header values are written as raw bytes, not re-encoded. The template
//! is printed exactly as given: like kcat, add `\n` to get one record per line. Without
//! `--format` the template is `%v\n`.

use std::io::{self, Write};

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Key,
    Value,
    Partition,
    Offset,
    Timestamp,
    Headers,
    Topic,
}

/// The fields of one record that a template can show.
pub struct RecordView<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch; None when the record carries no timestamp.
    pub timestamp_ms: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
}

/// A parsed output template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Default for Template {
    fn default() -> Self {
        Template {
            pieces: vec![Piece::Value, Piece::Literal(b"\n".to_vec())],
        }
    }
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let field = match chars.next() {
                        Some('%') => {
                            literal.push(b'%');
                            continue;
                        }
                        Some('k') => Piece::Key,
                        Some('v') => Piece::Value,
                        Some('p') => Piece::Partition,
                        Some('o') => Piece::Offset,
                        Some('t') => Piece::Timestamp,
                        Some('h') => Piece::Headers,
                        Some('T') => Piece::Topic,
                        Some(other) => {
                            return Err(format!(
                                "unknown placeholder '%{other}' in format (use %k %v %p %o %t %h %T %%)"
                            ))
                        }
                        None => return Err("format ends with a lone '%' (use %%)".to_string()),
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(field);
                }
                '\\' => match chars.next() {
                    Some('n') => literal.push(b'\n'),
                    Some('t') => literal.push(b'\t'),
                    Some('r') => literal.push(b'\r'),
                    Some('\\') => literal.push(b'\\'),
                    Some(other) => {
                        literal.push(b'\\');
                        let mut buf = [0u8; 4];
                        literal.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                    }
                    None => literal.push(b'\\'),
                },
                other => {
                    let mut buf = [0u8; 4];
                    literal.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// Whether rendering needs the record's headers (collecting them costs a little).
    pub fn uses_headers(&self) -> bool {
        self.pieces.contains(&Piece::Headers)
    }

    pub fn render(&self, record: &RecordView<'_>, out: &mut impl Write) -> io::Result<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(bytes) => out.write_all(bytes)?,
                Piece::Key => out.write_all(record.key.unwrap_or_default())?,
                Piece::Value => out.write_all(record.value.unwrap_or_default())?,
                Piece::Partition => write!(out, "{}", record.partition)?,
                Piece::Offset => write!(out, "{}", record.offset)?,
                Piece::Timestamp => write!(out, "{}", record.timestamp_ms.unwrap_or(-1))?,
                Piece::Topic => out.write_all(record.topic.as_bytes())?,
                Piece::Headers => {
                    for (i, (name, value)) in record.headers.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b",")?;
                        }
                        out.write_all(name.as_bytes())?;
                        out.write_all(b"=")?;
                        out.write_all(value.unwrap_or_default())?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>() -> RecordView<'a> {
        RecordView {
            topic: "orders",
            partition: 2,
            offset: 41,
            timestamp_ms: Some(1_700_000_000_000),
            key: Some(b"k1"),
            value: Some(b"hello"),
            headers: vec![("a", Some(b"1")), ("b", None)],
        }
    }

    fn render(template: &str, record: &RecordView<'_>) -> String {
        let template = Template::parse(template).expect("valid template");
        let mut out = Vec::new();
        template.render(record, &mut out).expect("write to vec");
        String::from_utf8(out).expect("utf-8 output")
    }

    #[test]
    fn every_placeholder() {
        assert_eq!(
            render("%T/%p@%o %t %k=%v [%h] 100%%\\n", &record()),
            "orders/2@41 1700000000000 k1=hello [a=1,b=] 100%\n"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(
            render("%k\\t%v\\r\\n\\\\\\x", &record()),
            "k1\thello\r\n\\\\x"
        );
    }

    #[test]
    fn nulls_print_as_empty() {
        let r = RecordView {
            key: None,
            value: None,
            timestamp_ms: None,
            headers: vec![],
            ..record()
        };
        assert_eq!(render("[%k][%v][%h][%t]", &r), "[][][][-1]");
    }

    #[test]
    fn default_prints_value_per_line() {
        let mut out = Vec::new();
        Template::default()
            .render(&record(), &mut out)
            .expect("write to vec");
        assert_eq!(out, b"hello\n");
    }

    #[test]
    fn bad_templates_are_rejected() {
        assert!(Template::parse("%x").is_err());
        assert!(Template::parse("abc%").is_err());
        assert!(!Template::parse("%v").expect("valid").uses_headers());
        assert!(Template::parse("%h").expect("valid").uses_headers());
    }
}
