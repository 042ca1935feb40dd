//! The one KMS key this enclave image may use, pinned in its measured
//! configuration (`--kms-key-arn`, on the image's command line, hence in
//! PCR2). Without it an operator who controls the host could name a key of
//! their own account whose policy allows a plain `Decrypt`: KMS would then
//! hand the operator the data key that seals every HPKE and signing key.
//! So the host's `KmsAccess` must name exactly the pinned ARN and its region,
//! and every KMS answer must carry that ARN as `KeyId`.

/// Longest key ARN accepted.
pub const MAX_ARN_LEN: usize = 256;

/// Why an ARN, a request or an answer does not match the pin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// Not `arn:<partition>:kms:<region>:<12-digit account>:key/<key id>`.
    #[error("not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)")]
    BadArn,
    /// The image pins no KMS key: KMS mode is off (peer sync only).
    #[error("this image pins no KMS key (--kms-key-arn); KMS mode is off")]
    NotPinned,
    /// The host named another key or region than the pinned one.
    #[error("the host named a KMS key or region other than the pinned one")]
    OtherKey,
    /// KMS answered for another key than the pinned one.
    #[error("KMS answered for a key other than the pinned one")]
    AnswerForOtherKey,
}

/// A pinned KMS key: its full ARN and the region inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsKeyPin {
    arn: String,
    region: String,
}

impl KmsKeyPin {
    /// Parses a key ARN (aliases and bare key ids are refused: only a full
    /// ARN names one key in one account).
    pub fn parse(arn: &str) -> Result<Self, PinError> {
        if arn.len() > MAX_ARN_LEN || !arn.is_ascii() {
            return Err(PinError::BadArn);
        }
        let mut parts = arn.splitn(6, ':');
        let fields: Vec<&str> = parts.by_ref().collect();
        let [prefix, partition, service, region, account, resource] = fields[..] else {
            return Err(PinError::BadArn);
        };
        let key_id = resource.strip_prefix("key/").unwrap_or_default();
        let ok = prefix == "arn"
            && partition.starts_with("aws")
            && service == "kms"
            && super::client::valid_region(region)
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !key_id.is_empty()
            && key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(PinError::BadArn);
        }
        Ok(Self {
            arn: arn.to_owned(),
            region: region.to_owned(),
        })
    }

    /// The full key ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The region inside the ARN.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The host's request names exactly this key, in its region.
    pub fn check_request(&self, key_id: &str, region: &str) -> Result<(), PinError> {
        if key_id == self.arn && region == self.region {
            Ok(())
        } else {
            Err(PinError::OtherKey)
        }
    }

    /// KMS's answer is for this key (`KeyId` is always the full ARN).
    pub fn check_answer(&self, key_id: &str) -> Result<(), PinError> {
        if key_id == self.arn {
            Ok(())
        } else {
            Err(PinError::AnswerForOtherKey)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ARN: &str =
        "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

    #[test]
    fn parses_key_arns_only() {
        let pin = KmsKeyPin::parse(ARN).unwrap();
        assert_eq!((pin.arn(), pin.region()), (ARN, "eu-central-1"));
        KmsKeyPin::parse("arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/k1").unwrap();
        for bad in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/strongroom",
            "arn:aws:kms:eu-central-1:111122223333:alias/strongroom",
            "arn:aws:kms:eu-central-1:1111:key/k",
            "arn:aws:s3:eu-central-1:111122223333:key/k",
            "arn:aws:kms:EU:111122223333:key/k",
            "arn:aws:kms:eu-central-1:111122223333:key/",
            "arn:aws:kms:eu-central-1:111122223333:key/k:extra",
        ] {
            assert_eq!(KmsKeyPin::parse(bad), Err(PinError::BadArn), "{bad}");
        }
    }

    #[test]
    fn requests_and_answers_must_name_the_pinned_key() {
        let pin = KmsKeyPin::parse(ARN).unwrap();
        pin.check_request(ARN, "eu-central-1").unwrap();
        pin.check_answer(ARN).unwrap();
        let other = "arn:aws:kms:eu-central-1:444455556666:key/attacker";
        assert_eq!(
            pin.check_request(other, "eu-central-1"),
            Err(PinError::OtherKey)
        );
        assert_eq!(pin.check_request(ARN, "us-east-1"), Err(PinError::OtherKey));
        assert_eq!(
            pin.check_request("1234abcd-12ab-34cd-56ef-1234567890ab", "eu-central-1"),
            Err(PinError::OtherKey)
        );
        assert_eq!(pin.check_answer(other), Err(PinError::AnswerForOtherKey));
    }
}
