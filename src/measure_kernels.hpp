// The measures' innermost loops over spectra and filters, one place for what must be fast: each is
// built for AVX-512, AVX2 and the baseline ISA and picked when the library loads (x86-64 with GCC or
// clang), and its sums run in vector lanes (`omp simd` reductions). The order of additions is fixed by
// the binary and the CPU, so a run's numbers repeat exactly on one machine; between an AVX2 and an
// AVX-512 machine they may differ in the last bits, as FFTW's do.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace ldmrecon::kernels {

// Over the bins of one frame of two power spectra, each floored at `floor`, a = sqrt(max(pa, floor)),
// b likewise: sum (a - b)^2, sum a^2 and sum |ln a - ln b|; each bin in float, the sums in double.
struct MagnitudeSums {
    double diff_sq = 0, ref_sq = 0, abs_log_ratio = 0;
};
MagnitudeSums magnitude_sums(const float* pa, const float* pb, std::size_t n, float floor);

// Over the bins of one frame of two magnitude spectra: sum of (10 log10 max(x^2, floor) - 10 log10
// max(y^2, floor))^2, sum (x - y)^2 and sum x^2.
struct LogSpectralSums {
    double db_diff_sq = 0, diff_sq = 0, ref_sq = 0;
};
LogSpectralSums log_spectral_sums(const float* x, const float* y, std::size_t n, double floor);

// power[k] = re^2 + im^2 of `bins` interleaved complex values (FFTW's layout).
void power_spectrum(const double* interleaved, double* power, std::size_t bins);

// re[i] = x[i] * window[i], im[i] = y[i] * window[i]: two real frames as one complex one (split format)
void windowed_pair(const float* x, const float* y, const float* window, float* re, float* im, std::size_t n);

// The power spectra (n/2 + 1 bins each) of two real signals x and y from Z, the transform of x + iy (n
// complex values, split: real parts in re, imaginary in im): X[k] = (Z[k] + conj Z[n-k]) / 2,
// Y[k] = (Z[k] - conj Z[n-k]) / 2i.
void pair_power_spectra(const float* re, const float* im, std::size_t n, float* power_x, float* power_y);

// out[i] = x[i], widened to double
void widen(const float* x, double* out, std::size_t n);

// out[i] = sqrt(power[i]), rounded to float
void magnitudes(const double* power, float* out, std::size_t n);

// In place over `bins` interleaved complex values: each becomes (re^2 + im^2) * scale + 0i, the spectrum
// whose inverse transform is the autocorrelation (scale: 1 / n for FFTW's unnormalised inverse).
void autocorrelation_spectrum(double* interleaved, std::size_t bins, double scale);
void windowed(const float* x, const double* window, double* out, std::size_t n);

// YIN's cumulative-mean normalisation of lags first..first+n-1: out[i] = d[i] / (sum[i] / (first + i) + tiny),
// sum[i] the difference function's sum over lags 1..first+i, tiny the smallest normal double (librosa's).
void cumulative_mean_normalised(const double* d, const double* sum, int first, int n, double* out);

// sum_i a[i] * b[i]
double dot(const float* a, const double* b, std::size_t n);

// STOI's correlation of one band over one segment of n <= kMaxStoiSegment frames: y scaled to x's energy, clipped at
// clip_gain * x, then the correlation coefficient of the two (means removed, eps added to each norm as
// pystoi does).
constexpr std::size_t kMaxStoiSegment = 64;
double stoi_band_correlation(const double* x, const double* y, std::size_t n, double clip_gain, double eps);

// ESTOI's normalisation of one segment in place, `bands` rows of n <= kMaxStoiSegment frames (row-major): each row (a
// band over time) to zero mean and unit norm, then each column (a frame over the bands) likewise; a zero norm gives 0.
void estoi_normalise(double* m, std::size_t bands, std::size_t n);

// `bands` parallel cascades of four biquads (direct form II transposed, denominators 1 + a1 z^-1 + a2 z^-2
// shared by a band's stages), each started from rest on the same n samples x: energy[b] = sum_k y_b[k]^2 of
// the last stage's output. Numerators b0, b1, b2 hold 4 x bands values, stage-major (b0[s * bands + b]);
// a1, a2 hold bands. The bands run in vector lanes; each band's arithmetic is the scalar recursion's.
// At most kMaxCascadeBands bands. ViSQOL's gammatone filterbank.
constexpr std::size_t kMaxCascadeBands = 64;
struct BiquadCascades {
    const double *b0, *b1, *b2, *a1, *a2;
    std::size_t bands;
};
void cascade_energy(const double* x, std::size_t n, const BiquadCascades& c, double* energy);

// ViSQOL's NSIM of n cells of one band row, each from its 3x3 neighbourhood: ref[i] and deg[i] point at the
// rows above, at and below (i = 0, 1, 2), one column left of the first cell; mr, vr are the reference's
// local means and variances and md, sqd the degraded's local means and mean squares at the n cells. Each
// cell's arithmetic is the scalar formula's, in the same order (lanes hold cells, no sum crosses them), so
// the values are those of the scalar code to the bit.
// One cell's NSIM from its local sums: intensity x structure. Google's `product < 0 ? c3 : sqrt(product) +
// c3` is written without a branch, equal to it to the bit (-0 and NaN included), so that loops vectorise.
inline double nsim_cell(double mr, double vr, double md, double sqd, double cross, double c1, double c3) {
    const double intensity = (2.0 * mr * md + c1) / (mr * mr + md * md + c1);
    const double product = vr * (sqd - md * md);
    const double denom = std::sqrt(std::max(product, 0.0)) + c3;
    return intensity * ((cross - mr * md + c3) / denom);
}

struct NsimRow {
    const double* ref[3];
    const double* deg[3];
    const double *mr, *vr, *md, *sqd;
};
void nsim_cells(const NsimRow& row, const double (&gauss)[3][3], double c1, double c3, std::size_t n, double* out);

}  // namespace ldmrecon::kernels
