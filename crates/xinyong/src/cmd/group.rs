//! `xinyong group`: group a synthetic population into interest groups and say how good the
//! groups are, against a random floor and a k-means ceiling.
//!
//! Thin glue over `xinyong-grouping`: the population, the grouping, the baselines and the
//! placement index all come from that crate; this file only times, prints and reads or
//! writes `.npy` files.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use xinyong_grouping::{self as grouping, Bounds, Grouping, Options, Profiles};

const ABOUT: &str = "\
The article: Tencent cross-references its data so that people are grouped by interest into
groups of 200 or 300. This command draws a clustered synthetic population (interest
archetypes of Zipf-distributed popularity, personal variation around them), groups it with the
same code the simulator and the service use (crate xinyong-grouping), and prints the time of
each phase, the group sizes, the citizens left without a group, and the quality: the mean
cosine similarity of members to their group's centroid, beside two references computed on the
same profiles:

  floor    random groups of the same sizes (any grouping must beat it);
  ceiling  spherical k-means with as many clusters and unbounded sizes (a size-bounded
           grouping is not expected to reach it). Above --ceiling-sample citizens it runs on
           an evenly spaced sample with the same mean cluster size, and says so.

How it groups: citizens are sorted by their two dominant interests and cut into blocks; each
block is split recursively along its principal direction at the cut that best separates it
while both sides can still form groups within the bounds; then citizens are swapped and moved
between neighbouring groups while that makes groups more alike. Same seed, same groups,
whatever --threads.

A population that cannot be split exactly (350 with 200..=300, or fewer than 200) leaves the
fewest possible citizens groupless; they are reported as leftovers.

Examples:
  xinyong group --citizens 100000
  xinyong group --citizens 10000000 --no-baselines --placement-check 1000
  xinyong group --citizens 100000 --export-profiles p.npy      (for bench/grouping)
  xinyong group --citizens 100000 --score-assignment other.npy (another tool's groups)";

/// Options of `xinyong group` (the long explanation is `ABOUT`, shown after the options:
/// the subcommand's one-line summary lives in main.rs).
#[derive(clap::Args, Debug)]
#[command(after_help = ABOUT)]
pub struct Args {
    /// Number of synthetic citizens.
    #[arg(long, default_value_t = 100_000)]
    pub citizens: u64,

    /// Interest dimensions (topics) of each profile.
    #[arg(long, default_value_t = 16)]
    pub dims: usize,

    /// Seed of the synthetic population and of the grouping (same seed, same groups).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Smallest group allowed.
    #[arg(long, default_value_t = 200)]
    pub min_size: u32,

    /// Largest group allowed.
    #[arg(long, default_value_t = 300)]
    pub max_size: u32,

    /// Group size the partition aims at [default: the middle of the bounds, which leaves
    /// room both to place newcomers and to lose members before a refill].
    #[arg(long)]
    pub target_size: Option<u32>,

    /// Local-improvement passes (moves and swaps between neighbouring groups); 0 keeps the
    /// space-partitioning seed alone.
    #[arg(long, default_value_t = Options::default().refine_passes)]
    pub refine_passes: u32,

    /// Candidate groups per group in refinement: a citizen may move to the most similar of
    /// its group's this-many most similar neighbours (among ids within 256).
    #[arg(long, default_value_t = Options::default().neighbours)]
    pub neighbours: u32,

    /// Refinement stops after a pass that raises the mean cosine by less than this.
    #[arg(long, default_value_t = Options::default().min_pass_gain)]
    pub min_pass_gain: f64,

    /// Citizens per block: a block closes at the first change of coarse key (two dominant
    /// interests) once it holds this many. Blocks are grouped independently.
    #[arg(long, default_value_t = Options::default().block_target)]
    pub block_target: u32,

    /// Most citizens in one block (bounds the working memory of a block).
    #[arg(long, default_value_t = Options::default().block_max)]
    pub block_max: u32,

    /// Interest archetypes (communities) in the synthetic population.
    #[arg(long, default_value_t = grouping::synthetic::Config::default().archetypes)]
    pub archetypes: u32,

    /// Worker threads [default: one per core]. The result does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,

    /// Skip the random floor and the k-means ceiling.
    #[arg(long)]
    pub no_baselines: bool,

    /// Run the k-means ceiling on at most this many citizens (k-means costs citizens ×
    /// groups × dims per iteration).
    #[arg(long, default_value_t = 200_000)]
    pub ceiling_sample: u64,

    /// Lloyd iterations of the k-means ceiling (it stops earlier once stable).
    #[arg(long, default_value_t = 25)]
    pub kmeans_iterations: u32,

    /// Write the synthetic profiles to FILE as a float32 .npy (citizens × dims).
    #[arg(long, value_name = "FILE")]
    pub export_profiles: Option<PathBuf>,

    /// Write xinyong's assignment to FILE as an int64 .npy (group id per citizen, -1 for
    /// none).
    #[arg(long, value_name = "FILE")]
    pub export_assignment: Option<PathBuf>,

    /// Check incremental placement on N newcomers drawn like the population: the group the
    /// index picks (searching by dominant interests) against the best group with room found
    /// by scanning every group.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub placement_check: u32,

    /// Score another tool's assignment of the same profiles (a .npy of integers, one group
    /// id per citizen, negative for none): sizes, bounds and quality, measured as for ours.
    #[arg(long, value_name = "FILE")]
    pub score_assignment: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bounds = Bounds::new(args.min_size, args.max_size).context("check --min-size and --max-size")?;
    ensure!(args.dims >= 1 && args.dims <= grouping::MAX_DIMS, "--dims must be between 1 and {}", grouping::MAX_DIMS);
    ensure!(args.citizens < u64::from(u32::MAX), "--citizens must be below 4294967295 (ids are u32)");
    ensure!(args.archetypes >= 1, "--archetypes must be at least 1");
    match args.threads {
        Some(threads) => grouping::with_threads(threads, || report(&args, bounds))?,
        None => report(&args, bounds),
    }
}

fn report(args: &Args, bounds: Bounds) -> anyhow::Result<()> {
    let n = args.citizens as usize;
    let options = Options {
        seed: args.seed,
        target_size: args.target_size,
        refine_passes: args.refine_passes,
        neighbours: args.neighbours,
        min_pass_gain: args.min_pass_gain,
        block_target: args.block_target,
        block_max: args.block_max,
        ..Options::default()
    };
    println!(
        "xinyong group: {n} synthetic citizens, {} interest dimensions, seed {}, groups of {}..={}, {} threads",
        args.dims,
        args.seed,
        bounds.min_size,
        bounds.max_size,
        grouping::current_threads()
    );

    let clock = Instant::now();
    let config = grouping::synthetic::Config { archetypes: args.archetypes, ..Default::default() };
    let values = grouping::synthetic::profiles_with(n, args.dims, args.seed, &config);
    let profiles = Profiles::new(args.dims, &values)?;
    phase(
        "profiles",
        clock,
        &format!("{} archetypes, Zipf {} popularity", config.archetypes, config.popularity_exponent),
    );

    if let Some(path) = &args.export_profiles {
        let clock = Instant::now();
        write_npy_f32(path, &values, n, args.dims).with_context(|| format!("writing {}", path.display()))?;
        phase("export", clock, &path.display().to_string());
    }

    let clock = Instant::now();
    let plan = grouping::plan(profiles, bounds, &options);
    let largest = plan.blocks.iter().map(|b| b.len).max().unwrap_or(0);
    phase("plan", clock, &format!("{} blocks by coarse key (largest {largest} citizens)", plan.blocks.len()));

    let clock = Instant::now();
    let ours = grouping::group_planned(profiles, &plan, bounds, &options);
    drop(plan);
    let stats = ours.stats.clone();
    phase(
        "group",
        clock,
        &format!(
            "seed tree + {} refinement passes at most: {} swaps, {} moves",
            stats.passes, stats.swaps, stats.moves
        ),
    );
    let clock = Instant::now();
    let quality = grouping::quality(profiles, &ours);
    phase("quality", clock, "mean cosine to group centroid");

    println!();
    print_sizes("xinyong", &ours, bounds);
    println!();
    println!("quality: mean cosine similarity of members to their group centroid");
    println!(
        "  {:<26} {quality:.4}   (space-partitioning seed alone: {:.4})",
        "xinyong grouping",
        stats.seed_quality()
    );

    if !args.no_baselines {
        let clock = Instant::now();
        let floor = grouping::quality(profiles, &grouping::random_balanced(profiles, bounds, args.seed));
        let floor_time = clock.elapsed().as_secs_f64();
        println!("  {:<26} {floor:.4}   floor; {floor_time:.2} s", "random balanced groups");

        let clock = Instant::now();
        let (ceiling, sampled, note) = ceiling(profiles, ours.groups(), args)?;
        let ceiling_time = clock.elapsed().as_secs_f64();
        println!("  {:<26} {ceiling:.4}   ceiling; {ceiling_time:.2} s; {note}", "k-means, sizes unbounded");
        if sampled {
            println!(
                "  (a sample is sparser than the population, so its k-means ceiling sits below what k-means would \
                 reach on all citizens, and can sit below xinyong's grouping of all citizens)"
            );
        } else if ceiling > floor {
            println!(
                "  xinyong closes {:.1} % of the gap from floor to ceiling",
                100.0 * (quality - floor) / (ceiling - floor)
            );
        }
    }

    if args.placement_check > 0 {
        println!();
        placement_check(profiles, &ours, bounds, args, &config)?;
    }

    if let Some(path) = &args.score_assignment {
        let labels = read_npy_labels(path).with_context(|| format!("reading {}", path.display()))?;
        ensure!(
            labels.len() == n,
            "{} holds {} labels for {n} citizens: export and score the same population (--citizens, --dims, --seed)",
            path.display(),
            labels.len()
        );
        let other = grouping::grouping_from_labels(&labels)?;
        let other_quality = grouping::quality(profiles, &other);
        println!();
        print_sizes(&path.display().to_string(), &other, bounds);
        println!("  quality {other_quality:.4} (xinyong {quality:.4}, difference {:+.4})", quality - other_quality);
    }

    if let Some(path) = &args.export_assignment {
        let labels: Vec<i64> =
            ours.group_of.iter().map(|&g| if g == grouping::NO_GROUP { -1 } else { i64::from(g) }).collect();
        write_npy_i64(path, &labels).with_context(|| format!("writing {}", path.display()))?;
        println!("\nassignment written to {}", path.display());
    }
    Ok(())
}

fn phase(name: &str, since: Instant, detail: &str) {
    println!("  {name:<9} {:>8.2} s   {detail}", since.elapsed().as_secs_f64());
}

fn print_sizes(label: &str, grouping: &Grouping, bounds: Bounds) {
    let leftovers = grouping.leftovers().len();
    match grouping.size_summary() {
        Some(sizes) => println!(
            "{label}: {} groups, sizes min {} / mean {:.1} / max {}, {leftovers} citizens without a group{}",
            grouping.groups(),
            sizes.min,
            sizes.mean,
            sizes.max,
            match grouping.check_bounds(bounds) {
                Ok(()) => String::from(", all sizes within bounds"),
                Err(error) => format!(" — BOUNDS BROKEN: {error}"),
            }
        ),
        None => println!("{label}: no group, {leftovers} citizens without a group"),
    }
    let minimum = grouping.citizens() as u64 - bounds.most_groupable(grouping.citizens() as u64);
    if minimum > 0 {
        println!(
            "  {} citizens cannot be split exactly into groups of {}..={}: at least {minimum} must stay groupless",
            grouping.citizens(),
            bounds.min_size,
            bounds.max_size
        );
    }
}

/// Place newcomers with the group index and compare with an exhaustive search.
fn placement_check(
    profiles: Profiles,
    ours: &Grouping,
    bounds: Bounds,
    args: &Args,
    config: &grouping::synthetic::Config,
) -> anyhow::Result<()> {
    let dims = profiles.dims();
    let clock = Instant::now();
    let index = grouping::GroupIndex::from_grouping(profiles, ours, bounds)?;
    let build_time = clock.elapsed().as_secs_f64();
    let count = args.placement_check as usize;
    let newcomers = grouping::synthetic::profiles_range(profiles.len(), count, dims, args.seed, config);
    let clock = Instant::now();
    let placements: Vec<grouping::Placement> =
        newcomers.chunks_exact(dims).map(|row| index.placement(row, |_| true)).collect();
    let place_time = clock.elapsed().as_secs_f64();

    let groups = index.groups();
    let centroids: Vec<Vec<f32>> = (0..groups).map(|g| index.centroid(g)).collect();
    let cosine = |row: &[f32], g: u32| {
        let norm = row.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
        let dot: f64 = row.iter().zip(&centroids[g as usize]).map(|(&x, &c)| f64::from(x) * f64::from(c)).sum();
        if norm == 0.0 { 0.0 } else { dot / norm }
    };
    let (mut found, mut lost_total, mut lost_worst, mut scanned) = (0usize, 0f64, 0f64, 0u64);
    for (row, placement) in newcomers.chunks_exact(dims).zip(&placements) {
        let best = (0..groups)
            .filter(|&g| index.size(g) < bounds.max_size)
            .map(|g| cosine(row, g))
            .fold(f64::NEG_INFINITY, f64::max);
        let got = placement.group.map_or(f64::NEG_INFINITY, |g| cosine(row, g));
        let lost = best - got;
        if lost <= 1e-9 {
            found += 1;
        }
        lost_total += lost;
        lost_worst = lost_worst.max(lost);
        scanned += u64::from(placement.scanned);
    }
    println!(
        "placement of {count} newcomers (index built in {build_time:.2} s, {:.1} µs a placement):",
        place_time * 1e6 / count as f64
    );
    println!(
        "  best group with room found for {:.1} %; cosine lost {:.4} on average, {:.4} at worst; {:.0} of {groups} groups scanned on average",
        100.0 * found as f64 / count as f64,
        lost_total / count as f64,
        lost_worst,
        scanned as f64 / count as f64
    );
    Ok(())
}

/// Spherical k-means with as many clusters as our groups, on everyone or on a sample.
fn ceiling(profiles: Profiles, groups: u32, args: &Args) -> anyhow::Result<(f64, bool, String)> {
    let n = profiles.len();
    let sample = (args.ceiling_sample as usize).min(n);
    if sample == n {
        let kmeans = grouping::kmeans(profiles, groups, args.seed, args.kmeans_iterations);
        return Ok((grouping::quality(profiles, &kmeans), false, format!("k = {groups}, all citizens")));
    }
    // Evenly spaced citizens, as many clusters per citizen as the full grouping has.
    let dims = profiles.dims();
    let mut values = Vec::with_capacity(sample * dims);
    for i in 0..sample {
        values.extend_from_slice(profiles.row(i * n / sample));
    }
    let sampled = Profiles::new(dims, &values)?;
    let k = ((u64::from(groups) * sample as u64 + n as u64 / 2) / n as u64).max(1) as u32;
    let kmeans = grouping::kmeans(sampled, k, args.seed, args.kmeans_iterations);
    Ok((
        grouping::quality(sampled, &kmeans),
        true,
        format!("k = {k} on an evenly spaced sample of {sample} citizens (same mean cluster size)"),
    ))
}

/// Write a C-order .npy file (format 1.0) with the given dtype descriptor and shape.
fn write_npy(path: &Path, descr: &str, shape: &str, data: &[u8]) -> anyhow::Result<()> {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(b"\x93NUMPY\x01\x00")?;
    file.write_all(&(header.len() as u16).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    file.write_all(data)?;
    file.flush()?;
    Ok(())
}

fn write_npy_f32(path: &Path, values: &[f32], rows: usize, dims: usize) -> anyhow::Result<()> {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(path, "<f4", &format!("({rows}, {dims})"), &bytes)
}

fn write_npy_i64(path: &Path, labels: &[i64]) -> anyhow::Result<()> {
    let bytes: Vec<u8> = labels.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(path, "<i8", &format!("({},)", labels.len()), &bytes)
}

/// Read a one-dimensional .npy of little-endian integers (int8..int64, uint8..uint32).
fn read_npy_labels(path: &Path) -> anyhow::Result<Vec<i64>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut bytes)?;
    ensure!(bytes.len() >= 10 && &bytes[..6] == b"\x93NUMPY", "not a .npy file");
    let (header_start, header_len) = match bytes[6] {
        1 => (10, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "truncated .npy header");
            (12, u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize)
        }
        version => bail!("unsupported .npy version {version}"),
    };
    ensure!(bytes.len() >= header_start + header_len, "truncated .npy header");
    let header = std::str::from_utf8(&bytes[header_start..header_start + header_len])?;
    ensure!(header.contains("'fortran_order': False"), "Fortran-order .npy is not supported; save with np.save");
    let descr =
        header.split("'descr':").nth(1).and_then(|rest| rest.split('\'').nth(1)).context("no dtype in .npy header")?;
    let data = &bytes[header_start + header_len..];
    let width = match descr {
        "<i8" | "<u4" | "<i4" | "<i2" | "<u2" | "|i1" | "|u1" => descr[2..].parse::<usize>()?,
        other => bail!("labels must be little-endian integers (e.g. int64), got dtype {other}"),
    };
    ensure!(data.len() % width == 0, "data length is not a whole number of {descr} values");
    let signed = descr.as_bytes()[1] == b'i';
    Ok(data
        .chunks_exact(width)
        .map(|chunk| {
            let mut raw = [0u8; 8];
            raw[..width].copy_from_slice(chunk);
            let unsigned = u64::from_le_bytes(raw);
            if signed && width < 8 && chunk[width - 1] & 0x80 != 0 {
                (unsigned | (u64::MAX << (8 * width))) as i64
            } else {
                unsigned as i64
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_labels_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("labels.npy");
        let labels = vec![3i64, -1, 0, 7, 2];
        write_npy_i64(&path, &labels).unwrap();
        assert_eq!(read_npy_labels(&path).unwrap(), labels);
        let bytes = std::fs::read(&path).unwrap();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0, "header must be 64-byte aligned");
    }
}
