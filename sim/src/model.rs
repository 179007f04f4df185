//! A scenario compiled for execution: services become stations addressed by index, journeys
//! become short programs of [`Op`]s in one flat arena, and the journey mix becomes a cumulative
//! table. Nothing here changes during a run.

use models::scenario::Arrivals;
use models::{Sampler, Scenario};

/// One instruction of a journey's program.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Queue for and be served by a station.
    Visit { station: u32 },
    /// The journey is complete.
    Done,
}

/// A station's static description.
pub struct StationSpec {
    pub name: String,
    pub replicas: u32,
    pub concurrency: u32,
    pub balancing: models::scenario::Balancing,
    pub service_time: Sampler,
}

pub struct JourneySpec {
    pub name: String,
    /// Index of the journey's first op in [`Model::ops`].
    pub entry: u32,
}

pub struct Model {
    pub name: String,
    pub horizon: u64,
    pub warmup: u64,
    pub stations: Vec<StationSpec>,
    pub journeys: Vec<JourneySpec>,
    pub ops: Vec<Op>,
    /// Cumulative journey weights, normalised to end at 1.
    pub mix: Vec<f64>,
    pub arrivals: Arrivals,
}

impl Model {
    /// Compiles a validated scenario.
    pub fn compile(s: &Scenario) -> Model {
        let stations: Vec<StationSpec> = s
            .services
            .iter()
            .map(|(name, svc)| StationSpec {
                name: name.clone(),
                replicas: svc.replicas.initial(),
                concurrency: svc.concurrency,
                balancing: svc.balancing,
                service_time: svc.service_time.sampler(),
            })
            .collect();
        let mut ops = Vec::new();
        let mut journeys = Vec::new();
        for j in &s.workload.journeys {
            journeys.push(JourneySpec {
                name: j.name.clone(),
                entry: ops.len() as u32,
            });
            for step in &j.steps {
                // Validation guarantees the service exists.
                let station = s.services.get_index_of(&step.service).unwrap_or(0) as u32;
                ops.push(Op::Visit { station });
            }
            ops.push(Op::Done);
        }
        let total: f64 = s.workload.journeys.iter().map(|j| j.weight).sum();
        let mut acc = 0.0;
        let mut mix: Vec<f64> = s
            .workload
            .journeys
            .iter()
            .map(|j| {
                acc += j.weight / total;
                acc
            })
            .collect();
        if let Some(last) = mix.last_mut() {
            *last = 1.0;
        }
        Model {
            name: s.name.clone(),
            horizon: s.horizon.0,
            warmup: s.warmup.0,
            stations,
            journeys,
            ops,
            mix,
            arrivals: s.workload.arrivals.clone(),
        }
    }
}
