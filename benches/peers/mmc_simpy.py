"""M/M/c in SimPy 4: the peer of `cargo bench -p sim --bench mmc` (same model, same figures).

Poisson arrivals at rate LAMBDA, C servers sharing one FIFO queue, exponential service of mean
1/MU; each customer's sojourn goes into a running sum (nothing is kept per customer).
Usage: python3 mmc_simpy.py [CUSTOMERS]   (default 1,000,000). Prints customers/s of the run.
"""
import random, sys, time
import simpy

LAMBDA, MU, C = 90.0, 10.0, 10          # utilisation 0.9, as the Rust benchmark
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
done, total = 0, 0.0

def customer(env, servers, rng):
    global done, total
    arrived = env.now
    with servers.request() as req:
        yield req
        yield env.timeout(rng.expovariate(MU))
    done += 1
    total += env.now - arrived

def source(env, servers, rng):
    while True:
        yield env.timeout(rng.expovariate(LAMBDA))
        env.process(customer(env, servers, rng))

env, rng = simpy.Environment(), random.Random(42)
servers = simpy.Resource(env, capacity=C)
env.process(source(env, servers, rng))
t0 = time.perf_counter()
env.run(until=N / LAMBDA)               # about N customers arrive
wall = time.perf_counter() - t0
print(f"simpy customers={done} wall_s={wall:.3f} customers_per_s={done / wall:.0f} "
      f"mean_sojourn_ms={1000 * total / done:.2f}")
