// Peer probe for libtorch: runs one eager op, so a config that loads but names a missing or
// broken library (or a libtorch whose CPU kernels do not start) is caught at configure time.
#include <ATen/ATen.h>

#include <cstdio>

int main() {
  at::Tensor x = at::arange(4, at::kFloat).reshape({2, 2});
  at::Tensor y = at::layer_norm(x, {2}, {}, {}, 0.0);
  const float first = y[0][0].item<float>();
  std::printf("libtorch layer_norm gave %g\n", static_cast<double>(first));
  return first < -0.99f && first > -1.01f ? 0 : 1;
}
