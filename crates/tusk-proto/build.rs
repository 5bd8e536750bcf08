//! Compiles the Pachyderm-compatible protos in `<workspace>/proto` into prost messages and tonic
//! clients and servers, with the vendored `protoc` (no system install needed), and writes the
//! file descriptor set (imports included) that gRPC server reflection serves.

use std::error::Error;
use std::path::PathBuf;

/// The protos, relative to the `proto/` include root. Their packages become the crate's modules.
const PROTOS: &[&str] = &[
    "auth/auth.proto",
    "identity/identity.proto",
    "enterprise/enterprise.proto",
    "license/license.proto",
    "version/versionpb.proto",
    "tusk/resources.proto",
    "tusk/audit.proto",
    "tusk/sessions.proto",
    "tusk/consent.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    println!("cargo:rerun-if-changed=build.rs");
    for proto in PROTOS {
        println!(
            "cargo:rerun-if-changed={}",
            proto_root.join(proto).display()
        );
    }

    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);

    let well_known = protoc_bin_vendored::include_path()?;
    let protos: Vec<PathBuf> = PROTOS.iter().map(|p| proto_root.join(p)).collect();
    let includes = [proto_root, well_known];

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .file_descriptor_set_path(out_dir.join("tusk_descriptor.bin"))
        .compile_with_config(config, &protos, &includes)?;
    Ok(())
}
