// FFTW plans made once per process and kept: for a short signal FFTW's planner and its twiddle tables
// (sines and cosines computed per plan) cost more than the transforms themselves.
#pragma once

#include <fftw3.h>

namespace ldmrecon::fft {

// Out-of-place real-to-complex (r2c) and complex-to-real (c2r) plans of size n, FFTW_ESTIMATE. Run them with
// fftw_execute_dft_r2c / _c2r on arrays from fftw_alloc_real / fftw_alloc_complex (SIMD-aligned, as the
// plan assumes), in != out; safe from any number of threads at once. c2r overwrites its input.
fftw_plan r2c(int n);
fftw_plan c2r(int n);
// Out-of-place forward complex plan of size n (fftw_execute_dft on fftw_alloc_complex arrays).
fftw_plan c2c_forward(int n);
// The same in single precision and split format (fftwf_execute_split_dft on four fftwf_alloc_real arrays:
// real and imaginary parts in, then out). Debian's FFTW has AVX codelets only, and there a float complex
// transform runs in half the time of a double one, split as fast as interleaved (measured on an AVX-512
// Xeon, 512-2048 points; its float r2c is no faster than the double r2c).
fftwf_plan split_c2c_single(int n);

}  // namespace ldmrecon::fft
