//! The console of a build: progress bars on a terminal (indicatif), plain
//! lines otherwise. It reads the service's build events, like the
//! dashboard's live view does; the full logs are in the store
//! (`dockyard builds show ID`).

use crate::print::sanitize;
use dockyard_api::{BuildEvent, ImageState, RunState};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;

/// Lines of a failed image's log printed with its failure.
const TAIL: usize = 25;

fn stamp() -> String {
    let t = crate::store::now().rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", t / 3600, t % 3600 / 60, t % 60)
}

/// Follows one run's events until it finishes; returns its final state.
pub async fn follow(mut events: Receiver<BuildEvent>, total: usize) -> Option<RunState> {
    let tty = std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    let overall = tty.then(|| {
        let b = multi.add(ProgressBar::new(total as u64));
        b.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} images  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b.enable_steady_tick(Duration::from_millis(120));
        b
    });
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    let mut tails: HashMap<String, VecDeque<String>> = HashMap::new();
    let mut started: HashMap<String, std::time::Instant> = HashMap::new();
    let mut run_id = None;
    loop {
        let event = match events.recv().await {
            Ok(e) => e,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                eprintln!("(console: {n} events dropped; the store has them all)");
                continue;
            }
            Err(_) => return None,
        };
        match event {
            BuildEvent::RunStarted { run } => {
                run_id = Some(run.id);
                if !tty {
                    eprintln!("{} run {} started ({} images to build or publish)", stamp(), run.id, total);
                }
            }
            BuildEvent::Log { line, .. } => {
                let tail = tails.entry(line.image.clone()).or_default();
                tail.push_back(line.line.clone());
                if tail.len() > TAIL {
                    tail.pop_front();
                }
                if let Some(bar) = bars.get(&line.image) {
                    let short: String = sanitize(&line.line).chars().take(90).collect();
                    bar.set_message(format!("{}: {short}", line.image));
                }
            }
            BuildEvent::Image { image, state, error, host, .. } => {
                let took =
                    started.get(&image).map(|t| format!(" in {:.1}s", t.elapsed().as_secs_f64())).unwrap_or_default();
                if !state.is_final() {
                    started.entry(image.clone()).or_insert_with(std::time::Instant::now);
                }
                if tty {
                    let bar = bars.entry(image.clone()).or_insert_with(|| {
                        let b = multi.insert_before(
                            overall.as_ref().unwrap_or(&ProgressBar::hidden()),
                            ProgressBar::new_spinner(),
                        );
                        b.set_style(
                            ProgressStyle::with_template("  {spinner} {msg}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                        );
                        b.enable_steady_tick(Duration::from_millis(120));
                        b
                    });
                    if state.is_final() {
                        let mark = if state.is_failure() { "✗" } else { "✓" };
                        let why = error.as_deref().map(|e| format!(": {}", sanitize(e))).unwrap_or_default();
                        bar.finish_with_message(format!("{mark} {image} {}{took}{why}", state.as_str()));
                        if let Some(o) = &overall {
                            o.inc(1);
                        }
                        if state == ImageState::Failed {
                            for l in tails.get(&image).into_iter().flatten() {
                                let _ = multi.println(format!("    {image} | {}", sanitize(l)));
                            }
                        }
                    } else {
                        bar.set_message(format!("{image}: {}", state.as_str()));
                    }
                } else {
                    let on = host.map(|h| format!(" on {h}")).unwrap_or_default();
                    let why = error.as_deref().map(|e| format!(": {}", sanitize(e))).unwrap_or_default();
                    eprintln!("{} {image} {}{on}{took}{why}", stamp(), state.as_str());
                    if state == ImageState::Failed {
                        for l in tails.get(&image).into_iter().flatten() {
                            eprintln!("    {image} | {}", sanitize(l));
                        }
                    }
                }
            }
            BuildEvent::RunFinished { run, state, .. } => {
                if Some(run) == run_id || run_id.is_none() {
                    if let Some(o) = &overall {
                        o.finish_with_message(state.as_str().to_string());
                    }
                    return Some(state);
                }
            }
        }
    }
}
