//! A bound on concurrent `ComputeAggregates` (issue 15.5, bullet 2): in
//! total and per tenant, so one tenant's flood cannot take the enclave's
//! memory or every slot.
//!
//! Memory budget: a computation holds at most `MAX_TRADES_PER_REQUEST`
//! (2,000,000) trades of about 210 bytes each (two short strings, four
//! decimals, ids and time) plus one response body (32 MiB): about 450 MiB
//! at worst. The enclave's allocation is 2 GiB (infra); three computations
//! at worst take about 1.35 GiB, leaving the rest to the key ring, the
//! session cache (~10 MiB), TLS and the runtime. Hence 3 in total by
//! default, and 2 per tenant: one tenant alone may run two at once and
//! another still gets the third.

use std::collections::HashMap;
use std::sync::Mutex;

/// Default bound on computations in flight (`--max-computations`).
pub const DEFAULT_MAX_COMPUTATIONS: usize = 3;
/// Default bound per tenant (`--max-computations-per-tenant`).
pub const DEFAULT_MAX_COMPUTATIONS_PER_TENANT: usize = 2;

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_tenant: HashMap<String, usize>,
}

/// The slots; a [`Slot`] is held for the duration of one computation.
#[derive(Debug)]
pub struct ComputeSlots {
    total: usize,
    per_tenant: usize,
    counts: Mutex<Counts>,
}

impl Default for ComputeSlots {
    fn default() -> Self {
        Self::new(
            DEFAULT_MAX_COMPUTATIONS,
            DEFAULT_MAX_COMPUTATIONS_PER_TENANT,
        )
    }
}

/// One computation's slot, released on drop (also when the computation is
/// cancelled or fails).
#[derive(Debug)]
pub struct Slot<'a> {
    slots: &'a ComputeSlots,
    tenant: String,
}

impl ComputeSlots {
    /// At most `total` computations, `per_tenant` of one tenant (both at
    /// least 1). Sessions the host names no tenant for share one tenant.
    pub fn new(total: usize, per_tenant: usize) -> Self {
        Self {
            total: total.max(1),
            per_tenant: per_tenant.max(1),
            counts: Mutex::default(),
        }
    }

    /// A slot for `tenant`, or `None` when the tenant or the enclave is at
    /// its bound.
    pub fn try_acquire(&self, tenant: Option<&str>) -> Option<Slot<'_>> {
        let tenant = tenant.unwrap_or_default().to_owned();
        let mut c = self.lock();
        let mine = c.by_tenant.get(&tenant).copied().unwrap_or(0);
        if c.total >= self.total || mine >= self.per_tenant {
            return None;
        }
        c.total += 1;
        c.by_tenant.insert(tenant.clone(), mine + 1);
        Some(Slot {
            slots: self,
            tenant,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Two counters, consistent after any panic.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut c = self.slots.lock();
        c.total = c.total.saturating_sub(1);
        if let Some(n) = c.by_tenant.get_mut(&self.tenant) {
            *n -= 1;
            if *n == 0 {
                c.by_tenant.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_tenant_and_in_total_and_released_on_drop() {
        let s = ComputeSlots::new(3, 1);
        let a = s.try_acquire(Some("a"));
        assert!(a.is_some());
        assert!(s.try_acquire(Some("a")).is_none(), "a is at its share");
        let b = s.try_acquire(Some("b"));
        let c = s.try_acquire(Some("c"));
        assert!(b.is_some() && c.is_some());
        assert!(s.try_acquire(Some("d")).is_none(), "all three in use");
        drop(a);
        assert!(s.try_acquire(Some("d")).is_some());
    }
}
