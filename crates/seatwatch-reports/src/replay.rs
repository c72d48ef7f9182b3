//! The fold: the server's own projections plus the per-agent books of the reports.

use crate::ReportKind;
use crate::people::People;
use seatwatch_config::Config;
use seatwatch_engine::Engine;
use seatwatch_model::{Dur, Envelope, Projector};
use seatwatch_occupancy::Occupancy;

/// How long a replay keeps closed intervals: all of them (a century), where a server
/// keeps `retention` (35 days by default).
const KEEP_ALL: Dur = Dur::mins(100 * 366 * 24 * 60);

/// The projections of a whole log, rebuilt for reports. See the crate documentation.
#[derive(Clone, Debug)]
pub struct Replay {
    pub(crate) engine: Engine,
    pub(crate) people: Option<People>,
    pub(crate) timeline: bool,
}

impl Replay {
    /// A replay that collects what `kinds` need: the agents report needs every agent's
    /// timeline, the attendance report, the scorecard and the supervision report the
    /// per-agent books (the supervision report also their weekly QA book); all grow with
    /// the log, so they are kept only when asked for.
    ///
    /// The projections use `config` as a server would, except that every interval is
    /// kept (a server drops intervals older than the occupancy `retention`).
    pub fn new(config: &Config, kinds: &[ReportKind]) -> Replay {
        let timeline = kinds.contains(&ReportKind::Agents);
        let people =
            kinds.iter().any(|k| matches!(k, ReportKind::Attendance | ReportKind::Scorecard | ReportKind::Supervision));
        let weeks = kinds.contains(&ReportKind::Supervision);
        let mut cfg = config.clone();
        for t in cfg.tenants.values_mut().chain(std::iter::once(&mut cfg.default_tenant)) {
            t.occupancy.retention = KEEP_ALL;
        }
        let mut engine = Engine::new(&cfg);
        engine.occupancy = Occupancy::new(
            cfg.default_tenant.occupancy(),
            cfg.tenants.iter().map(|(k, t)| (k.clone(), t.occupancy())).collect(),
        )
        .with_timeline(timeline)
        .with_changes(people);
        engine.compliance.set_change_log(false);
        Replay { engine, people: people.then(|| People::new(&cfg, weeks)), timeline }
    }

    /// A replay that can make every report.
    pub fn all(config: &Config) -> Replay {
        Replay::new(config, &ReportKind::ALL)
    }

    /// Fold `runs` in order, as `apply` on each record would, on two threads
    /// ([`Engine::apply_runs_parallel`]): compliance and the histograms on a helper
    /// thread, occupancy (with the per-agent books of attendance, the scorecard and the
    /// supervision report, which take occupancy's changes record by record) on this one.
    pub fn apply_runs(&mut self, runs: impl IntoIterator<Item = Vec<Envelope>>) {
        let people = &mut self.people;
        self.engine.apply_runs_parallel(runs, |run, occupancy| match people.as_mut() {
            None => occupancy.apply_run(run),
            Some(p) => {
                for env in run {
                    occupancy.apply(env);
                    p.apply(env);
                    for c in occupancy.take_changes() {
                        p.change(&c);
                    }
                }
            }
        });
    }

    /// The projections (as the server has them, with every interval kept).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl Projector for Replay {
    fn apply(&mut self, env: &Envelope) {
        if env.seq <= self.engine.position() {
            return;
        }
        self.engine.apply(env);
        if let Some(p) = self.people.as_mut() {
            p.apply(env);
            for c in self.engine.occupancy.take_changes() {
                p.change(&c);
            }
        }
    }

    fn position(&self) -> u64 {
        self.engine.position()
    }
}
