//! The checker: Wing & Gong's backtracking search for a linearization, with Lowe's
//! memoisation of visited (set of linearized operations, state) pairs, run on each
//! partition of the history separately (as Porcupine does).
//!
//! The search walks a doubly linked list of call and return entries in time order.
//! At a call it tries to linearize the operation now (the model accepts its output
//! and the resulting configuration was not visited before); it then "lifts" the
//! operation's two entries out of the list and restarts from the head. At a return
//! whose operation is not yet linearized, that operation would have to take effect
//! before it returned, but nothing that fits can be placed: backtrack by undoing the
//! most recent linearization. An empty list means every operation was placed.
//!
//! Speed comes from three choices: states are interned to `u32` ids, so the visited
//! set and the undo stack hold ids, never states; the hash of the linearized set is
//! kept incrementally (Zobrist: xor of one random word per operation); and the
//! visited set is an open-addressed table over a flat arena of bitsets.
//!
//! Partitions are searched in turns of a fixed number of steps (on one thread, or
//! dealt to several), as Porcupine runs them all at once: a violation that is quick
//! to find in one partition is not held up by a long search in another, and the
//! step budget is looked at between turns. The violation reported is the one found
//! in the earliest turn (the lowest-numbered partition of those found in that turn):
//! every partition has had that many turns, on any number of threads, so the report
//! is the same whatever the threads and their timing.

use super::hash::{FxBuild, splitmix64};
use super::history::Operation;
use super::model::Model;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// How to run the checker.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Worker threads for checking partitions concurrently (1: on the calling
    /// thread). The verdict, and the violation reported, are the same whatever
    /// their number.
    pub threads: usize,
    /// A budget that does not depend on the machine: the most search steps one
    /// partition may take; a partition that needs more is [`CheckResult::Unknown`]
    /// (unless another partition is not linearizable). `None`: no limit. The same
    /// history gets the same verdict under it on every machine, at any load.
    pub max_steps_per_partition: Option<u64>,
    /// The most memory the searches may hold in their tables and states, all
    /// partitions together (they are searched at once). Each partition gets a
    /// share in proportion to what a search of its operations holds if it
    /// never backtracks (about `n * n / 8` bytes for `n` of them), on top of
    /// what its tables take to start (a few words an operation); one that
    /// fills its share is [`CheckResult::Unknown`]. It is
    /// counted from the tables' lengths and [`Model::state_bytes`], not
    /// measured, so it too gives the same verdict on every machine.
    pub max_search_bytes: usize,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            threads: 1,
            max_steps_per_partition: None,
            max_search_bytes: MAX_SEARCH_BYTES,
        }
    }
}

/// The default [`CheckOptions::max_search_bytes`]. A configuration holds a
/// bitset of its partition's operations, so a long or very concurrent
/// partition fills memory long before 2^30 steps; this bound keeps the verdict
/// unknown rather than the process killed (a search once grew past 20 GB).
/// Even a search that never backtracks holds one configuration per
/// operation, `n` bits each: `n * n / 8` bytes for a key of `n` operations.
/// So a key of 64 thousand operations fills it alone, and keys that share it
/// fit while the sum of their `n * n / 8` does.
/// It counts lengths, not allocations: a table that doubles as it grows may
/// hold up to twice what it counts.
pub const MAX_SEARCH_BYTES: usize = 512 << 20;

impl CheckOptions {
    /// Default options with a budget of `max_steps` search steps per partition.
    pub fn with_max_steps(max_steps: u64) -> Self {
        CheckOptions {
            max_steps_per_partition: Some(max_steps),
            ..Self::default()
        }
    }
}

/// Evidence that a partition of the history has no linearization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which partition (index into [`Model::partition`]'s result) failed.
    pub partition: usize,
    /// The operations of that partition (indices into the history).
    pub partition_ops: Vec<usize>,
    /// A longest sequence of operations (indices into the history) that the search
    /// could linearize, in linearization order.
    pub longest_prefix: Vec<usize>,
    /// The operation that had to be placed next after `longest_prefix` (its return
    /// came) but could not be: the model rejects its output there.
    pub failing_op: usize,
}

/// The checker's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// Every partition has a linearization.
    Linearizable,
    /// Some partition has none; the evidence, for the one found in the earliest
    /// turn of the search (see the module docs).
    NotLinearizable(Violation),
    /// A partition's search used up its budget before a verdict: this is not a
    /// pass, and the same history gives it on every machine.
    Unknown(Limit),
}

/// The budget a search used up, for [`CheckResult::Unknown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// [`CheckOptions::max_steps_per_partition`]: a larger one may give a verdict.
    Steps,
    /// [`CheckOptions::max_search_bytes`] (for at least one partition: this one
    /// wins over `Steps`, since more steps cannot help it).
    Memory,
}

impl CheckResult {
    /// True only for [`CheckResult::Linearizable`].
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckResult::Linearizable)
    }
}

/// Checks `history` against `model`.
pub fn check<M>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    options: &CheckOptions,
) -> CheckResult
where
    M: Model + Sync,
    M::Input: Sync,
    M::Output: Sync,
{
    let partitions = model.partition(history);
    for part in &partitions {
        for &i in part {
            assert!(
                i < history.len(),
                "Model::partition returned index {i} for a history of {} operations",
                history.len()
            );
        }
    }
    let outcomes = search_all(model, history, &partitions, options);
    verdict(&partitions, outcomes)
}

/// Every partition's search, on `options.threads` threads: the outcomes of
/// those that finished, each with the turn that ended it.
fn search_all<M>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partitions: &[Vec<usize>],
    options: &CheckOptions,
) -> Vec<(usize, u64, Outcome)>
where
    M: Model + Sync,
    M::Input: Sync,
    M::Output: Sync,
{
    let violation_turn = AtomicU64::new(u64::MAX);
    let threads = options.threads.max(1).min(partitions.len());
    // Partitions dealt to threads largest first, alternately, so the loads balance.
    let mut order: Vec<usize> = (0..partitions.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(partitions[p].len()));
    let shares: Vec<Vec<usize>> = (0..threads)
        .map(|t| order.iter().copied().skip(t).step_by(threads).collect())
        .collect();
    let limits = Limits {
        max_steps: options.max_steps_per_partition,
        max_words: options.max_search_bytes / 8,
        weights: partitions.iter().map(|p| weight(p.len())).sum(),
        violation_turn: &violation_turn,
    };
    let run_share = |share: &[usize]| round_robin(model, history, partitions, share, &limits);
    if threads <= 1 {
        return run_share(&order);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = shares
            .iter()
            .map(|share| scope.spawn(|| run_share(share)))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("checker thread panicked"))
            .collect()
    })
}

/// The verdict from the searches' outcomes: the violation found in the earliest
/// turn (the lowest partition of that turn), else linearizable if every
/// partition finished, else unknown.
fn verdict(partitions: &[Vec<usize>], outcomes: Vec<(usize, u64, Outcome)>) -> CheckResult {
    let ok = (outcomes.iter())
        .filter(|(_, _, o)| matches!(o, Outcome::Ok))
        .count();
    let limit = if (outcomes.iter()).any(|(_, _, o)| matches!(o, Outcome::Stopped(Limit::Memory))) {
        Limit::Memory
    } else {
        Limit::Steps
    };
    let first_violation = (outcomes.into_iter())
        .filter(|(_, _, o)| matches!(o, Outcome::Illegal { .. }))
        .min_by_key(|(p, turn, _)| (*turn, *p));
    match first_violation {
        Some((
            p,
            _,
            Outcome::Illegal {
                longest_prefix,
                failing_op,
            },
        )) => CheckResult::NotLinearizable(Violation {
            partition: p,
            partition_ops: partitions[p].clone(),
            longest_prefix,
            failing_op,
        }),
        _ if ok == partitions.len() => CheckResult::Linearizable,
        // Out of steps or memory, with no violation found.
        _ => CheckResult::Unknown(limit),
    }
}

#[derive(Clone, Debug)]
enum Outcome {
    Ok,
    Illegal {
        longest_prefix: Vec<usize>,
        failing_op: usize,
    },
    /// Out of steps or memory.
    Stopped(Limit),
}

const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
/// Iterations a partition runs before the next one gets a turn. Partitions are
/// interleaved (as Porcupine runs them all at once) so that a quick violation in one
/// is not hidden behind a long search in another.
const SLICE: u32 = 1 << 14;

/// When the searches give up: a budget of steps per partition and one of
/// memory for them all (the same on every machine), or a violation found in an
/// earlier turn.
struct Limits<'a> {
    max_steps: Option<u64>,
    /// Words of memory for all the partitions' searches, shared among them in
    /// proportion to their [`weight`]s (`weights` in all).
    max_words: usize,
    weights: u128,
    /// The earliest turn in which some partition was found violating
    /// (`u64::MAX`: none yet). No search goes on past it.
    violation_turn: &'a AtomicU64,
}

impl Limits<'_> {
    /// The share of [`Limits::max_words`] of a partition of `ops` operations.
    fn words_for(&self, ops: usize) -> usize {
        let share = self.max_words as u128 * weight(ops) / self.weights.max(1);
        share as usize
    }
}

/// About the words a search of `ops` operations holds if it never
/// backtracks: a configuration per operation (the state, the bitset) and its
/// slot, a state and its slot. Shares in proportion to it fit every
/// partition's search whenever the sum of these fits.
fn weight(ops: usize) -> u128 {
    let ops = ops as u128;
    ops * (ops.div_ceil(64) + 5)
}

/// Runs the searches of `share` (partition indices) in turns until each finishes,
/// or until the turn after the earliest turn in which one (on any thread) was found
/// violating. Returns the finished outcomes, each with the turn that ended it;
/// partitions missing from the result did not finish.
///
/// Turn `t` of a partition is its `t`-th slice of steps, whatever the threads, so
/// which partitions are found violating by the end of a turn does not depend on them.
fn round_robin<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    partitions: &[Vec<usize>],
    share: &[usize],
    limits: &Limits<'_>,
) -> Vec<(usize, u64, Outcome)> {
    let mut done = Vec::with_capacity(share.len());
    let mut turn: u64 = 0;
    let mut live: Vec<(usize, u64, Search<'_, M>)> = share
        .iter()
        .map(|&p| {
            let part = &partitions[p];
            (
                p,
                0,
                Search::new(model, history, part, limits.words_for(part.len())),
            )
        })
        .collect();
    while !live.is_empty() {
        if turn > limits.violation_turn.load(Ordering::Relaxed) {
            return done;
        }
        let mut k = 0;
        while k < live.len() {
            let (_, steps, search) = &mut live[k];
            // The last slice stops exactly at the budget, so a budget means
            // the same number of steps whatever the slice size.
            let left = limits.max_steps.map_or(u64::MAX, |max| max - *steps);
            let slice = u32::try_from(left).map_or(SLICE, |left| left.min(SLICE));
            let result = search.run(slice);
            *steps += u64::from(slice);
            let spent = limits.max_steps.is_some_and(|max| *steps >= max);
            match result {
                None if spent => {
                    let (p, _, _) = live.remove(k);
                    done.push((p, turn, Outcome::Stopped(Limit::Steps)));
                }
                None => k += 1,
                Some(outcome) => {
                    let (p, _, _) = live.remove(k);
                    if matches!(outcome, Outcome::Illegal { .. }) {
                        limits.violation_turn.fetch_min(turn, Ordering::Relaxed);
                    }
                    done.push((p, turn, outcome));
                }
            }
        }
        turn += 1;
    }
    done
}

/// The (resumable) search over one partition. Local operation ids are positions in
/// `part`; nodes of the entry list are 0 (the head) and 1..=2n.
struct Search<'a, M: Model> {
    model: &'a M,
    history: &'a [Operation<M::Input, M::Output>],
    part: &'a [usize],
    next: Vec<u32>,
    prev: Vec<u32>,
    /// Local op of each node, with the top bit set on call nodes.
    node: Vec<u32>,
    return_node: Vec<u32>,
    zobrist: Vec<u64>,
    linearized: Vec<u64>,
    lin_hash: u64,
    states: States<M::State>,
    visited: Visited,
    state: u32,
    /// (call node, state before it) for each linearized operation, in order.
    calls: Vec<(u32, u32)>,
    best: Option<(Vec<usize>, usize)>,
    entry: u32,
    /// The most [`search_words`] it may hold: its tables' first size, plus
    /// its share of [`CheckOptions::max_search_bytes`].
    max_words: usize,
}

const CALL: u32 = 1 << 31;

impl<'a, M: Model> Search<'a, M> {
    fn new(
        model: &'a M,
        history: &'a [Operation<M::Input, M::Output>],
        part: &'a [usize],
        share_words: usize,
    ) -> Self {
        let n = part.len();
        // Entries in time order; a call sorts before a return at the same instant
        // (they count as concurrent), ties otherwise by operation.
        let mut order: Vec<(u64, u8, u32)> = Vec::with_capacity(2 * n);
        for (local, &global) in part.iter().enumerate() {
            let op = &history[global];
            order.push((op.call_ns, 0, local as u32));
            order.push((op.return_ns.max(op.call_ns), 1, local as u32));
        }
        order.sort_unstable();
        let nodes = 2 * n + 1;
        let mut next = vec![NIL; nodes];
        let mut prev = vec![NIL; nodes];
        let mut node = vec![0u32; nodes];
        let mut return_node = vec![0u32; n];
        for (k, &(_, kind, local)) in order.iter().enumerate() {
            let at = k + 1;
            node[at] = if kind == 0 { local | CALL } else { local };
            if kind == 1 {
                return_node[local as usize] = at as u32;
            }
            prev[at] = at as u32 - 1;
            next[at - 1] = at as u32;
        }
        let words = n.div_ceil(64);
        let mut search = Search {
            model,
            history,
            part,
            entry: next[HEAD as usize],
            next,
            prev,
            node,
            return_node,
            zobrist: (0..n as u64).map(|i| splitmix64(i ^ 0x5eed)).collect(),
            linearized: vec![0u64; words],
            lin_hash: 0,
            states: States::new(model, n),
            visited: Visited::new(words, n),
            state: 0, // the interned initial state
            calls: Vec::with_capacity(n),
            best: None,
            max_words: 0,
        };
        search.max_words = search_words(&search.visited, &search.states) + share_words;
        search
    }

    /// Runs at most `budget` iterations; `None` if the search is not over yet.
    fn run(&mut self, budget: u32) -> Option<Outcome> {
        let (next, prev) = (&mut self.next, &mut self.prev);
        let mut entry = self.entry;
        for _ in 0..budget {
            if next[HEAD as usize] == NIL {
                return Some(Outcome::Ok);
            }
            let e = entry as usize;
            let tag = self.node[e];
            if tag & CALL != 0 {
                let local = tag & !CALL;
                let op = &self.history[self.part[local as usize]];
                if let Some(after) = self.states.step(self.model, self.state, op) {
                    let (w, bit) = (local as usize / 64, 1u64 << (local % 64));
                    self.linearized[w] |= bit;
                    let h = self.lin_hash ^ self.zobrist[local as usize];
                    if self
                        .visited
                        .insert(h ^ splitmix64(after as u64), after, &self.linearized)
                    {
                        if search_words(&self.visited, &self.states) >= self.max_words {
                            return Some(Outcome::Stopped(Limit::Memory));
                        }
                        self.calls.push((entry, self.state));
                        self.state = after;
                        self.lin_hash = h;
                        lift(next, prev, entry, self.return_node[local as usize]);
                        entry = next[HEAD as usize];
                    } else {
                        self.linearized[w] &= !bit;
                        entry = next[e];
                    }
                } else {
                    entry = next[e];
                }
            } else {
                // The return of an operation not yet linearized: it cannot be deferred.
                if self
                    .best
                    .as_ref()
                    .is_none_or(|(b, _)| self.calls.len() > b.len())
                {
                    let prefix = self
                        .calls
                        .iter()
                        .map(|&(c, _)| self.part[(self.node[c as usize] & !CALL) as usize])
                        .collect();
                    self.best = Some((prefix, self.part[tag as usize]));
                }
                let Some((call, before)) = self.calls.pop() else {
                    let (longest_prefix, failing_op) =
                        self.best.take().expect("recorded just above");
                    return Some(Outcome::Illegal {
                        longest_prefix,
                        failing_op,
                    });
                };
                let local = self.node[call as usize] & !CALL;
                self.linearized[local as usize / 64] &= !(1u64 << (local % 64));
                self.lin_hash ^= self.zobrist[local as usize];
                self.state = before;
                unlift(next, prev, call, self.return_node[local as usize]);
                entry = next[call as usize];
            }
        }
        self.entry = entry;
        None
    }
}

/// Words (8 bytes) a search holds in its visited configurations and its
/// states, counted from the tables' lengths, so the same on every machine.
fn search_words<S>(visited: &Visited, states: &States<S>) -> usize {
    let per_state = size_of::<S>().div_ceil(8) + 1; // and its `same_hash`
    (visited.arena.len() + visited.slots.len())
        + (states.all.len() * per_state + states.heap_bytes / 8)
        + states.by_hash.slots.len()
}

/// Unlinks a call entry and its return entry.
#[inline]
fn lift(next: &mut [u32], prev: &mut [u32], call: u32, ret: u32) {
    for node in [call, ret] {
        let (p, n) = (prev[node as usize], next[node as usize]);
        next[p as usize] = n;
        if n != NIL {
            prev[n as usize] = p;
        }
    }
}

/// Relinks what [`lift`] unlinked, in reverse order (the nodes kept their own links).
#[inline]
fn unlift(next: &mut [u32], prev: &mut [u32], call: u32, ret: u32) {
    for node in [ret, call] {
        let (p, n) = (prev[node as usize], next[node as usize]);
        next[p as usize] = node;
        if n != NIL {
            prev[n as usize] = node;
        }
    }
}

/// Interned model states: the search keeps `u32` ids, never states.
///
/// Transitions are not memoised: `step` is asked again whenever the search tries
/// an operation from a state. On Porcupine's histories most tries are new (each
/// linearized append makes a new KV value) or are rejected reads, which cost the
/// model a comparison; a memo table cost more in memory traffic than it saved, on
/// the KV and the register histories alike.
struct States<S> {
    /// Each distinct state once; its id is its position.
    all: Vec<S>,
    /// Hash of a state -> the latest id with that hash; older ones chain through
    /// `same_hash`. (Keeps one copy of each state, unlike a map keyed by state.)
    by_hash: IdTable,
    same_hash: Vec<u32>,
    /// The states' own heap, by [`Model::state_bytes`].
    heap_bytes: usize,
}

impl<S: Eq + std::hash::Hash> States<S> {
    fn new<M: Model<State = S>>(model: &M, ops: usize) -> Self {
        let mut states = States {
            all: Vec::new(),
            by_hash: IdTable::new(ops * 4),
            same_hash: Vec::new(),
            heap_bytes: 0,
        };
        states.intern(model, model.init());
        states
    }

    fn intern<M: Model<State = S>>(&mut self, model: &M, s: S) -> u32 {
        let h = FxBuild::default().hash_one(&s);
        let slot = self.by_hash.find(h);
        let first = self.by_hash.get(slot).unwrap_or(NIL);
        let mut id = first;
        while id != NIL {
            if self.all[id as usize] == s {
                return id;
            }
            id = self.same_hash[id as usize];
        }
        let id = self.all.len() as u32;
        self.heap_bytes += model.state_bytes(&s);
        self.all.push(s);
        self.same_hash.push(first);
        self.by_hash.set(slot, h, id);
        id
    }

    /// The id of the state after `op` from `state`; `None` if the model rejects it.
    #[inline]
    fn step<M: Model<State = S>>(
        &mut self,
        model: &M,
        state: u32,
        op: &Operation<M::Input, M::Output>,
    ) -> Option<u32> {
        let before = &self.all[state as usize];
        match model.step(before, &op.input, &op.output)? {
            // Reads leave the state as it was: one comparison (which fails fast on
            // a length change) saves hashing it.
            s if s == *before => Some(state),
            s => Some(self.intern(model, s)),
        }
    }
}

/// Both hash tables below keep 8-byte slots: a 32-bit tag (the high half of the
/// 64-bit hash) and a `u32`. Half the size of a slot with the whole hash, they
/// miss the cache less, and these two lookups are where the search waits on
/// memory. A slot's home is the top bits of its tag, so a table can double from
/// its tags alone.
#[inline]
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The home slot of `tag` in a table of `len` (a power of two, at most 2^32) slots.
#[inline]
fn home(tag: u32, len: usize) -> usize {
    ((tag as u64) << 32 >> (64 - len.trailing_zeros())) as usize
}

/// The free slot for `tag` in `slots`, whose free slots hold `free` as value.
fn vacancy(slots: &[(u32, u32)], tag: u32, free: u32) -> usize {
    let mask = slots.len() - 1;
    let mut i = home(tag, slots.len());
    while slots[i].1 != free {
        i = (i + 1) & mask;
    }
    i
}

/// `slots` moved into a table twice the size.
fn doubled(slots: &[(u32, u32)], free: u32) -> Vec<(u32, u32)> {
    assert!(slots.len() < 1 << 32, "hash table of 2^32 slots");
    let mut bigger = vec![(0, free); slots.len() * 2];
    for &(t, v) in slots.iter().filter(|s| s.1 != free) {
        let i = vacancy(&bigger, t, free);
        bigger[i] = (t, v);
    }
    bigger
}

/// Hash of a state -> the latest id with that hash's [`tag`] (open addressing,
/// linear probing); leaner than a general hash map on these keys. States whose
/// hashes share a tag share a chain, which [`States::intern`] walks comparing
/// states, so a tag collision costs a comparison, never a wrong id.
struct IdTable {
    slots: Vec<(u32, u32)>,
    len: usize,
}

/// Marks a free slot; ids (and NIL) never take this value.
const FREE: u32 = u32::MAX - 1;

impl IdTable {
    fn new(capacity: usize) -> Self {
        IdTable {
            slots: vec![(0, FREE); (capacity * 2).next_power_of_two().max(64)],
            len: 0,
        }
    }

    /// The slot that holds `hash`'s tag, or the free slot where it would go: a
    /// lookup and the insert that may follow it probe once.
    #[inline]
    fn find(&self, hash: u64) -> usize {
        let (t, mask) = (tag(hash), self.slots.len() - 1);
        let mut i = home(t, self.slots.len());
        while self.slots[i].1 != FREE && self.slots[i].0 != t {
            i = (i + 1) & mask;
        }
        i
    }

    /// The value in slot `i` (from [`IdTable::find`]), if any.
    #[inline]
    fn get(&self, i: usize) -> Option<u32> {
        let v = self.slots[i].1;
        (v != FREE).then_some(v)
    }

    /// Sets slot `i`, which [`IdTable::find`] gave for `hash`, to `value`.
    fn set(&mut self, i: usize, hash: u64, value: u32) {
        debug_assert!(value != FREE);
        if self.slots[i].1 == FREE {
            self.len += 1;
        }
        self.slots[i] = (tag(hash), value);
        if self.len * 2 > self.slots.len() {
            self.slots = doubled(&self.slots, FREE);
        }
    }
}

/// The set of visited (linearized set, state) configurations: open addressing with
/// linear probing over slots of (tag, entry); the entries sit in entry order in a
/// flat arena, a row apiece: the state, then the linearized set's words. (One row,
/// so that checking a tag match costs one cache miss.)
struct Visited {
    /// Words per row: one for the state, then the bitset.
    row: usize,
    slots: Vec<(u32, u32)>,
    len: usize,
    arena: Vec<u64>,
}

impl Visited {
    /// For `ops` operations, `words` words of bitset each.
    fn new(words: usize, ops: usize) -> Self {
        // Small to start, so that many small partitions searched at once
        // hold little before their shares count.
        let slots = (2 * ops).next_power_of_two().clamp(16, 1024);
        Visited {
            row: words + 1,
            slots: vec![(0, NIL); slots],
            len: 0,
            arena: Vec::new(),
        }
    }

    /// Adds the configuration; false if it was already there.
    #[inline]
    fn insert(&mut self, hash: u64, state: u32, bits: &[u64]) -> bool {
        let (t, mask) = (tag(hash), self.slots.len() - 1);
        let mut i = home(t, self.slots.len());
        loop {
            let (slot_tag, entry) = self.slots[i];
            if entry == NIL {
                break;
            }
            if slot_tag == t {
                let at = entry as usize * self.row;
                let stored = &self.arena[at..at + self.row];
                // A plain loop: slice equality would call memcmp, costly for a
                // few words.
                if stored[0] == state as u64 && stored[1..].iter().zip(bits).all(|(a, b)| a == b) {
                    return false;
                }
            }
            i = (i + 1) & mask;
        }
        self.slots[i] = (t, self.len as u32);
        self.len += 1;
        self.arena.push(state as u64);
        self.arena.extend_from_slice(bits);
        if self.len * 2 > self.slots.len() {
            self.slots = doubled(&self.slots, NIL);
        }
        true
    }
}
