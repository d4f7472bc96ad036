// The LSTM's time loop with each step's element-wise work fused into one pass (lstmcast).
//
// Built and loaded by lstmcast/fused_lstm.py (torch.ops.lstmcast.*), which also holds the
// autograd function around these two ops. The recurrent products (h_{t-1} W_hh^T, and in the
// backward pass dz_t W_hh) are per step; the input products x_t W_ih^T, and in the backward pass
// x's gradient and the weight gradients (in float32 with ``mkl``), are one product per chunk of
// steps (see chunk_steps), where thousands of rows run near the machine's matrix-product rate.
// They go to oneDNN's matmul through torch, or in float32 with ``mkl`` to at::mm (MKL): which
// is faster depends on the CPU. Everything else of a step (adding the bias, the four
// activations, the cell update, h; backward: the gates' gradients and the cell's) is one loop
// over each row, written so that the compiler vectorises it. torch's own CPU kernel spends more
// than half its time in separate element-wise passes; one pass over a (B, 4H) row block instead
// of about twenty is what this file buys.
//
// Shapes (batch-first, as lstmcast.LSTM): x (B, T, in) float32; w_ih (4H, in), w_hh (4H, H)
// and bias (4H,) = b_ih + b_hh float32, gate rows in torch's order i, f, g, o; h0, c0 (B, H)
// float32. The output (B, T, H) is a view of a time-major (T, B, H) tensor, which the next layer
// reads without a copy. With ``low`` the products run in bfloat16 (operands cast once per
// call), the cell state and all element-wise work staying float32.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/util/BFloat16.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

// exp(x) as 2^n * e^r, |r| <= ln2/2, with a degree-6 polynomial for e^r (relative error about
// 2e-7 over the clamped range): plain arithmetic that gcc and clang vectorise, where a call to
// std::exp would keep the loop scalar (the vector libm needs -ffast-math).
inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

inline float sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

// tanh(x) = 1 - 2 / (e^{2x} + 1): absolute error about 1e-7, and exactly +-1 far out.
inline float tanh_(float x) { return 1.0f - 2.0f / (fast_exp(2.0f * x) + 1.0f); }

// Values in the products' precision: float, or bfloat16 held as its 16 bits (the top half of
// a float's), converted with integer operations the compiler vectorises (c10::BFloat16's own
// conversions keep the loops scalar). Rounding to bfloat16 is to nearest, ties to even; no NaN
// reaches it in a finite network.
using Bits16 = std::uint16_t;
inline float as_float(float v) { return v; }
inline float as_float(Bits16 v) {
  const std::uint32_t bits = static_cast<std::uint32_t>(v) << 16;
  float out;
  std::memcpy(&out, &bits, sizeof out);
  return out;
}
template <typename S>
inline S stored(float v);
template <>
inline float stored<float>(float v) {
  return v;
}
template <>
inline Bits16 stored<Bits16>(float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return static_cast<Bits16>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
}

// The tensor type of each storage type, and a raw pointer to a tensor's data as that type.
template <typename S>
constexpr at::ScalarType scalar_type() {
  return std::is_same_v<S, float> ? at::kFloat : at::kBFloat16;
}
template <typename S>
S* data(const at::Tensor& t) {
  return static_cast<S*>(t.data_ptr());
}

// One step of rows [begin, end): the gates' pre-activations are the input part ``zx`` plus the
// recurrent part ``zh`` (each (B, 4H), float or bfloat16) plus ``bias``; then the activations,
// the cell and the hidden state. ``gates`` (B, 4H) keeps i, f, g, o after their activation for
// the backward pass (not when null); ``h`` (B, H) is written in float32 to ``out`` (row stride
// ``out_stride``) and in the products' precision to ``h_next`` (contiguous), which the next
// step's product reads.
// Not inlined: compiled on its own, each instance's inner loop is vectorised (inlined into the
// parallel lambda beside its sibling, gcc 12 left one of them scalar).
template <typename Low, bool Keep>
__attribute__((noinline)) void step_rows(std::int64_t begin, std::int64_t end, std::int64_t H, const Low* zx, const Low* zh,
               const float* bias, const float* c_prev, float* c, float* gates, float* out,
               std::int64_t out_stride, Low* h_next) {
  for (std::int64_t b = begin; b < end; ++b) {
    const Low* xb = zx + b * 4 * H;
    const Low* rb = zh + b * 4 * H;
    const float* cpb = c_prev + b * H;
    float* cb = c + b * H;
    float* ob = out + b * out_stride;
    Low* hb = h_next + b * H;
    float* gb = Keep ? gates + b * 4 * H : nullptr;
#pragma omp simd
    for (std::int64_t j = 0; j < H; ++j) {
      const float i = sigmoid(as_float(xb[j]) + as_float(rb[j]) + bias[j]);
      const float f = sigmoid(as_float(xb[H + j]) + as_float(rb[H + j]) + bias[H + j]);
      const float g = tanh_(as_float(xb[2 * H + j]) + as_float(rb[2 * H + j]) + bias[2 * H + j]);
      const float o = sigmoid(as_float(xb[3 * H + j]) + as_float(rb[3 * H + j]) + bias[3 * H + j]);
      const float cell = f * cpb[j] + i * g;
      const float hidden = o * tanh_(cell);
      cb[j] = cell;
      ob[j] = hidden;
      hb[j] = stored<Low>(hidden);
      if constexpr (Keep) {
        gb[j] = i;
        gb[H + j] = f;
        gb[2 * H + j] = g;
        gb[3 * H + j] = o;
      }
    }
  }
}

// One backward step of rows [begin, end): from the gradient reaching h_t (``grad_out`` from the
// output plus ``dh`` from step t + 1) and c_t (``dc``, updated in place to c_{t-1}'s), the
// gradients of the four pre-activations, each row (4H) written to ``dz`` + b * ``dz_stride``.
// With ``dz_low`` (products in bfloat16) they also go there, in the products' precision, and
// are summed into ``bias_sum`` (4H): then ``dz`` is a one-row scratch (stride 0) that stays in
// cache, and the float32 gradients never reach memory.
template <typename Low>
__attribute__((noinline)) void back_rows(std::int64_t begin, std::int64_t end, std::int64_t H,
                                         const float* gates, float* dz, std::int64_t dz_stride,
                                         const float* c, const float* c_prev,
                                         const float* grad_out, std::int64_t grad_stride,
                                         const Low* dh, float* dc, Low* dz_low, float* bias_sum) {
  for (std::int64_t b = begin; b < end; ++b) {
    const float* g = gates + b * 4 * H;
    float* d = dz + b * dz_stride;
    const float* cb = c + b * H;
    const float* cpb = c_prev + b * H;
    const float* gob = grad_out + b * grad_stride;
    const Low* dhb = dh + b * H;
    float* dcb = dc + b * H;
#pragma omp simd
    for (std::int64_t j = 0; j < H; ++j) {
      const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
      const float dh_total = gob[j] + as_float(dhb[j]);
      const float tc = tanh_(cb[j]);
      const float dcell = dcb[j] + dh_total * o * (1.0f - tc * tc);
      d[j] = dcell * gg * i * (1.0f - i);
      d[H + j] = dcell * cpb[j] * f * (1.0f - f);
      d[2 * H + j] = dcell * i * (1.0f - gg * gg);
      d[3 * H + j] = dh_total * tc * o * (1.0f - o);
      dcb[j] = dcell * f;
    }
    if (dz_low) {
      Low* out = dz_low + b * 4 * H;
#pragma omp simd
      for (std::int64_t j = 0; j < 4 * H; ++j) {
        out[j] = stored<Low>(d[j]);
        bias_sum[j] += d[j];
      }
    }
  }
}

// ``a`` (M, K) times ``b`` (N, K) transposed: (M, N). With ``mkl``, at::mm (MKL in float32,
// which reads either operand transposed in place); else through oneDNN's matmul (torch's
// mkldnn::_linear_pointwise operator) when this torch has it: at these shapes (M = batch, K and
// N = H or 4H) oneDNN ran 1.5-2.3x faster than MKL on an AVX-512 AMD EPYC, and MKL 1.1-1.3x
// faster than oneDNN on an AVX2-only one (the caller chooses: lstmcast/fused_lstm.py). oneDNN
// copies a strided view (a transpose) first. Without oneDNN, with an empty operand, or where
// oneDNN refuses the type (bfloat16 on a CPU without native bfloat16, which lstmcast never
// chooses but its tests run), at::mm.
at::Tensor matmul_nt(const at::Tensor& a, const at::Tensor& b, bool mkl) {
  static const auto handle =
      c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
  static std::atomic<bool> bf16_refused = false;
  const bool bf16 = a.scalar_type() == at::kBFloat16;
  if (mkl || !handle || a.numel() == 0 || b.numel() == 0 || (bf16 && bf16_refused)) {
    return at::mm(a, b.t());
  }
  torch::jit::Stack stack{a, b, c10::IValue(), std::string("none"),
                          c10::List<std::optional<at::Scalar>>(), std::string("")};
  try {
    handle->callBoxed(&stack);
  } catch (const std::exception&) {  // oneDNN throws its own error type
    if (!bf16) throw;
    bf16_refused = true;
    return at::mm(a, b.t());
  }
  return stack[0].toTensor();
}

// Rows per parallel task: element-wise work of a few rows is too little to share out.
constexpr std::int64_t kGrain = 16;

// Steps per chunk when the caller leaves it to the kernel: as many as keep a chunk's (rows, 4H)
// float32 block within 8 MiB. The input products and, in the backward pass, x's gradient and (in
// bfloat16) the weight gradients are one product per chunk (K or M = steps x batch, thousands of rows) instead of one
// per step; a block that size is reused from the heap batch after batch, where one for the whole
// sequence (50 MiB at W2's shapes) would be mapped fresh by the kernel every batch, and its page
// faults cost more than the arithmetic on a virtual machine.
std::int64_t chunk_steps(std::int64_t requested, std::int64_t B, std::int64_t H, std::int64_t T) {
  const std::int64_t fit = (std::int64_t{1} << 21) / std::max<std::int64_t>(1, B * 4 * H);
  const std::int64_t steps = requested > 0 ? requested : fit;
  return std::clamp<std::int64_t>(steps, 1, std::max<std::int64_t>(1, T));
}

// x (B, T, in) as a contiguous (T, B, in) tensor of ``type``: a view when it already is one (a
// fused layer's output, which is time-major underneath), else one copy.
at::Tensor time_major(const at::Tensor& x, at::ScalarType type) {
  return x.transpose(0, 1).to(type).contiguous();
}

// Steps [first, last) of per-step tensors (each (B, n)) as one (rows, n) tensor: a view when they
// lie back to back in one buffer (as the forward pass lays out its hidden states), else a copy.
at::Tensor stacked(at::TensorList steps, std::int64_t first, std::int64_t last) {
  const at::Tensor& head = steps[first];
  const std::int64_t rows = head.size(0), n = head.size(1);
  const auto bytes = static_cast<std::int64_t>(head.element_size()) * rows * n;
  bool adjacent = head.is_contiguous();
  for (std::int64_t t = first + 1; adjacent && t < last; ++t) {
    adjacent = steps[t].is_contiguous() &&
               static_cast<const char*>(steps[t].data_ptr()) ==
                   static_cast<const char*>(head.data_ptr()) + (t - first) * bytes;
  }
  if (adjacent) return head.as_strided({(last - first) * rows, n}, {n, 1});
  return at::cat(steps.slice(first, last - first), 0);
}

// (output, gates, cells, hiddens, x time-major in the products' precision)
using Forward = std::tuple<at::Tensor, std::vector<at::Tensor>, std::vector<at::Tensor>,
                           std::vector<at::Tensor>, at::Tensor>;

// Every per-step tensor is a (B, 4H) or (B, H) block, time-major: contiguous for the products.
// The hidden states h_{-1}..h_{T-1} share one buffer per chunk of steps (entry k in buffer k / C),
// so that the backward pass reads a chunk's h_{t-1} as one (C x B, H) matrix.
template <typename Low>
Forward
forward_loop(const at::Tensor& x, const at::Tensor& w_ih, const at::Tensor& bias,
             const at::Tensor& w_hh, const at::Tensor& h0, const at::Tensor& c0, bool keep,
             std::int64_t chunk, bool mkl) {
  const std::int64_t B = x.size(0), T = x.size(1), I = x.size(2), H = w_hh.size(1);
  const std::int64_t C = chunk_steps(chunk, B, H, T);
  const auto low_type = scalar_type<Low>();
  auto options = x.options().dtype(at::kFloat);
  const at::Tensor x_steps = time_major(x, low_type);
  const at::Tensor w_ih_low = w_ih.to(low_type).contiguous();
  const at::Tensor w_hh_low = w_hh.to(low_type).contiguous();
  const at::Tensor b = bias.to(at::kFloat).contiguous();
  at::Tensor out = at::empty({T, B, H}, options);  // returned as a (B, T, H) view
  std::vector<at::Tensor> gates, cells, hiddens;  // per step; hiddens[t] is h_{t-1}
  at::Tensor hidden_block;
  auto next_hidden = [&](std::int64_t k) {  // the (B, H) slot of hidden state entry k
    if (!keep) return at::empty({B, H}, options.dtype(low_type));
    if (k % C == 0) {
      hidden_block = at::empty({std::min(C, T + 1 - k) * B, H}, options.dtype(low_type));
    }
    return hidden_block.narrow(0, (k % C) * B, B);
  };
  hiddens.push_back(next_hidden(0).copy_(h0));
  at::Tensor c_prev = c0.to(at::kFloat).contiguous();
  cells.push_back(c_prev);
  for (std::int64_t first = 0; first < T; first += C) {
    const std::int64_t last = std::min(first + C, T);
    // The input part of every step of the chunk in one product: (rows, in) x (in, 4H).
    const at::Tensor x_rows = x_steps.narrow(0, first, last - first).view({(last - first) * B, I});
    const at::Tensor zx_chunk = matmul_nt(x_rows, w_ih_low, mkl);
    for (std::int64_t t = first; t < last; ++t) {
      const Low* zx = data<Low>(zx_chunk) + (t - first) * B * 4 * H;
      const at::Tensor zh = matmul_nt(hiddens.back(), w_hh_low, mkl);
      at::Tensor c = at::empty({B, H}, options);
      at::Tensor h = next_hidden(t + 1);
      at::Tensor g = keep ? at::empty({B, 4 * H}, options) : at::Tensor();
      at::parallel_for(0, B, kGrain, [&](std::int64_t begin, std::int64_t end) {
        if (keep) {
          step_rows<Low, true>(begin, end, H, zx, data<Low>(zh), data<float>(b),
                               data<float>(c_prev), data<float>(c), data<float>(g),
                               data<float>(out) + t * B * H, H, data<Low>(h));
        } else {
          step_rows<Low, false>(begin, end, H, zx, data<Low>(zh), data<float>(b),
                                data<float>(c_prev), data<float>(c), nullptr,
                                data<float>(out) + t * B * H, H, data<Low>(h));
        }
      });
      c_prev = c;
      if (keep) {
        gates.push_back(g);
        cells.push_back(c);
        hiddens.push_back(h);
      } else {
        hiddens.back() = h;
      }
    }
  }
  if (!keep) cells.back() = c_prev;
  return {out.transpose(0, 1), gates, cells, hiddens, x_steps};
}

// The backward pass walks the chunks from the last: per step the gates' gradients and
// dh_{t-1} = dz_t W_hh; per chunk the bias gradient and x's (dz W_ih, one product). The weight
// gradients (h_{t-1}^T dz_t and x_t^T dz_t summed over the steps, in float32) contract over the
// rows, so one operand is read transposed: in bfloat16 at::mm goes to oneDNN, which reads it in
// place, and one product per chunk ran 2x faster than one per step. In float32 at::mm goes to
// MKL, which also reads it in place: with ``mkl`` (every float32 product through MKL) one
// product per chunk (on an AVX2-only AMD EPYC 1.4x faster than oneDNN per step), else one per
// step through oneDNN, which copies each step's small transposed operands in cache (on an
// AVX-512 AMD EPYC MKL ran at a third of oneDNN's rate).
template <typename Low>
std::vector<at::Tensor> backward_loop(const at::Tensor& grad_out, const at::Tensor& grad_h_last,
                                      const at::Tensor& grad_c_last, at::TensorList gates,
                                      at::TensorList cells, at::TensorList hiddens,
                                      const at::Tensor& x_steps, const at::Tensor& w_ih,
                                      const at::Tensor& w_hh, bool grad_input,
                                      std::int64_t chunk, bool mkl) {
  constexpr bool float32 = std::is_same_v<Low, float>;
  const bool per_step_weights = float32 && !mkl;
  const std::int64_t T = x_steps.size(0), B = x_steps.size(1), I = x_steps.size(2);
  const std::int64_t H = w_hh.size(1), C = chunk_steps(chunk, B, H, T);
  const auto low_type = scalar_type<Low>();
  auto options = x_steps.options().dtype(at::kFloat);
  // The weights as the products read them, transposed once (oneDNN copies a transposed view
  // on every call).
  const at::Tensor w_ih_t = w_ih.to(low_type).t().contiguous();
  const at::Tensor w_hh_t = w_hh.to(low_type).t().contiguous();
  // Read in place with its strides (the next layer's gradient arrives time-major).
  at::Tensor go = grad_out.to(at::kFloat);
  if (go.stride(2) != 1) go = go.contiguous();
  at::Tensor grad_x = at::empty({grad_input ? T : 0, B, I}, options);  // empty: not wanted
  // The weight gradients are summed transposed, (in, 4H) and (H, 4H): per step h^T dz ran faster
  // than dz^T h, and one transpose at the end is free.
  at::Tensor grad_w_ih_t = at::zeros({I, 4 * H}, options);
  at::Tensor grad_w_hh_t = at::zeros({H, 4 * H}, options);
  at::Tensor grad_bias = at::zeros({4 * H}, options);
  at::Tensor dh = grad_h_last.to(low_type).contiguous().clone();
  at::Tensor dc = grad_c_last.to(at::kFloat).contiguous().clone();
  // A chunk's dz_t in the products' precision, reused chunk after chunk; never written over
  // gates[t], so a graph kept for a second backward stays valid.
  at::Tensor dz_low_block = at::empty({C * B, 4 * H}, options.dtype(low_type));
  // In bfloat16, each thread's scratch row of float32 dz and its share of the bias gradient.
  const int threads = at::get_num_threads();
  at::Tensor scratch = at::empty({float32 ? 0 : threads, 4 * H}, options);
  at::Tensor bias_sums = at::zeros({float32 ? 0 : threads, 4 * H}, options);
  const std::int64_t chunks = (T + C - 1) / C;
  for (std::int64_t k = chunks - 1; k >= 0; --k) {
    const std::int64_t first = k * C, last = std::min(first + C, T), rows = (last - first) * B;
    for (std::int64_t t = last - 1; t >= first; --t) {
      const at::Tensor dz_low = dz_low_block.narrow(0, (t - first) * B, B);
      at::parallel_for(0, B, kGrain, [&](std::int64_t begin, std::int64_t end) {
        const float* g = data<float>(gates[t]);
        const float *c = data<float>(cells[t + 1]), *c_prev = data<float>(cells[t]);
        const float* grad = data<float>(go) + t * go.stride(1);
        if constexpr (float32) {
          back_rows<Low>(begin, end, H, g, data<float>(dz_low), 4 * H, c, c_prev, grad,
                         go.stride(0), data<Low>(dh), data<float>(dc), nullptr, nullptr);
        } else {
          const int slot = at::get_thread_num();
          back_rows<Low>(begin, end, H, g, data<float>(scratch) + slot * 4 * H, 0, c, c_prev,
                         grad, go.stride(0), data<Low>(dh), data<float>(dc), data<Low>(dz_low),
                         data<float>(bias_sums) + slot * 4 * H);
        }
      });
      if (per_step_weights) {
        grad_w_hh_t.add_(matmul_nt(hiddens[t].t(), dz_low.t(), false));
        grad_w_ih_t.add_(matmul_nt(x_steps.select(0, t).t(), dz_low.t(), false));
      }
      dh = matmul_nt(dz_low, w_hh_t, mkl);  // dh_{t-1} = dz_t W_hh
    }
    const at::Tensor dz_low = dz_low_block.narrow(0, 0, rows);
    const at::Tensor x_rows = x_steps.narrow(0, first, last - first).view({rows, I});
    if constexpr (float32) {
      grad_bias.add_(dz_low.sum(0));
      if (!per_step_weights) {
        grad_w_hh_t.addmm_(stacked(hiddens, first, last).t(), dz_low);
        grad_w_ih_t.addmm_(x_rows.t(), dz_low);
      }
    } else {
      grad_w_hh_t.add_(at::mm(dz_low.t(), stacked(hiddens, first, last)).t());
      grad_w_ih_t.add_(at::mm(dz_low.t(), x_rows).t());
    }
    if (grad_input) {
      const at::Tensor grad_rows = matmul_nt(dz_low, w_ih_t, mkl);
      grad_x.narrow(0, first, last - first).view({rows, I}).copy_(grad_rows);
    }
  }
  if constexpr (!float32) grad_bias = bias_sums.sum(0);
  return {grad_input ? grad_x.transpose(0, 1) : grad_x, grad_w_ih_t.t().contiguous(), grad_bias,
          grad_w_hh_t.t().contiguous(), dh.to(at::kFloat), dc};
}

// ``x`` (3 dimensions, the input features last) of ``type``, and weights that fit it.
void check_inputs(const at::Tensor& x, at::ScalarType type, const at::Tensor& w_ih,
                  const at::Tensor& w_hh) {
  TORCH_CHECK(x.dim() == 3 && x.scalar_type() == type, "x: 3 dimensions of ", type);
  const std::int64_t H = w_hh.size(1);
  TORCH_CHECK(w_hh.size(0) == 4 * H && w_ih.size(0) == 4 * H && w_ih.size(1) == x.size(2),
              "weights: w_ih (4H, in), w_hh (4H, H)");
}

// The forward pass of one layer over every step: the output (B, T, H) and, per step, what the
// backward pass reads: gates (B, 4H) after activation, cells c_{-1}..c_{T-1} (B, H), hidden
// states h_{-1}..h_{T-1} (B, H) in the products' precision (bfloat16 when ``low``). Without
// ``keep`` (inference) only the last cell and hidden state; and x time-major (T, B, in) in the
// products' precision, which the backward pass reads.
Forward
layer_forward(const at::Tensor& x, const at::Tensor& w_ih, const at::Tensor& bias,
              const at::Tensor& w_hh, const at::Tensor& h0, const at::Tensor& c0, bool keep,
              bool low, std::int64_t chunk, bool mkl) {
  check_inputs(x, at::kFloat, w_ih, w_hh);
  if (low) return forward_loop<Bits16>(x, w_ih, bias, w_hh, h0, c0, keep, chunk, false);
  return forward_loop<float>(x, w_ih, bias, w_hh, h0, c0, keep, chunk, mkl);
}

// The backward pass, from the forward's saved tensors (``x_steps`` its time-major x): gradients
// of x, w_ih, bias (b_ih + b_hh), w_hh, h0 and c0, all float32. ``mkl``: float32 products
// through MKL (bfloat16 ones always go to oneDNN).
std::vector<at::Tensor> layer_backward(const at::Tensor& grad_out, const at::Tensor& grad_h_last,
                                       const at::Tensor& grad_c_last, at::TensorList gates,
                                       at::TensorList cells, at::TensorList hiddens,
                                       const at::Tensor& x_steps, const at::Tensor& w_ih,
                                       const at::Tensor& w_hh, bool low, bool grad_input,
                                       std::int64_t chunk, bool mkl) {
  check_inputs(x_steps, low ? at::kBFloat16 : at::kFloat, w_ih, w_hh);
  TORCH_CHECK(static_cast<std::int64_t>(gates.size()) == x_steps.size(0),
              "one gates tensor per step");
  if (low) {
    return backward_loop<Bits16>(grad_out, grad_h_last, grad_c_last, gates, cells, hiddens,
                                 x_steps, w_ih, w_hh, grad_input, chunk, false);
  }
  return backward_loop<float>(grad_out, grad_h_last, grad_c_last, gates, cells, hiddens, x_steps,
                              w_ih, w_hh, grad_input, chunk, mkl);
}

}  // namespace

TORCH_LIBRARY(lstmcast, m) {
  m.def("layer_forward(Tensor x, Tensor w_ih, Tensor bias, Tensor w_hh, Tensor h0, Tensor c0, "
        "bool keep, bool low, int chunk, bool mkl) "
        "-> (Tensor, Tensor[], Tensor[], Tensor[], Tensor)");
  m.def("layer_backward(Tensor grad_out, Tensor grad_h_last, Tensor grad_c_last, "
        "Tensor[] gates, Tensor[] cells, Tensor[] hiddens, Tensor x_steps, Tensor w_ih, "
        "Tensor w_hh, "
        "bool low, bool grad_input, int chunk, bool mkl) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(lstmcast, CPU, m) {
  m.impl("layer_forward", &layer_forward);
  m.impl("layer_backward", &layer_backward);
}
