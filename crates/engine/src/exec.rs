//! How per-group work is spread: the engine describes the work, an executor runs it.
//!
//! The engine has no threads. Each group's part of a day depends only on that group and
//! on read-only context, so the engine hands the work to an [`Executor`] as a fold over
//! the groups: every group is visited once, with an accumulator made by `init`, and the
//! accumulators are combined by `merge`. The engine only puts into accumulators what
//! combines the same way in any grouping (sums, and per-group results tagged with the
//! group id and sorted afterwards), so any executor — one thread, a thread pool, or a
//! cluster — gives the same result.

/// Runs a fold over groups. Implementations must visit every item exactly once.
pub trait Executor: Sync {
    fn fold<T, A, I, F, M>(&self, items: &mut [T], init: I, f: F, merge: M) -> A
    where
        T: Send,
        A: Send,
        I: Fn() -> A + Sync + Send,
        F: Fn(usize, &mut T, &mut A) + Sync + Send,
        M: Fn(A, A) -> A + Sync + Send;
}

/// Visits the groups one after the other on the calling thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sequential;

impl Executor for Sequential {
    fn fold<T, A, I, F, M>(&self, items: &mut [T], init: I, f: F, _merge: M) -> A
    where
        T: Send,
        A: Send,
        I: Fn() -> A + Sync + Send,
        F: Fn(usize, &mut T, &mut A) + Sync + Send,
        M: Fn(A, A) -> A + Sync + Send,
    {
        let mut acc = init();
        for (i, item) in items.iter_mut().enumerate() {
            f(i, item, &mut acc);
        }
        acc
    }
}
