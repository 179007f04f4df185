//! Closed-form queueing results: the textbook the simulator must agree with, and the basis of
//! fast what-if estimates. Rates are per second, times in seconds.

/// Erlang's B formula by its stable recurrence.
pub fn erlang_b(servers: u32, offered_load: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=servers {
        b = offered_load * b / (f64::from(k) + offered_load * b);
    }
    b
}

/// Erlang's C formula: the probability that an arrival waits in an M/M/c queue.
pub fn erlang_c(servers: u32, offered_load: f64) -> f64 {
    let rho = offered_load / f64::from(servers);
    if rho >= 1.0 {
        return 1.0;
    }
    let b = erlang_b(servers, offered_load);
    b / (1.0 - rho * (1.0 - b))
}

/// An M/M/c queue: Poisson arrivals at `lambda`, `c` exponential servers at rate `mu` each.
#[derive(Clone, Copy, Debug)]
pub struct MMc {
    pub lambda: f64,
    pub mu: f64,
    pub c: u32,
}

impl MMc {
    pub fn utilization(&self) -> f64 {
        self.lambda / (f64::from(self.c) * self.mu)
    }
    pub fn is_stable(&self) -> bool {
        self.utilization() < 1.0
    }
    pub fn prob_wait(&self) -> f64 {
        erlang_c(self.c, self.lambda / self.mu)
    }
    /// Mean wait in queue, `C / (c mu - lambda)`.
    pub fn mean_wait(&self) -> f64 {
        self.prob_wait() / (f64::from(self.c) * self.mu - self.lambda)
    }
    /// Mean sojourn (wait + service).
    pub fn mean_sojourn(&self) -> f64 {
        self.mean_wait() + 1.0 / self.mu
    }
    /// P(sojourn > t): the wait is 0 with probability 1-C, else exponential at
    /// `theta = c mu - lambda`; the service is exponential at `mu` and independent of the wait.
    pub fn sojourn_tail(&self, t: f64) -> f64 {
        let c = self.prob_wait();
        let theta = f64::from(self.c) * self.mu - self.lambda;
        let mu = self.mu;
        let hypo = if (theta - mu).abs() < 1e-12 * mu {
            (1.0 + mu * t) * (-mu * t).exp()
        } else {
            (mu * (-theta * t).exp() - theta * (-mu * t).exp()) / (mu - theta)
        };
        (1.0 - c) * (-mu * t).exp() + c * hypo
    }
    /// The `q`-quantile (0 < q < 1) of the sojourn time.
    pub fn sojourn_quantile(&self, q: f64) -> f64 {
        quantile_from_tail(|t| self.sojourn_tail(t), q, 1.0 / self.mu)
    }
    /// The `q`-quantile of the wait in queue.
    pub fn wait_quantile(&self, q: f64) -> f64 {
        let c = self.prob_wait();
        if 1.0 - q >= c {
            return 0.0;
        }
        let theta = f64::from(self.c) * self.mu - self.lambda;
        (c / (1.0 - q)).ln() / theta
    }
}

/// M/M/1 as the one-server case of [`MMc`].
pub fn mm1(lambda: f64, mu: f64) -> MMc {
    MMc { lambda, mu, c: 1 }
}

/// M/G/1 mean sojourn by Pollaczek-Khinchine: `Wq = lambda E[S^2] / (2 (1 - rho))`.
/// `scv` is the squared coefficient of variation of the service time.
pub fn mg1_mean_sojourn(lambda: f64, mean_service: f64, scv: f64) -> f64 {
    let rho = lambda * mean_service;
    let es2 = (scv + 1.0) * mean_service * mean_service;
    lambda * es2 / (2.0 * (1.0 - rho)) + mean_service
}

/// M/D/1 mean sojourn: P-K with deterministic service (`scv = 0`).
pub fn md1_mean_sojourn(lambda: f64, service: f64) -> f64 {
    mg1_mean_sojourn(lambda, service, 0.0)
}

/// One station of an open Jackson network.
#[derive(Clone, Copy, Debug)]
pub struct Station {
    /// Arrivals from outside, per second.
    pub external_rate: f64,
    pub mu: f64,
    pub servers: u32,
}

/// An open Jackson network: stations and routing probabilities `routing[i][j]` from `i` to `j`
/// (the remainder leaves the network).
#[derive(Clone, Debug)]
pub struct JacksonNetwork {
    pub stations: Vec<Station>,
    pub routing: Vec<Vec<f64>>,
}

impl JacksonNetwork {
    /// Solves the traffic equations `lambda = gamma + lambda P` by fixed-point iteration.
    pub fn arrival_rates(&self) -> Vec<f64> {
        let mut lambda: Vec<f64> = self.stations.iter().map(|s| s.external_rate).collect();
        for _ in 0..10_000 {
            let mut next: Vec<f64> = self.stations.iter().map(|s| s.external_rate).collect();
            for (from, row) in lambda.iter().zip(&self.routing) {
                for (to, p) in next.iter_mut().zip(row) {
                    *to += from * p;
                }
            }
            let delta: f64 = next.iter().zip(&lambda).map(|(a, b)| (a - b).abs()).sum();
            lambda = next;
            if delta < 1e-13 {
                break;
            }
        }
        lambda
    }

    /// Mean time a customer spends in the network, by Little's law over the M/M/c stations.
    pub fn mean_sojourn(&self) -> f64 {
        let lambda = self.arrival_rates();
        let gamma: f64 = self.stations.iter().map(|s| s.external_rate).sum();
        let in_system: f64 = self
            .stations
            .iter()
            .zip(&lambda)
            .map(|(s, l)| {
                l * MMc {
                    lambda: *l,
                    mu: s.mu,
                    c: s.servers,
                }
                .mean_sojourn()
            })
            .sum();
        in_system / gamma
    }
}

/// An M/M/c/K queue: as [`MMc`], but at most `k` requests in the system (`k - c` waiting);
/// an arrival that finds it full is rejected (a service's `queue_limit: k - c`). Stable at
/// any load.
#[derive(Clone, Copy, Debug)]
pub struct MMcK {
    pub lambda: f64,
    pub mu: f64,
    pub c: u32,
    pub k: u32,
}

impl MMcK {
    /// The stationary distribution `p_0 .. p_K`: `p_n ∝ a^n / n!` up to `c`, then a geometric
    /// tail `p_c (a/c)^(n-c)`, with `a = lambda / mu`.
    pub fn distribution(&self) -> Vec<f64> {
        let a = self.lambda / self.mu;
        let c = f64::from(self.c);
        let mut w = Vec::with_capacity(self.k as usize + 1);
        let mut term = 1.0;
        w.push(term);
        for n in 1..=self.k {
            let n = f64::from(n);
            term *= if n <= c { a / n } else { a / c };
            w.push(term);
        }
        let total: f64 = w.iter().sum();
        w.iter().map(|x| x / total).collect()
    }
    /// The share of arrivals rejected (PASTA: the probability the system is full).
    pub fn blocking(&self) -> f64 {
        self.distribution().last().copied().unwrap_or(0.0)
    }
    /// Mean number in the system.
    pub fn mean_in_system(&self) -> f64 {
        self.distribution()
            .iter()
            .enumerate()
            .map(|(n, p)| n as f64 * p)
            .sum()
    }
    /// Mean sojourn of an accepted request, by Little's law over the accepted rate.
    pub fn mean_sojourn(&self) -> f64 {
        self.mean_in_system() / (self.lambda * (1.0 - self.blocking()))
    }
}

/// The error share of a journey of `visits` visits that each fail independently with
/// probability `p`: `1 - (1 - p)^visits`.
pub fn journey_error_rate(p: f64, visits: u32) -> f64 {
    1.0 - (1.0 - p).powi(visits as i32)
}

/// With up to `attempts` tries of a visit that fails independently with probability `p`: the
/// share that fails every time, `p^attempts`.
pub fn retry_error_share(p: f64, attempts: u32) -> f64 {
    p.powi(attempts as i32)
}

/// The visits a retried visit makes on average, `1 + p + ... + p^(attempts-1)`: the factor by
/// which retries multiply the offered load.
pub fn retry_load_factor(p: f64, attempts: u32) -> f64 {
    (0..attempts).map(|i| p.powi(i as i32)).sum()
}

/// M/G/1 under processor sharing (the CPU shared equally by the requests on it): the mean
/// sojourn `E[S] / (1 - rho)`, insensitive to the demand's distribution beyond its mean (so
/// M/D/1-PS and M/M/1-PS have the same mean; for M/M/1 it equals FCFS's `1/(mu - lambda)`).
pub fn mg1_ps_mean_sojourn(lambda: f64, mean_demand: f64) -> f64 {
    mean_demand / (1.0 - lambda * mean_demand)
}

/// Round robin with a slice between 0 (processor sharing) and infinity (FCFS) lies between
/// the two disciplines' mean sojourns: `(lower, upper)` of M/G/1-PS and M/G/1-FCFS (P-K).
pub fn mg1_round_robin_bounds(lambda: f64, mean_demand: f64, scv: f64) -> (f64, f64) {
    let ps = mg1_ps_mean_sojourn(lambda, mean_demand);
    let fcfs = mg1_mean_sojourn(lambda, mean_demand, scv);
    (ps.min(fcfs), ps.max(fcfs))
}

/// Inverts a decreasing tail function by bracketing and bisection.
fn quantile_from_tail(tail: impl Fn(f64) -> f64, q: f64, scale: f64) -> f64 {
    let target = 1.0 - q;
    let (mut lo, mut hi) = (0.0, scale);
    while tail(hi) > target {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if tail(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm1_textbook_values() {
        // lambda 0.8, mu 1: W = 1/(mu-lambda) = 5; p95 = ln(20)/0.2.
        let q = mm1(0.8, 1.0);
        assert!((q.mean_sojourn() - 5.0).abs() < 1e-12);
        assert!((q.sojourn_quantile(0.95) - 20f64.ln() / 0.2).abs() < 1e-9);
        assert!((q.prob_wait() - 0.8).abs() < 1e-12);
    }

    #[test]
    fn erlang_c_matches_published_table() {
        // c = 2, a = 1 (rho 0.5): C = 1/3 (Kleinrock). c = 10, a = 8: C = 0.4092 (Erlang tables).
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((erlang_c(10, 8.0) - 0.409_19).abs() < 1e-4);
        // M/M/2 with lambda 1, mu 1: Wq = C/(2-1) = 1/3, W = 4/3.
        let q = MMc {
            lambda: 1.0,
            mu: 1.0,
            c: 2,
        };
        assert!((q.mean_sojourn() - 4.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn pollaczek_khinchine_cases() {
        // M/D/1 at rho 0.5, S = 1: Wq = 0.5/(2*0.5) = 0.5, W = 1.5.
        assert!((md1_mean_sojourn(0.5, 1.0) - 1.5).abs() < 1e-12);
        // Exponential service reduces P-K to M/M/1.
        assert!((mg1_mean_sojourn(0.8, 1.0, 1.0) - 5.0).abs() < 1e-12);
    }

    #[test]
    fn jackson_tandem_is_sum_of_stations() {
        let net = JacksonNetwork {
            stations: vec![
                Station {
                    external_rate: 0.5,
                    mu: 1.0,
                    servers: 1,
                },
                Station {
                    external_rate: 0.0,
                    mu: 2.0,
                    servers: 1,
                },
            ],
            routing: vec![vec![0.0, 1.0], vec![0.0, 0.0]],
        };
        // 1/(1-0.5) + 1/(2-0.5)
        assert!((net.mean_sojourn() - (2.0 + 1.0 / 1.5)).abs() < 1e-9);
        // Feedback: station visited 1/(1-p) times.
        let fb = JacksonNetwork {
            stations: vec![Station {
                external_rate: 0.3,
                mu: 1.0,
                servers: 1,
            }],
            routing: vec![vec![0.5]],
        };
        assert!((fb.arrival_rates()[0] - 0.6).abs() < 1e-9);
    }
    #[test]
    fn mmck_textbook_values() {
        // M/M/1/K at a = 1: uniform over 0..K, blocking 1/(K+1), L = K/2.
        let q = MMcK {
            lambda: 1.0,
            mu: 1.0,
            c: 1,
            k: 3,
        };
        assert!((q.blocking() - 0.25).abs() < 1e-12);
        assert!((q.mean_in_system() - 1.5).abs() < 1e-12);
        assert!((q.mean_sojourn() - 1.5 / 0.75).abs() < 1e-12);
        // M/M/c/c is Erlang's loss system: blocking is Erlang B.
        let loss = MMcK {
            lambda: 8.0,
            mu: 1.0,
            c: 10,
            k: 10,
        };
        assert!((loss.blocking() - erlang_b(10, 8.0)).abs() < 1e-12);
        // A large K approaches M/M/c.
        let big = MMcK {
            lambda: 50.0,
            mu: 30.0,
            c: 2,
            k: 2000,
        };
        let open = MMc {
            lambda: 50.0,
            mu: 30.0,
            c: 2,
        };
        assert!(big.blocking() < 1e-12);
        assert!((big.mean_sojourn() - open.mean_sojourn()).abs() < 1e-9);
    }

    #[test]
    fn error_and_retry_shares() {
        assert!((journey_error_rate(0.1, 1) - 0.1).abs() < 1e-12);
        assert!((journey_error_rate(0.1, 2) - 0.19).abs() < 1e-12);
        assert!((retry_error_share(0.2, 3) - 0.008).abs() < 1e-12);
        assert!((retry_load_factor(0.2, 3) - 1.24).abs() < 1e-12);
        assert!((retry_load_factor(0.5, 1) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn processor_sharing_is_insensitive_and_round_robin_lies_between() {
        // M/M/1: PS and FCFS have the same mean, 1/(mu - lambda).
        assert!((mg1_ps_mean_sojourn(80.0, 0.01) - 0.05).abs() < 1e-12);
        assert!((mg1_ps_mean_sojourn(80.0, 0.01) - mm1(80.0, 100.0).mean_sojourn()).abs() < 1e-12);
        // M/D/1: FCFS beats PS (10 ms at rho 0.5: 15 ms vs 20 ms).
        let (lo, hi) = mg1_round_robin_bounds(50.0, 0.01, 0.0);
        assert!((lo - 0.015).abs() < 1e-12 && (hi - 0.02).abs() < 1e-12);
    }
}
