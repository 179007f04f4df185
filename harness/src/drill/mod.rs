//! `twin drill`: a chaos or failover drill against a real deployment, under load. This module
//! owns everything the drill measures; the binary adds the twin's prediction and writes the
//! run folder.
//!
//! - [`plan`]: finding the drill, the `allowed_targets` check, the printed plan.
//! - [`steps`]: the commands on the timeline (no shell unless asked, timeouts, output
//!   captured into the drill log, secrets redacted).
//! - [`run`]: the open-model load, the steps' thread, the write audit's acknowledgement log
//!   and read-back, rollback on a failed step or Ctrl-C.
//! - [`rollout`]: a rollout drilled in reality (`--rollout`): its hooks driven by a controller
//!   that judges the load's own calls, split by the version that answered, each analysis
//!   interval, as the simulator's controller does.
//! - [`audit`] and [`recovery`]: pure functions over what was measured (lost, duplicate and
//!   unacknowledged writes, RPO; RTO and time to first success).
//! - [`summary`]: the measurement as a run summary and timeline.

pub mod audit;
pub mod plan;
pub mod recovery;
pub mod rollout;
pub mod run;
pub mod steps;
pub mod summary;
