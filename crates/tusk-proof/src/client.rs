//! The relying party the driver plays, shared by every measurement; its own
//! module so that `login`, `load`, `race` and `secrets` never import from
//! main.rs.

/// The relying party the driver plays: a confidential client whose redirect
/// URI is never visited (the code is read from the `Location` header).
#[derive(clap::Args, Clone)]
pub struct Client {
    /// OIDC client id registered in `oidc.additionalClients`.
    #[arg(long, default_value = "proof")]
    pub client_id: String,
    /// Its secret (sent with HTTP Basic to `/token`).
    #[arg(long, env = "TUSK_PROOF_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: String,
    /// Its registered redirect URI.
    #[arg(long, default_value = "http://127.0.0.1:9/cb")]
    pub redirect_uri: String,
    /// Login name on the mock password form.
    #[arg(long, default_value = "admin")]
    pub username: String,
    /// Password on the mock password form.
    #[arg(
        long,
        env = "TUSK_PROOF_PASSWORD",
        default_value = "password",
        hide_env_values = true
    )]
    pub password: String,
    /// Log in through this connector (`connector_id`) when there are several.
    #[arg(long)]
    pub connector: Option<String>,
    /// Scopes asked for at `/auth`.
    #[arg(long, default_value = "openid email profile")]
    pub scope: String,
}
