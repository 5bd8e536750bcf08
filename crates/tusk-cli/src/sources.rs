//! Reading the operator's inputs from disk: values files and the secrets
//! directory. Everything is read here, then handed to `tusk_core::config`,
//! which does no I/O.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use tusk_core::config::{SecretSource, SourceText};
use tusk_core::yaml::MAX_INPUT_BYTES;

/// The file holding the store's encryption keys, in `--secrets-dir` or
/// (generated) in `--data-dir`. Named here, not in `store_cmd`, because the
/// secrets-dir reader must tell it apart from the secrets it loads.
pub const KEYS_FILE: &str = "encryption-keys";

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

/// The files a running server reloads from, compared by metadata only (a
/// secret's contents are never read for this, so they cannot reach a log).
pub struct Watched {
    /// `--values`, `--tls-cert` and `--tls-key`.
    pub files: Vec<PathBuf>,
    pub secrets_dir: Option<PathBuf>,
}

/// A file as the watcher sees it: where its symlinks lead, its inode, size
/// and modification time; `None` when it cannot be read.
type FileStamp = Option<(PathBuf, u64, u64, Option<std::time::SystemTime>)>;

/// One observation of [`Watched`].
#[derive(Debug, PartialEq, Eq)]
pub struct Stamp {
    files: Vec<FileStamp>,
    secrets: Vec<(PathBuf, FileStamp)>,
    /// The `encryption-keys` secret, apart: a change there is not reloaded.
    pub keys: Vec<(PathBuf, FileStamp)>,
}

/// More entries than any secrets directory holds; a directory pointed at
/// by mistake (`/`) is watched no further than this.
const MAX_WATCHED: usize = 4096;

impl Watched {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.secrets_dir.is_none()
    }

    /// Follows symlinks, so the kubelet's update of a mounted Secret or
    /// ConfigMap (files written to a new `..<timestamp>` directory, then the
    /// `..data` symlink swapped to it) changes the resolved path of every
    /// key, even when a size and time are alike; files added or removed
    /// change the list. Names starting with `..` are the kubelet's own and
    /// are seen through the keys that point into them.
    pub fn stamp(&self) -> Stamp {
        let files = self.files.iter().map(|f| file_stamp(f)).collect();
        let mut secrets = Vec::new();
        let mut keys = Vec::new();
        if let Some(root) = &self.secrets_dir {
            for entry in visible_entries(root) {
                let mut stamps = vec![(entry.clone(), file_stamp(&entry))];
                // `is_dir` follows the symlink a projected volume makes.
                if entry.is_dir() {
                    stamps.extend(
                        visible_entries(&entry)
                            .into_iter()
                            .map(|key| (key.clone(), file_stamp(&key))),
                    );
                }
                if entry.file_name().is_some_and(|n| n == KEYS_FILE) {
                    keys.extend(stamps);
                } else {
                    secrets.extend(stamps);
                }
                if secrets.len() + keys.len() >= MAX_WATCHED {
                    break;
                }
            }
        }
        Stamp {
            files,
            secrets,
            keys,
        }
    }
}

impl Stamp {
    /// What changed since `before`, for the log: `values or certificate
    /// files`, `the secrets directory`.
    pub fn changed_from(&self, before: &Stamp) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.files != before.files {
            changed.push("values or certificate files");
        }
        if self.secrets != before.secrets {
            changed.push("the secrets directory");
        }
        changed
    }
}

fn file_stamp(path: &Path) -> FileStamp {
    let resolved = fs::canonicalize(path).ok()?;
    let meta = fs::metadata(&resolved).ok()?;
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        meta.ino()
    };
    #[cfg(not(unix))]
    let inode = 0;
    Some((resolved, inode, meta.len(), meta.modified().ok()))
}

/// The entries of `dir` whose names do not start with `..`, sorted, as
/// paths under `dir` (not resolved).
fn visible_entries(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with(".."))
        .map(|e| e.path())
        .take(MAX_WATCHED)
        .collect();
    paths.sort();
    paths
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Writes `DIR/<secret>/..<stamp>/<key>` and points `..data` at it, as
    /// the kubelet does, with `<key> -> ..data/<key>` made once.
    fn kubelet_write(secret: &Path, stamp: &str, key: &str, text: &str) {
        let dir = secret.join(format!("..{stamp}"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(key), text).unwrap();
        let tmp = secret.join("..data_tmp");
        symlink(format!("..{stamp}"), &tmp).unwrap();
        fs::rename(&tmp, secret.join("..data")).unwrap();
        if fs::symlink_metadata(secret.join(key)).is_err() {
            symlink(format!("..data/{key}"), secret.join(key)).unwrap();
        }
    }

    #[test]
    fn a_data_swap_is_seen_even_with_the_same_size_and_keys_apart() {
        let root = tempfile::tempdir().unwrap();
        let idps = root.path().join("idps");
        let keys = root.path().join(KEYS_FILE);
        kubelet_write(&idps, "2026_12_07_14_00_00.1", "upstream-idps", "[one]");
        kubelet_write(&keys, "2026_12_07_14_00_00.1", KEYS_FILE, "k1");
        let watched = Watched {
            files: Vec::new(),
            secrets_dir: Some(root.path().to_path_buf()),
        };
        let first = watched.stamp();
        assert_eq!(watched.stamp(), first, "nothing changed");
        // Same length, and within the same second on coarse clocks.
        kubelet_write(&idps, "2026_12_07_14_00_00.2", "upstream-idps", "[two]");
        let second = watched.stamp();
        assert_eq!(second.changed_from(&first), ["the secrets directory"]);
        assert_eq!(second.keys, first.keys);
        // The keyring changes apart from what reloads.
        kubelet_write(&keys, "2026_12_07_14_00_00.2", KEYS_FILE, "k2");
        let third = watched.stamp();
        assert!(third.changed_from(&second).is_empty());
        assert_ne!(third.keys, second.keys);
        // A values file mounted from a ConfigMap is a symlink into `..data`
        // too.
        let mounts = tempfile::tempdir().unwrap();
        let config_map = mounts.path().join("values");
        kubelet_write(&config_map, "2026_12_07_14_00_00.1", "values.yaml", "a: 1");
        let values = Watched {
            files: vec![config_map.join("values.yaml")],
            secrets_dir: None,
        };
        let before = values.stamp();
        kubelet_write(&config_map, "2026_12_07_14_00_00.2", "values.yaml", "a: 2");
        assert_eq!(
            values.stamp().changed_from(&before),
            ["values or certificate files"]
        );
        // A new secret appears.
        kubelet_write(
            &root.path().join("tls"),
            "2026_12_07_14_00_00.1",
            "tls.crt",
            "c",
        );
        assert_eq!(
            watched.stamp().changed_from(&third),
            ["the secrets directory"]
        );
    }
}
