// rateme's addition to burn-tch: LibTorch's fused convolution backward (`at::convolution_backward`,
// what PyTorch's autograd calls for every convolution), which tch 0.22 does not bind.
// One C entry point; C++ exceptions become an error message the caller frees with free().
#include <ATen/ATen.h>

#include <array>
#include <cstdlib>
#include <cstring>

extern "C" char *rateme_convolution_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                             const at::Tensor *weight, const int64_t *stride,
                                             const int64_t *padding, const int64_t *dilation,
                                             int64_t spatial_dims, int64_t groups,
                                             int want_input, int want_weight,
                                             at::Tensor **grad_input, at::Tensor **grad_weight) {
  *grad_input = nullptr;
  *grad_weight = nullptr;
  try {
    const std::vector<int64_t> zeros(spatial_dims, 0);
    const std::array<bool, 3> mask = {want_input != 0, want_weight != 0, false};
    auto grads = at::convolution_backward(
        *grad_output, *input, *weight, /*bias_sizes=*/std::nullopt,
        at::IntArrayRef(stride, spatial_dims), at::IntArrayRef(padding, spatial_dims),
        at::IntArrayRef(dilation, spatial_dims), /*transposed=*/false, at::IntArrayRef(zeros),
        groups, mask);
    if (want_input) *grad_input = new at::Tensor(std::get<0>(grads));
    if (want_weight) *grad_weight = new at::Tensor(std::get<1>(grads));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
