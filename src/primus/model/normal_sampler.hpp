// The normal samples of parameter init, computed the same way, bit for bit, on the host and
// in a CUDA kernel: splitmix64 uniforms and Box-Muller, with log, sin and cos written out
// as fixed sequences of correctly rounded operations (add, subtract, multiply, divide,
// square root: IEEE 754 gives them one result everywhere) instead of the math
// library's, whose last bits differ between glibc and CUDA. Every operation is spelled out:
// the host compiler must not contract (ISO C++ mode: -ffp-contract=off), and on the device
// the _rn intrinsics keep nvcc from fusing. Accurate to ~1e-16 before the float rounding.
//
// The k-th splitmix64 output of a stream is a hash of state + k * kGolden, so any element of
// a chunk's sequence can be computed directly: a GPU thread per Box-Muller pair.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define PRIMUS_HOST_DEVICE __host__ __device__
#else
#define PRIMUS_HOST_DEVICE
#endif

namespace primus::model::normal_sampler {

inline constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
// Elements per chunk, each chunk its own stream (even: Box-Muller pairs never straddle chunks).
inline constexpr std::int64_t kChunk = std::int64_t{1} << 16;

PRIMUS_HOST_DEVICE inline double mul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
PRIMUS_HOST_DEVICE inline double add(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
PRIMUS_HOST_DEVICE inline double sub(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dsub_rn(a, b);
#else
  return a - b;
#endif
}
PRIMUS_HOST_DEVICE inline double div(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
// a * b + c with two roundings (no fused multiply-add: a library call on a baseline x86-64 host).
PRIMUS_HOST_DEVICE inline double mul_add(double a, double b, double c) { return add(mul(a, b), c); }
PRIMUS_HOST_DEVICE inline double sqrt(double a) {
#if defined(__CUDA_ARCH__)
  return __dsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
PRIMUS_HOST_DEVICE inline std::uint64_t bits_of(double x) {
#if defined(__CUDA_ARCH__)
  return static_cast<std::uint64_t>(__double_as_longlong(x));
#else
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
#endif
}
PRIMUS_HOST_DEVICE inline double double_of(std::uint64_t bits) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

// The k-th (k >= 1) output of the splitmix64 stream that starts at `state`.
PRIMUS_HOST_DEVICE inline std::uint64_t splitmix64_at(std::uint64_t state, std::uint64_t k) {
  std::uint64_t z = state + k * kGolden;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform in (0, 1): the top 53 bits, centred in their interval (exact: 53-bit integer,
// + 0.5 rounded once, times a power of two).
PRIMUS_HOST_DEVICE inline double uniform_open(std::uint64_t random) {
  return mul(add(static_cast<double>(random >> 11), 0.5), 1.0 / 9007199254740992.0);
}

// Natural log of a normal positive double: x = m * 2^e with m in [sqrt(1/2), sqrt(2)),
// log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series to s^23.
PRIMUS_HOST_DEVICE inline double log(double x) {
  const std::uint64_t bits = bits_of(x);
  int exponent = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  double m = double_of((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);  // [1, 2)
  if (m > 1.4142135623730951) {
    m = mul(m, 0.5);
    exponent += 1;
  }
  const double s = div(sub(m, 1.0), add(m, 1.0));
  const double s2 = mul(s, s);
  // 1 + s2/3 + s2^2/5 + ... + s2^11/23 (Horner, highest first).
  double p = 1.0 / 23.0;
  p = mul_add(p, s2, 1.0 / 21.0);
  p = mul_add(p, s2, 1.0 / 19.0);
  p = mul_add(p, s2, 1.0 / 17.0);
  p = mul_add(p, s2, 1.0 / 15.0);
  p = mul_add(p, s2, 1.0 / 13.0);
  p = mul_add(p, s2, 1.0 / 11.0);
  p = mul_add(p, s2, 1.0 / 9.0);
  p = mul_add(p, s2, 1.0 / 7.0);
  p = mul_add(p, s2, 1.0 / 5.0);
  p = mul_add(p, s2, 1.0 / 3.0);
  p = mul_add(p, s2, 1.0);
  const double log_m = mul(mul(2.0, s), p);
  return mul_add(static_cast<double>(exponent), 0.6931471805599453, log_m);
}

// c[0] x^(n-1) + ... + c[n-1] by Horner's rule in mul_add steps (the order fixes the bits).
template <int N>
PRIMUS_HOST_DEVICE inline double horner(const double (&c)[N], double x) {
  double p = c[0];
  for (int i = 1; i < N; ++i) p = mul_add(p, x, c[i]);
  return p;
}

struct SinCos {
  double sin, cos;
};

// sin and cos of 2*pi*u for u in [0, 1): t = 4u = q + f (exact), the angle q*pi/2 + pi/4 + x
// with x = (f - 1/2) * pi/2 in [-pi/4, pi/4), whose sin and cos come from Taylor series to
// x^17 and x^16; the pi/4 and the quadrant are rotations.
PRIMUS_HOST_DEVICE inline SinCos sincos_two_pi(double u) {
  const double t = mul(u, 4.0);
  const int quadrant = static_cast<int>(t);  // t >= 0: truncation is floor
  const double x = mul(sub(sub(t, static_cast<double>(quadrant)), 0.5), 1.5707963267948966);
  const double x2 = mul(x, x);
  // Horner in x^2, highest power first: the same correctly rounded mul_add sequence everywhere.
  constexpr double kSin[] = {1.0 / 355687428096000.0, -1.0 / 1307674368000.0, 1.0 / 6227020800.0,  // 1/17!, ...
                             -1.0 / 39916800.0,       1.0 / 362880.0,         -1.0 / 5040.0,
                             1.0 / 120.0,             -1.0 / 6.0,             1.0};
  constexpr double kCos[] = {1.0 / 20922789888000.0, -1.0 / 87178291200.0, 1.0 / 479001600.0,  // 1/16!, ...
                             -1.0 / 3628800.0,       1.0 / 40320.0,        -1.0 / 720.0,
                             1.0 / 24.0,             -0.5,                 1.0};
  const double sin_x = mul(x, horner(kSin, x2));
  const double cos_x = horner(kCos, x2);
  const double half_root2 = 0.7071067811865476;
  const double s = mul(add(sin_x, cos_x), half_root2);  // sin(pi/4 + x)
  const double c = mul(sub(cos_x, sin_x), half_root2);  // cos(pi/4 + x)
  switch (quadrant & 3) {
    case 0: return {s, c};
    case 1: return {c, -s};
    case 2: return {-s, -c};
    default: return {-c, s};
  }
}

struct Pair {
  float first, second;
};

// The pair-th Box-Muller pair of normal(0, stddev) samples of a chunk whose stream starts at
// `chunk_state` (uniforms 2*pair + 1 and 2*pair + 2 of that stream).
PRIMUS_HOST_DEVICE inline Pair normal_pair(std::uint64_t chunk_state, std::int64_t pair, double stddev) {
  const std::uint64_t k = 2 * static_cast<std::uint64_t>(pair);
  const double radius = sqrt(mul(-2.0, log(uniform_open(splitmix64_at(chunk_state, k + 1)))));
  const SinCos angle = sincos_two_pi(uniform_open(splitmix64_at(chunk_state, k + 2)));
  const double scale = mul(stddev, radius);
  return {static_cast<float>(mul(scale, angle.cos)), static_cast<float>(mul(scale, angle.sin))};
}

// The stream of chunk `chunk` of a tensor whose seed is tensor_seed.
PRIMUS_HOST_DEVICE inline std::uint64_t chunk_state(std::uint64_t tensor_seed, std::int64_t chunk) {
  return tensor_seed ^ (static_cast<std::uint64_t>(chunk) * 0xd1b54a32d192ed03ULL);
}

}  // namespace primus::model::normal_sampler
