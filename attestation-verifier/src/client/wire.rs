//! Small text checks of the client: base URL, query encoding, and what is
//! kept of a server's error body.

use super::ClientError;

/// Longest server error code kept as a code.
const MAX_SERVER_CODE_LEN: usize = 64;
/// Longest server error message kept (the rest is cut).
const MAX_SERVER_MESSAGE_LEN: usize = 512;

/// Server codes are snake_case; anything else is not trusted as a code.
pub(super) fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_SERVER_CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// One line, printable, bounded: server text ends up in terminals and logs.
pub(super) fn clean_message(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_SERVER_MESSAGE_LEN)
        .collect()
}

/// Base64 uses `+`, `/`, `=`: reserved in a query string.
pub(super) fn percent_encode_b64(b64: &str) -> String {
    b64.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

/// `scheme://authority[/prefix]` without a trailing slash, query or fragment.
pub(super) fn check_base_url(url: &str, plain_ok: bool) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError::InvalidUrl(format!("{url}: {why}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("needs a host and no user info"));
    }
    if rest.contains(['?', '#']) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("no query, fragment or spaces"));
    }
    match scheme {
        "https" => {}
        "http" if plain_ok || is_loopback(authority) => {}
        "http" => return Err(ClientError::PlainHttp),
        _ => return Err(bad("scheme must be http or https")),
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let ok = |u: &str| check_base_url(u, false).unwrap();
        assert_eq!(ok("https://api.example.com/"), "https://api.example.com");
        assert_eq!(ok("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
        assert_eq!(ok("http://localhost:3000/v1/"), "http://localhost:3000/v1");
        assert_eq!(ok("http://[::1]:3000"), "http://[::1]:3000");
        assert_eq!(
            check_base_url("http://api.example.com", false),
            Err(ClientError::PlainHttp)
        );
        assert!(check_base_url("http://api.example.com", true).is_ok());
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://",
            "https://u:p@x",
            "https://x/?a=1",
            "https://x y",
        ] {
            assert!(
                matches!(check_base_url(bad, true), Err(ClientError::InvalidUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_and_messages_are_sanitized() {
        assert!(is_code("rate_limited"));
        assert!(!is_code("Rate Limited"));
        assert!(!is_code(&"a".repeat(65)));
        assert_eq!(clean_message("a\nb\x1b[31m"), "a b [31m");
        assert_eq!(percent_encode_b64("a+b/c=="), "a%2Bb%2Fc%3D%3D");
    }
}
