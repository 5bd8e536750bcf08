//! What the pages that ask the user something show: the consent page
//! and the device confirmation. A leaf module: `authorize`'s `Next`
//! carries these, and `consent` and `device_confirm` build them.

use tusk_store::OidcClient;

/// One scope as the consent page words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeWords {
    pub scope: String,
    pub words: String,
}

/// The consent page's content. `token` is the single-use answer token.
#[derive(Clone)]
pub struct ConsentPage {
    pub request_id: String,
    pub token: String,
    pub client_id: String,
    pub client_name: String,
    /// The scopes asked for now, in words.
    pub scopes: Vec<ScopeWords>,
    /// Scopes the user already granted this client, in words.
    pub granted: Vec<ScopeWords>,
}

impl std::fmt::Debug for ConsentPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentPage")
            .field("request_id", &self.request_id)
            .field("token", &"***")
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A client's name for people: its `name`, else its id.
pub(crate) fn display_name(client: Option<&OidcClient>, id: &str) -> String {
    client
        .map(|c| c.name.trim())
        .filter(|n| !n.is_empty())
        .unwrap_or(id)
        .to_owned()
}

/// The confirmation page's content. `token` is the single-use answer
/// token; it is bound to `request_id`'s auth request.
#[derive(Clone)]
pub struct DeviceConfirm {
    pub request_id: String,
    pub token: String,
    pub client_id: String,
    pub client_name: String,
    /// The user code as the device shows it, `XXXX-XXXX`.
    pub user_code: String,
}

impl std::fmt::Debug for DeviceConfirm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceConfirm")
            .field("request_id", &self.request_id)
            .field("token", &"***")
            .field("client_id", &self.client_id)
            .field("user_code", &self.user_code)
            .finish()
    }
}

/// `ABCDEFGH` as the device shows it: `ABCD-EFGH`.
pub(crate) fn display_code(code: &str) -> String {
    match (code.get(..4), code.get(4..)) {
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => code.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_shown_with_a_dash() {
        assert_eq!(super::display_code("BCDFGHJK"), "BCDF-GHJK");
        assert_eq!(super::display_code("BCD"), "BCD");
    }
}
