//! Writing a file that holds a secret (a root token, a session in the
//! Pachyderm config): owner-only whatever the umask, and narrowed if it
//! already existed with wider permissions, because `mode` applies only to
//! a file being created.

use std::io::Write;
use std::path::Path;

/// Creates or replaces `path` with `bytes`, mode 0600.
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)?;
    file.sync_all()
}
