// Test helpers may panic: a failed expectation is what a test reports.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
//! tusk-core's one integration-test binary.

mod auth;
mod config;
