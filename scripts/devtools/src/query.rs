//! Query-string parsing for the mock: `a=1&b=2`, percent-decoding, duplicate
//! parameters refused (as Binance does).

use std::borrow::Cow;
use std::str::FromStr;

/// Longest query string accepted.
pub const MAX_QUERY_LEN: usize = 8 * 1024;

/// A malformed parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// Parameter given twice.
    Duplicate(String),
    /// Required parameter absent.
    Missing(String),
    /// Bad encoding or value.
    Invalid(String),
}

/// Parsed parameters, in order.
#[derive(Debug, Default)]
pub struct Query<'a> {
    params: Vec<(&'a str, Cow<'a, str>)>,
}

fn decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.contains(['%', '+']) {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

impl<'a> Query<'a> {
    /// Parse a raw query string.
    pub fn parse(raw: &'a str) -> Result<Self, QueryError> {
        if raw.len() > MAX_QUERY_LEN {
            return Err(QueryError::Invalid("query".into()));
        }
        let mut q = Query::default();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v).ok_or_else(|| QueryError::Invalid(k.into()))?;
            if q.params.iter().any(|(n, _)| *n == k) {
                return Err(QueryError::Duplicate(k.into()));
            }
            q.params.push((k, v));
        }
        Ok(q)
    }

    /// A parameter's decoded value, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params
            .iter()
            .find(|(n, v)| *n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    /// A numeric parameter, if present.
    pub fn num<T: FromStr>(&self, name: &str) -> Result<Option<T>, QueryError> {
        self.get(name)
            .map(|v| v.parse().map_err(|_| QueryError::Invalid(name.into())))
            .transpose()
    }

    /// A numeric parameter that must be present.
    pub fn required_num<T: FromStr>(&self, name: &str) -> Result<T, QueryError> {
        self.num(name)?
            .ok_or_else(|| QueryError::Missing(name.into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_decodes_and_refuses_duplicates() {
        let q = Query::parse("symbol=BTCUSDT&symbols=%5B%22A%22%5D&limit=5&empty=").unwrap();
        assert_eq!(q.get("symbol").unwrap(), "BTCUSDT");
        assert_eq!(q.get("symbols").unwrap(), "[\"A\"]");
        assert_eq!(q.num::<u32>("limit").unwrap(), Some(5));
        assert_eq!(q.get("empty"), None);
        assert!(q.num::<u32>("symbol").is_err());
        assert_eq!(
            q.required_num::<u32>("x"),
            Err(QueryError::Missing("x".into()))
        );
        assert!(matches!(
            Query::parse("a=1&a=2"),
            Err(QueryError::Duplicate(_))
        ));
        assert!(Query::parse("a=%zz").is_err());
        assert!(Query::parse(&"a".repeat(MAX_QUERY_LEN + 1)).is_err());
    }
}
