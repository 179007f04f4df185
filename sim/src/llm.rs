//! LLM endpoints: latency from token counts, provider quotas as token buckets (requests and
//! tokens per minute, refilled continuously), 429s, and the client's retries with exponential
//! backoff and full jitter.

use crate::calendar::Nanos;
use crate::model::LlmSpec;
use models::RandomStream;

/// A token bucket holding up to one minute's quota.
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    per_minute: f64,
    level: f64,
    at: Nanos,
}

impl Bucket {
    pub fn new(per_minute: f64) -> Bucket {
        Bucket {
            per_minute,
            level: per_minute,
            at: 0,
        }
    }

    /// Takes `n` if the bucket holds them now.
    pub fn take(&mut self, n: f64, now: Nanos) -> bool {
        let refill = (now - self.at) as f64 / 60e9 * self.per_minute;
        self.level = (self.level + refill).min(self.per_minute);
        self.at = now;
        if self.level >= n {
            self.level -= n;
            true
        } else {
            false
        }
    }
}

/// What a call attempt comes to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Attempt {
    /// Served: the first token comes after `first` (time to first token and the input
    /// tokens' prefill), the response completes after `after` (`ok` false when the client's
    /// timeout cut it short).
    Served {
        first: Nanos,
        after: Nanos,
        ok: bool,
    },
    /// 429: retry after this backoff.
    Throttled { retry_after: Nanos },
    /// 429 and no attempts left.
    GaveUp,
}

/// What one endpoint did over the measured time of one replication.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LlmCounts {
    /// Attempts, 429s included.
    pub calls: u64,
    pub throttled: u64,
    /// Calls that failed for good.
    pub failed: u64,
    pub tokens_in: f64,
    pub tokens_out: f64,
}

pub struct Endpoint {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    rng: RandomStream,
    /// 429s over the whole run (the timeline's `llm_429/` series).
    pub throttled: u64,
    /// Over the whole run (what is billed).
    pub tokens_in: f64,
    pub tokens_out: f64,
    /// Over the measured time (after warm-up): what the summary reports.
    pub measured: LlmCounts,
    warmup: Nanos,
    /// Share of calls refused during an outage (1) or throttling fault; 0 normally.
    pub refuse_share: f64,
}

impl Endpoint {
    pub fn new(spec: &LlmSpec, rng: RandomStream) -> Endpoint {
        Endpoint {
            requests: spec.rpm.map(Bucket::new),
            tokens: spec.tpm.map(Bucket::new),
            rng,
            throttled: 0,
            tokens_in: 0.0,
            tokens_out: 0.0,
            measured: LlmCounts::default(),
            warmup: 0,
            refuse_share: 0.0,
        }
    }

    /// Counts only what happens from `warmup` on in `measured`.
    pub fn with_warmup(mut self, warmup: Nanos) -> Endpoint {
        self.warmup = warmup;
        self
    }

    /// Attempt number `attempt` (from 1) of a call with the given token counts.
    pub fn call(
        &mut self,
        spec: &LlmSpec,
        tin: f64,
        tout: f64,
        attempt: u32,
        now: Nanos,
    ) -> Attempt {
        let counted = now >= self.warmup;
        let m = &mut self.measured;
        m.calls += u64::from(counted);
        let refused = self.refuse_share > 0.0 && self.rng.next_f64() < self.refuse_share;
        let admitted = !refused
            && self.requests.as_mut().is_none_or(|b| b.take(1.0, now))
            && self.tokens.as_mut().is_none_or(|b| b.take(tin + tout, now));
        if !admitted {
            self.throttled += 1;
            let m = &mut self.measured;
            m.throttled += u64::from(counted);
            if attempt >= spec.retry.max_attempts {
                m.failed += u64::from(counted);
                return Attempt::GaveUp;
            }
            let ceiling = spec.retry.ceiling(attempt);
            let wait = if spec.retry.jitter {
                ceiling * self.rng.next_f64()
            } else {
                ceiling
            };
            return Attempt::Throttled {
                retry_after: ((wait * 1e9) as Nanos).max(1),
            };
        }
        self.tokens_in += tin;
        self.tokens_out += tout;
        if counted {
            self.measured.tokens_in += tin;
            self.measured.tokens_out += tout;
        }
        let first_s = spec.ttft.sample(&mut self.rng) + tin * spec.per_in;
        let first = (first_s * 1e9) as Nanos;
        let after = ((first_s + tout * spec.per_out) * 1e9) as Nanos;
        match spec.timeout {
            Some(t) if after > t => {
                self.measured.failed += u64::from(counted);
                Attempt::Served {
                    first: first.min(t),
                    after: t,
                    ok: false,
                }
            }
            _ => Attempt::Served {
                first,
                after,
                ok: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::platform::RetryPolicy;
    use models::Sampler;

    fn spec(rpm: f64) -> LlmSpec {
        LlmSpec {
            name: "x".into(),
            ttft: Sampler::Constant(0.5),
            per_out: 0.02,
            per_in: 0.0,
            rpm: Some(rpm),
            tpm: None,
            retry: RetryPolicy {
                jitter: false,
                ..RetryPolicy::default()
            },
            timeout: Some(10_000_000_000),
        }
    }

    #[test]
    fn latency_is_ttft_plus_tokens() {
        let s = spec(1000.0);
        let mut e = Endpoint::new(&s, RandomStream::from_seed(1));
        // 0.5 s + 100 x 20 ms = 2.5 s, the first token at 0.5 s
        assert_eq!(
            e.call(&s, 50.0, 100.0, 1, 0),
            Attempt::Served {
                first: 500_000_000,
                after: 2_500_000_000,
                ok: true
            }
        );
        // 1000 tokens out: 20.5 s, cut at the 10 s timeout
        assert_eq!(
            e.call(&s, 0.0, 1000.0, 1, 0),
            Attempt::Served {
                first: 500_000_000,
                after: 10_000_000_000,
                ok: false
            }
        );
        // Prefill: 1 ms an input token puts 400 input tokens' 0.4 s before the first token.
        let prefill = LlmSpec {
            per_in: 0.001,
            ..spec(1000.0)
        };
        assert_eq!(
            e.call(&prefill, 400.0, 10.0, 1, 0),
            Attempt::Served {
                first: 900_000_000,
                after: 1_100_000_000,
                ok: true
            }
        );
    }

    #[test]
    fn quota_throttles_then_backoff_doubles_then_gives_up() {
        let s = spec(2.0);
        let mut e = Endpoint::new(&s, RandomStream::from_seed(1));
        assert!(matches!(e.call(&s, 1.0, 1.0, 1, 0), Attempt::Served { .. }));
        assert!(matches!(e.call(&s, 1.0, 1.0, 1, 0), Attempt::Served { .. }));
        assert_eq!(
            e.call(&s, 1.0, 1.0, 1, 0),
            Attempt::Throttled {
                retry_after: 500_000_000
            }
        );
        assert_eq!(
            e.call(&s, 1.0, 1.0, 2, 0),
            Attempt::Throttled {
                retry_after: 1_000_000_000
            }
        );
        assert_eq!(e.call(&s, 1.0, 1.0, 3, 0), Attempt::GaveUp);
        // Half a minute refills one request of a 2/min quota.
        assert!(matches!(
            e.call(&s, 1.0, 1.0, 1, 30_000_000_000),
            Attempt::Served { .. }
        ));
        assert_eq!(e.measured.throttled, 3);
    }
}
