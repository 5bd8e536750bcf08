//! `tusk doctor` for `ldap` connectors: for each one in the values, the
//! checks of [`tusk_connector::ldap::probe`] against the live directory
//! (connect with its TLS mode, service bind, the user and group search
//! bases), each failure with its fix.
//!
//! Only from `--values`: a running server hands out connector configs with
//! `bindPW` masked, so the service bind cannot be tried from its answer.

use tusk_connector::ldap::{Probe, probe};
use tusk_core::config::ConnectorSpec;

/// Probes every `ldap` connector, in order; one that fails never stops the
/// others.
pub async fn check(connectors: &[ConnectorSpec]) -> Vec<Probe> {
    let mut out = Vec::new();
    for c in connectors.iter().filter(|c| c.type_ == "ldap") {
        out.extend(probe(&c.id, &c.config).await);
    }
    out
}
