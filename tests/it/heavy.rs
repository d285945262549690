//! One budget for the tests that run external peers (Node and Python SDK clients, Claude Code,
//! Chromium, the conformance suite, authorization-server stacks). All tests share this process
//! and libtest runs as many at once as there are cores, so without a budget the peer suites
//! would pile up on a small machine and miss their deadlines.
//!
//! A test takes a [`Slot`] for as long as its peers run: a whole test with `heavy::slot()` at
//! its top, or — for a test that runs its own pool of scenarios — one slot per scenario in each
//! worker (never both, so a test never waits on itself). Light tests take nothing.

use std::num::NonZeroUsize;
use std::sync::{Condvar, Mutex, PoisonError};

/// Slots in use, and the signal that one was given back.
static IN_USE: Mutex<usize> = Mutex::new(0);
static RELEASED: Condvar = Condvar::new();

/// How many peer runs may go at once: one per core plus one, since a peer run spends much of
/// its time waiting on its children's network round trips.
fn capacity() -> usize {
    std::thread::available_parallelism().map_or(2, NonZeroUsize::get) + 1
}

/// A held slot of the budget; dropping it gives the slot back.
#[must_use = "the slot is given back when this guard is dropped"]
pub struct Slot(());

/// Waits for a free slot and takes it. A test that panicked while holding one still gives it
/// back (the guard drops on unwinding), and a poisoned count is still a count.
pub fn slot() -> Slot {
    let capacity = capacity();
    let mut in_use = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
    while *in_use >= capacity {
        in_use = RELEASED
            .wait(in_use)
            .unwrap_or_else(PoisonError::into_inner);
    }
    *in_use += 1;
    Slot(())
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut in_use = IN_USE.lock().unwrap_or_else(PoisonError::into_inner);
        *in_use -= 1;
        RELEASED.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{capacity, slot};

    /// Many workers asking at once never hold more than the capacity (other tests of this
    /// binary may hold slots too, so the bound is on the total) and all of them get through.
    #[test]
    fn slots_never_exceed_the_capacity_and_all_waiters_get_one() {
        let peak = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..capacity() * 3)
            .map(|_| {
                let peak = Arc::clone(&peak);
                std::thread::spawn(move || {
                    let _slot = slot();
                    let now = *super::IN_USE.lock().unwrap();
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::yield_now();
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let peak = peak.load(Ordering::SeqCst);
        assert!((1..=capacity()).contains(&peak), "peak {peak}");
    }
}
