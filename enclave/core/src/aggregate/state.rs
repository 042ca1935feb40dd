//! The per-symbol running state: FIFO lots, sums, wins/losses and the
//! drawdown tracker. Reused across symbols so the hot loop allocates only
//! when the lot queue or the fee list must grow.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::{Decimal, RoundingStrategy};
use strongroom_protocol::aggregates::{Dec, SymbolAggregates};

use super::num::Num;
use super::prepare::{ShortKey, same};
use super::{SymbolInfo, Trade, WIN_RATE_DP};

/// One sell's realized PnL, keyed for the per-quote merge:
/// (time, symbol index in name order, trade id).
#[derive(Debug, Clone, Copy)]
pub(super) struct SellEvent<N> {
    pub key: (i64, usize, u64),
    pub pnl: N,
}

/// Largest (running peak − value) of a cumulative sum starting at 0.
#[derive(Debug, Default)]
pub(super) struct Drawdown<N> {
    cum: N,
    peak: N,
    pub max: N,
}

impl<N: Num> Drawdown<N> {
    /// Add one sell's PnL; `None` on overflow.
    pub fn step(&mut self, pnl: N) -> Option<()> {
        self.cum = self.cum.add(pnl)?;
        if self.cum > self.peak {
            self.peak = self.cum;
        }
        let fall = self.peak.sub(self.cum)?;
        if fall > self.max {
            self.max = fall;
        }
        Some(())
    }
}

/// An open FIFO lot.
#[derive(Debug, Clone, Copy)]
struct Lot<N> {
    qty: N,
    price: N,
}

#[derive(Debug, Default)]
pub(super) struct SymbolState<N> {
    lots: VecDeque<Lot<N>>,
    fees: Vec<(String, ShortKey, N)>,
    last_fee: usize,
    trade_count: u64,
    buy_qty: N,
    sell_qty: N,
    volume: N,
    pnl: N,
    unmatched: N,
    wins: u64,
    losses: u64,
    drawdown: Drawdown<N>,
}

impl<N: Num> SymbolState<N> {
    /// Apply one trade (already in (time, id) order); `None` on overflow.
    pub fn apply(
        &mut self,
        t: &Trade,
        sym_idx: usize,
        sells: &mut Vec<SellEvent<N>>,
    ) -> Option<()> {
        let (qty, price) = (N::from_dec(t.qty)?, N::from_dec(t.price)?);
        self.trade_count += 1;
        self.volume = self.volume.add(N::from_dec(t.quote_qty)?)?;
        self.add_fee(&t.commission_asset, N::from_dec(t.commission)?)?;
        if t.is_buyer {
            self.buy_qty = self.buy_qty.add(qty)?;
            if !qty.is_zero() {
                self.lots.push_back(Lot { qty, price });
            }
            return Some(());
        }
        self.sell_qty = self.sell_qty.add(qty)?;
        let pnl = self.match_sell(qty, price)?;
        self.pnl = self.pnl.add(pnl)?;
        let zero = N::default();
        if pnl > zero {
            self.wins += 1;
        } else if pnl < zero {
            self.losses += 1;
        }
        self.drawdown.step(pnl)?;
        sells.push(SellEvent {
            key: (t.time, sym_idx, t.id),
            pnl,
        });
        Some(())
    }

    /// Consume the oldest lots; returns the sell's realized PnL.
    fn match_sell(&mut self, qty: N, price: N) -> Option<N> {
        let mut remaining = qty;
        let mut pnl = N::default();
        while !remaining.is_zero() {
            let Some(lot) = self.lots.front_mut() else {
                break;
            };
            let m = if lot.qty < remaining {
                lot.qty
            } else {
                remaining
            };
            let piece = price.sub(lot.price)?.mul_pnl(m)?;
            pnl = pnl.add(piece)?;
            lot.qty = lot.qty.sub(m)?;
            remaining = remaining.sub(m)?;
            if lot.qty.is_zero() {
                self.lots.pop_front();
            }
        }
        self.unmatched = self.unmatched.add(remaining)?;
        Some(pnl)
    }

    fn add_fee(&mut self, asset: &str, amount: N) -> Option<()> {
        // Most fees of a symbol are in one or two assets: try the last hit.
        let k = ShortKey::of(asset);
        let hit = match self.fees.get(self.last_fee) {
            Some((a, ka, _)) if same(a, *ka, asset, k) => Some(self.last_fee),
            _ => self
                .fees
                .iter()
                .position(|(a, ka, _)| same(a, *ka, asset, k)),
        };
        match hit {
            Some(i) => {
                self.last_fee = i;
                self.fees[i].2 = self.fees[i].2.add(amount)?;
            }
            None => {
                self.last_fee = self.fees.len();
                self.fees.push((asset.to_string(), k, amount));
            }
        }
        Some(())
    }

    /// The symbol's figures; `None` on overflow.
    pub fn finish(&mut self, info: &SymbolInfo) -> Option<SymbolAggregates> {
        let decided = self.wins.checked_add(self.losses)?;
        let win_rate = match decided {
            0 => None,
            n => Some(Dec(Decimal::from(self.wins)
                .checked_div(Decimal::from(n))?
                .round_dp_with_strategy(
                    WIN_RATE_DP,
                    RoundingStrategy::MidpointNearestEven,
                ))),
        };
        let mut fees: BTreeMap<String, Dec> = BTreeMap::new();
        for (a, _, v) in self.fees.drain(..) {
            fees.insert(a, Dec(v.to_dec()?));
        }
        Some(SymbolAggregates {
            base: info.base.clone(),
            quote: info.quote.clone(),
            trade_count: self.trade_count,
            buy_qty: Dec(self.buy_qty.to_dec()?),
            sell_qty: Dec(self.sell_qty.to_dec()?),
            volume_quote: Dec(self.volume.to_dec()?),
            realized_pnl_quote: Dec(self.pnl.pnl_to_dec()?),
            unmatched_sell_qty: Dec(self.unmatched.to_dec()?),
            fees,
            wins: self.wins,
            losses: self.losses,
            win_rate,
            max_drawdown_quote: Dec(self.drawdown.max.pnl_to_dec()?),
        })
    }
}
