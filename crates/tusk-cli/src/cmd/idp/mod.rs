//! `tusk idp …`: the embedded identity server's config, upstream IdP
//! connectors and OIDC clients (`identity_v2.API`), modelled on
//! `pachctl idp`, one file per command with its flags, help and `run`.
//! The file formats the commands share are in [`connector_file`] and
//! [`client_file`].

mod client_file;
mod connector_file;
mod create_client;
mod create_connector;
mod delete_client;
mod delete_connector;
mod get_client;
mod get_config;
mod get_connector;
mod list_client;
mod list_connector;
mod set_config;
mod update_client;
mod update_connector;

use crate::client::{ClientArgs, Conn};
use crate::error::Outcome;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum IdpCommand {
    #[command(name = "set-config")]
    SetConfig(set_config::Args),
    #[command(name = "get-config")]
    GetConfig(get_config::Args),
    #[command(name = "create-connector")]
    CreateConnector(create_connector::Args),
    #[command(name = "update-connector")]
    UpdateConnector(update_connector::Args),
    #[command(name = "get-connector")]
    GetConnector(get_connector::Args),
    #[command(name = "delete-connector")]
    DeleteConnector(delete_connector::Args),
    #[command(name = "list-connector", visible_alias = "list-connectors")]
    ListConnector(list_connector::Args),
    #[command(name = "create-client")]
    CreateClient(create_client::Args),
    #[command(name = "update-client")]
    UpdateClient(update_client::Args),
    #[command(name = "get-client")]
    GetClient(get_client::Args),
    #[command(name = "delete-client")]
    DeleteClient(delete_client::Args),
    #[command(name = "list-client", visible_alias = "list-clients")]
    ListClient(list_client::Args),
}

pub async fn run(args: ClientArgs, cmd: IdpCommand) -> Outcome {
    let target = args.resolve()?;
    let conn = Conn::new(&target)?;
    match cmd {
        IdpCommand::SetConfig(a) => set_config::run(a, &conn).await,
        IdpCommand::GetConfig(a) => get_config::run(a, &conn).await,
        IdpCommand::CreateConnector(a) => create_connector::run(a, &conn).await,
        IdpCommand::UpdateConnector(a) => update_connector::run(a, &conn).await,
        IdpCommand::GetConnector(a) => get_connector::run(a, &conn).await,
        IdpCommand::DeleteConnector(a) => delete_connector::run(a, &conn).await,
        IdpCommand::ListConnector(a) => list_connector::run(a, &target, &conn).await,
        IdpCommand::CreateClient(a) => create_client::run(a, &conn).await,
        IdpCommand::UpdateClient(a) => update_client::run(a, &conn).await,
        IdpCommand::GetClient(a) => get_client::run(a, &conn).await,
        IdpCommand::DeleteClient(a) => delete_client::run(a, &conn).await,
        IdpCommand::ListClient(a) => list_client::run(a, &conn).await,
    }
}
