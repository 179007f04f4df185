//! Reality: the scenario's workload driven at a real deployment, and a local deployment to
//! drive. `twin load` ([`load`]) embeds goose with an open-model arrival [`schedule`], runs
//! journeys over HTTP ([`journey_runner`]) and records them in HDR histograms ([`measure`]);
//! [`observer`] scrapes (parsing the text format with [`exposition`]) the scenario's Prometheus endpoints into the run's timeline while it
//! runs; [`history`] keeps one row per nightly run and judges regressions; [`emulator`] is `twin
//! emulate`, a real HTTP server whose endpoints queue and take time as the scenario says, with
//! its PostgreSQL writes in [`store`]; [`drill`] is `twin drill` (faults and recovery steps
//! under load, the write audit, RTO and RPO).
//!
//! Architecture invariant: only this crate speaks HTTP (and to PostgreSQL); it never uses the
//! simulator, and what it produces is the same [`models::RunSummary`] and
//! [`models::timeline::Timeline`] a simulation produces, so reports set them side by side.
//! Secrets (`${ENV}` in headers) are read at request time and never written anywhere.

pub mod clock;
pub mod drill;
pub mod emulator;
pub mod exposition;
pub mod feeder;
pub mod history;
pub mod journey_runner;
pub mod live;
pub mod load;
pub mod measure;
pub mod observer;
pub mod schedule;
pub mod session;
pub mod sse;
pub mod store;
