//! The engine's benchmark (see docs/benchmarks.md and scripts/bench.sh).
//!
//!   cargo run --release -p sipas-stats --example bench -- generate OUT.csv [ROWS]
//!   cargo run --release -p sipas-stats --example bench -- time DATA.csv METHODOLOGY.toml
//!
//! `generate` writes a synthetic national sample: 63 provinces, two strata each (urban, rural),
//! villages of about 30 respondents as PSUs, 33 items on a 1–5 scale with 8% missing.
//! `time` reports the seconds to read the CSV into per-PSU totals and to compute every domain ×
//! node with intervals from those totals, on one thread.

use std::io::{BufWriter, Write};
use std::time::Instant;

use sipas_stats::estimate::estimate_all;
use sipas_stats::methodology::Methodology;
use sipas_stats::microdata::read_csv;

const ITEMS: usize = 33;

/// xorshift64*: deterministic, dependency-free data generation.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn generate(path: &str, rows: usize) -> std::io::Result<()> {
    let mut rng = Rng(0x5eed_2026);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    write!(out, "response_id,province,stratum,psu,weight,sex")?;
    for k in 1..=ITEMS {
        write!(out, ",q{k}")?;
    }
    writeln!(out)?;
    let per_province = rows / 63;
    let mut id = 0usize;
    for p in 0..63 {
        // Province and village effects make the clustering real.
        let province_level = 0.6 + 0.3 * rng.unit();
        let mut done = 0;
        let mut village = 0;
        while done < per_province || (p == 62 && id < rows) {
            let stratum = if village % 3 == 0 { "U" } else { "R" };
            let size = 20 + (rng.next() % 21) as usize;
            let village_level = (province_level + 0.2 * (rng.unit() - 0.5)).clamp(0.05, 0.95);
            let weight = 50.0 + 100.0 * rng.unit();
            for _ in 0..size {
                if done >= per_province && !(p == 62 && id < rows) {
                    break;
                }
                id += 1;
                done += 1;
                let sex = if rng.unit() < 0.5 { "F" } else { "M" };
                write!(
                    out,
                    "{id},{:02},{:02}{stratum},v{village},{:.3},{sex}",
                    p + 1,
                    p + 1,
                    weight * (0.8 + 0.4 * rng.unit())
                )?;
                for _ in 0..ITEMS {
                    let u = rng.unit();
                    if u < 0.08 {
                        write!(out, ",")?;
                    } else {
                        let satisfied = rng.unit() < village_level;
                        let answer = if satisfied {
                            4 + (rng.next() % 2)
                        } else {
                            1 + (rng.next() % 3)
                        };
                        write!(out, ",{answer}")?;
                    }
                }
                writeln!(out)?;
            }
            village += 1;
        }
    }
    out.flush()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("generate") if args.len() >= 3 => {
            let rows = args
                .get(3)
                .map(|r| r.parse())
                .transpose()?
                .unwrap_or(1_000_000);
            generate(&args[2], rows)?;
            println!("wrote {rows} rows to {}", args[2]);
        }
        Some("time") if args.len() == 4 => {
            let methodology = Methodology::from_toml(&std::fs::read_to_string(&args[3])?)?;
            let start = Instant::now();
            let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&args[2])?);
            let stats = read_csv(file, &methodology)?;
            let read = start.elapsed().as_secs_f64();
            let psus = stats.design.n_psus();
            let start = Instant::now();
            let results = estimate_all(&stats, &methodology)?;
            let estimate = start.elapsed().as_secs_f64();
            println!(
                "psus={psus} domains={} cells={}",
                stats.domains.len(),
                results.cells.len()
            );
            println!("csv_to_totals_seconds={read:.3}");
            println!("totals_to_results_seconds={estimate:.3}");
            println!("csv_to_results_seconds={:.3}", read + estimate);
        }
        _ => {
            eprintln!(
                "usage: bench generate OUT.csv [ROWS] | bench time DATA.csv METHODOLOGY.toml"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
