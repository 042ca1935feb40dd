#![allow(clippy::unwrap_used)]

use super::*;
use strongroom_formats::c2sp::note::NoteSigner;

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(seed: &str, logs: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), seed).unwrap();
        std::fs::write(dir.path().join("logs"), logs).unwrap();
        Self { dir }
    }

    fn env(&self) -> BTreeMap<&'static str, String> {
        let p = |f: &str| self.dir.path().join(f).display().to_string();
        BTreeMap::from([
            ("WITNESS_NAME", "w.example/1".to_owned()),
            ("WITNESS_KEY_FILE", p("key")),
            ("WITNESS_LOGS_FILE", p("logs")),
            ("DATABASE_URL", "postgres://x".to_owned()),
        ])
    }
}

fn log_line() -> String {
    let vkey = NoteSigner::from_seed("example.com/log", &[1; 32])
        .unwrap()
        .verifier_key();
    format!("# our log\nexample.com/log {vkey}\n")
}

#[test]
fn reads_a_valid_configuration_with_defaults() {
    let f = Files::new(&format!("{}\n", "ab".repeat(32)), &log_line());
    let env = f.env();
    let cfg = Config::from_source(|k| env.get(k).cloned()).unwrap();
    assert_eq!(cfg.logs["example.com/log"].len(), 1);
    assert_eq!(cfg.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(cfg.rate_per_sec, DEFAULT_RATE_PER_SEC);
    assert_eq!(*cfg.seed, [0xab; 32]);
    assert!(!format!("{cfg:?}").contains("abab"), "Debug shows no key");
}

#[test]
fn each_bad_variable_is_named_and_no_secret_is_echoed() {
    let secret = "cd".repeat(31) + "zz";
    let f = Files::new(&secret, &log_line());
    let env = f.env();
    let err = Config::from_source(|k| env.get(k).cloned()).unwrap_err();
    assert_eq!(err.var, "WITNESS_KEY_FILE");
    assert!(!err.to_string().contains("cdcd"));
    let f = Files::new(&"ab".repeat(32), "example.com/log not-a-key\n");
    let env = f.env();
    let err = Config::from_source(|k| env.get(k).cloned()).unwrap_err();
    assert_eq!(
        (err.var, err.problem.as_str()),
        ("WITNESS_LOGS_FILE", "line 1: not a verifier key")
    );
    let f = Files::new(&"ab".repeat(32), &log_line());
    for (var, value) in [
        ("WITNESS_NAME", "has space"),
        ("WITNESS_LISTEN", "nowhere"),
        ("WITNESS_RATE_PER_SEC", "0"),
    ] {
        let mut env = f.env();
        env.insert(var, value.to_owned());
        let err = Config::from_source(|k| env.get(k).cloned()).unwrap_err();
        assert_eq!(err.var, var);
    }
    let mut env = f.env();
    env.remove("DATABASE_URL");
    assert_eq!(
        Config::from_source(|k| env.get(k).cloned())
            .unwrap_err()
            .var,
        "DATABASE_URL"
    );
}
