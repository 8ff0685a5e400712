#include "models/transformer/causal_attention.h"

#include <cblas.h>

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include "core/check.h"

namespace switchyard::models {
namespace {

// Row-major C = alpha * op(A) op(B) + beta * C (BLAS sgemm / dgemm).
template <typename T>
void gemm(bool ta,
          bool tb,
          int64_t m,
          int64_t n,
          int64_t k,
          T alpha,
          const T* a,
          int64_t lda,
          const T* b,
          int64_t ldb,
          T beta,
          T* c,
          int64_t ldc) {
  const CBLAS_TRANSPOSE op_a = ta ? CblasTrans : CblasNoTrans;
  const CBLAS_TRANSPOSE op_b = tb ? CblasTrans : CblasNoTrans;
  const auto i = [](int64_t v) { return static_cast<int>(v); };
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, op_a, op_b, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c,
                i(ldc));
  } else {
    static_assert(std::is_same_v<T, double>, "gemm: float or double");
    cblas_dgemm(CblasRowMajor, op_a, op_b, i(m), i(n), i(k), alpha, a, i(lda), b, i(ldb), beta, c,
                i(ldc));
  }
}

struct Shape {
  int64_t b, s, h, nh, d;
  int64_t heads() const { return b * nh; }
  // Offset of head `bh`'s Q block in qkv (K: + h, V: + 2h); rows 3h apart.
  int64_t qkv_offset(int64_t bh) const { return (bh / nh) * s * 3 * h + (bh % nh) * d; }
  // Offset of head `bh`'s block in y ([B, S, H]); rows h apart.
  int64_t y_offset(int64_t bh) const { return (bh / nh) * s * h + (bh % nh) * d; }
};

Shape shape_of(const at::Tensor& qkv, int64_t num_heads) {
  SY_CHECK_EQ(qkv.dim(), 3) << "qkv must be [B, S, 3H]";
  SY_CHECK_EQ(qkv.size(2) % 3, 0) << "qkv must be [B, S, 3H]";
  const int64_t h = qkv.size(2) / 3;
  SY_CHECK_EQ(h % num_heads, 0) << "heads must divide the hidden size";
  return Shape{qkv.size(0), qkv.size(1), h, num_heads, h / num_heads};
}

template <typename T>
void forward_kernel(const T* qkv, T* probs, T* y, const Shape& sh) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sh.d)));
  const int64_t s = sh.s;
  at::parallel_for(0, sh.heads(), 1, [&](int64_t begin, int64_t end) {
    for (int64_t bh = begin; bh < end; ++bh) {
      const T* q = qkv + sh.qkv_offset(bh);
      const T* k = q + sh.h;
      const T* v = q + 2 * sh.h;
      T* p = probs + bh * s * s;                                                   // [S, S]
      gemm(false, true, s, s, sh.d, scale, q, 3 * sh.h, k, 3 * sh.h, T(0), p, s);  // scale Q K^T
      for (int64_t i = 0; i < s; ++i) {  // causal softmax of row i over j <= i
        T* row = p + i * s;
        T top = -std::numeric_limits<T>::infinity();
        for (int64_t j = 0; j <= i; ++j) top = std::max(top, row[j]);
        T sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          row[j] = std::exp(row[j] - top);
          sum += row[j];
        }
        const T inv = T(1) / sum;
        for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
        for (int64_t j = i + 1; j < s; ++j) row[j] = 0;
      }
      gemm(false, false, s, sh.d, s, T(1), p, s, v, 3 * sh.h, T(0), y + sh.y_offset(bh), sh.h);
    }
  });
}

template <typename T>
void backward_kernel(const T* qkv, const T* probs, const T* dy, T* dqkv, const Shape& sh) {
  const T scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sh.d)));
  const int64_t s = sh.s;
  const int64_t ld = 3 * sh.h;
  at::parallel_for(0, sh.heads(), 1, [&](int64_t begin, int64_t end) {
    std::vector<T> ds(static_cast<size_t>(s * s));  // dP, then dS, [S, S]
    for (int64_t bh = begin; bh < end; ++bh) {
      const T* q = qkv + sh.qkv_offset(bh);
      const T* k = q + sh.h;
      const T* v = q + 2 * sh.h;
      const T* p = probs + bh * s * s;
      const T* g = dy + sh.y_offset(bh);  // [S, D], rows h apart
      T* dq = dqkv + sh.qkv_offset(bh);
      T* dk = dq + sh.h;
      T* dv = dq + 2 * sh.h;
      gemm(true, false, s, sh.d, s, T(1), p, s, g, sh.h, T(0), dv, ld);         // P^T dY
      gemm(false, true, s, s, sh.d, T(1), g, sh.h, v, ld, T(0), ds.data(), s);  // dY V^T
      for (int64_t i = 0; i < s; ++i) {  // dS = P * (dP - rowsum(P * dP)); 0 above the diagonal
        const T* prow = p + i * s;
        T* row = ds.data() + i * s;
        T dot = 0;
        for (int64_t j = 0; j <= i; ++j) dot += prow[j] * row[j];
        for (int64_t j = 0; j <= i; ++j) row[j] = prow[j] * (row[j] - dot);
        for (int64_t j = i + 1; j < s; ++j) row[j] = 0;
      }
      gemm(false, false, s, sh.d, s, scale, ds.data(), s, k, ld, T(0), dq, ld);  // scale dS K
      gemm(true, false, s, sh.d, s, scale, ds.data(), s, q, ld, T(0), dk, ld);   // scale dS^T Q
    }
  });
}

class CausalAttentionFunction : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx,
                            const at::Tensor& qkv_in,
                            int64_t num_heads) {
    const at::Tensor qkv = qkv_in.contiguous();  // [B, S, 3H]
    const Shape sh = shape_of(qkv, num_heads);
    at::Tensor probs = at::empty({sh.b, sh.nh, sh.s, sh.s}, qkv.options());  // [B, nh, S, S]
    at::Tensor y = at::empty({sh.b, sh.s, sh.h}, qkv.options());             // [B, S, H]
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "causal_attention", [&] {
      forward_kernel<scalar_t>(qkv.data_ptr<scalar_t>(), probs.data_ptr<scalar_t>(),
                               y.data_ptr<scalar_t>(), sh);
    });
    ctx->save_for_backward({qkv, probs});
    ctx->saved_data["num_heads"] = num_heads;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& qkv = saved[0];
    const at::Tensor& probs = saved[1];
    const Shape sh = shape_of(qkv, ctx->saved_data["num_heads"].toInt());
    const at::Tensor dy = grads[0].contiguous();  // [B, S, H]
    at::Tensor dqkv = at::empty_like(qkv);        // [B, S, 3H], every element written
    AT_DISPATCH_FLOATING_TYPES(qkv.scalar_type(), "causal_attention_backward", [&] {
      backward_kernel<scalar_t>(qkv.data_ptr<scalar_t>(), probs.data_ptr<scalar_t>(),
                                dy.data_ptr<scalar_t>(), dqkv.data_ptr<scalar_t>(), sh);
    });
    return {dqkv, at::Tensor()};
  }
};

}  // namespace

at::Tensor causal_attention(const at::Tensor& qkv, int64_t num_heads) {
  SY_CHECK(qkv.device().is_cpu()) << "causal_attention runs on the CPU";
  SY_CHECK(qkv.scalar_type() == at::kFloat || qkv.scalar_type() == at::kDouble)
      << "causal_attention needs float32 or float64";
  return CausalAttentionFunction::apply(qkv, num_heads);
}

}  // namespace switchyard::models
