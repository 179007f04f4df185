//! The random number generator every model samples from: xoshiro256++, seeded through
//! SplitMix64. The generator is written out here (twenty lines, checked against the reference
//! vectors) so that a seed means the same stream on every machine; it implements `rand_core`'s
//! `TryRng` (hence `Rng`), so the laws of `rand_distr` draw from it (ziggurat exponential and
//! normal, Marsaglia-Tsang gamma). `rand_core` and `rand_distr` are pinned to exact versions and
//! `tests/stream_stability.rs` holds a golden summary: an upgrade that changes a stream fails.

use rand_distr::Distribution as _;
use std::convert::Infallible;

/// One independent stream of pseudo-random numbers.
#[derive(Clone, Debug)]
pub struct RandomStream {
    s: [u64; 4],
}

/// SplitMix64: the recommended seeder for xoshiro, and a good 64-bit mixer for deriving seeds.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a hash that never changes between Rust releases, for naming streams.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

impl RandomStream {
    pub fn from_seed(seed: u64) -> RandomStream {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        RandomStream { s }
    }

    /// The stream of one named component in one replication: adding a component elsewhere in a
    /// scenario does not change the draws of this one.
    pub fn derive(seed: u64, replication: u32, component: &str) -> RandomStream {
        let mut st = seed ^ stable_hash(component.as_bytes()).rotate_left(17);
        let a = splitmix64(&mut st);
        let mut st2 = a ^ (u64::from(replication).wrapping_mul(0xD1B5_4A32_D192_ED03));
        RandomStream::from_seed(splitmix64(&mut st2))
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1]: safe to take the logarithm of.
    #[inline]
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n), without modulo bias worth measuring (Lemire's multiply).
    #[inline]
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u64() as u32) * u64::from(n)) >> 32) as u32
    }

    /// Standard normal (`rand_distr`'s ziggurat: no logarithm or cosine on the common path).
    #[inline]
    pub fn standard_normal(&mut self) -> f64 {
        rand_distr::StandardNormal.sample(self)
    }

    /// Standard exponential, mean 1 (`rand_distr`'s ziggurat: a logarithm only in the tail,
    /// about one draw in a thousand, where `-ln(U)` takes one every draw).
    #[inline]
    pub fn exp1(&mut self) -> f64 {
        rand_distr::Exp1.sample(self)
    }
}

/// `rand_core`'s interface to the same stream: `next_u64` is the generator's own output,
/// `next_u32` its upper half (the better bits of xoshiro), bytes little-endian.
impl rand_core::TryRng for RandomStream {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next_u64() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_reference_output() {
        // Reference: xoshiro256++ with state {1, 2, 3, 4} (prng.di.unimi.it test vectors).
        let mut r = RandomStream { s: [1, 2, 3, 4] };
        assert_eq!(r.next_u64(), 41943041);
        assert_eq!(r.next_u64(), 58720359);
        assert_eq!(r.next_u64(), 3588806011781223);
    }

    #[test]
    fn derived_streams_differ_by_component_and_replication() {
        let a = RandomStream::derive(7, 0, "api").next_u64();
        let b = RandomStream::derive(7, 0, "db").next_u64();
        let c = RandomStream::derive(7, 1, "api").next_u64();
        assert!(a != b && a != c && b != c);
        assert_eq!(a, RandomStream::derive(7, 0, "api").next_u64());
    }

    #[test]
    fn uniform_mean_and_below_are_unbiased() {
        let mut r = RandomStream::from_seed(1);
        let n = 200_000;
        let mean: f64 = (0..n).map(|_| r.next_f64()).sum::<f64>() / n as f64;
        // sd of the mean = sqrt(1/12/n) = 6.5e-4; 5 sd
        assert!((mean - 0.5).abs() < 3.3e-3, "{mean}");
        let mut counts = [0u32; 3];
        for _ in 0..n {
            counts[r.below(3) as usize] += 1;
        }
        for c in counts {
            // binomial sd = sqrt(n p (1-p)) = 211; 5 sd
            assert!((f64::from(c) - n as f64 / 3.0).abs() < 1055.0, "{counts:?}");
        }
    }
}
