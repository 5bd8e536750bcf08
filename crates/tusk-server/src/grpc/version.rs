//! `versionpb_v2.API/GetVersion`.

use tonic::{Request, Response, Status};
use tusk_proto::versionpb_v2::{Version, api_server::Api};

/// The Pachyderm release whose API tusk speaks; pachctl compares
/// major.minor with its own and warns on a mismatch.
const COMPATIBLE: (u32, u32, u32) = (2, 11, 6);

#[derive(Default)]
pub struct VersionApi;

#[tonic::async_trait]
impl Api for VersionApi {
    async fn get_version(&self, _: Request<()>) -> Result<Response<Version>, Status> {
        Ok(Response::new(Version {
            major: COMPATIBLE.0,
            minor: COMPATIBLE.1,
            micro: COMPATIBLE.2,
            additional: format!("tusk-{}", env!("CARGO_PKG_VERSION")),
            git_commit: option_env!("TUSK_GIT_COMMIT")
                .unwrap_or_default()
                .to_owned(),
            git_tree_modified: String::new(),
            build_date: String::new(),
            go_version: String::new(),
            platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }))
    }
}
