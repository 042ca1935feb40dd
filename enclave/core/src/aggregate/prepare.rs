//! Preparation: one pass assigns each in-window trade its symbol, then a
//! single global order (time, symbol by name, id) serves both per-symbol
//! processing (its restriction to a symbol is (time, id) order) and the
//! per-quote drawdown merge, so the hot loop streams through the input once.

use std::collections::BTreeMap;

use super::{AggregateError, SymbolInfo, Trade, Window};

/// Processing order: (time, symbol rank by name, id, index into input).
pub(super) type Key = (i64, u32, u64, u32);

/// First 8 bytes and length of a name: equal keys of names of at most 8
/// bytes prove equality without a `memcmp` call (the hot loop compares
/// a symbol and a fee asset per trade).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct ShortKey {
    head: u64,
    len: usize,
}

impl ShortKey {
    pub fn of(s: &str) -> Self {
        let b = s.as_bytes();
        let mut head = [0u8; 8];
        let n = b.len().min(8);
        head[..n].copy_from_slice(&b[..n]);
        Self {
            head: u64::from_le_bytes(head),
            len: b.len(),
        }
    }
}

/// Name equality through [`ShortKey`]s.
pub(super) fn same(a: &str, ka: ShortKey, b: &str, kb: ShortKey) -> bool {
    ka == kb && (ka.len <= 8 || a == b)
}

/// Trades ready to aggregate.
pub(super) struct Prepared<'a> {
    /// Symbols by rank (name order) with their base/quote.
    pub symbols: Vec<(&'a str, &'a SymbolInfo)>,
    /// In-window trades in processing order.
    pub keys: Vec<Key>,
}

pub(super) fn prepare<'a>(
    trades: &'a [Trade],
    infos: &'a BTreeMap<String, SymbolInfo>,
    window: Window,
) -> Result<Prepared<'a>, AggregateError> {
    if u32::try_from(trades.len()).is_err() {
        return Err(AggregateError::TooManyTrades);
    }
    let mut seen: Vec<(&str, ShortKey)> = Vec::new();
    let mut keys: Vec<Key> = Vec::with_capacity(trades.len());
    let mut last = 0usize;
    for (i, t) in trades.iter().enumerate() {
        if !window.contains(t.time) {
            continue;
        }
        let k = ShortKey::of(&t.symbol);
        if !seen
            .get(last)
            .is_some_and(|(n, sk)| same(n, *sk, &t.symbol, k))
        {
            last = match seen.iter().position(|(n, sk)| same(n, *sk, &t.symbol, k)) {
                Some(p) => p,
                None => {
                    seen.push((&t.symbol, k));
                    seen.len() - 1
                }
            };
        }
        // Both fit in u32: trades.len() was checked above.
        let (s, idx) = (last as u32, i as u32);
        keys.push((t.time, s, t.id, idx));
    }
    let mut order: Vec<usize> = (0..seen.len()).collect();
    order.sort_unstable_by_key(|&j| seen[j].0);
    let mut rank = vec![0u32; seen.len()];
    for (r, &j) in order.iter().enumerate() {
        rank[j] = r as u32;
    }
    if order.iter().enumerate().any(|(r, &j)| r != j) {
        keys.iter_mut().for_each(|k| k.1 = rank[k.1 as usize]);
    }
    let symbols = order
        .iter()
        .map(|&j| {
            let name = seen[j].0;
            infos
                .get(name)
                .map(|info| (name, info))
                .ok_or_else(|| AggregateError::UnknownSymbol(name.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if !keys.is_sorted() {
        keys.sort_unstable();
    }
    check_duplicates(&symbols, &keys)?;
    Ok(Prepared { symbols, keys })
}

/// Refuse two trades of one symbol with the same id. Fast path: exchange
/// ids ascend with time, so strictly increasing ids per symbol prove
/// uniqueness without sorting.
fn check_duplicates(symbols: &[(&str, &SymbolInfo)], keys: &[Key]) -> Result<(), AggregateError> {
    let mut last: Vec<Option<u64>> = vec![None; symbols.len()];
    let increasing = keys.iter().all(|&(_, s, id, _)| {
        let prev = last[s as usize].replace(id);
        prev.is_none_or(|p| p < id)
    });
    if increasing {
        return Ok(());
    }
    for (r, (name, _)) in symbols.iter().enumerate() {
        let mut ids: Vec<u64> = keys
            .iter()
            .filter(|k| k.1 as usize == r)
            .map(|k| k.2)
            .collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(AggregateError::DuplicateTrade {
                symbol: name.to_string(),
                id: w[0],
            });
        }
    }
    Ok(())
}
