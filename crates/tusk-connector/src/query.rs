//! Callback query parameters, and cutting outside text before it goes
//! into a message.

/// Upstream text fit for an error message: the first 200 characters,
/// control characters replaced, and our client secret masked should an
/// upstream echo it.
pub(crate) fn snippet(bytes: &[u8], secret: &str) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut text: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if !secret.is_empty() {
        text = text.replace(secret, "***");
    }
    truncate(&text, 200)
}

/// Cuts text that comes from outside (a browser, an upstream) before it
/// goes into an error message.
pub(crate) fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// The value of one callback query parameter.
pub(crate) fn query_param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The first callback parameter repeated (RFC 6749 §3.1: parameters
/// MUST NOT appear more than once), among `keys`; a repeat is parameter
/// pollution and the callback is refused.
pub(crate) fn repeated<'a>(query: &[(String, String)], keys: &[&'a str]) -> Option<&'a str> {
    keys.iter()
        .copied()
        .find(|key| query.iter().filter(|(k, _)| k == key).count() > 1)
}

/// An OAuth error the upstream sent back to the callback (RFC 6749
/// §4.1.2.1): `error` and, when present, `error_description`, both cut.
pub(crate) fn callback_error(query: &[(String, String)]) -> Option<String> {
    let error = query_param(query, "error")?;
    let detail = query_param(query, "error_description")
        .map(|d| format!(": {}", truncate(d, 200)))
        .unwrap_or_default();
    Some(format!("{}{detail}", truncate(error, 100)))
}
