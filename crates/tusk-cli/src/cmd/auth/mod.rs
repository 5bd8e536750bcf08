//! `tusk auth …`: a thin client over `auth_v2.API`, modelled on
//! `pachctl auth`, one file per command with its flags, help and `run`.
//! Input is checked before anything is sent (role names, principals,
//! permissions and resource names, in [`crate::names`]), so a typo is
//! named with a suggestion.

mod activate;
mod check;
mod deactivate;
mod get;
mod get_config;
mod get_groups;
mod get_robot_token;
mod list_consents;
mod list_sessions;
mod login;
mod logout;
mod revoke;
mod revoke_consent;
mod revoke_sessions;
mod roles_for_permission;
mod rotate_root_token;
mod set;
mod set_config;
mod use_auth_token;
mod whoami;

use crate::client::{ClientArgs, Conn};
use crate::error::Outcome;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AuthCommand {
    Activate(activate::Args),
    Deactivate(deactivate::Args),
    Login(login::Args),
    Logout(logout::Args),
    Whoami(whoami::Args),
    #[command(name = "get-robot-token")]
    GetRobotToken(get_robot_token::Args),
    Revoke(revoke::Args),
    #[command(name = "get-groups")]
    GetGroups(get_groups::Args),
    #[command(name = "use-auth-token")]
    UseAuthToken(use_auth_token::Args),
    Check(check::Args),
    Set(set::Args),
    Get(get::Args),
    #[command(name = "rotate-root-token")]
    RotateRootToken(rotate_root_token::Args),
    #[command(name = "roles-for-permission")]
    RolesForPermission(roles_for_permission::Args),
    #[command(name = "get-config")]
    GetConfig(get_config::Args),
    #[command(name = "set-config")]
    SetConfig(set_config::Args),
    #[command(name = "list-sessions")]
    ListSessions(list_sessions::Args),
    #[command(name = "revoke-sessions")]
    RevokeSessions(revoke_sessions::Args),
    #[command(name = "list-consents")]
    ListConsents(list_consents::Args),
    #[command(name = "revoke-consent")]
    RevokeConsent(revoke_consent::Args),
}

pub async fn run(args: ClientArgs, cmd: AuthCommand) -> Outcome {
    let mut target = args.resolve()?;
    let conn = Conn::new(&target)?;
    match cmd {
        AuthCommand::Activate(a) => activate::run(a, &mut target, &conn).await,
        AuthCommand::Deactivate(a) => deactivate::run(a, &mut target, &conn).await,
        AuthCommand::Login(a) => login::run(a, &mut target, &conn).await,
        AuthCommand::Logout(a) => logout::run(a, &mut target, &conn).await,
        AuthCommand::Whoami(a) => whoami::run(a, &target, &conn).await,
        AuthCommand::GetRobotToken(a) => get_robot_token::run(a, &conn).await,
        AuthCommand::Revoke(a) => revoke::run(a, &conn).await,
        AuthCommand::GetGroups(a) => get_groups::run(a, &conn).await,
        AuthCommand::UseAuthToken(a) => use_auth_token::run(a, &mut target, &conn).await,
        AuthCommand::Check(a) => check::run(a, &conn).await,
        AuthCommand::Set(a) => set::run(a, &conn).await,
        AuthCommand::Get(a) => get::run(a, &conn).await,
        AuthCommand::RotateRootToken(a) => rotate_root_token::run(a, &mut target, &conn).await,
        AuthCommand::RolesForPermission(a) => roles_for_permission::run(a, &conn).await,
        AuthCommand::GetConfig(a) => get_config::run(a, &conn).await,
        AuthCommand::SetConfig(a) => set_config::run(a, &conn).await,
        AuthCommand::ListSessions(a) => list_sessions::run(a, &conn).await,
        AuthCommand::RevokeSessions(a) => revoke_sessions::run(a, &conn).await,
        AuthCommand::ListConsents(a) => list_consents::run(a, &conn).await,
        AuthCommand::RevokeConsent(a) => revoke_consent::run(a, &conn).await,
    }
}
