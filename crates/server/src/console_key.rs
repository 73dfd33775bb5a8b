//! The console's signing key in a file of its own, apart from the database.
//!
//! A review made on the console becomes a change by the supervisor, signed with this key
//! (docs/signing.md). Kept in a file the server's user alone may read, it is the same for every
//! server process behind the proxy and across restarts, so a console signature can be checked
//! against one published public key; a copy of the database does not hold it.
//!
//! The file holds the key's 32-byte seed as 64 hex digits and a newline
//! (`rounds-server console-key new FILE` writes one). Loading refuses a file that others can
//! read or write, or that holds anything else, with the reason.

use std::io::Write;
use std::path::{Path, PathBuf};

use rounds_domain::entropy::Entropy;
use rounds_domain::signing::SigningSecret;

/// Why a key file was not written or not loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read, created or written.
    #[error("console key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A new key was asked for where a file already is.
    #[error("console key file {0} already exists; a new key would orphan the old signatures' key")]
    Exists(PathBuf),
    /// Group or others may read or write it.
    #[error("console key file {path} is open to other users (mode {mode:o}); chmod 600 it")]
    Open {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// It does not hold 64 hex digits.
    #[error("console key file {0} does not hold a key (64 hex digits)")]
    Malformed(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// [`io`], but an error of `kind` becomes `special(path)`.
fn io_or(
    path: &Path,
    kind: std::io::ErrorKind,
    special: fn(PathBuf) -> KeyFileError,
) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| {
        if source.kind() == kind {
            special(path.to_path_buf())
        } else {
            io(path)(source)
        }
    }
}

/// Writes a new key to `path`, readable and writable by this user only; refuses to replace
/// a file that exists.
pub fn create(path: &Path, entropy: &mut dyn Entropy) -> Result<SigningSecret, KeyFileError> {
    let key = SigningSecret::generate(entropy);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io_or(
        path,
        std::io::ErrorKind::AlreadyExists,
        KeyFileError::Exists,
    ))?;
    let text = zeroize::Zeroizing::new(format!("{}\n", hex::encode(key.seed().as_slice())));
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(key)
}

/// Reads the key at `path`.
pub fn load(path: &Path) -> Result<SigningSecret, KeyFileError> {
    let meta = std::fs::metadata(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Open {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    if meta.len() > 256 {
        return Err(KeyFileError::Malformed(path.to_path_buf()));
    }
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(io_or(
        path,
        std::io::ErrorKind::InvalidData,
        KeyFileError::Malformed,
    ))?);
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), seed.as_mut())
        .map_err(|_| KeyFileError::Malformed(path.to_path_buf()))?;
    Ok(SigningSecret::from_seed(&seed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rounds_domain::entropy::SeededEntropy;

    #[test]
    fn a_new_key_loads_back_the_same_and_is_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.key");
        let made = create(&path, &mut SeededEntropy::new(1)).expect("create");
        let loaded = load(&path).expect("load");
        assert_eq!(loaded.public(), made.public());
        assert!(matches!(
            create(&path, &mut SeededEntropy::new(2)),
            Err(KeyFileError::Exists(_))
        ));
        assert_eq!(
            load(&path).expect("load").public(),
            made.public(),
            "the refused create left the key as it was"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.key");
        create(&path, &mut SeededEntropy::new(1)).expect("create");
        for mode in [0o644, 0o640, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            match load(&path) {
                Err(KeyFileError::Open { mode: m, .. }) => assert_eq!(m, mode),
                other => panic!("mode {mode:o} gave {other:?}"),
            }
        }
    }

    #[test]
    fn a_file_without_a_key_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.key");
        for text in [
            &b""[..],
            b"not a key\n",
            b"00ff",
            &[b'a'; 65][..],
            &[0xff, 0xfe, 0x00][..],
            &[b'0'; 300][..],
        ] {
            std::fs::write(&path, text).expect("write");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .expect("chmod");
            }
            assert!(
                matches!(load(&path), Err(KeyFileError::Malformed(_))),
                "{text:?}"
            );
        }
        assert!(matches!(
            load(&dir.path().join("missing.key")),
            Err(KeyFileError::Io { .. })
        ));
    }
}
