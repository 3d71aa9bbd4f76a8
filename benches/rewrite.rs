//! What `rampart create` pays between reading config.json and writing it back:
//! profile load, host facts, `pipeline::rewrite` (parse + validate + harden + re-validate)
//! and `Spec::to_vec`. Run with `cargo bench --bench rewrite` (or `scripts/bench`).
//!
//! Inputs: Docker 20.10's default spec (~9 KB, tests/fixtures/specs/docker-20.10/default.json)
//! and a ~1 MB spec built from it with many env entries and annotations (still a valid OCI
//! spec). Measurement times are short so the whole run stays well under two minutes on
//! two cores.

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use rampart::change::Changes;
use rampart::host::{Host, HostFacts, RealHost};
use rampart::pipeline;
use rampart::profile::{Profile, ProfileSource};
use rampart::spec::Spec;
use rampart::steps;
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const DOCKER_DEFAULT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/specs/docker-20.10/default.json"
);
const BIG_TARGET_BYTES: usize = 1024 * 1024;

fn docker_default() -> Vec<u8> {
    std::fs::read(DOCKER_DEFAULT).unwrap_or_else(|e| panic!("{DOCKER_DEFAULT}: {e}"))
}

/// Docker's spec grown to ~1 MB: half env entries, half annotations, ~100 bytes each.
fn big_spec(base: &[u8]) -> Vec<u8> {
    let mut spec: Value = serde_json::from_slice(base).unwrap();
    let filler = "x".repeat(80);
    let mut i = 0usize;
    loop {
        // Grow in chunks, then check the size (serialising every step would be quadratic).
        for _ in 0..500 {
            spec["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!(format!("BENCH_VAR_{i:06}={filler}")));
            if spec.get("annotations").is_none() {
                spec["annotations"] = json!({});
            }
            spec["annotations"].as_object_mut().unwrap().insert(
                format!("org.example.bench.annotation-{i:06}"),
                json!(filler.clone()),
            );
            i += 1;
        }
        let bytes = serde_json::to_vec(&spec).unwrap();
        if bytes.len() >= BIG_TARGET_BYTES {
            return bytes;
        }
    }
}

fn restricted() -> Profile {
    ProfileSource::default()
        .load("restricted")
        .expect("the built-in restricted profile loads")
}

fn real_facts(profile: &Profile) -> HostFacts {
    RealHost.facts(&steps::host_patterns(profile))
}

/// The measured path: rewrite then serialise, as `create` does before staging the file.
fn rewrite_and_serialise(bytes: &[u8], profile: &Profile, facts: &HostFacts) -> Vec<u8> {
    let (spec, changes) = pipeline::rewrite(bytes, profile, facts).expect("the spec rewrites");
    black_box(&changes);
    spec.to_vec()
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let small = docker_default();
    let big = big_spec(&small);
    vec![("docker-default-9KB", small), ("docker-grown-1MB", big)]
}

fn bench_setup_costs(c: &mut Criterion) {
    let mut g = c.benchmark_group("setup");
    g.bench_function("profile_load_restricted", |b| {
        b.iter(|| black_box(restricted()))
    });
    let profile = restricted();
    g.bench_function("facts_real_host", |b| {
        b.iter(|| black_box(RealHost.facts(&steps::host_patterns(black_box(&profile)))))
    });
    g.finish();
}

fn bench_rewrite(c: &mut Criterion) {
    let profile = restricted();
    let facts_sets = [
        ("test_facts", HostFacts::for_tests()),
        ("real_facts", real_facts(&profile)),
    ];
    let mut g = c.benchmark_group("rewrite");
    // Flat sampling: the 1 MB case takes milliseconds per iteration, and linear sampling
    // would need sample_size²/2 iterations.
    g.sampling_mode(SamplingMode::Flat);
    for (name, bytes) in inputs() {
        // Fail loudly before measuring if an input is not what `create` would accept.
        Spec::from_slice(&bytes).unwrap_or_else(|e| panic!("{name} is not a valid spec: {e:#}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        for (facts_name, facts) in &facts_sets {
            g.bench_with_input(BenchmarkId::new(*facts_name, name), &bytes, |b, bytes| {
                b.iter(|| rewrite_and_serialise(black_box(bytes), &profile, facts))
            });
        }
    }
    g.finish();
}

/// The pieces of `rewrite` + `to_vec`, to see where the time goes.
fn bench_pieces(c: &mut Criterion) {
    let profile = restricted();
    let facts = real_facts(&profile);
    let mut g = c.benchmark_group("pieces");
    g.sampling_mode(SamplingMode::Flat);
    for (name, bytes) in inputs() {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_with_input(
            BenchmarkId::new("json_parse_value", name),
            &bytes,
            |b, bytes| {
                b.iter(|| black_box(serde_json::from_slice::<Value>(black_box(bytes)).unwrap()))
            },
        );
        let spec = Spec::from_slice(&bytes).unwrap();
        g.bench_with_input(
            BenchmarkId::new("validate_typed", name),
            &spec,
            |b, spec| b.iter(|| spec.validate_typed().unwrap()),
        );
        let (hardened, _) = pipeline::rewrite(&bytes, &profile, &facts).unwrap();
        g.bench_with_input(BenchmarkId::new("to_vec", name), &hardened, |b, spec| {
            b.iter(|| black_box(spec.to_vec()))
        });
        g.bench_with_input(BenchmarkId::new("harden_steps", name), &spec, |b, spec| {
            b.iter_batched(
                || spec.clone(),
                |mut s| {
                    let cx = steps::Context {
                        profile: &profile,
                        host: &facts,
                        container_caps: None,
                        container_apparmor: None,
                    };
                    black_box(steps::harden(&mut s, &cx, steps::CREATE).unwrap())
                },
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

/// Each hardening step of `create` alone, on the 9 KB spec as the previous steps left it
/// (the final re-validation is `pieces/validate_typed`).
fn bench_steps(c: &mut Criterion) {
    let profile = restricted();
    let facts = real_facts(&profile);
    let cx = steps::Context {
        profile: &profile,
        host: &facts,
        container_caps: None,
        container_apparmor: None,
    };
    let mut spec = Spec::from_slice(&docker_default()).unwrap();
    let mut g = c.benchmark_group("steps");
    g.measurement_time(Duration::from_millis(1500));
    for (name, step) in steps::CREATE {
        g.bench_function(*name, |b| {
            b.iter_batched(
                || spec.clone(),
                |mut s| {
                    let mut out = Vec::new();
                    step(&mut s, &cx, &mut Changes::new(name, &mut out)).unwrap();
                    black_box((s, out))
                },
                criterion::BatchSize::SmallInput,
            )
        });
        step(&mut spec, &cx, &mut Changes::new(name, &mut Vec::new())).unwrap();
    }
    g.finish();
}

/// Everything `create` computes in-process for the 9 KB spec: profile, facts, rewrite, bytes.
fn bench_create_compute(c: &mut Criterion) {
    let bytes = docker_default();
    let mut g = c.benchmark_group("create_compute");
    g.bench_function("docker-default-9KB", |b| {
        b.iter(|| {
            let profile = restricted();
            let facts = real_facts(&profile);
            rewrite_and_serialise(black_box(&bytes), &profile, &facts)
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_setup_costs, bench_rewrite, bench_pieces, bench_steps, bench_create_compute
}
criterion_main!(benches);
