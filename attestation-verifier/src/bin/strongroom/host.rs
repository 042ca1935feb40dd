//! `--host URL --api-key KEY` for the commands that talk to a host.

use crate::CliError;
use strongroom_verifier::client::{Client, ClientError};

/// Where the host is and the tenant's Strongroom key.
#[derive(clap::Args, Debug)]
pub struct HostArgs {
    /// Host base URL (https://..., or http:// on loopback).
    #[arg(long, env = "STRONGROOM_HOST", value_name = "URL")]
    pub host: String,
    /// The tenant's Strongroom API key (prefer the environment variable: arguments show in `ps`).
    #[arg(
        long = "api-key",
        env = "STRONGROOM_TENANT_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: String,
    /// Allow plain http:// to a non-loopback host. Dangerous: the key travels in clear.
    #[arg(long)]
    pub insecure_plain_http: bool,
}

impl HostArgs {
    /// The client these arguments describe.
    pub fn client(&self) -> Result<Client, CliError> {
        let client = if self.insecure_plain_http {
            Client::danger_allow_plain_http(&self.host, &self.api_key)
        } else {
            Client::new(&self.host, &self.api_key)
        };
        client.map_err(client_error)
    }
}

/// Bad local input is a usage error (exit 2); a host refusal or an
/// unreachable host is a refusal (exit 1) carrying the host's own code.
pub fn client_error(e: ClientError) -> CliError {
    match e {
        ClientError::InvalidUrl(_) | ClientError::PlainHttp | ClientError::InvalidRequest(_) => {
            CliError::usage(e.code().to_owned(), e)
        }
        e => CliError::refused(e.code().to_owned(), e),
    }
}
