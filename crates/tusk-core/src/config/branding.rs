//! `tusk.branding`: the product name, logo and accent colour of the login
//! pages. The pages load nothing from outside, so the logo is a `data:`
//! URL held in the config, and the accent must be a plain hex colour
//! (it is written into the pages' inline CSS).

use super::loader::Loader;
use super::lookup::Values;
use crate::yaml::Pos;

/// The largest logo accepted: it is inlined into every page.
pub const MAX_LOGO_BYTES: usize = 64 * 1024;

/// The image types a logo may have.
const LOGO_TYPES: &[&str] = &[
    "data:image/svg+xml",
    "data:image/png",
    "data:image/jpeg",
    "data:image/webp",
    "data:image/gif",
];

/// What `tusk.branding` sets; `None` leaves the default (or the older
/// `tusk.theme.*` value).
pub(super) struct Branding {
    pub product_name: Option<String>,
    pub logo: Option<String>,
    pub accent: Option<String>,
}

/// Whether `text` is `#rgb` or `#rrggbb`.
pub fn is_hex_colour(text: &str) -> bool {
    text.strip_prefix('#')
        .is_some_and(|d| matches!(d.len(), 3 | 6) && d.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Why `text` is no usable logo, or `None` when it is one.
pub fn logo_problem(text: &str) -> Option<String> {
    if text.len() > MAX_LOGO_BYTES {
        return Some(format!(
            "the logo is {} bytes, over the limit of {MAX_LOGO_BYTES}",
            text.len()
        ));
    }
    let Some(kind) = LOGO_TYPES.iter().find(|t| {
        text.strip_prefix(**t)
            .is_some_and(|rest| rest.starts_with(';') || rest.starts_with(','))
    }) else {
        return Some(
            "the logo is not a `data:` URL of an SVG, PNG, JPEG, WebP or GIF image".into(),
        );
    };
    let Some((_, payload)) = text.split_once(',') else {
        return Some(format!("the `{kind}` URL has no `,` before its data"));
    };
    if payload.is_empty() {
        return Some("the logo's data is empty".into());
    }
    // Anything that could end the attribute it is written into, even
    // though the template escapes it.
    if text
        .chars()
        .any(|c| c.is_whitespace() && c != ' ' || matches!(c, '"' | '<' | '>'))
    {
        return Some("the logo URL holds quotes, angle brackets or line breaks; percent- or base64-encode the image".into());
    }
    None
}

impl Loader<'_> {
    pub(super) fn branding(&mut self, v: Values<'_>) -> Branding {
        let pos = |key: &str| {
            v.get(&["tusk", "branding", key])
                .map_or(Pos::default(), |n| n.pos)
        };
        // A blank name is no name (as everywhere in the config): the
        // default applies.
        let product_name = v.str_at(&["tusk", "branding", "productName"]);
        if let Some(name) = &product_name
            && name.chars().count() > 64
        {
            self.ctx.error(
                pos("productName"),
                "tusk.branding.productName",
                format!(
                    "the product name is {} characters, over the limit of 64",
                    name.chars().count()
                ),
                Some("use the short name users know, such as `Acme Data`".into()),
            );
        }
        let logo = v.str_at(&["tusk", "branding", "logo"]);
        if let Some(problem) = logo.as_deref().and_then(logo_problem) {
            self.ctx.error(
                pos("logo"),
                "tusk.branding.logo",
                problem,
                Some(format!(
                    "give the image inline, as `data:image/svg+xml;base64,...` or `data:image/png;base64,...`, at most {} KiB (for example `base64 -w0 logo.svg`)",
                    MAX_LOGO_BYTES / 1024
                )),
            );
        }
        let accent = v.str_at(&["tusk", "branding", "accentColor"]);
        if let Some(colour) = &accent
            && !is_hex_colour(colour)
        {
            self.ctx.error(
                pos("accentColor"),
                "tusk.branding.accentColor",
                format!("`{colour}` is not a hex colour"),
                Some("use `#rrggbb` or `#rgb`, such as `#4b2a85` (quote it in YAML)".into()),
            );
        }
        Branding {
            product_name: product_name.filter(|n| n.chars().count() <= 64),
            logo: logo.filter(|l| logo_problem(l).is_none()),
            accent: accent.filter(|c| is_hex_colour(c)),
        }
    }
}
