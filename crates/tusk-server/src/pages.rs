//! Server-rendered HTML: the chooser, the password form, the device page
//! and its confirmation, the consent page, messages and errors. Templates are compiled into the binary and rendered
//! with minijinja, which escapes every value (auto-escape on `.html`).
//! No JavaScript is needed anywhere.

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use minijinja::Environment;
use serde::Serialize;

/// What an operator can brand (`tusk.branding.*`, or the older
/// `tusk.theme.*`): the product name shown as the wordmark and in titles,
/// a logo (a `data:` URL from the config, or the older theme's URL), and
/// the accent colour of primary buttons and the default mark.
#[derive(Debug, Clone)]
pub struct Theme {
    pub title: String,
    pub logo_url: Option<String>,
    /// `#rgb` or `#rrggbb`, validated by tusk-core's config rules.
    pub accent: String,
}

/// tusk's own accent: white text on it has a contrast of 10:1.
pub const DEFAULT_ACCENT: &str = "#4b2a85";

impl Default for Theme {
    fn default() -> Self {
        Theme {
            title: "tusk".into(),
            logo_url: None,
            accent: DEFAULT_ACCENT.into(),
        }
    }
}

/// What templates see of the theme: the accent with the text colour that
/// reads on it (WCAG AA, 4.5:1), so any accent an operator picks keeps its
/// buttons legible.
#[derive(Serialize)]
struct ThemeView<'a> {
    title: &'a str,
    logo_url: Option<&'a str>,
    accent: &'a str,
    accent_text: &'static str,
}

impl Theme {
    fn view(&self) -> ThemeView<'_> {
        let accent = match rgb(&self.accent) {
            Some(_) => self.accent.as_str(),
            // Config validation refuses anything else; a hand-built Theme
            // with a bad colour falls back rather than breaking the CSS.
            None => DEFAULT_ACCENT,
        };
        ThemeView {
            title: &self.title,
            logo_url: self.logo_url.as_deref(),
            accent,
            accent_text: text_on(accent),
        }
    }
}

/// `#rgb` or `#rrggbb` as three 0-255 channels.
fn rgb(hex: &str) -> Option<[u8; 3]> {
    let digits = hex.strip_prefix('#')?;
    let channel = |s: &str| u8::from_str_radix(s, 16).ok();
    match digits.len() {
        3 => {
            let mut out = [0u8; 3];
            for (i, c) in digits.chars().enumerate() {
                out[i] = channel(&c.to_string())? * 17;
            }
            Some(out)
        }
        6 if digits.is_ascii() => Some([
            channel(&digits[0..2])?,
            channel(&digits[2..4])?,
            channel(&digits[4..6])?,
        ]),
        _ => None,
    }
}

/// WCAG 2 relative luminance of an sRGB colour.
fn luminance([r, g, b]: [u8; 3]) -> f64 {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// White or black, whichever has the higher contrast on `accent`: one of
/// them is always above 4.5:1, whatever the accent.
fn text_on(accent: &str) -> &'static str {
    let l = rgb(accent).map_or(0.0, luminance);
    let on_white = 1.05 / (l + 0.05);
    let on_black = (l + 0.05) / (luminance([0, 0, 0]) + 0.05);
    if on_white >= on_black {
        "#ffffff"
    } else {
        "#000000"
    }
}

pub struct Pages {
    env: Environment<'static>,
    theme: Theme,
}

impl Pages {
    pub fn new(theme: Theme) -> Pages {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("../templates/base.html")),
            ("chooser.html", include_str!("../templates/chooser.html")),
            ("password.html", include_str!("../templates/password.html")),
            ("device.html", include_str!("../templates/device.html")),
            (
                "device_confirm.html",
                include_str!("../templates/device_confirm.html"),
            ),
            ("consent.html", include_str!("../templates/consent.html")),
            ("message.html", include_str!("../templates/message.html")),
            ("error.html", include_str!("../templates/error.html")),
            ("icons.html", include_str!("../templates/icons.html")),
        ] {
            // The templates are ours and fixed; a syntax error is caught by
            // the tests that render every page.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        Pages { env, theme }
    }

    /// Renders a page with the theme in its context, plus the headers every
    /// login page needs: no framing (clickjacking), no caching, no referrer.
    pub fn render(&self, status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
        let ctx = minijinja::context! { theme => self.theme.view(), ..ctx };
        let html = self
            .env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .unwrap_or_else(|e| {
                tracing::error!(template = name, error = %e, "page rendering failed");
                "<!doctype html><title>Error</title><p>This page could not be shown; see the server log.</p>".to_owned()
            });
        let mut response = (status, Html(html)).into_response();
        let h = response.headers_mut();
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }

    /// An error page: the user's plain words, what they can do, and the
    /// reference id. The detail (the internal chain) is logged here, under
    /// the same reference, and never rendered: the one place both happen,
    /// so no page can show a reference the log lacks.
    pub fn error(&self, e: &tusk_oidc::PageError) -> Response {
        let status = crate::errors::page_status(e.status);
        // Control characters become spaces, so a detail that quotes
        // request input cannot forge log lines in the text format.
        let detail: String = e
            .detail
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if status.is_server_error() && e.fault != tusk_oidc::Fault::Transient {
            tracing::error!(reference = %e.reference, status = status.as_u16(), fault = e.fault.as_str(), title = %e.title, detail = %detail, "login page error");
        } else {
            tracing::warn!(reference = %e.reference, status = status.as_u16(), fault = e.fault.as_str(), title = %e.title, detail = %detail, "login page error");
        }
        let link = |l: &Option<tusk_oidc::Link>| {
            l.as_ref()
                .map(|l| minijinja::context! { href => &l.href, label => &l.label })
        };
        self.render(
            status,
            "error.html",
            minijinja::context! {
                title => &e.title,
                message => &e.message,
                reference => &e.reference,
                retry => link(&e.links.retry),
                chooser => link(&e.links.chooser),
                back => link(&e.links.back),
            },
        )
    }

    /// A message page; `success` shows the check mark (a login or logout
    /// that worked).
    pub fn message(&self, heading: &str, message: &str) -> Response {
        self.message_with(StatusCode::OK, heading, message, "info")
    }

    pub fn success(&self, heading: &str, message: &str) -> Response {
        self.message_with(StatusCode::OK, heading, message, "success")
    }

    pub fn message_with(
        &self,
        status: StatusCode,
        heading: &str,
        message: &str,
        tone: &str,
    ) -> Response {
        self.render(
            status,
            "message.html",
            minijinja::context! { heading, message, tone },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every accent gets the text colour with the better contrast, which
    /// for these is at least AA (4.5:1).
    #[test]
    fn accent_text_keeps_aa_contrast() {
        let contrast = |a: [u8; 3], b: [u8; 3]| {
            let (x, y) = (luminance(a), luminance(b));
            (x.max(y) + 0.05) / (x.min(y) + 0.05)
        };
        for accent in [
            "#4b2a85", "#000", "#fff", "#ffcc00", "#0070f3", "#e11d48", "#777777",
        ] {
            let text = text_on(accent);
            let ratio = contrast(rgb(accent).unwrap(), rgb(text).unwrap());
            assert!(ratio >= 4.5, "{accent} with {text}: {ratio:.2}");
        }
        assert_eq!(rgb("#abc"), Some([0xaa, 0xbb, 0xcc]));
        assert_eq!(rgb("#zzzzzz"), None);
        assert_eq!(rgb("4b2a85"), None);
    }
}
