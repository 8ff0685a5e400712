#include "comm/all_gather_function.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/functions/utils.h>
#include <torch/csrc/autograd/variable.h>

#include <string>
#include <utility>
#include <vector>

#include "core/check.h"

namespace switchyard::comm {
namespace {

using torch::autograd::Node;
using torch::autograd::variable_list;

// Graph node of all_gather_autograd: grad_input = (all-reduce SUM of grad_output)[my rows].
class AllGatherBackward : public Node {
 public:
  AllGatherBackward(std::shared_ptr<Communicator> group,
                    std::vector<int64_t> output_sizes,
                    at::TensorOptions output_options)
      : group_(std::move(group)),
        output_sizes_(std::move(output_sizes)),
        output_options_(output_options) {}

  std::string name() const override { return "switchyard::comm::AllGatherBackward"; }

  variable_list apply(variable_list&& grads) override {
    at::Tensor grad_input;
    {
      at::NoGradGuard no_grad;
      // [P * rows, ...]; an undefined gradient takes part as zeros. Cloned: reduced in place.
      at::Tensor grad = grads[0].defined() ? grads[0].contiguous().clone()
                                           : at::zeros(output_sizes_, output_options_);
      group_->all_reduce(grad)->wait();
      const int64_t rows = output_sizes_[0] / group_->size();
      grad_input = grad.narrow(0, group_->rank() * rows, rows).contiguous();  // [rows, ...]
    }
    return {grad_input};
  }

  void release_variables() override { group_.reset(); }

 private:
  std::shared_ptr<Communicator> group_;
  std::vector<int64_t> output_sizes_;
  at::TensorOptions output_options_;
};

}  // namespace

at::Tensor all_gather_autograd(const std::shared_ptr<Communicator>& group,
                               const at::Tensor& input) {
  SY_CHECK(group != nullptr) << "all_gather_autograd needs a communicator";
  at::Tensor in = input.contiguous();
  std::vector<int64_t> sizes = in.sizes().vec();
  SY_CHECK(!sizes.empty()) << "all_gather_autograd needs at least one dimension";
  sizes[0] *= group->size();
  at::Tensor output = at::empty(sizes, in.options().requires_grad(false));  // [P * rows, ...]
  {
    at::NoGradGuard no_grad;
    group->all_gather(output, in.detach())->wait();
  }
  if (!torch::autograd::compute_requires_grad(input)) return output;
  auto node = std::make_shared<AllGatherBackward>(group, sizes, output.options());
  node->set_next_edges(torch::autograd::collect_next_edges(input));
  torch::autograd::set_history(output, node);
  return output;
}

}  // namespace switchyard::comm
