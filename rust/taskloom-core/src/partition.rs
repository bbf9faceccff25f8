//! Cutting an ordered graph into coarse pieces, one cluster task each.
//!
//! A Dask cluster's scheduler spends about a millisecond on every task it
//! places, so a graph of small tasks goes to it as pieces: each piece runs its
//! tasks with taskloom's executor on a worker, takes the results it reads from
//! other pieces as arguments and returns the ones other pieces (or the caller)
//! read. The binding and `taskloom.distributed` turn pieces into Dask tasks;
//! this module only decides which task goes where.
//!
//! Policy, in two steps, O(V + E) and iterative:
//!
//! 1. **Units: pieces of in-trees.** A needed task with exactly one needed
//!    consumer that is not an output belongs with that consumer; every other
//!    task roots an in-tree (a reduction tree, a fan-in, a chain, a map's
//!    element). Walking the execution order, each task gathers the still
//!    unplaced parts of its children; when they reach `target` tasks they are
//!    cut off, a few sibling subtrees at a time, as one unit, and a root's
//!    remainder is a unit of its own. Independent subtrees thus land in
//!    different units (the graph's parallelism survives), a unit has at most
//!    about `2 * target` tasks, and only a unit's roots are read from outside
//!    it, so a unit returns few results.
//! 2. **Pieces: units packed in a topological order.** Units sorted by the
//!    position of their last task in the execution order form a topological
//!    order (a unit is read only through its roots, which come after all of
//!    its members and before any reader). Consecutive units are packed until a
//!    piece reaches `target` tasks. Small units (the tasks of a random DAG or
//!    the maps of a shuffle, which have many readers) are thereby grouped, in
//!    the order that finishes subtrees first; large ones are pieces of their
//!    own.
//!
//! Pieces are numbered in a topological order: a piece reads only from pieces
//! with smaller numbers, so the quotient graph has no cycle whatever the
//! graph's shape.

use crate::graph::{Graph, TaskId};
use crate::order::Order;

const NONE: u32 = u32::MAX;

/// The result of [`partition`]: each needed task's piece, and each piece's
/// tasks, inputs and exports as compressed rows.
#[derive(Debug, Clone, Default)]
pub struct Pieces {
    /// Per task: its piece, or `u32::MAX` for a task the outputs do not need.
    pub piece_of: Vec<u32>,
    /// Piece `p`'s tasks, in execution order, are
    /// `tasks[task_offsets[p]..task_offsets[p + 1]]`.
    pub task_offsets: Vec<u32>,
    pub tasks: Vec<TaskId>,
    /// Tasks of other pieces that piece `p` reads (each once), grouped by the
    /// piece that makes them, earliest first, and within a group in the order
    /// `p`'s tasks first read them: `inputs[input_offsets[p]..input_offsets[p + 1]]`.
    pub input_offsets: Vec<u32>,
    pub inputs: Vec<TaskId>,
    /// Tasks of piece `p` that another piece reads or that are outputs, in
    /// execution order: `exports[export_offsets[p]..export_offsets[p + 1]]`.
    pub export_offsets: Vec<u32>,
    pub exports: Vec<TaskId>,
}

impl Pieces {
    /// Number of pieces.
    pub fn len(&self) -> usize {
        self.task_offsets.len().saturating_sub(1)
    }

    /// True when there is no piece (nothing is needed).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn row<'a>(offsets: &[u32], items: &'a [TaskId], p: usize) -> &'a [TaskId] {
        &items[offsets[p] as usize..offsets[p + 1] as usize]
    }

    /// The tasks of piece `p`, in execution order.
    pub fn tasks(&self, p: usize) -> &[TaskId] {
        Self::row(&self.task_offsets, &self.tasks, p)
    }

    /// The tasks of earlier pieces that piece `p` reads.
    pub fn inputs(&self, p: usize) -> &[TaskId] {
        Self::row(&self.input_offsets, &self.inputs, p)
    }

    /// The tasks of piece `p` read by later pieces or requested as outputs.
    pub fn exports(&self, p: usize) -> &[TaskId] {
        Self::row(&self.export_offsets, &self.exports, p)
    }
}

/// Cut the needed tasks of `graph` (as `order` ordered them for `outputs`)
/// into pieces of about `target` tasks; see the module's policy. `target` 0
/// is taken as 1 (every in-tree cut to single tasks, then packed one by one).
pub fn partition(graph: &Graph, order: &Order, outputs: &[TaskId], target: u32) -> Pieces {
    let target = target.max(1);
    let n = graph.len();
    let seq = &order.sequence;
    let mut is_output = vec![false; n];
    for &o in outputs {
        is_output[o as usize] = true;
    }

    // In-tree parent: the one needed consumer of a non-output task.
    let mut parent = vec![NONE; n];
    for &t in seq {
        if is_output[t as usize] {
            continue;
        }
        let mut only = NONE;
        let mut count = 0;
        for &c in graph.consumers(t) {
            if order.is_needed(c) {
                count += 1;
                only = c;
                if count > 1 {
                    break;
                }
            }
        }
        if count == 1 {
            parent[t as usize] = only;
        }
    }

    // Step 1: units. Each task's unplaced subtree part is a linked list
    // (head, tail, next) of `size` tasks; cutting a group walks it once to
    // label its tasks, so every task is labelled exactly once.
    let mut unit_of = vec![NONE; n];
    let mut next = vec![NONE; n];
    let mut head = vec![NONE; n];
    let mut tail = vec![NONE; n];
    let mut size = vec![0u32; n];
    // Per unit: its last task's position in `seq`, and its number of tasks.
    let mut unit_last: Vec<u32> = Vec::new();
    let mut unit_size: Vec<u32> = Vec::new();

    let mut close = |first: u32, count: u32, unit_of: &mut Vec<u32>, next: &[u32]| {
        let u = unit_last.len() as u32;
        let mut last = 0u32;
        let mut x = first;
        while x != NONE {
            unit_of[x as usize] = u;
            last = last.max(order.priority[x as usize]);
            x = next[x as usize];
        }
        unit_last.push(last);
        unit_size.push(count);
    };

    for &t in seq {
        let ti = t as usize;
        let children = || {
            graph
                .deps(t)
                .iter()
                .copied()
                .filter(|&d| parent[d as usize] == t)
        };
        let total: u64 = children().map(|d| size[d as usize] as u64).sum();
        // The group of children still to be joined to t (a list and its size).
        let (mut gh, mut gt, mut gs) = (NONE, NONE, 0u32);
        let fits = total < target as u64;
        for d in children() {
            let di = d as usize;
            if gh == NONE {
                gh = head[di];
            } else {
                next[gt as usize] = head[di];
            }
            gt = tail[di];
            gs += size[di];
            if !fits && gs >= target {
                close(gh, gs, &mut unit_of, &next);
                (gh, gt, gs) = (NONE, NONE, 0);
            }
        }
        // t itself, then the leftover group.
        head[ti] = t;
        next[ti] = gh;
        tail[ti] = if gh == NONE { t } else { gt };
        size[ti] = 1 + gs;
        if parent[ti] == NONE {
            close(head[ti], size[ti], &mut unit_of, &next);
        }
    }
    drop(head);
    drop(tail);
    drop(size);

    // Step 2: pack units, in order of their last position, into pieces.
    let units = unit_last.len();
    let mut unit_at = vec![NONE; seq.len()];
    for (u, &last) in unit_last.iter().enumerate() {
        unit_at[last as usize] = u as u32;
    }
    let mut piece_of_unit = vec![NONE; units];
    let mut pieces = 0u32;
    let mut filled = 0u32;
    for &u in unit_at.iter().filter(|&&u| u != NONE) {
        if filled >= target {
            pieces += 1;
            filled = 0;
        }
        piece_of_unit[u as usize] = pieces;
        filled += unit_size[u as usize];
    }
    let count = if units == 0 { 0 } else { pieces as usize + 1 };

    let mut piece_of = vec![NONE; n];
    for &t in seq {
        piece_of[t as usize] = piece_of_unit[unit_of[t as usize] as usize];
    }
    drop(unit_of);

    // Rows: tasks by piece (a counting sort keeps execution order), then each
    // piece's inputs and exports.
    let mut task_offsets = vec![0u32; count + 1];
    for &t in seq {
        task_offsets[piece_of[t as usize] as usize + 1] += 1;
    }
    for p in 0..count {
        task_offsets[p + 1] += task_offsets[p];
    }
    let mut fill = task_offsets.clone();
    let mut tasks = vec![0 as TaskId; seq.len()];
    for &t in seq {
        let p = piece_of[t as usize] as usize;
        tasks[fill[p] as usize] = t;
        fill[p] += 1;
    }

    let mut exported = is_output;
    let mut input_offsets = Vec::with_capacity(count + 1);
    let mut inputs = Vec::new();
    input_offsets.push(0);
    // `seen[d] == p + 1`: piece p already lists d as an input.
    let mut seen = vec![0u32; n];
    for p in 0..count {
        for &t in &tasks[task_offsets[p] as usize..task_offsets[p + 1] as usize] {
            for &d in graph.deps(t) {
                let di = d as usize;
                if piece_of[di] as usize != p && seen[di] != p as u32 + 1 {
                    seen[di] = p as u32 + 1;
                    exported[di] = true;
                    inputs.push(d);
                }
            }
        }
        let start = *input_offsets.last().unwrap() as usize;
        inputs[start..].sort_by_key(|&d| piece_of[d as usize]); // stable
        input_offsets.push(inputs.len() as u32);
    }
    let mut export_offsets = Vec::with_capacity(count + 1);
    let mut exports = Vec::new();
    export_offsets.push(0);
    for p in 0..count {
        let row = &tasks[task_offsets[p] as usize..task_offsets[p + 1] as usize];
        exports.extend(row.iter().copied().filter(|&t| exported[t as usize]));
        export_offsets.push(exports.len() as u32);
    }

    Pieces {
        piece_of,
        task_offsets,
        tasks,
        input_offsets,
        inputs,
        export_offsets,
        exports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::order;

    fn cut(deps: Vec<Vec<TaskId>>, outputs: &[TaskId], target: u32) -> (Graph, Pieces) {
        let g = Graph::from_deps(deps).unwrap();
        let o = order(&g, outputs).unwrap();
        let p = partition(&g, &o, outputs, target);
        (g, p)
    }

    /// Every needed task in exactly one piece; pieces read only earlier ones;
    /// inputs and exports are exactly the cross-piece edges (plus outputs).
    fn check(g: &Graph, p: &Pieces, outputs: &[TaskId]) {
        let o = order(g, outputs).unwrap();
        let mut count = 0;
        for q in 0..p.len() {
            for &t in p.tasks(q) {
                assert_eq!(p.piece_of[t as usize] as usize, q);
                count += 1;
                for &d in g.deps(t) {
                    let pd = p.piece_of[d as usize] as usize;
                    assert!(pd <= q, "piece {q} reads later piece {pd}");
                    if pd != q {
                        assert!(p.inputs(q).contains(&d));
                        let producers: Vec<u32> = p
                            .inputs(q)
                            .iter()
                            .map(|&i| p.piece_of[i as usize])
                            .collect();
                        assert!(producers.windows(2).all(|w| w[0] <= w[1]));
                        assert!(p.exports(pd).contains(&d));
                    }
                }
            }
            for &e in p.exports(q) {
                let read_outside = g
                    .consumers(e)
                    .iter()
                    .any(|&c| o.is_needed(c) && p.piece_of[c as usize] as usize != q);
                assert!(read_outside || outputs.contains(&e));
            }
        }
        assert_eq!(count, o.sequence.len());
    }

    fn binary_tree(leaves: u32) -> (Vec<Vec<TaskId>>, TaskId) {
        let mut deps: Vec<Vec<TaskId>> = (0..leaves).map(|_| vec![]).collect();
        let mut level: Vec<TaskId> = (0..leaves).collect();
        while level.len() > 1 {
            let mut up = Vec::new();
            for pair in level.chunks(2) {
                if pair.len() == 2 {
                    deps.push(pair.to_vec());
                    up.push(deps.len() as TaskId - 1);
                } else {
                    up.push(pair[0]);
                }
            }
            level = up;
        }
        (deps, level[0])
    }

    #[test]
    fn tree_splits_into_parallel_subtrees() {
        let (deps, root) = binary_tree(1 << 12);
        let (g, p) = cut(deps, &[root], 500);
        check(&g, &p, &[root]);
        // Subtrees of 511 tasks (or pairs of 255) cut below: about 8192 / 512
        // pieces, all but the top one independent of each other.
        assert!(p.len() >= 8 && p.len() <= 24, "{} pieces", p.len());
        let independent = (0..p.len()).filter(|&q| p.inputs(q).is_empty()).count();
        assert!(independent >= p.len() - 2, "{independent} of {}", p.len());
        // Each bottom piece exports only its subtree roots.
        assert!((0..p.len() - 1).all(|q| p.exports(q).len() <= 2));
    }

    #[test]
    fn fan_in_groups_leaves() {
        let leaves = 10_000u32;
        let mut deps: Vec<Vec<TaskId>> = (0..leaves).map(|_| vec![]).collect();
        deps.push((0..leaves).collect());
        let (g, p) = cut(deps, &[leaves], 1000);
        check(&g, &p, &[leaves]);
        assert!(p.len() >= 10 && p.len() <= 12, "{} pieces", p.len());
        let last = p.len() - 1;
        assert!((0..last).all(|q| p.inputs(q).is_empty()));
    }

    #[test]
    fn chain_cut_into_segments() {
        let n = 10_000u32;
        let deps: Vec<Vec<TaskId>> = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let (g, p) = cut(deps, &[n - 1], 1000);
        check(&g, &p, &[n - 1]);
        assert!(p.len() >= 5 && p.len() <= 11, "{} pieces", p.len());
        // A segment exports one value, its last task.
        assert!((0..p.len()).all(|q| p.exports(q).len() == 1));
    }

    #[test]
    fn outputs_are_exported_and_culled_tasks_left_out() {
        // 0 -> 1 -> 2 (output), 3 unneeded, 1 also an output.
        let (g, p) = cut(vec![vec![], vec![0], vec![1], vec![2]], &[2, 1], 10);
        check(&g, &p, &[2, 1]);
        assert_eq!(p.piece_of[3], NONE);
        let exports: Vec<TaskId> = (0..p.len()).flat_map(|q| p.exports(q).to_vec()).collect();
        assert!(exports.contains(&1) && exports.contains(&2));
    }

    #[test]
    fn target_one_and_empty() {
        let (deps, root) = binary_tree(64);
        let (g, p) = cut(deps, &[root], 0);
        check(&g, &p, &[root]);
        assert_eq!(p.len(), g.len());
        let (g, p) = cut(vec![], &[], 10);
        check(&g, &p, &[]);
        assert!(p.is_empty());
    }

    #[test]
    fn random_dags_are_cut_consistently() {
        // A small deterministic LCG, so the test needs no crate.
        let mut s: u64 = 42;
        let mut rnd = |m: u64| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 33) % m
        };
        for trial in 0..50 {
            let n = 1 + rnd(400) as u32;
            let deps: Vec<Vec<TaskId>> = (0..n)
                .map(|i| {
                    let k = if i == 0 { 0 } else { rnd(4) };
                    (0..k).map(|_| rnd(i as u64) as TaskId).collect()
                })
                .collect();
            let outputs: Vec<TaskId> = (0..1 + rnd(5)).map(|_| rnd(n as u64) as TaskId).collect();
            let target = 1 + (trial % 7) * 10;
            let (g, p) = cut(deps, &outputs, target);
            check(&g, &p, &outputs);
        }
    }
}
