//! Criterion benchmark of the placement shortlist (issue 6): the 16 groups most similar to
//! a regrouped citizen among the groups of their interest key, found through the cone tree
//! (`xinyong_sim::shortlist::TopicTree`) and by scoring every group.
//!
//!     cargo bench -p xinyong-sim --bench shortlist
//!
//! Sizes: 8 k groups (a popular key at 100 M citizens) and 100 k (at 1.4 billion). The
//! centroids are like a key's real ones: most of their weight on the key's three topics, in
//! varying shares, a little on the other 13.
//!
//! Then the later attempt's search, late in a year: the best group with room among a main
//! topic's groups (many keys: the other two topics vary), when the groups most like the
//! citizens are full. 22 k groups (a main topic at 100 M citizens) and 350 k (at 1.4
//! billion); every group whose second topic is one of the citizens' is full. Searched
//! through every node, and within the nodes holding a group with room (`TopicTree::holding`,
//! made once a regrouping; its making is measured too).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use xinyong_engine::ids::GroupId;
use xinyong_random::{Key, Stream};
use xinyong_sim::shortlist::TopicTree;

const TOPICS: usize = 16;
const KEEP: usize = 16;

/// The tree of `rows` (centroids, one per group, numbered by row).
fn build(rows: &[[f32; TOPICS]]) -> TopicTree {
    TopicTree::build((0..rows.len() as u32).map(GroupId).collect(), TOPICS, |g, out| {
        let c = &rows[g.index()];
        let norm = c.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        for (o, &x) in out.iter_mut().zip(c) {
            *o = x as f64 / norm;
        }
    })
}

fn centroids(groups: usize) -> Vec<[f32; TOPICS]> {
    (0..groups)
        .map(|g| {
            let mut d = Key::new(1, Stream::Tables, 2, g as u64).draws();
            let main = [0.4 + 0.5 * d.uniform(), 0.3 * d.uniform(), 0.1 * d.uniform()];
            std::array::from_fn(|t| if t < 3 { main[t] as f32 } else { (0.01 * d.uniform()) as f32 })
        })
        .collect()
}

fn cosine(c: &[f32; TOPICS], query: &[(usize, f64)]) -> f64 {
    let own = query.iter().map(|&(_, w)| w * w).sum::<f64>();
    let theirs = c.iter().map(|&x| x as f64 * x as f64).sum::<f64>();
    query.iter().map(|&(t, w)| w * c[t] as f64).sum::<f64>() / (own.sqrt() * theirs.sqrt())
}

fn queries() -> Vec<[(usize, f64); 3]> {
    (0..64u64)
        .map(|q| {
            let d = Key::new(1, Stream::Tables, 3, q).draws();
            let mut d = d;
            let main = 0.34 + 0.6 * d.uniform();
            let b = d.uniform();
            [(0, main), (1, (1.0 - main) * (0.5 + 0.5 * b)), (2, (1.0 - main) * 0.5 * (1.0 - b))]
        })
        .collect()
}

fn shortlist(c: &mut Criterion) {
    let mut group = c.benchmark_group("shortlist of 16");
    group.sample_size(10);
    for groups in [8_000, 100_000] {
        let rows = centroids(groups);
        let tree = build(&rows);
        let qs = queries();
        let mut out = Vec::with_capacity(KEEP);
        group.bench_function(format!("{groups} groups, cone tree (64 citizens)"), |b| {
            b.iter(|| {
                for q in &qs {
                    out.clear();
                    tree.top(q, KEEP, |g| cosine(&rows[g.index()], q), &mut out);
                    black_box(&out);
                }
            })
        });
        group.bench_function(format!("{groups} groups, every group scored (64 citizens)"), |b| {
            b.iter(|| {
                for q in &qs {
                    let mut scored: Vec<(f64, GroupId)> =
                        rows.iter().enumerate().map(|(g, c)| (cosine(c, q), GroupId(g as u32))).collect();
                    let order = |a: &(f64, GroupId), b: &(f64, GroupId)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
                    scored.select_nth_unstable_by(KEEP, order);
                    scored.truncate(KEEP);
                    scored.sort_by(order);
                    black_box(&scored);
                }
            })
        });
    }
    group.finish();
}

/// A main topic's groups: topic 0 first, then a second and a third among the other 15,
/// weights like a centroid of citizens with that key; numbered by key. Returns each group's
/// second topic too.
fn main_topic_centroids(groups: usize) -> (Vec<[f32; TOPICS]>, Vec<usize>) {
    let mut rows: Vec<([f32; TOPICS], usize)> = (0..groups)
        .map(|g| {
            let mut d = Key::new(1, Stream::Tables, 4, g as u64).draws();
            let second = 1 + (d.uniform() * 15.0) as usize % 15;
            let third = 1 + (second + (d.uniform() * 14.0) as usize % 14) % 15;
            let main = 0.4 + 0.2 * d.uniform();
            let share = 0.55 + 0.3 * d.uniform();
            let mut row = [0f32; TOPICS];
            row[0] = main as f32;
            row[second] = ((1.0 - main) * share) as f32;
            row[third] = ((1.0 - main) * (1.0 - share)) as f32;
            (row, second)
        })
        .collect();
    rows.sort_by_key(|&(row, second)| (second, (1..TOPICS).find(|&t| t != second && row[t] > 0.0)));
    rows.into_iter().unzip()
}

/// The best group with room, for 64 citizens of main topic 0 with second topics 1 to 8,
/// when every group whose second topic is 1 to 8 is full.
fn room(c: &mut Criterion) {
    let mut group = c.benchmark_group("best group with room");
    group.sample_size(10);
    for groups in [22_000, 350_000] {
        let (rows, seconds) = main_topic_centroids(groups);
        let tree = build(&rows);
        let has_room = |g: GroupId| seconds[g.index()] > 8;
        let qs: Vec<[(usize, f64); 3]> = (0..64u64)
            .map(|q| {
                let mut d = Key::new(1, Stream::Tables, 5, q).draws();
                let second = 1 + (d.uniform() * 8.0) as usize % 8;
                let third = 1 + (second + (d.uniform() * 14.0) as usize % 14) % 15;
                let main = 0.34 + 0.6 * d.uniform();
                [(0, main), (second, (1.0 - main) * 0.7), (third, (1.0 - main) * 0.3)]
            })
            .collect();
        let with_room = tree.holding(has_room);
        let mut out = Vec::with_capacity(1);
        for (label, within) in [("every node", None), ("within the nodes with room", Some(&with_room))] {
            group.bench_function(format!("{groups} groups, {label} (64 citizens)"), |b| {
                b.iter(|| {
                    for q in &qs {
                        out.clear();
                        tree.top_where(q, 1, within, has_room, |g| cosine(&rows[g.index()], q), &mut out);
                        black_box(&out);
                    }
                })
            });
        }
        group.bench_function(format!("{groups} groups, the nodes with room made"), |b| {
            b.iter(|| black_box(tree.holding(has_room)))
        });
    }
    group.finish();
}

criterion_group!(benches, shortlist, room);
criterion_main!(benches);
