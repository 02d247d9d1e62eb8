//! `seer-bench`: runs the same workload against Seer and a peer in one run and prints the
//! ratios Seer/peer. See `bench/README.md`.

mod http;
mod ingest;
mod logs;
mod proc;
mod query;
mod traces;
mod workload;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("ingest") => ingest::run(&args[1..]),
        Some("query") => query::run(&args[1..]),
        Some("logs") => logs::run(&args[1..]),
        Some("traces") => traces::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: seer-bench ingest [--series N] [--hours H] [--seer PATH] [--out DIR] [--prometheus PATH]\n       seer-bench query [--instances N] [--hours H] [--rounds R] [--seer PATH] [--out DIR] [--prometheus PATH]\n       seer-bench logs [--gb G] [--hours H] [--seer PATH] [--out DIR]\n       seer-bench traces [--spans N] [--seer PATH] [--out DIR]"
            );
            std::process::exit(2);
        }
    };
    if let Err(e) = r {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
