// rateme's addition to burn-tch: LibTorch's fused batch-norm and layer-norm backward
// (`at::native_batch_norm_backward`, `at::native_layer_norm_backward`, what PyTorch's autograd
// calls), which tch 0.22 does not bind: their output mask is a `std::array<bool, 3>`.
// C++ exceptions become an error message the caller frees with free().
#include <ATen/ATen.h>

#include <array>
#include <cstdlib>
#include <cstring>

namespace {
// The three gradients as new tensors the caller owns (null where not asked for).
void hand_over(std::tuple<at::Tensor, at::Tensor, at::Tensor> grads, const std::array<bool, 3> &mask,
               at::Tensor **grad_input, at::Tensor **grad_weight, at::Tensor **grad_bias) {
  if (mask[0]) *grad_input = new at::Tensor(std::get<0>(grads));
  if (mask[1]) *grad_weight = new at::Tensor(std::get<1>(grads));
  if (mask[2]) *grad_bias = new at::Tensor(std::get<2>(grads));
}
}  // namespace

// Training-mode batch norm's gradients, from the batch's mean and inverse standard deviation
// `1 / sqrt(var + eps)` over every axis but the channels (axis 1).
extern "C" char *rateme_batch_norm_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                            const at::Tensor *weight, const at::Tensor *mean,
                                            const at::Tensor *invstd, double eps,
                                            at::Tensor **grad_input, at::Tensor **grad_weight,
                                            at::Tensor **grad_bias) {
  *grad_input = *grad_weight = *grad_bias = nullptr;
  try {
    // All three: burn's batch-norm backward returns them together.
    const std::array<bool, 3> mask = {true, true, true};
    auto grads = at::native_batch_norm_backward(
        *grad_output, *input, *weight, /*running_mean=*/std::nullopt, /*running_var=*/std::nullopt,
        *mean, *invstd, /*train=*/true, eps, mask);
    hand_over(grads, mask, grad_input, grad_weight, grad_bias);
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

// Layer norm's gradients over the last `normalized_dims` axes, from the mean and reciprocal
// standard deviation `at::native_layer_norm` returned. `weight` and `bias` may be null.
extern "C" char *rateme_layer_norm_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                            const int64_t *normalized_shape,
                                            int64_t normalized_dims, const at::Tensor *mean,
                                            const at::Tensor *rstd, const at::Tensor *weight,
                                            const at::Tensor *bias, int want_input,
                                            int want_weight, int want_bias,
                                            at::Tensor **grad_input, at::Tensor **grad_weight,
                                            at::Tensor **grad_bias) {
  *grad_input = *grad_weight = *grad_bias = nullptr;
  try {
    const std::array<bool, 3> mask = {want_input != 0, want_weight != 0 && weight != nullptr,
                                      want_bias != 0 && bias != nullptr};
    const auto optional = [](const at::Tensor *t) {
      return t ? std::optional<at::Tensor>(*t) : std::nullopt;
    };
    auto grads = at::native_layer_norm_backward(
        *grad_output, *input, at::IntArrayRef(normalized_shape, normalized_dims), *mean, *rstd,
        optional(weight), optional(bias), mask);
    hand_over(grads, mask, grad_input, grad_weight, grad_bias);
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}
