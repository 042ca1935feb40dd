//! `c2sp.org/tlog-policy`: a transparency-log trust policy file (known
//! logs, known witnesses, witness groups and one quorum), and checkpoint and
//! proof verification under it. A checkpoint is valid when one listed log
//! (whose key name is the checkpoint's origin) signed it and the quorum of
//! witnesses cosigned it.
//!
//! Deviations from the text, both stricter: the file must be UTF-8 (names
//! are compared as octets all the same), and each line, the last included,
//! must end in a newline as the spec says.

use super::checkpoint::{CheckpointError, SignedCheckpoint};
use super::cosignature::{CosignatureError, WitnessCosignature, WitnessPolicy};
use super::note::{KeyType, NoteError, VerifierKey};
use super::proof::{TlogProof, VerifiedProof};
use crate::merkle::{self, Hash};

/// Largest policy file read.
pub const MAX_POLICY_LEN: usize = 64 * 1024;
/// Most logs, witnesses and groups (each); the spec recommends at least 32.
pub const MAX_POLICY_ITEMS: usize = 64;

/// Why a policy file was refused (the line number, 1-based, where known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Larger than [`MAX_POLICY_LEN`], or more than [`MAX_POLICY_ITEMS`] of a kind.
    #[error("policy too large")]
    TooLarge,
    /// Not UTF-8, a forbidden control character, or no final newline.
    #[error("policy file is not a sequence of newline-terminated lines of allowed characters")]
    Charset,
    /// A line that is not `log`, `witness`, `group` or `quorum` as specified.
    #[error("line {0}: malformed")]
    Malformed(usize),
    /// A vkey that does not parse or has the wrong signature type.
    #[error("line {0}: bad verifier key")]
    Key(usize),
    /// A log or witness key listed twice (same public key).
    #[error("line {0}: duplicate key")]
    DuplicateKey(usize),
    /// A name defined twice, `none` defined, or a name used before its definition.
    #[error("line {0}: bad name")]
    Name(usize),
    /// A group threshold outside 1..=n, or a member listed twice.
    #[error("line {0}: bad group")]
    Group(usize),
    /// No quorum line, or more than one.
    #[error("a policy has exactly one quorum line")]
    Quorum,
}

/// Why a checkpoint or proof does not verify under a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyVerifyError {
    /// No listed log has the checkpoint's origin as its key name.
    #[error("no log in the policy has this origin")]
    UnknownLog,
    /// The checkpoint or its note was refused, or no listed log signed it.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A cosignature line by a policy witness fails.
    #[error(transparent)]
    Cosignature(#[from] CosignatureError),
    /// The witnesses that cosigned do not satisfy the quorum.
    #[error("witness quorum not met ({0} valid cosignatures)")]
    QuorumNotMet(usize),
    /// The inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion proof does not verify")]
    Inclusion,
}

/// A log of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its Ed25519 note key; the key name is the log's origin.
    pub key: VerifierKey,
    /// Its URL, if given (application specific).
    pub url: Option<String>,
}

/// A witness of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    /// The name the policy uses for it.
    pub name: String,
    /// Its `cosignature/v1` key.
    pub key: VerifierKey,
    /// Its submission prefix URL, if given.
    pub url: Option<String>,
}

/// A quorum rule: no witness, one witness, or k of a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    None,
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    threshold: usize,
    members: Vec<Rule>,
}

/// A parsed tlog-policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogPolicy {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Rule,
}

/// A checkpoint that verified under a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The checkpoint's origin (the log's key name).
    pub origin: String,
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root_hash: Hash,
    /// Every policy witness with a valid cosignature (the quorum is met).
    pub cosignatures: Vec<WitnessCosignature>,
}

impl TlogPolicy {
    /// Parses a policy file.
    pub fn parse(bytes: &[u8]) -> Result<Self, PolicyError> {
        if bytes.len() > MAX_POLICY_LEN {
            return Err(PolicyError::TooLarge);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| PolicyError::Charset)?;
        let allowed = |c: char| c == '\t' || c == '\n' || !c.is_ascii_control();
        if !text.chars().all(allowed) || !(text.is_empty() || text.ends_with('\n')) {
            return Err(PolicyError::Charset);
        }
        let mut b = Builder::default();
        for (i, line) in text.lines().enumerate() {
            let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            if words.first().is_none_or(|w| w.starts_with('#')) {
                continue;
            }
            b.line(i + 1, &words)?;
        }
        b.finish()
    }

    /// The listed logs.
    pub fn logs(&self) -> &[PolicyLog] {
        &self.logs
    }

    /// The listed witnesses.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Verifies `signed`: signed by a listed log with its origin, and the
    /// quorum cosigned it. Lines by keys outside the policy are ignored.
    pub fn verify_checkpoint(
        &self,
        signed: &SignedCheckpoint,
    ) -> Result<VerifiedCheckpoint, PolicyVerifyError> {
        let origin = signed.checkpoint().origin();
        let logs = self.logs.iter().filter(|l| l.key.name() == origin);
        let mut last = PolicyVerifyError::UnknownLog;
        let mut verified = None;
        for log in logs {
            match signed.verify_log(origin, &log.key) {
                Ok(cp) => {
                    verified = Some(cp);
                    break;
                }
                Err(e) => last = e.into(),
            }
        }
        let cp = verified.ok_or(last)?;
        let cosignatures = self.cosignatures(signed)?;
        let names: Vec<&str> = cosignatures.iter().map(|c| c.name.as_str()).collect();
        if !self.satisfied(&self.quorum, &names) {
            return Err(PolicyVerifyError::QuorumNotMet(cosignatures.len()));
        }
        Ok(VerifiedCheckpoint {
            origin: cp.origin().to_owned(),
            size: cp.size(),
            root_hash: *cp.root_hash(),
            cosignatures,
        })
    }

    /// Verifies a `tlog-proof@v1` for `entry` under this policy.
    pub fn verify_proof(
        &self,
        proof: &TlogProof,
        entry: &[u8],
    ) -> Result<VerifiedProof, PolicyVerifyError> {
        let cp = self.verify_checkpoint(proof.checkpoint())?;
        let leaf = merkle::leaf_hash(entry);
        merkle::verify_inclusion(
            &leaf,
            proof.index(),
            cp.size,
            proof.inclusion(),
            &cp.root_hash,
        )
        .map_err(|_| PolicyVerifyError::Inclusion)?;
        Ok(VerifiedProof {
            index: proof.index(),
            tree_size: cp.size,
            root_hash: cp.root_hash,
            cosignatures: cp.cosignatures,
        })
    }

    /// The policy witnesses whose cosignature on `signed` verifies, under
    /// the policy's names (two witnesses may share a key name).
    fn cosignatures(
        &self,
        signed: &SignedCheckpoint,
    ) -> Result<Vec<WitnessCosignature>, CosignatureError> {
        let mut out = Vec::new();
        for w in &self.witnesses {
            let one = WitnessPolicy::new(vec![w.key.clone()], 1)?;
            if let Some(mut c) = one.cosignatures(signed.note())?.pop() {
                c.name.clone_from(&w.name);
                out.push(c);
            }
        }
        Ok(out)
    }

    fn satisfied(&self, rule: &Rule, cosigned: &[&str]) -> bool {
        match rule {
            Rule::None => true,
            Rule::Witness(i) => cosigned.contains(&self.witnesses[*i].name.as_str()),
            Rule::Group(g) => {
                let group = &self.groups[*g];
                let met = group.members.iter().filter(|m| self.satisfied(m, cosigned));
                met.count() >= group.threshold
            }
        }
    }
}

/// Accumulates lines in order (definitions before use).
#[derive(Default)]
struct Builder {
    logs: Vec<PolicyLog>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Option<Rule>,
}

impl Builder {
    fn line(&mut self, n: usize, words: &[&str]) -> Result<(), PolicyError> {
        match words {
            ["log", key] | ["log", key, _] => {
                let key = self.key(n, key, KeyType::Ed25519)?;
                let url = words.get(2).map(|u| (*u).to_owned());
                self.push_log(PolicyLog { key, url })
            }
            ["witness", name, key] | ["witness", name, key, _] => {
                self.new_name(n, name)?;
                let key = self.key(n, key, KeyType::CosignatureV1)?;
                let url = words.get(3).map(|u| (*u).to_owned());
                let name = (*name).to_owned();
                self.push_witness(PolicyWitness { name, key, url })
            }
            ["group", name, k, members @ ..] if !members.is_empty() => {
                self.group(n, name, k, members)
            }
            ["quorum", name] => {
                if self.quorum.is_some() {
                    return Err(PolicyError::Quorum);
                }
                self.quorum = Some(self.rule(n, name, true)?);
                Ok(())
            }
            _ => Err(PolicyError::Malformed(n)),
        }
    }

    fn key(&self, n: usize, text: &str, kind: KeyType) -> Result<VerifierKey, PolicyError> {
        let key = VerifierKey::parse(text).map_err(|_: NoteError| PolicyError::Key(n))?;
        if key.kind() != kind {
            return Err(PolicyError::Key(n));
        }
        let same = |k: &VerifierKey| k.public_key() == key.public_key();
        let dup = match kind {
            KeyType::Ed25519 => self.logs.iter().any(|l| same(&l.key)),
            KeyType::CosignatureV1 => self.witnesses.iter().any(|w| same(&w.key)),
        };
        if dup {
            return Err(PolicyError::DuplicateKey(n));
        }
        Ok(key)
    }

    fn push_log(&mut self, log: PolicyLog) -> Result<(), PolicyError> {
        if self.logs.len() == MAX_POLICY_ITEMS {
            return Err(PolicyError::TooLarge);
        }
        self.logs.push(log);
        Ok(())
    }

    fn push_witness(&mut self, w: PolicyWitness) -> Result<(), PolicyError> {
        if self.witnesses.len() == MAX_POLICY_ITEMS {
            return Err(PolicyError::TooLarge);
        }
        self.witnesses.push(w);
        Ok(())
    }

    fn new_name(&self, n: usize, name: &str) -> Result<(), PolicyError> {
        let taken = self.witnesses.iter().any(|w| w.name == name)
            || self.groups.iter().any(|g| g.name == name);
        if name == "none" || taken {
            return Err(PolicyError::Name(n));
        }
        Ok(())
    }

    fn rule(&self, n: usize, name: &str, none_ok: bool) -> Result<Rule, PolicyError> {
        if name == "none" {
            return if none_ok {
                Ok(Rule::None)
            } else {
                Err(PolicyError::Name(n))
            };
        }
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Ok(Rule::Witness(i));
        }
        let g = self.groups.iter().position(|g| g.name == name);
        g.map(Rule::Group).ok_or(PolicyError::Name(n))
    }

    fn group(
        &mut self,
        n: usize,
        name: &str,
        k: &str,
        members: &[&str],
    ) -> Result<(), PolicyError> {
        self.new_name(n, name)?;
        if self.groups.len() == MAX_POLICY_ITEMS {
            return Err(PolicyError::TooLarge);
        }
        let mut rules = Vec::with_capacity(members.len());
        for m in members {
            let rule = self.rule(n, m, false)?;
            if rules.contains(&rule) {
                return Err(PolicyError::Group(n));
            }
            rules.push(rule);
        }
        let threshold = match k {
            "all" => rules.len(),
            "any" => 1,
            k => super::checkpoint::parse_decimal(k)
                .and_then(|k| usize::try_from(k).ok())
                .filter(|k| (1..=rules.len()).contains(k))
                .ok_or(PolicyError::Group(n))?,
        };
        self.groups.push(Group {
            name: name.to_owned(),
            threshold,
            members: rules,
        });
        Ok(())
    }

    fn finish(self) -> Result<TlogPolicy, PolicyError> {
        Ok(TlogPolicy {
            quorum: self.quorum.ok_or(PolicyError::Quorum)?,
            logs: self.logs,
            witnesses: self.witnesses,
            groups: self.groups,
        })
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
