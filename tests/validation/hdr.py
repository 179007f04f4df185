"""HdrHistogram V2 files as `twin load` writes them (`histograms/journey-<name>.hdr`, the Rust
crate hdrhistogram's V2Serializer, uncompressed): read, pooled across runs, and a quantile with
its distribution-free 95 % confidence interval (order statistics), so that a p95 measured from
a few hundred requests is judged with the uncertainty it has."""

import math
import struct

V2_COOKIE = 0x1C849303
HEADER = struct.Struct(">IIIIQQd")


def read(path):
    """The counts of a histogram file as {value index: count} plus its layout (sub-bucket
    half-count magnitude, unit magnitude)."""
    data = open(path, "rb").read()
    cookie, length, offset, digits, lowest, _highest, _ratio = HEADER.unpack_from(data)
    if cookie & ~0xF0 != V2_COOKIE or offset != 0:
        raise ValueError(f"{path}: not an uncompressed HdrHistogram V2 file")
    # sub_bucket_count = 2^ceil(log2(2 * 10^digits)), as the crate computes it.
    sub_bucket_count = 1 << math.ceil(math.log2(2 * 10**digits))
    layout = (int(math.log2(sub_bucket_count)) - 1, int(math.floor(math.log2(lowest))))
    counts, pos, end, index = {}, HEADER.size, HEADER.size + length, 0
    while pos < end:
        # ZigZag LEB128 (at most 9 bytes, the 9th holding 8 bits).
        raw, shift = 0, 0
        for k in range(9):
            b = data[pos]
            pos += 1
            if k == 8:
                raw |= b << 56
                break
            raw |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        value = (raw >> 1) ^ -(raw & 1)
        if value < 0:
            index += -value  # a run of empty counts
        else:
            if value:
                counts[index] = counts.get(index, 0) + value
            index += 1
    return counts, layout


def pooled(paths):
    """The histograms of several runs added (they share one layout)."""
    total, layout = {}, None
    for p in paths:
        counts, lay = read(p)
        if layout is not None and lay != layout:
            raise ValueError(f"{p}: a different histogram layout")
        layout = lay
        for i, c in counts.items():
            total[i] = total.get(i, 0) + c
    return total, layout


def highest_equivalent(index, layout):
    """The highest value counted at `index` (what the crate's value_at_quantile returns)."""
    half_magnitude, unit = layout
    half = 1 << half_magnitude
    bucket = (index >> half_magnitude) - 1
    sub = (index & (half - 1)) + half
    if bucket < 0:
        sub -= half
        bucket = 0
    value = sub << (bucket + unit)
    return value + (1 << (bucket + unit)) - 1


def at_rank(hist, rank):
    """The value of the rank-th smallest sample (1-based, clamped to the samples)."""
    counts, layout = hist
    n = sum(counts.values())
    rank = min(max(rank, 1), n)
    seen = 0
    for i in sorted(counts):
        seen += counts[i]
        if seen >= rank:
            return highest_equivalent(i, layout)
    raise ValueError("empty histogram")


def quantile(hist, q):
    """The q-quantile as the crate computes it (the ceil(q n)-th sample)."""
    n = sum(hist[0].values())
    return at_rank(hist, max(1, math.ceil(q * n)))


def quantile_ci95(hist, q):
    """A distribution-free 95 % confidence interval of the q-quantile: the order statistics
    at ranks n q -/+ 1.96 sqrt(n q (1 - q)) (the binomial's normal approximation; it holds for
    n q (1 - q) >= 10 or so, 200 samples at p95)."""
    n = sum(hist[0].values())
    half = 1.96 * math.sqrt(n * q * (1.0 - q))
    return at_rank(hist, math.floor(n * q - half)), at_rank(hist, math.ceil(n * q + half))
