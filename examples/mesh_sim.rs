//! A whole mesh on virtual time: N simulated nodes, all subscribed to one topic, degree D;
//! a warm-up so the Plumtree forms, then messages from random nodes; prints delivery,
//! hops, copies and latency.
//!
//! ```text
//! cargo run --release --example mesh_sim -- --nodes 1000 --seed 1 --json
//! cargo run --release --example mesh_sim -- --nodes 100 --degree 8 --messages 50 --loss 0.01
//! ```

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_precision_loss,
    reason = "a command-line example that prints ratios"
)]

use std::process::ExitCode;

use quorate_mesh_proto::mesh::Topic;
use quorate_mesh_proto::payloads::Text;
use quorate_mesh_proto::{Block, Cid, Duration};
use quorate_mesh_transport::sim::{Sim, SimConfig};

const USAGE: &str = "usage: mesh_sim [--nodes N] [--seed S] [--degree D] [--messages M] [--loss P] [--json]\n\
    Simulates N nodes (default 1000) with degree D (default 6), all subscribed to one topic;\n\
    after a warm-up, publishes M messages (default 20) from random nodes and reports delivery,\n\
    hops, gossip copies per node and publish-to-delivery latency (virtual time). --loss is\n\
    the probability (0..1) that any frame is lost. --json prints one JSON object.";

/// Warm-up messages, so the eager tree forms before measuring.
const WARMUP_MESSAGES: usize = 5;

#[derive(Debug)]
struct Args {
    nodes: usize,
    seed: u64,
    degree: usize,
    messages: usize,
    loss: f64,
    json: bool,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        nodes: 1_000,
        seed: 1,
        degree: 6,
        messages: 20,
        loss: 0.0,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--nodes" => args.nodes = number(&value("--nodes")?, "--nodes")?,
            "--seed" => args.seed = number(&value("--seed")?, "--seed")?,
            "--degree" => args.degree = number(&value("--degree")?, "--degree")?,
            "--messages" => args.messages = number(&value("--messages")?, "--messages")?,
            "--loss" => args.loss = number(&value("--loss")?, "--loss")?,
            "--json" => args.json = true,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.nodes < 2 {
        return Err("--nodes must be at least 2".into());
    }
    if args.degree == 0 || args.degree >= args.nodes {
        return Err("--degree must be between 1 and nodes - 1".into());
    }
    if args.messages == 0 {
        return Err("--messages must be at least 1".into());
    }
    if !(0.0..1.0).contains(&args.loss) {
        return Err("--loss must be in [0, 1)".into());
    }
    Ok(Some(args))
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not a valid number"))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Publishes `count` messages from random nodes, `gap` apart.
fn publish(
    sim: &mut Sim,
    topic: &Topic,
    label: &str,
    count: usize,
    gap: Duration,
) -> Result<Vec<Cid>, Box<dyn std::error::Error>> {
    let mut cids = Vec::with_capacity(count);
    for k in 0..count {
        let from = sim.random_online(true).ok_or("no online node")?;
        let block = Block::encode(&Text {
            body: format!("{label} {k} from node {from}"),
        })?;
        cids.push(sim.publish(from, topic, block)?);
        sim.run_for(gap)?;
    }
    Ok(cids)
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = std::time::Instant::now();
    let mut config = SimConfig::new(args.nodes, args.seed);
    config.degree = args.degree;
    config.net.loss = args.loss;
    let mut sim = Sim::new(config);
    let links = sim.connect_random()?;
    let topic = Topic::new("mesh-sim")?;
    sim.subscribe_all(&topic)?;
    sim.run_for(Duration::from_secs(2))?;
    let setup_ms = started.elapsed().as_millis();

    publish(
        &mut sim,
        &topic,
        "warm-up",
        WARMUP_MESSAGES,
        Duration::from_millis(200),
    )?;
    sim.run_for(Duration::from_secs(3))?;

    let (stats0, net0) = (sim.stats(), sim.net_stats());
    let measured = std::time::Instant::now();
    let cids = publish(
        &mut sim,
        &topic,
        "message",
        args.messages,
        Duration::from_millis(100),
    )?;
    sim.run_for(Duration::from_secs(5))?;
    sim.check_all_stores()?;
    let measure_ms = measured.elapsed().as_millis();

    let report = sim.report(&cids);
    let (stats, net) = (sim.stats(), sim.net_stats());
    let copies = stats.gossip_copies - stats0.gossip_copies;
    let per_node_msg = (args.nodes * args.messages) as f64;
    let copies_per_node_avg = copies as f64 / per_node_msg;
    let duplicates = stats.duplicates - stats0.duplicates;
    let frames = net.frames_sent - net0.frames_sent;
    let bytes = net.bytes_sent - net0.bytes_sent;
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let wall_ms = started.elapsed().as_millis();

    if args.json {
        let json = serde_json::json!({
            "nodes": args.nodes,
            "seed": args.seed,
            "degree": args.degree,
            "links": links,
            "loss": args.loss,
            "messages": args.messages,
            "delivered_fraction": report.delivered_fraction,
            "deliveries": report.delivered,
            "expected_deliveries": report.expected,
            "hops_p50": report.hops_p50,
            "hops_p99": report.hops_p99,
            "hops_max": report.hops_max,
            "copies_per_node_avg": copies_per_node_avg,
            "duplicates_per_node_avg": duplicates as f64 / per_node_msg,
            "virtual_ms_p50": ms(report.latency_p50),
            "virtual_ms_p99": ms(report.latency_p99),
            "virtual_ms_max": ms(report.latency_max),
            "frames": frames,
            "bytes": bytes,
            "frames_per_node_msg": frames as f64 / per_node_msg,
            "misbehaviour_reports": sim.misbehaviour().len(),
            "cutoffs": sim.cutoffs().len(),
            "events": sim.steps(),
            "setup_wall_ms": setup_ms,
            "measure_wall_ms": measure_ms,
            "wall_ms": wall_ms,
        });
        println!("{json}");
    } else {
        println!(
            "{} nodes, degree {} ({links} links), seed {}, loss {}",
            args.nodes, args.degree, args.seed, args.loss
        );
        println!(
            "{} messages after {WARMUP_MESSAGES} warm-up: delivered {}/{} ({:.4})",
            args.messages, report.delivered, report.expected, report.delivered_fraction
        );
        println!(
            "hops p50 {} p99 {} max {}; latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms (virtual)",
            report.hops_p50,
            report.hops_p99,
            report.hops_max,
            ms(report.latency_p50),
            ms(report.latency_p99),
            ms(report.latency_max)
        );
        println!(
            "gossip copies per node per message {copies_per_node_avg:.2}, duplicates {:.2}; \
             {frames} frames, {bytes} bytes in the measured window",
            duplicates as f64 / per_node_msg
        );
        println!(
            "{} events; wall {wall_ms} ms (setup {setup_ms} ms, measured window {measure_ms} ms)",
            sim.steps()
        );
    }
    Ok(())
}
