#!/usr/bin/env python3
"""Independent reference values for tests/models/privacy_test.cpp: log A_alpha of the
Poisson-subsampled Gaussian by direct numerical integration with mpmath (50 digits), at the
(q, sigma, alpha) points that stress the accountant's series (tiny q, tiny sigma, alpha near 1,
large fractional alpha). A_alpha = E_{z ~ N(0, sigma^2)} [((1-q) + q exp((2z - 1) / (2 sigma^2)))^alpha].
Run: python3 tests/models/privacy_reference_mpmath.py (needs python3-mpmath)."""
import mpmath as mp

mp.mp.dps = 50
POINTS = [(1e-7, 0.1, 1.01), (1e-6, 0.1, 256), (1e-5, 0.1, 256.1), (1e-6, 1, 27), (1e-4, 1, 1.5),
          (1e-3, 1, 2), (0.01, 10, 20), (0.1, 100, 20.5), (0.99, 0.1, 256), (0.999, 100, 256.1),
          (2048 / 4373472329, 0.18, 1.3), (0.04, 1.5, 3.9)]


def log_a(q, s, a):
    q, s, a = mp.mpf(q), mp.mpf(s), mp.mpf(a)
    f = lambda z: mp.npdf(z, mu=0, sigma=s) * ((1 - q) + q * mp.exp((2 * z - 1) / (2 * s**2)))**a
    z0 = s**2 * mp.log(1 / q - 1) + mp.mpf(0.5)
    # Break points around the two bumps of the integrand (at 0 and near alpha) and the crossover z0.
    cuts = sorted({mp.mpf(0), mp.mpf(0.5), mp.mpf(1), z0, a, a + 10 * s, -10 * s, z0 + 10 * s, z0 - 10 * s})
    return mp.log(mp.quad(f, [-mp.inf] + cuts + [mp.inf], maxdegree=10))


for q, s, a in POINTS:
    print(f"{{{q!r}, {s!r}, {a!r}, {mp.nstr(log_a(q, s, a), 15)}}},")
