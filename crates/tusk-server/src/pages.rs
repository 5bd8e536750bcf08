//! Server-rendered HTML: the chooser, the password form, the device page
//! and its confirmation, the consent page, messages and errors. Templates are compiled into the binary and rendered
//! with minijinja, which escapes every value (auto-escape on `.html`).
//! No JavaScript is needed anywhere.

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use minijinja::Environment;
use serde::Serialize;

/// What an operator can brand.
#[derive(Debug, Clone, Serialize)]
pub struct Theme {
    pub title: String,
    pub logo_url: Option<String>,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            title: "tusk".into(),
            logo_url: None,
        }
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
        let ctx = minijinja::context! { theme => &self.theme, ..ctx };
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

    pub fn error(&self, e: &tusk_oidc::PageError) -> Response {
        let status = crate::errors::page_status(e.status);
        self.render(
            status,
            "error.html",
            minijinja::context! { title => &e.title, detail => &e.detail, admin_hint => &e.admin_hint },
        )
    }

    pub fn message(&self, heading: &str, message: &str) -> Response {
        self.render(
            StatusCode::OK,
            "message.html",
            minijinja::context! { heading, message },
        )
    }
}
