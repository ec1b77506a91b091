//! Grouping a population that arrives in coarse-key order, one block at a time.

use crate::GroupingError;
use crate::block::{BlockGrouping, group_block};
use crate::plan::{BlockCutter, key_of};
use crate::types::{Bounds, Options, Profiles};

/// A block grouped by [`BlockStream`]: rows `first_citizen..first_citizen+len` of the
/// pushed sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupedBlock {
    pub first_citizen: u64,
    pub first_group: u32,
    pub grouping: BlockGrouping,
}

/// Groups citizens pushed in non-decreasing [`crate::coarse_key`] order, block by block.
///
/// It cuts blocks by the same rules as [`crate::group`] and groups each with
/// [`crate::group_block`], so for a population already in key order (ties in citizen
/// order) the result is identical to [`crate::group`]'s. It holds at most two blocks of
/// profiles: the open one and the last closed one, kept back because a small remainder at
/// the very end is merged into it.
///
/// ```
/// use xinyong_grouping::{BlockStream, Bounds, Options, coarse_key, synthetic};
/// let dims = 8;
/// let values = synthetic::profiles(3_000, dims, 1);
/// let mut rows: Vec<&[f32]> = values.chunks_exact(dims).collect();
/// rows.sort_by_key(|row| coarse_key(row)); // stable: ties stay in citizen order
/// let mut stream = BlockStream::new(dims, Bounds::default(), Options::default()).unwrap();
/// let mut grouped = 0;
/// for row in rows {
///     if let Some(block) = stream.push(row).unwrap() {
///         grouped += block.grouping.group_of.len();
///     }
/// }
/// for block in stream.finish() {
///     grouped += block.grouping.group_of.len();
/// }
/// assert_eq!(grouped, 3_000);
/// ```
#[derive(Debug)]
pub struct BlockStream {
    dims: usize,
    bounds: Bounds,
    options: Options,
    cutter: BlockCutter,
    open: Vec<f32>,
    open_first_citizen: u64,
    held: Option<(Vec<f32>, u64)>,
    next_group: u32,
    last_key: Option<u32>,
}

impl BlockStream {
    pub fn new(dims: usize, bounds: Bounds, options: Options) -> Result<BlockStream, GroupingError> {
        bounds.validate()?;
        if dims == 0 || dims > crate::MAX_DIMS {
            return Err(GroupingError::InvalidDims { dims });
        }
        Ok(BlockStream {
            dims,
            bounds,
            cutter: BlockCutter::new(bounds, &options),
            options,
            open: Vec::new(),
            open_first_citizen: 0,
            held: None,
            next_group: 0,
            last_key: None,
        })
    }

    /// Add the next citizen. Returns a block when one is complete (it is the one closed
    /// before the previous close: blocks come out one close late).
    pub fn push(&mut self, profile: &[f32]) -> Result<Option<GroupedBlock>, GroupingError> {
        Profiles::new(self.dims, profile)?;
        if profile.len() != self.dims {
            return Err(GroupingError::DimsMismatch { expected: self.dims, got: profile.len() });
        }
        let key = key_of(profile, self.options.key_dims);
        let citizen = self.open_first_citizen + (self.open.len() / self.dims) as u64;
        if let Some(previous) = self.last_key
            && key < previous
        {
            return Err(GroupingError::OutOfKeyOrder { citizen, key, previous });
        }
        self.last_key = Some(key);
        let mut emitted = None;
        if let Some(len) = self.cutter.push(key) {
            emitted = self.close(len);
        }
        self.open.extend_from_slice(profile);
        if let Some(len) = self.cutter.take_full() {
            debug_assert!(emitted.is_none(), "block limits allow one close per citizen");
            emitted = self.close(len);
        }
        Ok(emitted)
    }

    /// Group what remains; returns the last one or two blocks.
    pub fn finish(mut self) -> Vec<GroupedBlock> {
        let (rest, merge) = self.cutter.finish();
        let open = std::mem::take(&mut self.open);
        let mut out = Vec::new();
        match self.held.take() {
            Some((mut rows, first)) if merge => {
                rows.extend_from_slice(&open);
                out.push(self.group(rows, first));
            }
            Some((rows, first)) => {
                out.push(self.group(rows, first));
                if rest > 0 {
                    let first = self.open_first_citizen;
                    out.push(self.group(open, first));
                }
            }
            None if rest > 0 => {
                let first = self.open_first_citizen;
                out.push(self.group(open, first));
            }
            None => {}
        }
        out
    }

    fn close(&mut self, len: u64) -> Option<GroupedBlock> {
        let rest = self.open.split_off(len as usize * self.dims);
        let closed = std::mem::replace(&mut self.open, rest);
        let first = self.open_first_citizen;
        self.open_first_citizen += len;
        let previous = self.held.replace((closed, first));
        previous.map(|(rows, first)| self.group(rows, first))
    }

    fn group(&mut self, rows: Vec<f32>, first_citizen: u64) -> GroupedBlock {
        let profiles = Profiles::new(self.dims, &rows).expect("rows were checked on push");
        let first_group = self.next_group;
        let grouping = group_block(profiles, self.bounds, &self.options, first_group);
        self.next_group += grouping.groups;
        GroupedBlock { first_citizen, first_group, grouping }
    }
}
