//! The web console at `/` of the admin listener: a small single-page app of plain ES modules
//! (crates/http/console/) over the JSON admin API, its files embedded in the binary with
//! `include_bytes!`, so the console needs no set-up and no Node toolchain to build or run.
//! Charts use uPlot, vendored as released (console/vendor/README.md).
//!
//! Every answer forbids framing and sniffing; the page's Content-Security-Policy allows
//! scripts, styles and requests from this origin only (no inline script, no eval), so an
//! injected string can never run as code. Files are served with `Cache-Control: no-cache`:
//! a browser revalidates after an upgrade instead of mixing old and new modules.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The console's page: scripts, styles, images and requests from this origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its path under `/console/`, its media type, its bytes.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            bytes: include_bytes!(concat!("../console/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of crates/http/console/ but index.html (served at `/`) and the vendored
/// libraries' READMEs and licences (kept beside them in the repository); a test checks that
/// none is forgotten.
static ASSETS: &[Asset] = &[
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ui.js", JS),
    asset!("charts.js", JS),
    asset!("style.css", CSS),
    asset!("pages/overview.js", JS),
    asset!("pages/topics.js", JS),
    asset!("pages/topic.js", JS),
    asset!("pages/messages.js", JS),
    asset!("pages/groups.js", JS),
    asset!("pages/group.js", JS),
    asset!("pages/cluster.js", JS),
    asset!("pages/transactions.js", JS),
    asset!("pages/security.js", JS),
    asset!("pages/login.js", JS),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
];

static INDEX_HTML: &[u8] = include_bytes!("../console/index.html");

/// The console's routes: the page at `/`, its files under `/console/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/console/{*path}", get(asset))
}

fn common_headers(response: &mut Response, content_type: &'static str) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

async fn index() -> Response {
    let mut response = INDEX_HTML.into_response();
    common_headers(&mut response, "text/html; charset=utf-8");
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

async fn asset(Path(path): Path<String>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, "no such console file").into_response();
    };
    let mut response = asset.bytes.into_response();
    common_headers(&mut response, asset.content_type);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files under console/ that are served, as paths relative to it.
    fn files_on_disk() -> Vec<String> {
        fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, base, out);
                } else {
                    let relative = path.strip_prefix(base).unwrap();
                    out.push(relative.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console");
        let mut files = Vec::new();
        walk(&base, &base, &mut files);
        files.retain(|f| f != "index.html" && !f.ends_with("README.md") && !f.ends_with("LICENSE"));
        files.sort();
        files
    }

    #[test]
    fn every_console_file_is_embedded() {
        let mut embedded: Vec<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, files_on_disk());
        for a in ASSETS {
            let expected = if a.path.ends_with(".js") { JS } else { CSS };
            assert_eq!(a.content_type, expected, "{}", a.path);
        }
    }

    #[test]
    fn the_page_loads_no_inline_script() {
        let html = std::str::from_utf8(INDEX_HTML).unwrap();
        let mut rest = html;
        while let Some(at) = rest.find("<script") {
            let tag_end = rest[at..].find('>').unwrap() + at;
            assert!(
                rest[at..tag_end].contains("src=\"/console/"),
                "every script is a file of the console: {}",
                &rest[at..=tag_end]
            );
            let close = rest[tag_end..].find("</script>").unwrap() + tag_end;
            assert_eq!(rest[tag_end + 1..close].trim(), "", "no inline script");
            rest = &rest[close..];
        }
        for (at, _) in html.match_indices(" on") {
            let name: String = html[at + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            assert!(
                !html[at + 3 + name.len()..].starts_with('='),
                "no inline event handler attribute: on{name}"
            );
        }
        assert!(!html.contains("style="), "no inline styles");
    }
}
