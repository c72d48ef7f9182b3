//! Integration tests of the metrics projection through its public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod props;
mod publish;

use seatwatch_compliance::Compliance;
use seatwatch_config::Config;
use seatwatch_metrics::{CallHistograms, Publisher, Sources};
use seatwatch_model::{Envelope, Projector};
use seatwatch_occupancy::Occupancy;

/// The three projections `/metrics` reads, folded like the engine folds them.
#[derive(Debug)]
pub struct Fold {
    pub config: Config,
    pub occupancy: Occupancy,
    pub compliance: Compliance,
    pub histograms: CallHistograms,
}

impl Fold {
    pub fn new(config: Config) -> Self {
        let occupancy = Occupancy::new(
            config.default_tenant.occupancy(),
            config.tenants.iter().map(|(k, t)| (k.clone(), t.occupancy())).collect(),
        )
        .with_changes(false);
        let mut compliance = Compliance::new(
            config.default_tenant.compliance(),
            config.tenants.iter().map(|(k, t)| (k.clone(), t.compliance())).collect(),
        );
        compliance.set_change_log(false);
        let histograms = CallHistograms::new(&config);
        Fold { config, occupancy, compliance, histograms }
    }

    pub fn apply(&mut self, env: &Envelope) {
        self.occupancy.apply(env);
        self.compliance.apply(env);
        self.histograms.apply(env);
    }

    pub fn sources(&self) -> Sources<'_> {
        Sources {
            occupancy: &self.occupancy,
            compliance: &self.compliance,
            histograms: &self.histograms,
            config: &self.config,
        }
    }
}

/// A Prometheus recorder of the test's own (not the global one) with the buckets the
/// server uses, its publisher, and rendering.
pub struct Scraper {
    pub recorder: metrics_exporter_prometheus::PrometheusRecorder,
    pub publisher: Publisher,
}

impl Default for Scraper {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Scraper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scraper").finish_non_exhaustive()
    }
}

impl Scraper {
    pub fn new() -> Self {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(seatwatch_metrics::names::ANSWER_DELAY.into()),
                seatwatch_metrics::names::ANSWER_DELAY_BUCKETS,
            )
            .unwrap()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(seatwatch_metrics::names::HANDLE_TIME.into()),
                seatwatch_metrics::names::HANDLE_TIME_BUCKETS,
            )
            .unwrap()
            .build_recorder();
        metrics::with_local_recorder(&recorder, seatwatch_metrics::describe);
        Scraper { recorder, publisher: Publisher::new() }
    }

    /// Publish `fold` and render the text format.
    pub fn scrape(&mut self, fold: &Fold) -> String {
        let publisher = &mut self.publisher;
        metrics::with_local_recorder(&self.recorder, || publisher.publish(&fold.sources()));
        self.recorder.handle().render()
    }
}

/// The value of the sample line `series` (name and labels exactly as rendered, labels
/// in the order given), if present.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
        if n != name {
            return None;
        }
        let body = rest.strip_suffix('}')?;
        let mut got: Vec<(&str, &str)> = if body.is_empty() {
            Vec::new()
        } else {
            body.split("\",")
                .map(|kv| kv.split_once("=\"").map(|(k, v)| (k, v.trim_end_matches('"'))))
                .collect::<Option<_>>()?
        };
        let mut want = labels.to_vec();
        got.sort();
        want.sort();
        (got == want).then(|| value.parse().ok()).flatten()
    })
}
