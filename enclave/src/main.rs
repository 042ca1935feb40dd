//! `strongroom-enclave --listen ADDR [--egress ADDR] [--dev-simulator]
//! [--dev-root-key PATH] [--dev-root-out PATH] [--dev-pcrs-out PATH]
//! [--dev-exchange-url URL --dev-exchange-ca PEM]
//! [--dev-kms-url URL --dev-kms-ca PEM] [--kms-key-arn ARN]
//! [--log-origin PREFIX] [--witness VKEY]... [--witness-quorum K]
//! [--max-ttl-seconds N]`
//!
//! The enclave starts in phase `booting` with no key ring; the host drives
//! boot (`UnsealKeyRing`, peer sync, or `NewKeyRing`; see README.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use strongroom_enclave::clock::SystemClock;
use strongroom_enclave::exchange::{Binance, ExchangeConfig};
use strongroom_enclave::kms::{KmsClient, KmsConfig};
use strongroom_enclave::nsm;
use strongroom_enclave::service::EnclaveService;
use strongroom_enclave::tls;
use strongroom_enclave_core::clock::Clock;
use strongroom_enclave_core::exchange::budget::{
    DEFAULT_WEIGHT_LIMIT, DEFAULT_WEIGHT_MARGIN, WeightLimits,
};
use strongroom_enclave_core::exchange::{Allowlist, Endpoint};
use strongroom_enclave_core::intake::sessions::DEFAULT_SESSION_CACHE_CAPACITY;
use strongroom_enclave_core::intake::{DEFAULT_MAX_TTL_SECONDS, IntakePolicy};
use strongroom_enclave_core::kms::pin::KmsKeyPin;
use strongroom_enclave_core::nsm::{NSM_DEVICE_PATH, Nsm};
use strongroom_enclave_core::slots::{
    DEFAULT_MAX_COMPUTATIONS, DEFAULT_MAX_COMPUTATIONS_PER_TENANT,
};
use strongroom_enclave_core::state::{DEFAULT_LOG_ORIGIN, Enclave, VERSION};
use strongroom_formats::c2sp::cosignature::WitnessPolicy;
use strongroom_formats::c2sp::note::VerifierKey;
use strongroom_protocol::server::{ServerConfig, serve};
use strongroom_protocol::transport::{Address, Listener};
use strongroom_verifier::TrustRoot;
use tracing::{error, info};

/// Exit status for invalid configuration (EX_USAGE).
const EXIT_CONFIG: u8 = 64;
/// Exit status when no NSM is available (EX_UNAVAILABLE).
const EXIT_NO_NSM: u8 = 69;
/// Exit status for runtime failures.
const EXIT_FAILURE: u8 = 1;
/// The parent instance's egress proxy in production (CID 3 is the parent).
const DEFAULT_EGRESS: Address = Address::Vsock { cid: 3, port: 8001 };
/// Whether this build has the NSM simulator (a release build does not).
const SIMULATOR_BUILT: bool = cfg!(feature = "dev-simulator");
/// What a release build says when asked for the simulator
/// (scripts/checks/release-features looks for it).
const NO_SIMULATOR: &str = "this build has no simulator (feature dev-simulator is off)";
/// How often expired sessions are dropped.
const PURGE_INTERVAL: Duration = Duration::from_secs(30);

/// The Strongroom enclave service.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to serve the RPC on: vsock://CID:PORT or unix:///path.
    #[arg(long, value_name = "ADDR")]
    listen: Address,
    /// The host's egress proxy (used by the exchange client): vsock://CID:PORT
    /// or unix:///path. Default vsock://3:8001 without --dev-simulator; in
    /// simulator mode aggregates are refused unless it is given.
    #[arg(long, value_name = "ADDR")]
    egress: Option<Address>,
    /// DEV ONLY: use the NSM simulator (documents chain to a dev root, never to AWS).
    #[arg(long)]
    dev_simulator: bool,
    /// DEV ONLY: load the simulator's dev CA (root and intermediate keys and
    /// certificates) from PATH, creating it (mode 0600) when absent, so that
    /// several dev enclaves and restarts share one dev root (peer sync
    /// verifies under it). Without it every start makes a new dev root.
    #[arg(long, value_name = "PATH", requires = "dev_simulator")]
    dev_root_key: Option<PathBuf>,
    /// DEV ONLY: write the simulator's root certificate (PEM) here.
    #[arg(long, value_name = "PATH", requires = "dev_simulator")]
    dev_root_out: Option<PathBuf>,
    /// DEV ONLY: write the simulated PCR0..2 here as pcrs.json (nitro-cli form).
    #[arg(long, value_name = "PATH", requires = "dev_simulator")]
    dev_pcrs_out: Option<PathBuf>,
    /// DEV ONLY: talk to a mock exchange at https://HOST:PORT instead of
    /// api.binance.com (added to the enclave's allowlist).
    #[arg(
        long,
        value_name = "URL",
        requires_all = ["dev_simulator", "dev_exchange_ca"]
    )]
    dev_exchange_url: Option<String>,
    /// DEV ONLY: trust this CA (PEM) for the mock exchange instead of the webpki roots.
    #[arg(
        long,
        value_name = "PEM",
        requires_all = ["dev_simulator", "dev_exchange_url"]
    )]
    dev_exchange_ca: Option<PathBuf>,
    /// DEV ONLY: also allow the KMS test double at https://HOST:PORT (the
    /// host's KmsAccess.endpoint must then be exactly HOST:PORT).
    #[arg(
        long,
        value_name = "URL",
        requires_all = ["dev_simulator", "dev_kms_ca"]
    )]
    dev_kms_url: Option<String>,
    /// DEV ONLY: trust this CA (PEM) for the KMS test double only.
    #[arg(
        long,
        value_name = "PEM",
        requires_all = ["dev_simulator", "dev_kms_url"]
    )]
    dev_kms_ca: Option<PathBuf>,
    /// The one KMS key this image may seal its key ring with (a full key
    /// ARN, measured as part of the image's command line). Without it KMS
    /// mode is off: the ring lives only through attested peers.
    #[arg(long, value_name = "ARN")]
    kms_key_arn: Option<String>,
    /// The transparency log's origin prefix (measured): checkpoints carry
    /// the origin line `PREFIX/<first 16 hex digits of the ring id>`.
    #[arg(long, value_name = "PREFIX", default_value = DEFAULT_LOG_ORIGIN)]
    log_origin: String,
    /// A witness's cosignature/v1 verifier key (`name+keyid+base64`, as
    /// `strongroom-witness keygen` prints it); repeat for each witness
    /// (measured). The log is then extended only from checkpoints that k of
    /// them cosigned.
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<String>,
    /// K: how many of the `--witness` keys must cosign (1..=number of
    /// witnesses; default: all of them; 0 only without witnesses).
    #[arg(long, value_name = "K")]
    witness_quorum: Option<usize>,
    /// The exchange's request-weight limit per minute and egress address
    /// (Binance spot: 6000). Every instance behind one egress address shares
    /// the exchange's one counter, read from each answer.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WEIGHT_LIMIT)]
    exchange_weight_limit: u32,
    /// Weight kept free below the limit: a request that would take the
    /// exchange's count past limit - margin is not sent (429 exchange_budget).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WEIGHT_MARGIN)]
    exchange_weight_margin: u32,
    /// Opened credentials kept in memory (least recently used evicted, with
    /// a fair share per tenant); an evicted session is re-opened from the
    /// sealed credential the host sends with each request.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SESSION_CACHE_CAPACITY)]
    session_cache_capacity: usize,
    /// Aggregate computations in flight at most (each may hold ~450 MiB at
    /// worst: see the enclave README's memory budget).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_COMPUTATIONS)]
    max_computations: usize,
    /// Aggregate computations in flight at most for one tenant.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_COMPUTATIONS_PER_TENANT)]
    max_computations_per_tenant: usize,
    /// MAX_TTL_SECONDS: how far ahead a credential's not_after and ttl may reach.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_TTL_SECONDS)]
    max_ttl_seconds: u64,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(err) => {
            // --help and --version print and exit 0; anything else is a usage
            // error: exit 64 (EX_USAGE) like every other bad configuration.
            let code = if err.use_stderr() { EXIT_CONFIG } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    if args.exchange_weight_margin >= args.exchange_weight_limit {
        eprintln!(
            "strongroom-enclave: --exchange-weight-margin must be below --exchange-weight-limit"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    if args.max_computations == 0 || args.max_computations_per_tenant == 0 {
        eprintln!(
            "strongroom-enclave: --max-computations and --max-computations-per-tenant must be positive"
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    if args.session_cache_capacity == 0 {
        eprintln!("strongroom-enclave: --session-cache-capacity must be positive");
        return ExitCode::from(EXIT_CONFIG);
    }
    if args.max_ttl_seconds == 0 {
        eprintln!("strongroom-enclave: --max-ttl-seconds must be positive");
        return ExitCode::from(EXIT_CONFIG);
    }
    if args.dev_simulator && !SIMULATOR_BUILT {
        // Every --dev-* trust switch `requires` --dev-simulator (clap), so
        // this one refusal covers them all, before any dev CA file is read,
        // any file is written or any socket is bound.
        eprintln!("strongroom-enclave: {NO_SIMULATOR}: --dev-* flags are refused");
        return ExitCode::from(EXIT_CONFIG);
    }
    let witnesses = match witness_policy(&args) {
        Ok(policy) => policy,
        Err(code) => return ExitCode::from(code),
    };
    let exchange = match exchange_config(&args) {
        Ok(cfg) => cfg.map(|c| Arc::new(Binance::new(c))),
        Err(code) => return ExitCode::from(code),
    };
    let kms = match kms_config(&args) {
        Ok(cfg) => cfg.map(|c| Arc::new(KmsClient::new(c))),
        Err(code) => return ExitCode::from(code),
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (nsm, root) = match open_nsm(&args, clock.clone()) {
        Ok(opened) => opened,
        Err(code) => return ExitCode::from(code),
    };
    let policy = IntakePolicy {
        max_ttl_seconds: args.max_ttl_seconds,
    };
    let enclave = match Enclave::new(nsm, clock, policy) {
        Ok(enclave) => enclave
            .with_trust_root(root)
            .with_session_cache_capacity(args.session_cache_capacity)
            .with_compute_slots(args.max_computations, args.max_computations_per_tenant),
        Err(err) => {
            error!(%err, "cannot read the PCRs");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let Some(enclave) = enclave.with_log(&args.log_origin, witnesses) else {
        eprintln!("strongroom-enclave: --log-origin is not a valid checkpoint origin");
        return ExitCode::from(EXIT_CONFIG);
    };
    let enclave = Arc::new(enclave);
    run(args, enclave, exchange, kms)
}

/// The witnesses and quorum from `--witness`/`--witness-quorum`; exits 64
/// naming the flag when a key does not parse or the quorum is out of range.
fn witness_policy(args: &Args) -> Result<WitnessPolicy, u8> {
    let mut keys = Vec::with_capacity(args.witnesses.len());
    for vkey in &args.witnesses {
        let key = VerifierKey::parse(vkey).map_err(|_| {
            eprintln!("strongroom-enclave: --witness: not a cosignature/v1 verifier key");
            EXIT_CONFIG
        })?;
        keys.push(key);
    }
    let quorum = args.witness_quorum.unwrap_or(keys.len());
    if keys.is_empty() && quorum == 0 {
        tracing::warn!(
            "no --witness: checkpoints are signed by this enclave alone; a host that forks \
             or rolls back the log is caught only by clients that check witness cosignatures"
        );
        return Ok(WitnessPolicy::danger_no_witnesses());
    }
    let policy = WitnessPolicy::new(keys, quorum).map_err(|_| {
        eprintln!(
            "strongroom-enclave: --witness/--witness-quorum: need 1 <= K <= witnesses, \
             cosignature/v1 keys, no witness twice"
        );
        EXIT_CONFIG
    })?;
    info!(
        witnesses = policy.witnesses().len(),
        quorum = policy.threshold(),
        "log witnesses configured"
    );
    Ok(policy)
}

/// The egress proxy: `--egress`, else vsock://3:8001 in production; none in
/// simulator mode without `--egress` (aggregates and KMS then refused).
fn egress_address(args: &Args) -> Option<Address> {
    match (&args.egress, args.dev_simulator) {
        (Some(addr), _) => Some(addr.clone()),
        (None, false) => Some(DEFAULT_EGRESS),
        (None, true) => None,
    }
}

/// KMS reach: production endpoints with webpki roots, plus the dev double
/// with its CA when `--dev-kms-url`/`--dev-kms-ca` say so. `None` without
/// egress (KMS boot paths then answer kms_failed).
fn kms_config(args: &Args) -> Result<Option<KmsConfig>, u8> {
    let tls = tls::production_config().map_err(|err| {
        error!(%err, "TLS configuration failed");
        EXIT_FAILURE
    })?;
    let mut cfg = KmsConfig::production(egress_address(args), tls);
    if let Some(arn) = &args.kms_key_arn {
        cfg.pin = Some(KmsKeyPin::parse(arn).map_err(|e| {
            eprintln!("strongroom-enclave: --kms-key-arn: {e}");
            EXIT_CONFIG
        })?);
    }
    if let (Some(url), Some(ca)) = (&args.dev_kms_url, &args.dev_kms_ca) {
        let Some(endpoint) = Endpoint::from_https_url(url) else {
            eprintln!("strongroom-enclave: --dev-kms-url must be https://HOST:PORT");
            return Err(EXIT_CONFIG);
        };
        let dev_tls = read_dev_ca("--dev-kms-ca", ca)?;
        for _ in 0..3 {
            tracing::warn!(
                endpoint = %endpoint,
                ca = %ca.display(),
                "*** DEV: KMS TEST DOUBLE allowed and its CA trusted; NOT AWS KMS ***"
            );
        }
        cfg.dev = Some((endpoint, dev_tls));
    }
    if cfg.egress.is_none() {
        tracing::warn!("no --egress: NewKeyRing with KMS and UnsealKeyRing will be refused");
        return Ok(None);
    }
    Ok(Some(cfg))
}

/// Reads a dev CA PEM for `flag`; exits 64 naming the flag on failure.
fn read_dev_ca(flag: &str, ca: &std::path::Path) -> Result<Arc<rustls::ClientConfig>, u8> {
    let pem = std::fs::read(ca).map_err(|err| {
        eprintln!(
            "strongroom-enclave: cannot read {flag} {}: {err}",
            ca.display()
        );
        EXIT_CONFIG
    })?;
    tls::dev_config(&pem).map_err(|err| {
        eprintln!("strongroom-enclave: {flag} {}: {err}", ca.display());
        EXIT_CONFIG
    })
}

/// The exchange client's configuration: production (api.binance.com:443,
/// webpki roots, egress default vsock://3:8001) unless the dev flags say
/// otherwise. `None`: no egress in simulator mode, aggregates refused. The dev
/// flags are checked even then, so a mistake is reported at start.
fn exchange_config(args: &Args) -> Result<Option<ExchangeConfig>, u8> {
    let (endpoint, allowlist, tls) = exchange_target(args)?;
    let Some(egress) = egress_address(args) else {
        tracing::warn!("no --egress: ComputeAggregates will be refused");
        return Ok(None);
    };
    let mut config = ExchangeConfig::new(egress, endpoint, allowlist, tls);
    config.weight_limits = WeightLimits {
        limit: args.exchange_weight_limit,
        margin: args.exchange_weight_margin,
    };
    Ok(Some(config))
}

type Target = (Endpoint, Allowlist, Arc<rustls::ClientConfig>);

/// Endpoint, allowlist and TLS trust: production, or the dev mock exchange.
fn exchange_target(args: &Args) -> Result<Target, u8> {
    let (Some(url), Some(ca)) = (&args.dev_exchange_url, &args.dev_exchange_ca) else {
        let tls = tls::production_config().map_err(|err| {
            error!(%err, "TLS configuration failed");
            EXIT_FAILURE
        })?;
        return Ok((Endpoint::binance_production(), Allowlist::production(), tls));
    };
    let Some(endpoint) = Endpoint::from_https_url(url) else {
        eprintln!("strongroom-enclave: --dev-exchange-url must be https://HOST:PORT");
        return Err(EXIT_CONFIG);
    };
    let tls = read_dev_ca("--dev-exchange-ca", ca)?;
    for _ in 0..3 {
        tracing::warn!(
            endpoint = %endpoint,
            ca = %ca.display(),
            "*** DEV: trusting mock exchange CA; exchange = mock, NOT api.binance.com ***"
        );
    }
    let allowlist = Allowlist::production().with_dev_endpoint(endpoint.clone());
    Ok((endpoint, allowlist, tls))
}

fn run(
    args: Args,
    enclave: Arc<Enclave>,
    exchange: Option<Arc<Binance>>,
    kms: Option<Arc<KmsClient>>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .thread_name("enclave-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            error!(%err, "cannot start the runtime");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(async move {
        let listener = match Listener::bind(&args.listen) {
            Ok(l) => l,
            Err(err) => {
                error!(%err, addr = %args.listen, "cannot bind");
                return ExitCode::from(EXIT_FAILURE);
            }
        };
        // No key ring yet: the host drives boot (UnsealKeyRing, peer sync
        // or NewKeyRing); until then only health/status/boot calls are served.
        info!(
            version = VERSION,
            listen = %args.listen,
            egress = ?exchange.as_ref().map(|b| b.config().egress.to_string()),
            exchange = ?exchange.as_ref().map(|b| b.config().endpoint.to_string()),
            kms = ?kms.as_ref().map(|k| k.config()),
            max_ttl_seconds = args.max_ttl_seconds,
            pcr0 = %hex::encode(enclave.pcr0()),
            trust_root_dev = enclave.trust_root().is_dev(),
            "strongroom-enclave listening; phase booting, waiting for the host to provide a key ring"
        );
        let purger = enclave.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PURGE_INTERVAL);
            loop {
                tick.tick().await;
                purger.purge_expired();
            }
        });
        let service = Arc::new(EnclaveService::with_exchange(enclave, exchange).with_kms(kms));
        serve(
            listener,
            service,
            ServerConfig::default(),
            shutdown_signal(),
        )
        .await;
        info!("shutting down");
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Chooses the NSM: the simulator only when asked, else `/dev/nsm` or exit;
/// with the root peers' attestation must chain to (AWS, or the dev root).
fn open_nsm(args: &Args, clock: Arc<dyn Clock>) -> Result<(Arc<dyn Nsm>, TrustRoot), u8> {
    if args.dev_simulator {
        return open_simulator(args, clock);
    }
    match nsm::real::DeviceNsm::open() {
        Ok(device) => Ok((Arc::new(device), TrustRoot::aws_nitro_g1())),
        Err(err) => {
            error!(%err, "refusing to start");
            eprintln!(
                "strongroom-enclave: {} not found: this is not a Nitro enclave. \
                 For development, pass --dev-simulator (attestation then chains to a \
                 dev root that verifiers refuse unless told to trust it).",
                NSM_DEVICE_PATH
            );
            Err(EXIT_NO_NSM)
        }
    }
}

#[cfg(feature = "dev-simulator")]
fn open_simulator(args: &Args, clock: Arc<dyn Clock>) -> Result<(Arc<dyn Nsm>, TrustRoot), u8> {
    use strongroom_enclave::nsm::sim::{DEV_MARKER, SimNsm, pcr0_of_current_exe};
    for _ in 0..3 {
        tracing::warn!("*** {DEV_MARKER}: NSM SIMULATOR IN USE. ATTESTATION IS NOT REAL. ***");
    }
    if nsm::real::device_present() {
        tracing::warn!(
            "{} exists but --dev-simulator was given: the real NSM is NOT used",
            NSM_DEVICE_PATH
        );
    }
    let pcr0 = pcr0_of_current_exe().map_err(|err| {
        error!(%err, "cannot hash the running executable for the simulated PCR0");
        EXIT_FAILURE
    })?;
    let sim = match &args.dev_root_key {
        Some(path) => {
            tracing::warn!(
                path = %path.display(),
                "*** DEV: simulator dev CA keys loaded from / created at this file (shared dev root) ***"
            );
            SimNsm::with_dev_ca_file(clock, pcr0, path)
        }
        None => SimNsm::new(clock, pcr0),
    }
    .map_err(|err| {
        error!(%err, "simulator start failed");
        EXIT_FAILURE
    })?;
    let root = TrustRoot::dev_from_der(sim.root_der()).map_err(|err| {
        error!(%err, "the simulator's dev root does not parse");
        EXIT_FAILURE
    })?;
    tracing::warn!(
        root_sha256 = %hex::encode(root.fingerprint()),
        "*** DEV: peer key sync trusts the simulator dev root, NOT the AWS root ***"
    );
    tracing::warn!(module_id = sim.module_id(), pcr0 = %hex::encode(pcr0), "simulated enclave identity");
    if let Some(path) = &args.dev_root_out {
        let pem = sim.root_pem().map_err(|err| {
            error!(%err, "cannot encode the dev root");
            EXIT_FAILURE
        })?;
        std::fs::write(path, pem).map_err(|err| {
            error!(%err, path = %path.display(), "cannot write --dev-root-out");
            EXIT_CONFIG
        })?;
        tracing::warn!(path = %path.display(), "dev root certificate written (trust it ONLY for development)");
    }
    if let Some(path) = &args.dev_pcrs_out {
        write_pcrs_json(&sim, path)?;
    }
    Ok((Arc::new(sim), root))
}

/// Writes the simulated PCR0..2 in the form `nitro-cli build-enclave` prints,
/// so a verifier policy can name this dev build like a release.
#[cfg(feature = "dev-simulator")]
fn write_pcrs_json(sim: &dyn Nsm, path: &std::path::Path) -> Result<(), u8> {
    let mut m = serde_json::Map::new();
    m.insert("HashAlgorithm".into(), "Sha384 { ... }".into());
    for i in 0..3u16 {
        let pcr = sim.describe_pcr(i).map_err(|err| {
            error!(%err, "cannot read a simulated PCR");
            EXIT_FAILURE
        })?;
        m.insert(format!("PCR{i}"), hex::encode(pcr).into());
    }
    let json = serde_json::json!({ "Measurements": m });
    std::fs::write(path, format!("{json:#}\n")).map_err(|err| {
        error!(%err, path = %path.display(), "cannot write --dev-pcrs-out");
        EXIT_CONFIG
    })?;
    tracing::warn!(path = %path.display(), "simulated PCRs written (a dev build, not a release)");
    Ok(())
}

#[cfg(not(feature = "dev-simulator"))]
fn open_simulator(_args: &Args, _clock: Arc<dyn Clock>) -> Result<(Arc<dyn Nsm>, TrustRoot), u8> {
    eprintln!("strongroom-enclave: {NO_SIMULATOR}");
    Err(EXIT_CONFIG)
}
