//! `GET /verify/...`: the static verification page (attestation-verifier/wasm:
//! `www/` holds the page, `pkg/` the verifier compiled to WebAssembly by
//! `scripts/build-verify-page`, both committed and embedded here), plus the
//! measurements and, in dev mode, the simulator's root this host was
//! configured with (`VERIFY_PCRS_JSON`, `VERIFY_DEV_ROOT_PEM`), and the
//! witnesses it trusts (`VERIFY_TLOG_POLICY`).
//!
//! The page runs only its own script and WebAssembly and fetches only from
//! this origin (its Content-Security-Policy); saved to disk it works the
//! same, with the files chosen by hand.

use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::http::error::{ApiError, Code};
use crate::http::{App, Resp};

macro_rules! page_file {
    ($dir:literal, $name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../attestation-verifier/wasm/",
            $dir,
            "/",
            $name
        ))
    };
}

/// `(path under /verify/, content type, bytes)`.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "",
        "text/html; charset=utf-8",
        page_file!("www", "index.html"),
    ),
    (
        "index.html",
        "text/html; charset=utf-8",
        page_file!("www", "index.html"),
    ),
    (
        "verify.css",
        "text/css; charset=utf-8",
        page_file!("www", "verify.css"),
    ),
    (
        "verify.js",
        "text/javascript; charset=utf-8",
        page_file!("www", "verify.js"),
    ),
    (
        "strongroom_verifier.js",
        "text/javascript; charset=utf-8",
        page_file!("pkg", "strongroom_verifier.js"),
    ),
    (
        "strongroom_verifier_bg.wasm",
        "application/wasm",
        page_file!("pkg", "strongroom_verifier_bg.wasm"),
    ),
];

/// Its own script, styles and WebAssembly; fetches to this origin only.
const PAGE_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

fn named(name: &str) -> &'static [u8] {
    FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or(&[][..], |(_, _, b)| b)
}

/// The page as one HTML file (styles, scripts and the WebAssembly inline),
/// to save and open from disk: `/verify/strongroom-verify.html`. `None` if a
/// piece could not be inlined safely (a `</script` inside a script).
static SINGLE_FILE: LazyLock<Option<String>> = LazyLock::new(|| {
    let text = |n| std::str::from_utf8(named(n)).ok();
    let (html, css, glue, page) = (
        text("index.html")?,
        text("verify.css")?,
        text("strongroom_verifier.js")?,
        text("verify.js")?,
    );
    if [glue, page].iter().any(|s| s.contains("</script")) {
        return None;
    }
    // The page's one import names what the glue defines at top level.
    let page = page
        .lines()
        .filter(|l| !l.starts_with("import "))
        .collect::<Vec<_>>()
        .join("\n");
    let wasm = STANDARD.encode(named("strongroom_verifier_bg.wasm"));
    let scripts = format!(
        "<script type=\"application/octet-stream\" id=\"wasm-base64\">{wasm}</script>\n\
         <script type=\"module\">\n{glue}\nconst init = __wbg_init;\n{page}\n</script>"
    );
    let html = html
        .replacen(
            "<link rel=\"stylesheet\" href=\"verify.css\">",
            &format!("<style>\n{css}</style>"),
            1,
        )
        .replacen(
            "<script type=\"module\" src=\"verify.js\"></script>",
            &scripts,
            1,
        );
    Some(html)
});

fn file(content_type: &'static str, body: Bytes) -> Resp {
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(PAGE_CSP),
    );
    r
}

impl App {
    /// Answers one file of the page (`path` is the whole request path).
    pub(in crate::http) fn verify_page(&self, path: &str) -> Result<Resp, ApiError> {
        let Some(name) = path.strip_prefix("/verify/") else {
            // `/verify`: relative links need the trailing slash.
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/verify/"));
            return Ok(r);
        };
        let configured = match name {
            "pcrs.json" => Some((&self.cfg.verify_pcrs_json, "application/json")),
            "dev-root.pem" => Some((&self.cfg.verify_dev_root_pem, "application/x-pem-file")),
            "tlog-policy" => Some((&self.cfg.verify_tlog_policy, "text/plain; charset=utf-8")),
            _ => None,
        };
        if name == "strongroom-verify.html" {
            let page = SINGLE_FILE
                .as_ref()
                .ok_or_else(|| ApiError::new(Code::NotFound))?;
            let mut r = file("text/html; charset=utf-8", Bytes::from(page.clone()));
            r.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"strongroom-verify.html\""),
            );
            return Ok(r);
        }
        if let Some((text, content_type)) = configured {
            let text = text.as_ref().ok_or_else(|| ApiError::new(Code::NotFound))?;
            return Ok(file(content_type, Bytes::from(text.clone())));
        }
        FILES
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, t, b)| file(t, Bytes::from_static(b)))
            .ok_or_else(|| ApiError::new(Code::NotFound))
    }
}
