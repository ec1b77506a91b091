//! The grouping's promises: sizes within bounds, the fewest leftovers, determinism, quality
//! well above random, blocks that stream, and neighbouring ids that are similar groups.

use proptest::prelude::*;
use xinyong_grouping::{
    BlockStream, Bounds, Grouping, NO_GROUP, Options, Profiles, coarse_key, group, group_block, kmeans, quality,
    random_balanced, synthetic,
};
use xinyong_random::{Key, Stream};

/// Unclustered random profiles (uniform in [0,1)^dims), a few of them zero.
fn random_profiles(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut values = Vec::with_capacity(n * dims);
    for i in 0..n {
        let mut draws = Key::new(seed, Stream::Test, 0, i as u64).draws();
        let zero = draws.below(50) == 0;
        for _ in 0..dims {
            values.push(if zero { 0.0 } else { draws.uniform() as f32 });
        }
    }
    values
}

fn assert_sizes_within(grouping: &Grouping, bounds: Bounds) {
    grouping.check_bounds(bounds).unwrap();
    let counted: usize = grouping.sizes().iter().map(|&s| s as usize).sum();
    assert_eq!(counted + grouping.leftovers().len(), grouping.citizens());
    for (citizen, &g) in grouping.group_of.iter().enumerate() {
        if g == NO_GROUP {
            assert!(grouping.leftovers().binary_search(&(citizen as u32)).is_ok());
        } else {
            assert!(grouping.members(g).binary_search(&(citizen as u32)).is_ok());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the population and the bounds, every group is within the bounds and only the
    /// citizens no grouping could hold are left out.
    #[test]
    fn sizes_always_within_bounds_and_leftovers_minimal(
        n in 0usize..2_500,
        dims in 1usize..6,
        min_size in 1u32..120,
        extra in 0u32..150,
        block_target in 1u32..1_500,
        refine_passes in 0u32..3,
        seed in any::<u64>(),
    ) {
        let bounds = Bounds::new(min_size, min_size + extra).unwrap();
        let values = random_profiles(n, dims, seed);
        let profiles = Profiles::new(dims, &values).unwrap();
        let options = Options { seed, block_target, block_max: block_target * 2, refine_passes, ..Options::default() };
        let grouping = group(profiles, bounds, &options);
        assert_sizes_within(&grouping, bounds);
        let unavoidable = n as u64 - bounds.most_groupable(n as u64);
        prop_assert_eq!(grouping.leftovers().len() as u64, unavoidable);
        prop_assert_eq!(bounds.is_exact(n as u64), grouping.leftovers().is_empty());
    }

    /// Streaming blocks in key order gives exactly what `group` gives.
    #[test]
    fn streaming_in_key_order_equals_group(
        n in 0usize..2_000,
        min_size in 5u32..60,
        extra in 0u32..40,
        block_target in 1u32..600,
        seed in any::<u64>(),
    ) {
        let dims = 4;
        let bounds = Bounds::new(min_size, min_size + extra).unwrap();
        let raw = random_profiles(n, dims, seed);
        let mut rows: Vec<&[f32]> = raw.chunks_exact(dims).collect();
        rows.sort_by_key(|row| coarse_key(row));
        let values: Vec<f32> = rows.concat();
        let profiles = Profiles::new(dims, &values).unwrap();
        let options = Options { seed, block_target, block_max: block_target * 3, refine_passes: 2, ..Options::default() };
        let whole = group(profiles, bounds, &options);

        let mut stream = BlockStream::new(dims, bounds, options).unwrap();
        let mut streamed = vec![u32::MAX - 1; n];
        let mut blocks = Vec::new();
        for row in values.chunks_exact(dims) {
            blocks.extend(stream.push(row).unwrap());
        }
        blocks.extend(stream.finish());
        let mut next_citizen = 0;
        for block in blocks {
            prop_assert_eq!(block.first_citizen, next_citizen);
            let first = block.first_citizen as usize;
            streamed[first..first + block.grouping.group_of.len()].copy_from_slice(&block.grouping.group_of);
            next_citizen += block.grouping.group_of.len() as u64;
        }
        prop_assert_eq!(next_citizen as usize, n);
        prop_assert_eq!(streamed, whole.group_of);
    }
}

#[test]
fn three_hundred_and_fifty_make_one_group_and_fifty_leftovers_least_alike() {
    // 300 citizens interested in topic 0 (with a little 1 or 2) and 50 in topic 3.
    let dims = 4;
    let mut values = Vec::new();
    for i in 0..350 {
        let row = if i % 7 == 3 { [0.05, 0.0, 0.1, 1.0] } else { [1.0, 0.1 * (i % 3) as f32, 0.05, 0.0] };
        values.extend_from_slice(&row);
    }
    let profiles = Profiles::new(dims, &values).unwrap();
    let topic_three: Vec<u32> = (0..350u32).filter(|&i| values[i as usize * dims + 3] == 1.0).collect();
    assert_eq!(topic_three.len(), 50);
    let grouping = group(profiles, Bounds::default(), &Options::default());
    assert_eq!(grouping.groups(), 1);
    assert_eq!(grouping.size(0), 300);
    assert_eq!(grouping.leftovers(), &topic_three[..], "the odd ones out are left over");
}

#[test]
fn fewer_than_min_size_make_no_group() {
    let values = random_profiles(150, 3, 1);
    let profiles = Profiles::new(3, &values).unwrap();
    let grouping = group(profiles, Bounds::default(), &Options::default());
    assert_eq!(grouping.groups(), 0);
    assert_eq!(grouping.leftovers().len(), 150);
    assert!(grouping.size_summary().is_none());
    assert_eq!(quality(profiles, &grouping), 0.0);

    let empty = group(Profiles::new(3, &[]).unwrap(), Bounds::default(), &Options::default());
    assert_eq!((empty.groups(), empty.citizens()), (0, 0));
}

#[test]
fn exact_populations_aim_at_the_middle_of_the_bounds() {
    let values = synthetic::profiles(10_000, 8, 2);
    let profiles = Profiles::new(8, &values).unwrap();
    let grouping = group(profiles, Bounds::default(), &Options::default());
    assert_eq!(grouping.groups(), 40, "10 000 / 250");
    assert!(grouping.leftovers().is_empty());
    assert_sizes_within(&grouping, Bounds::default());
}

#[test]
fn same_input_and_seed_same_grouping_whatever_the_thread_count() {
    // Large enough for the parallel paths: a block above 32 768 rows and several blocks.
    let dims = 16;
    let values = synthetic::profiles(70_000, dims, 11);
    let profiles = Profiles::new(dims, &values).unwrap();
    let options = Options { seed: 5, block_target: 40_000, ..Options::default() };
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| group(profiles, Bounds::default(), &options))
    };
    let one = run(1);
    let two = run(2);
    assert!(one.stats.blocks >= 2, "{:?}", one.stats);
    assert!(one.stats.largest_block >= 32_768, "{:?}", one.stats);
    assert_eq!(one.group_of, two.group_of);
    assert_eq!(one.stats, two.stats);
    let again = run(2);
    assert_eq!(again.group_of, one.group_of);
}

#[test]
fn baselines_are_deterministic_too() {
    let dims = 8;
    let values = synthetic::profiles(5_000, dims, 3);
    let profiles = Profiles::new(dims, &values).unwrap();
    let pool = |threads: usize| rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let k1 = pool(1).install(|| kmeans(profiles, 20, 9, 10));
    let k2 = pool(2).install(|| kmeans(profiles, 20, 9, 10));
    assert_eq!(k1.group_of, k2.group_of);
    let r1 = random_balanced(profiles, Bounds::default(), 9);
    assert_eq!(r1.group_of, random_balanced(profiles, Bounds::default(), 9).group_of);
    assert_ne!(r1.group_of, random_balanced(profiles, Bounds::default(), 10).group_of);
    assert_sizes_within(&r1, Bounds::default());
}

#[test]
fn quality_is_well_above_random_on_clustered_data_and_below_kmeans() {
    let dims = 16;
    let values = synthetic::profiles(20_000, dims, 4);
    let profiles = Profiles::new(dims, &values).unwrap();
    let bounds = Bounds::default();
    let ours = group(profiles, bounds, &Options::default());
    let q = quality(profiles, &ours);
    let floor = quality(profiles, &random_balanced(profiles, bounds, 4));
    let ceiling = quality(profiles, &kmeans(profiles, ours.groups(), 4, 15));
    assert!(q > floor + 0.25, "ours {q} vs random {floor}");
    assert!(q > floor + 0.6 * (ceiling - floor), "ours {q}, floor {floor}, ceiling {ceiling}");
    // Refinement only ever helps.
    assert!(q >= ours.stats.seed_quality());
    assert!((ours.stats.objective / ours.stats.grouped as f64 - q).abs() < 1e-4);
}

#[test]
fn neighbouring_group_ids_are_similar_groups() {
    let dims = 16;
    let values = synthetic::profiles(50_000, dims, 6);
    let profiles = Profiles::new(dims, &values).unwrap();
    let grouping = group(profiles, Bounds::default(), &Options { block_target: 20_000, ..Options::default() });
    let centroid = |g: u32| {
        let mut sum = vec![0f64; dims];
        for &c in grouping.members(g) {
            let row = profiles.row(c as usize);
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            for (s, x) in sum.iter_mut().zip(row) {
                *s += f64::from(x / norm);
            }
        }
        let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
        sum.iter().map(|x| x / norm).collect::<Vec<f64>>()
    };
    let centroids: Vec<Vec<f64>> = (0..grouping.groups()).map(centroid).collect();
    let cosine = |a: usize, b: usize| centroids[a].iter().zip(&centroids[b]).map(|(x, y)| x * y).sum::<f64>();
    let k = centroids.len();
    let adjacent = (0..k - 1).map(|g| cosine(g, g + 1)).sum::<f64>() / (k - 1) as f64;
    let far = (0..k).map(|g| cosine(g, (g + k / 2) % k)).sum::<f64>() / k as f64;
    assert!(adjacent > far + 0.3, "adjacent {adjacent}, half-way round {far}");
}

#[test]
fn a_block_grouped_alone_numbers_its_groups_from_first_group() {
    let dims = 6;
    let values = synthetic::profiles(1_000, dims, 8);
    let profiles = Profiles::new(dims, &values).unwrap();
    let block = group_block(profiles, Bounds::default(), &Options::default(), 500);
    assert_eq!(block.groups, 4);
    let mut ids: Vec<u32> = block.group_of.clone();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, vec![500, 501, 502, 503]);
}

#[test]
fn purchase_features_change_who_is_grouped_with_whom() {
    // Interests identical for everyone; purchases split the population in two halves.
    let n = 800;
    let interests: Vec<f32> = (0..n).flat_map(|_| [1.0f32, 0.5, 0.2]).collect();
    let purchases: Vec<f32> = (0..n).flat_map(|i| if i % 2 == 0 { [1.0f32, 0.0] } else { [0.0, 1.0] }).collect();
    let combined = xinyong_grouping::combine_features(
        Profiles::new(3, &interests).unwrap(),
        Profiles::new(2, &purchases).unwrap(),
        1.0,
    )
    .unwrap();
    let profiles = Profiles::new(5, &combined).unwrap();
    let grouping = group(profiles, Bounds::default(), &Options { key_dims: 3, ..Options::default() });
    assert_eq!(grouping.groups(), 3);
    // Each group buys one way only but for the one group that must straddle (800 = 2·400,
    // groups of 266/267 cannot align with halves of 400).
    let mixed = (0..grouping.groups())
        .filter(|&g| {
            let parity: Vec<u32> = grouping.members(g).iter().map(|c| c % 2).collect();
            parity.contains(&0) && parity.contains(&1)
        })
        .count();
    assert!(mixed <= 1, "{mixed} mixed groups");
}

#[test]
fn invalid_inputs_are_refused_with_a_reason() {
    assert!(Bounds::new(0, 10).is_err());
    assert!(Bounds::new(11, 10).is_err());
    assert!(Profiles::new(3, &[1.0, 2.0]).is_err());
    assert!(Profiles::new(0, &[]).is_err());
    let error = Profiles::new(2, &[1.0, 0.0, f32::NAN, 1.0]).unwrap_err();
    assert!(error.to_string().contains("citizen 1"), "{error}");
}

#[test]
fn exactness_arithmetic() {
    let bounds = Bounds::default();
    assert!(bounds.is_exact(0));
    assert!(!bounds.is_exact(150));
    assert!(bounds.is_exact(200) && bounds.is_exact(300));
    assert!(!bounds.is_exact(301) && !bounds.is_exact(399));
    assert!((400..5_000).all(|n| bounds.is_exact(n)));
    assert_eq!(bounds.always_exact_from(), Some(400));
    assert_eq!(bounds.most_groupable(350), 300);
    assert_eq!(Bounds::new(250, 250).unwrap().always_exact_from(), None);
    assert_eq!(Bounds::new(250, 250).unwrap().most_groupable(1_010), 1_000);
    assert_eq!(Bounds::new(1, 1).unwrap().always_exact_from(), Some(0));
}
