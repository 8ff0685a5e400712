#include "comm/all_to_all_function.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/variable.h>

#include <string>
#include <utility>

#include "core/check.h"

namespace switchyard::comm {
namespace {

using torch::autograd::Node;
using torch::autograd::variable_list;

// Graph node of all_to_all_autograd: grad_input = exchange(grad_output, layout^T).
class AllToAllBackward : public Node {
 public:
  AllToAllBackward(std::shared_ptr<AllToAll> a2a,
                   AllToAllLayout transposed,
                   std::vector<int64_t> output_sizes,
                   at::TensorOptions output_options)
      : a2a_(std::move(a2a)),
        transposed_(std::move(transposed)),
        output_sizes_(std::move(output_sizes)),
        output_options_(output_options) {}

  std::string name() const override { return "switchyard::comm::AllToAllBackward"; }

  variable_list apply(variable_list&& grads) override {
    // An undefined gradient still takes part in the collective, as zeros.
    at::Tensor grad =
        grads[0].defined() ? grads[0].contiguous() : at::zeros(output_sizes_, output_options_);
    // [total_recv, ...] grouped by source -> [total_send, ...] grouped by destination
    at::Tensor grad_input;
    {
      at::NoGradGuard no_grad;
      grad_input = a2a_->exchange(grad, transposed_);
    }
    return {grad_input};
  }

  void release_variables() override { a2a_.reset(); }

 private:
  std::shared_ptr<AllToAll> a2a_;
  AllToAllLayout transposed_;
  std::vector<int64_t> output_sizes_;
  at::TensorOptions output_options_;
};

}  // namespace

at::Tensor all_to_all_autograd(const std::shared_ptr<AllToAll>& a2a,
                               const at::Tensor& input,
                               const AllToAllLayout& layout) {
  SY_CHECK(a2a != nullptr) << "all_to_all_autograd needs a strategy";
  at::Tensor output;
  {
    at::NoGradGuard no_grad;
    // [total_send, ...] grouped by destination -> [total_recv, ...] grouped by source
    output = a2a->exchange(input.contiguous(), layout);
  }
  if (!torch::autograd::compute_requires_grad(input)) return output;
  auto node = std::make_shared<AllToAllBackward>(a2a, layout.transposed(), output.sizes().vec(),
                                                 output.options());
  node->set_next_edges(torch::autograd::collect_next_edges(input));
  torch::autograd::set_history(output, node);
  return output;
}

}  // namespace switchyard::comm
