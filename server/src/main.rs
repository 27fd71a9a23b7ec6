//! The `sipas` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = sipas_server::cli::Cli::parse();
    // At least four workers even on a one- or two-core machine: Leptos's server rendering has
    // known stalls when a Suspense waits on a resource with very few workers
    // (leptos-rs/leptos#4647); the in-process tests hit the same with one worker.
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(4);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("sipas: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One clear message, with its causes, and a non-zero exit.
            eprintln!("sipas: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
