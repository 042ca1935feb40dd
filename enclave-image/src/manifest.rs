//! `pcrs.json`: the release measurements in the form `nitro-cli build-enclave`
//! prints, `{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": hex, ...}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::ImageError;

/// The hash algorithm label nitro-cli writes (the `Debug` form of its hasher).
pub const HASH_ALGORITHM: &str = "Sha384 { ... }";

/// Measurements of one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcrManifest {
    /// `HashAlgorithm`, `PCR0`, `PCR1`, `PCR2` and, for signed images, `PCR8`.
    #[serde(rename = "Measurements")]
    pub measurements: BTreeMap<String, String>,
}

impl PcrManifest {
    /// Wraps the map the image-format crate returns, checking it is complete
    /// and uses the algorithm clients expect.
    pub fn from_measurements(
        mut measurements: BTreeMap<String, String>,
    ) -> Result<Self, ImageError> {
        // The image-format crate writes the `Debug` text of its hasher, which
        // changes with sha2 releases ("Sha512_48 { .. }" in sha2 0.10.9) while
        // nitro-cli has always printed "Sha384 { ... }". The registers being
        // 48 bytes shows SHA-384; the label is normalised to nitro-cli's.
        if !measurements.contains_key("HashAlgorithm") {
            return Err(ImageError::MissingMeasurement("HashAlgorithm"));
        }
        for name in ["PCR0", "PCR1", "PCR2"] {
            match measurements.get(name) {
                Some(v) if is_sha384_hex(v) => {}
                _ => return Err(ImageError::MissingMeasurement(name)),
            }
        }
        if let Some(v) = measurements.get("PCR8")
            && !is_sha384_hex(v)
        {
            return Err(ImageError::MissingMeasurement("PCR8"));
        }
        measurements.insert("HashAlgorithm".to_owned(), HASH_ALGORITHM.to_owned());
        Ok(Self { measurements })
    }

    /// A register's value as lowercase hex, e.g. `pcr("PCR0")`.
    pub fn pcr(&self, name: &str) -> Option<&str> {
        self.measurements.get(name).map(String::as_str)
    }

    /// Whether the image carries a signature (PCR8).
    pub fn is_signed(&self) -> bool {
        self.measurements.contains_key("PCR8")
    }

    /// Pretty JSON with a trailing newline, as written to `pcrs.json`.
    pub fn to_json(&self) -> Result<String, ImageError> {
        let mut s = serde_json::to_string_pretty(self)?;
        s.push('\n');
        Ok(s)
    }
}

fn is_sha384_hex(v: &str) -> bool {
    v.len() == 96
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
