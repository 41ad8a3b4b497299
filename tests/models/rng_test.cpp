// Philox known answers, normal moments, and bit-identity of the bulk path with the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>
#include <cstdio>

#include "models/rng/gaussian.hpp"
#include "models/rng/geometric_gap.hpp"
#include "models/rng/ieee_log.hpp"
#include "kernels/noise_rows.hpp"
#include "kernels/cpu/normals_avx2.hpp"
#include "kernels/cpu/normals_avx512.hpp"
#include "kernels/cpu/normals_simd.hpp"

using namespace privrec;

TEST(Philox, KnownAnswerZero) {
  // Salmon et al. (SC'11) / Random123 known-answer vector: counter 0, key 0.
  const Philox4 r = philox4x32_10(0, 0, 0, 0, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
}

TEST(Philox, KnownAnswerOnesAndPi) {
  // Random123's kat_vectors for philox4x32-10: all-ones, and the digits of pi.
  Philox4 r = philox4x32_10(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  EXPECT_EQ(r.v[0], 0x408f276du);
  EXPECT_EQ(r.v[1], 0x41c83b0eu);
  EXPECT_EQ(r.v[2], 0xa20bc7c6u);
  EXPECT_EQ(r.v[3], 0x6d5451fdu);
  r = philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
  EXPECT_EQ(r.v[0], 0xd16cfe09u);
  EXPECT_EQ(r.v[1], 0x94fdccebu);
  EXPECT_EQ(r.v[2], 0x5001e420u);
  EXPECT_EQ(r.v[3], 0x24126ea1u);
}

TEST(Gaussian, UniformIsOpenInterval) {
  EXPECT_GT(uniform_open01(0), 0.0f);
  EXPECT_LT(uniform_open01(0xffffffffu), 1.0f);
  EXPECT_EQ(uniform_open01(0), 1.0f / 16777216.0f);
}

TEST(Gaussian, LogAndSinCosAccuracy) {
  for (float u : {1e-7f, 0.001f, 0.1f, 0.3f, 0.5f, 0.7071f, 0.9f, 0.999999f}) {
    EXPECT_NEAR(minus_two_log(u), -2.0 * std::log(static_cast<double>(u)), 4e-7 * (1 + std::fabs(2 * std::log(u))));
  }
  for (int k = 1; k < 1000; ++k) {
    const float v = k / 1000.0f;
    float s, c;
    sincos_2pi(v, s, c);
    EXPECT_NEAR(s, std::sin(2 * M_PI * v), 5e-7);
    EXPECT_NEAR(c, std::cos(2 * M_PI * v), 5e-7);
  }
}

// box_muller's word forms against the definition on every uniform: both read only bits 9..31 of a
// word, so the 2^23 words t << 9 (with their unused low bits varied) cover all 2^32.
TEST(Gaussian, WordFormsEqualTheDefinitionOnEveryUniform) {
  auto same = [](float a, float b) {
    uint32_t x, y;
    std::memcpy(&x, &a, 4), std::memcpy(&y, &b, 4);
    return x == y;
  };
  int64_t log_diffs = 0, sin_diffs = 0, cos_diffs = 0;
  uint32_t first_bad = 0;
  for (uint32_t t = 0; t < (1u << 23); ++t) {
    const uint32_t x = (t << 9) | ((t * 2654435761u) >> 23);
    const float u = uniform_open01(x);
    const bool log_ok = same(minus_two_log_of_word(x), minus_two_log(u));
    float s0, c0, s1, c1;
    sincos_2pi(u, s0, c0);
    sincos_2pi_of_word(x, s1, c1);
    const bool sin_ok = same(s0, s1), cos_ok = same(c0, c1);
    if ((!log_ok || !sin_ok || !cos_ok) && log_diffs + sin_diffs + cos_diffs == 0) first_bad = x;
    log_diffs += !log_ok, sin_diffs += !sin_ok, cos_diffs += !cos_ok;
  }
  EXPECT_EQ(log_diffs, 0) << "first differing word " << first_bad;
  EXPECT_EQ(sin_diffs, 0) << "first differing word " << first_bad;
  EXPECT_EQ(cos_diffs, 0) << "first differing word " << first_bad;
}

TEST(Gaussian, MomentsOfTwoMillionNormals) {
  const int64_t n = 2'000'000;
  std::vector<float> z(n);
  for (int64_t r = 0; r < n / 1000; ++r) normal_row(42, RngDomain::table_noise, 1, 0, r, 1000, z.data() + r * 1000);
  double m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (float x : z) m1 += x, m2 += x * double(x), m3 += std::pow(x, 3.0), m4 += std::pow(x, 4.0);
  m1 /= n, m2 /= n, m3 /= n, m4 /= n;
  // Standard errors: mean 1/sqrt(n), E[x^2] sqrt(2/n), E[x^3] sqrt(15/n), E[x^4] sqrt(96/n); 5 sigma.
  EXPECT_NEAR(m1, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(m2, 1.0, 5 * std::sqrt(2.0 / n));
  EXPECT_NEAR(m3, 0.0, 5 * std::sqrt(15.0 / n));
  EXPECT_NEAR(m4, 3.0, 5 * std::sqrt(96.0 / n));
}

// The bulk generator at each vector width this host runs: the dispatched one (what training uses),
// and each width called directly, so both hand-written widths are held to the reference here.
using NormalRowsFn = void (*)(uint64_t, RngDomain, uint64_t, uint32_t, const int64_t*, int64_t, int64_t, float*);
using FirstNormalsFn = int64_t (*)(uint64_t, RngDomain, uint64_t, uint32_t, const int64_t*, int64_t, float*);
struct Width {
  const char* name;
  NormalRowsFn rows;
  FirstNormalsFn first;  // does a leading part of the rows and returns how many
};
static int64_t first_normals_all(uint64_t seed, RngDomain d, uint64_t step, uint32_t t, const int64_t* rows,
                                 int64_t n, float* out) {
  first_normals(seed, d, step, t, rows, n, out);
  return n;
}
static std::vector<Width> widths() {
  std::vector<Width> w = {{"dispatched", normal_rows, first_normals_all}};
#if defined(__AVX2__) && defined(__FMA__)
  w.push_back({"avx2", cpu::simd::normal_rows<cpu::simd::Avx2, 4>, cpu::simd::first_normals<cpu::simd::Avx2, 4>});
  if (cpu::cpu_has_avx512())
    w.push_back({"avx512", cpu::normal_rows_avx512, cpu::first_normals_avx512});
  else
    std::printf("[ note     ] this processor has no AVX-512: its width is not tested here\n");
#endif
  return w;
}

TEST(Gaussian, BulkRowEqualsReferenceBitForBit) {
  for (const Width& w : widths())
    for (int64_t n : {1, 3, 4, 5, 32, 63, 64, 65, 128, 200}) {
      std::vector<float> row(n);
      const int64_t r = 123456789012ll;
      w.rows(0x1234567890abcdefull, RngDomain::table_noise, 17, 5, &r, 1, n, row.data());
      for (int64_t c = 0; c < n; ++c)
        ASSERT_EQ(row[c], noise_normal(0x1234567890abcdefull, RngDomain::table_noise, 17, 5, 123456789012ull,
                                       static_cast<uint32_t>(c)))
            << w.name << " n=" << n << " c=" << c;
    }
}

// Several rows per call: short rows share a batch of passes, long ones end mid-pass, and a last
// partial batch is padded; every value of every row equals the reference.
TEST(Gaussian, BulkRowsEqualReferenceBitForBit) {
  for (const Width& w : widths())
    for (int64_t n : {1, 3, 31, 32, 33, 64, 100, 128})
      for (int64_t nrows : {1, 2, 3, 5, 17}) {
        std::vector<int64_t> rows(nrows);
        for (int64_t j = 0; j < nrows; ++j) rows[j] = 7 + 1000003 * j + (j % 2 ? (int64_t{1} << 33) : 0);
        std::vector<float> out(nrows * n, -1.0f);
        w.rows(99, RngDomain::mlp_noise, 3, 11, rows.data(), nrows, n, out.data());
        for (int64_t j = 0; j < nrows; ++j)
          for (int64_t c = 0; c < n; ++c)
            ASSERT_EQ(out[j * n + c], noise_normal(99, RngDomain::mlp_noise, 3, 11, static_cast<uint64_t>(rows[j]),
                                                   static_cast<uint32_t>(c)))
                << w.name << " n=" << n << " nrows=" << nrows << " j=" << j << " c=" << c;
      }
}

// One normal per row, a row per lane: every value equals the scalar reference's column 0, on
// counts that end mid-vector and rows past 2^32, for every domain.
TEST(Gaussian, FirstNormalsOfRowsEqualReferenceBitForBit) {
  for (const Width& w : widths()) {
    uint64_t x = 0x2545F4914F6CDD1Dull;
    auto next = [&x] { x ^= x << 13, x ^= x >> 7, x ^= x << 17; return x; };
    int64_t vectorized = 0;
    for (int trial = 0; trial < 200; ++trial) {
      const uint64_t seed = next(), step = next() & 0xFFFFFFFFu;
      const uint32_t table = static_cast<uint32_t>(next() & 0xFFFF);
      const auto domain = static_cast<RngDomain>(next() % 7);
      const int64_t n = static_cast<int64_t>(next() % 100);
      std::vector<int64_t> rows(n);
      for (auto& r : rows) r = static_cast<int64_t>(next() & 0xFFFFFFFFFFull);
      std::vector<float> out(n);
      const int64_t done = w.first(seed, domain, step, table, rows.data(), n, out.data());
      ASSERT_LE(done, n);
      vectorized += done;
      for (int64_t j = 0; j < done; ++j)
        ASSERT_EQ(out[j], noise_normal(seed, domain, step, table, static_cast<uint64_t>(rows[j]), 0))
            << w.name << " trial " << trial << " j=" << j;
    }
    EXPECT_GT(vectorized, 4000) << w.name;  // most rows went through the width under test
  }
}

// The vectorized path across many coordinates (seeds with both key words, rows past 2^32, every
// domain, steps) and lengths that end mid-pass: every value equals the scalar reference.
TEST(Gaussian, BulkRowEqualsReferenceAcrossCoordinates) {
  for (const Width& w : widths()) {
    uint64_t x = 0x9E3779B97F4A7C15ull;
    auto next = [&x] { x ^= x << 13, x ^= x >> 7, x ^= x << 17; return x; };
    std::vector<float> row(300);
    for (int trial = 0; trial < 2000; ++trial) {
      const uint64_t seed = next(), step = next() & 0xFFFFFFFFu, r = next() & 0xFFFFFFFFFFull;
      const uint32_t table = static_cast<uint32_t>(next() & 0xFFFF);
      const auto domain = static_cast<RngDomain>(next() % 7);
      const int64_t n = 1 + static_cast<int64_t>(next() % 300);
      const auto row_index = static_cast<int64_t>(r);
      w.rows(seed, domain, step, table, &row_index, 1, n, row.data());
      for (int64_t c = 0; c < n; ++c)
        ASSERT_EQ(row[c], noise_normal(seed, domain, step, table, r, static_cast<uint32_t>(c)))
            << w.name << " trial " << trial << " c=" << c;
    }
  }
}

TEST(Gaussian, CoordinatesGiveDistinctStreams) {
  const float a = noise_normal(1, RngDomain::table_noise, 1, 0, 0, 0);
  EXPECT_NE(a, noise_normal(2, RngDomain::table_noise, 1, 0, 0, 0));
  EXPECT_NE(a, noise_normal(1, RngDomain::table_noise, 2, 0, 0, 0));
  EXPECT_NE(a, noise_normal(1, RngDomain::table_noise, 1, 1, 0, 0));
  EXPECT_NE(a, noise_normal(1, RngDomain::table_noise, 1, 0, 1, 0));
  EXPECT_NE(a, noise_normal(1, RngDomain::mlp_noise, 1, 0, 0, 0));
  EXPECT_NE(a, noise_normal(1, RngDomain::table_noise, 1, 0, 0, 1));
}

// The IEEE-only logarithm (adafest's false-positive gaps) against libm over (0, 1]: the uniforms
// the gaps use, arbitrary doubles of every exponent, u near 1 where log(u) is tiny, every power of
// two and its neighbours, and the subnormals. glibc's log is within an ulp, so a relative
// difference below 1e-15 (a few ulp) says ours is too.
TEST(IeeeLog, MatchesLibmOverTheUnitInterval) {
  double worst = 0, worst_u = 0;
  auto check = [&](double u) {
    ASSERT_TRUE(u > 0 && u <= 1) << u;
    const double want = std::log(u), got = ieee_log(u);
    const double rel = want == 0 ? std::fabs(got) : std::fabs((got - want) / want);
    if (rel > worst) worst = rel, worst_u = u;
  };
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] { x ^= x << 13, x ^= x >> 7, x ^= x << 17; return x; };
  for (int k = 0; k < 300000; ++k) {
    check((static_cast<double>(next() >> 11) + 0.5) * 0x1p-53);  // the gaps' uniforms
    uint64_t b = next() % 0x3FF0000000000000ull + 1;               // any double in (0, 1)
    double v;
    std::memcpy(&v, &b, sizeof v);
    check(v);
    check(1.0 - static_cast<double>(k + 1) * 0x1p-53);  // just below 1
  }
  for (int e = 0; e <= 1074; ++e) {
    check(std::ldexp(1.0, -e));
    if (e > 0) check(std::nextafter(std::ldexp(1.0, -e), 2.0));
    if (e < 1074) check(std::nextafter(std::ldexp(1.0, -e), 0.0));
  }
  for (double u : {0x1p-1022, 0x1.fffffffffffffp-1023, 0x1p-1074, 0x1.8p-1073, 0x1.6a09e667f3bcdp-1, 0x1.6a09e667f3bccp-1,
                   0x1.6a09e667f3bcep-1, 0.5, 0.75, 0.1})
    check(u);
  EXPECT_LT(worst, 1e-15) << "at u = " << worst_u;
  EXPECT_EQ(ieee_log(1.0), 0.0);
  EXPECT_EQ(ieee_log(0.5), -0x1.62e42fefa39efp-1);  // -ln 2, correctly rounded
  EXPECT_EQ(ieee_log(0.0), -std::numeric_limits<double>::infinity());
}

// p = 1 (ln(1 - p) = -inf): every row passes, so every gap is 0; small p: gaps average (1 - p) / p.
TEST(IeeeLog, GeometricGapsOfTheExtremes) {
  const double all = std::log1p(-1.0);
  for (uint64_t j = 0; j < 1000; ++j) ASSERT_EQ(geometric_gap(7, 3, 1, j, all), 0.0) << j;
  const double p = 0.01, l = std::log1p(-p);
  double sum = 0;
  const int n = 200000;
  for (int j = 0; j < n; ++j) {
    const double g = geometric_gap(7, 3, 1, static_cast<uint64_t>(j), l);
    ASSERT_TRUE(g >= 0 && g == std::floor(g)) << g;
    sum += g;
  }
  // The geometric distribution's stddev is sqrt(1 - p) / p; 5 standard errors.
  EXPECT_NEAR(sum / n, (1 - p) / p, 5 * std::sqrt(1 - p) / p / std::sqrt(double(n)));
}
