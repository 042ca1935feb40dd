//! Output of a verified signed result (`aggregates`, `verify-result`).

use crate::common::rfc3339_ms;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use strongroom_formats::aggregates::{AggregatePayload, Dec};
use strongroom_verifier::VerifiedResult;

/// The `--json` form: every link of the chain and the figures.
pub fn result_json(v: &VerifiedResult, pinned: bool) -> Value {
    let d = &v.document;
    json!({
        "ok": true,
        "aggregates": v.payload,
        "attestation": {
            "root_sha256": hex::encode(d.root_fingerprint),
            "dev_root": d.dev_root,
            "debug": d.debug,
            "module_id": d.module_id,
            "timestamp": rfc3339_ms(d.timestamp_ms),
            "pcr0": d.pcr0_hex(),
            "pcrs_pinned": pinned,
            "pcrs_matched": d.matched_pcr_set,
        },
        "insecure_no_pcrs": !pinned,
        "warnings": crate::common::pcr_warnings(pinned),
        "signing_key": {"kid": v.binding.kid, "sec1": STANDARD.encode(v.binding.signing_key_sec1)},
        "log": {
            "leaf_index": v.leaf_index,
            "leaf_hash": hex::encode(v.leaf_hash),
            "tree_size": v.tree_head.size,
            "root": hex::encode(&v.tree_head.root),
            "time": v.tree_head.time,
        },
    })
}

/// Human form.
pub fn print_result(v: &VerifiedResult) {
    let d = &v.document;
    let p = &v.payload;
    println!("signed result OK");
    let root = if d.dev_root {
        "DEVELOPMENT root (simulator; not a real enclave)"
    } else {
        "pinned AWS Nitro root"
    };
    println!("  root:         {root}");
    println!(
        "  attestation:  {} at {}{}",
        d.module_id,
        rfc3339_ms(d.timestamp_ms),
        if d.debug { ", DEBUG enclave" } else { "" }
    );
    match &d.matched_pcr_set {
        Some(src) => println!("  measurements: PCR0 {} matches {src}", d.pcr0_hex()),
        None => println!(
            "  measurements: PCR0 {} NOT CHECKED (--insecure-no-pcrs: any enclave image passes)",
            d.pcr0_hex()
        ),
    }
    println!("  signed by:    kid {}", v.binding.kid);
    println!(
        "  log:          leaf {} of {}, root {}, head {}",
        v.leaf_index,
        v.tree_head.size,
        hex::encode(&v.tree_head.root),
        v.tree_head.time
    );
    print_figures(p);
}

fn print_figures(p: &AggregatePayload) {
    println!("  account:      {} {} ({})", p.exchange, p.label, p.account);
    if let Some(session) = &p.session {
        println!("  session:      {session}");
    }
    if let Some(c) = &p.credential {
        println!("  credential:   {c}");
        println!(
            "  owner:        {}",
            p.owner
                .as_deref()
                .unwrap_or("(none: sealed without an owner key)")
        );
    }
    if let Some(policy) = &p.policy {
        println!("  policy:       {}", crate::owner_key::describe(policy));
    }
    println!(
        "  window:       {} .. {} (computed {})",
        p.from.as_deref().unwrap_or("(beginning)"),
        p.to.as_deref().unwrap_or("(open)"),
        p.computed_at
    );
    for (sym, s) in &p.symbols {
        let fees: Vec<String> = s.fees.iter().map(|(a, f)| format!("{f} {a}")).collect();
        println!(
            "  {sym} ({}/{}): {} trades, bought {}, sold {}, volume {}, realized PnL {}, \
             {} wins / {} losses (win rate {}), max drawdown {}, unmatched sell {}, fees {}",
            s.base,
            s.quote,
            s.trade_count,
            s.buy_qty,
            s.sell_qty,
            s.volume_quote,
            s.realized_pnl_quote,
            s.wins,
            s.losses,
            opt(s.win_rate),
            s.max_drawdown_quote,
            s.unmatched_sell_qty,
            if fees.is_empty() {
                "none".to_owned()
            } else {
                fees.join(", ")
            }
        );
    }
    for (asset, t) in &p.totals {
        println!(
            "  total {asset}: {} trades, volume {}, realized PnL {}, {} wins / {} losses, max drawdown {}",
            t.trade_count,
            t.volume_quote,
            t.realized_pnl_quote,
            t.wins,
            t.losses,
            t.max_drawdown_quote
        );
    }
    print_returns(p);
}

/// The `returns` block, already rechecked from its daily series (R6b).
fn print_returns(p: &AggregatePayload) {
    let Some(r) = &p.returns else {
        if p.methodology.is_some() {
            println!("  returns:      none (no daily equity: the exchange gave no snapshot)");
        }
        return;
    };
    let (first, last) = match (r.daily.first(), r.daily.last()) {
        (Some(f), Some(l)) => (f.date.as_str(), l.date.as_str()),
        _ => ("?", "?"),
    };
    println!(
        "  returns:      {} daily equity in {}, {first} .. {last}, {} daily returns \
         (figures recomputed from the signed series: OK; ratios, 0.05 = 5 %)",
        p.methodology.as_deref().unwrap_or("(no methodology)"),
        r.valuation_asset,
        r.days
    );
    println!(
        "    twr {}, volatility {}, sharpe {}, sortino {}, max drawdown {}, calmar {}, \
         best day {}, worst day {}",
        r.twr,
        opt(r.volatility),
        opt(r.sharpe),
        opt(r.sortino),
        r.max_drawdown,
        opt(r.calmar),
        opt(r.best_day),
        opt(r.worst_day)
    );
    if let Some(rf) = r.risk_free_rate {
        println!("    risk-free rate {rf} a year");
    }
    if !r.unvalued.is_empty() {
        println!(
            "    NOT VALUED (no price route; left out of equity and flows): {}",
            r.unvalued.join(", ")
        );
    }
    for d in &r.daily {
        println!(
            "    {}  equity {}  net flow {}  return {}",
            d.date,
            d.equity,
            d.net_flow,
            opt(d.ret)
        );
    }
}

fn opt(d: Option<Dec>) -> String {
    d.map_or_else(|| "n/a".to_owned(), |d| d.to_string())
}
