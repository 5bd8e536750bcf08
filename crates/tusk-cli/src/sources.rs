//! Reading the operator's inputs from disk: values files and the secrets
//! directory. Everything is read here, then handed to `tusk_core::config`,
//! which does no I/O.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use tusk_core::config::{SecretSource, SourceText};
use tusk_core::yaml::MAX_INPUT_BYTES;

/// Reads a values file with a size cap, so a mistaken `--values /dev/zero`
/// or a 100 MB log file is refused before it is read into memory.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("{}: cannot stat: {e}", path.display()))?;
    if meta.is_dir() {
        return Err(format!("{}: is a directory, not a file", path.display()));
    }
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if bytes.len() > MAX_INPUT_BYTES {
        let size = if meta.len() > 0 {
            meta.len()
        } else {
            bytes.len() as u64
        };
        return Err(format!(
            "{}: the file is {} bytes, larger than the {} bytes tusk reads; is this the right file?",
            path.display(),
            size,
            MAX_INPUT_BYTES
        ));
    }
    Ok(bytes)
}

pub fn values_files(paths: &[PathBuf]) -> Result<Vec<SourceText>, String> {
    paths
        .iter()
        .map(|p| {
            Ok(SourceText {
                name: p.display().to_string(),
                bytes: read_capped(p)?,
            })
        })
        .collect()
}

/// A Kubernetes secret volume: `DIR/<secret name>/<key>`, one file per key.
pub struct SecretsDir {
    root: PathBuf,
}

impl SecretsDir {
    pub fn open(root: &Path) -> Result<SecretsDir, String> {
        match fs::read_dir(root) {
            Ok(_) => Ok(SecretsDir {
                root: root.to_path_buf(),
            }),
            Err(e) => Err(format!(
                "--secrets-dir {}: cannot read the directory: {e}",
                root.display()
            )),
        }
    }
}

impl SecretSource for SecretsDir {
    fn read(&self, name: &str, key: &str) -> Result<String, String> {
        // A secret name or key with a path separator could escape the
        // directory; Kubernetes never produces one.
        if [name, key]
            .iter()
            .any(|s| s.is_empty() || s.contains('/') || s.contains('\\') || *s == ".." || *s == ".")
        {
            return Err("secret names and keys cannot contain `/` or be `.`/`..`".into());
        }
        let path = self.root.join(name).join(key);
        let bytes = read_capped(&path).map_err(|e| {
            e.strip_prefix(&format!("{}: ", path.display()))
                .unwrap_or(&e)
                .to_owned()
        })?;
        let text = String::from_utf8(bytes).map_err(|_| "the file is not UTF-8 text".to_owned())?;
        // `echo value > file` adds a newline that is not part of a token.
        Ok(text.trim_end_matches(['\n', '\r']).to_owned())
    }

    fn locate(&self, name: &str, key: &str) -> String {
        self.root.join(name).join(key).display().to_string()
    }
}
