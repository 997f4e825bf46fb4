//! The configured trusted root certificates (корневые сертификаты аккредитованных УЦ).

use std::path::Path;

use crate::cert::Certificate;
use crate::error::QesError;

/// File extensions read from a trust store directory (compared case-insensitively).
const EXTENSIONS: [&str; 4] = ["cer", "crt", "pem", "der"];

/// Trusted root CA certificates: a signer's chain must end at one of them.
///
/// Anchors are taken as configured: they are not checked for a self-signature, but they
/// must be CA certificates valid at the time of verification like every other link.
#[derive(Debug, Clone)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
}

impl TrustStore {
    /// A store from certificates, each input DER or PEM (a PEM input may hold several).
    pub fn from_pem_or_der(inputs: &[&[u8]]) -> Result<Self, QesError> {
        let mut anchors = Vec::new();
        for input in inputs {
            anchors.extend(Certificate::parse_all(input)?);
        }
        Self::new(anchors)
    }

    /// A store from the `.cer`, `.crt`, `.pem` and `.der` files in `dir` (not recursive),
    /// read in name order. Other files are ignored; a file that does not decode is an error.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, QesError> {
        let dir = dir.as_ref();
        let unreadable = |path: &Path, e: std::io::Error| QesError::TrustStoreUnreadable {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
            let path = entry.map_err(|e| unreadable(dir, e))?.path();
            let wanted = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
            if wanted && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut anchors = Vec::new();
        for path in files {
            let bytes = std::fs::read(&path).map_err(|e| unreadable(&path, e))?;
            anchors.extend(Certificate::parse_all(&bytes)?);
        }
        Self::new(anchors)
    }

    fn new(mut anchors: Vec<Certificate>) -> Result<Self, QesError> {
        if anchors.is_empty() {
            return Err(QesError::TrustStoreEmpty);
        }
        // The same root may come in several files.
        let mut seen = std::collections::HashSet::new();
        anchors.retain(|c| seen.insert(c.der().to_vec()));
        Ok(Self { anchors })
    }

    /// The trusted certificates.
    pub fn certificates(&self) -> &[Certificate] {
        &self.anchors
    }

    /// Whether this exact certificate is trusted.
    pub fn contains(&self, cert: &Certificate) -> bool {
        self.anchors.iter().any(|a| a == cert)
    }
}
