//! The client commands, one module per top-level command and, for `auth`
//! and `idp`, one file per subcommand. Each command's file holds its clap
//! arguments, its help and its `run`; what several commands share lives in
//! a module named for what it is (`client`, `names`, `input`, `output`,
//! `pach_config`).

pub mod audit;
pub mod auth;
pub mod context;
pub mod enterprise;
pub mod idp;
pub mod license;
pub mod resource;
pub mod version;
