//! Turns the core's events into what a person sees on stderr: a progress bar over the
//! planned bar requests (only on a terminal), the `-v` request log, and retry notes. Also
//! counts the HTTP requests made, bars and corporate actions apart, for summaries.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::printer::Printer;
use crate::events::{Event, Observer, RequestKind};

pub(super) struct Progress {
    printer: Printer,
    bar: ProgressBar,
    bar_requests: AtomicU64,
    action_requests: AtomicU64,
    asset_requests: AtomicU64,
    clamp_noted: std::sync::atomic::AtomicBool,
    calendar_noted: std::sync::atomic::AtomicBool,
}

impl Progress {
    pub(super) fn new(printer: Printer) -> Self {
        // Until the plan says how many requests there are, a spinner: a bar at `0/0` would
        // look full.
        let bar = ProgressBar::with_draw_target(None, printer.progress_target());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}, {elapsed}").expect("valid template"),
        );
        bar.set_message("fetching");
        // The ticker is a thread: started only where the spinner is drawn (a shell loop on
        // a pipe pays for no thread it cannot see, issue 24).
        if !bar.is_hidden() {
            bar.enable_steady_tick(Duration::from_millis(120));
        }
        Self {
            printer,
            bar,
            bar_requests: AtomicU64::new(0),
            action_requests: AtomicU64::new(0),
            asset_requests: AtomicU64::new(0),
            clamp_noted: false.into(),
            calendar_noted: false.into(),
        }
    }

    /// HTTP requests sent so far, retries included.
    pub(super) fn requests(&self) -> u64 {
        self.bar_requests() + self.action_requests.load(Ordering::Relaxed) + self.asset_requests()
    }

    /// Requests to the bars endpoints so far, retries included.
    pub(super) fn bar_requests(&self) -> u64 {
        self.bar_requests.load(Ordering::Relaxed)
    }

    /// Requests to the Trading API's assets list so far, retries included.
    pub(super) fn asset_requests(&self) -> u64 {
        self.asset_requests.load(Ordering::Relaxed)
    }

    pub(super) fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn say(&self, f: impl FnOnce()) {
        self.bar.suspend(f);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Observer for Progress {
    fn event(&self, event: Event<'_>) {
        match event {
            // Pages and retries of split requests come on top of the plan, so the length
            // grows whenever the count would pass it (never `17/1 requests`).
            Event::Planned { requests, .. } => {
                if requests > 0 {
                    match self.bar.length() {
                        // The first plan: the spinner becomes a bar.
                        None | Some(0) => {
                            self.bar.set_style(
                                ProgressStyle::with_template(
                                    "{spinner} {msg} [{bar:30}] {pos}/{len} requests, {elapsed}",
                                )
                                .expect("valid template")
                                .progress_chars("=> "),
                            );
                            self.bar.set_length(requests as u64);
                        }
                        // Another fill in the same run adds its requests.
                        Some(_) => self.bar.inc_length(requests as u64),
                    }
                }
            }
            Event::Request {
                url,
                kind,
                status,
                elapsed,
                items,
            } => {
                let counter = match kind {
                    RequestKind::Bars => &self.bar_requests,
                    RequestKind::CorporateActions => &self.action_requests,
                    RequestKind::Assets => &self.asset_requests,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                // The bar counts the planned bar requests only.
                if status == 200 && kind == RequestKind::Bars {
                    self.bar.inc(1);
                    if self
                        .bar
                        .length()
                        .is_some_and(|len| self.bar.position() > len)
                    {
                        self.bar.set_length(self.bar.position());
                    }
                }
                if self.printer.is_verbose() {
                    let status = if status == 0 {
                        "failed".to_owned()
                    } else {
                        status.to_string()
                    };
                    self.say(|| {
                        self.printer.log(&format!(
                            "GET {url} -> {status} in {} ms, {items} {}",
                            elapsed.as_millis(),
                            kind.items()
                        ))
                    });
                }
            }
            Event::Retrying {
                url,
                reason,
                attempt,
                delay,
            } => {
                let message = format!(
                    "{reason}; retrying in {:.1} s (attempt {} failed)",
                    delay.as_secs_f64(),
                    attempt
                );
                self.say(|| {
                    self.printer.warning(&message);
                    self.printer.log(&format!("  for {url}"));
                });
            }
            Event::ResponseHeaders { url, headers } => {
                if self.printer.is_very_verbose() {
                    self.say(|| {
                        self.printer.log(&format!("response headers for {url}:"));
                        for (name, value) in headers {
                            self.printer.log(&format!("  {name}: {value}"));
                        }
                    });
                }
            }
            Event::RateLimited { delay } => {
                self.say(|| {
                    self.printer.log(&format!(
                        "waited {:.1} s for Alpaca's rate limit",
                        delay.as_secs_f64()
                    ))
                });
            }
            Event::EndClamped { new_end, .. } => {
                if !self.clamp_noted.swap(true, Ordering::Relaxed) {
                    self.say(|| {
                        self.printer.note(&format!(
                            "note: this Alpaca plan cannot query the last 15 minutes of SIP data; fetching up to {new_end}"
                        ));
                    });
                }
            }
            Event::OddAnswer { message } => {
                self.say(|| self.printer.warning(message));
            }
            Event::Committed { key, bars_added } => {
                self.say(|| {
                    self.printer
                        .log(&format!("committed {key}: {bars_added} new bars"))
                });
            }
            Event::SeriesFailed { .. } => {}
            Event::OutsideCalendar => {
                if !self.calendar_noted.swap(true, Ordering::Relaxed) {
                    self.say(|| self.printer.note(&calendar_note()));
                }
            }
        }
    }
}

/// The one note per run for gaps outside the market calendar's years.
pub(super) fn calendar_note() -> String {
    use crate::market::calendar::{FIRST_YEAR, LAST_YEAR};
    format!(
        "note: the market calendar covers {FIRST_YEAR} to {LAST_YEAR}; outside it barkeep asks Alpaca for every gap, as if every day were a trading day"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars_ok() -> Event<'static> {
        Event::Request {
            url: "http://127.0.0.1/v2/stocks/bars",
            kind: RequestKind::Bars,
            status: 200,
            elapsed: Duration::ZERO,
            items: 1,
        }
    }

    #[test]
    fn the_count_never_passes_the_length() {
        let progress = Progress::new(Printer::fallback());
        progress.event(Event::Planned {
            requests: 1,
            series: 1,
        });
        for _ in 0..17 {
            progress.event(bars_ok());
            let (pos, len) = (progress.bar.position(), progress.bar.length().unwrap());
            assert!(pos <= len, "{pos}/{len}");
        }
        // A second plan (another fill in the same run) adds to the length.
        progress.event(Event::Planned {
            requests: 3,
            series: 1,
        });
        assert_eq!(progress.bar.length(), Some(20));
        assert_eq!(progress.requests(), 17);
    }
}
