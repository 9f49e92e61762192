#pragma once
// OPBENCH_HD marks the small inline functions of kernels/cuda/*.hpp that the kernels call on the
// device and the host-only tests (tests/test_kernels_cuda_host.cpp, compiled by the C++ compiler,
// no nvcc, no device) call on the host: the arithmetic whose correctness does not need a GPU to
// be tested. Under nvcc they are __host__ __device__ and forced inline; elsewhere plain inline.
#ifdef __CUDACC__
#define OPBENCH_HD __host__ __device__ __forceinline__
#else
#define OPBENCH_HD inline
#endif
