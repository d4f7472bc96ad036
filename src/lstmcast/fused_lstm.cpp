// The LSTM's time loop with each step's element-wise work fused into one pass (lstmcast).
//
// Built and loaded by lstmcast/fused_lstm.py (torch.ops.lstmcast.*), which also holds the
// autograd function around these two ops. Two ways through a layer, chosen by the caller
// (``mkl``, lstmcast/fused_lstm.py: which is faster depends on the CPU):
// - through oneDNN (forward_loop, backward_loop; and every bfloat16 product): the recurrent
//   products (h_{t-1} W_hh^T, and in the backward pass dz_t W_hh) per step on the whole batch;
//   the input products x_t W_ih^T, and in the backward pass x's gradient (and in bfloat16 the
//   weight gradients), one product per chunk of steps (see chunk_steps), where thousands of
//   rows run near the machine's matrix-product rate;
// - in float32 through MKL (forward_split, backward_split): each thread runs its own rows of the
//   batch through every step, all of their products (at::mm) on those rows alone.
// Everything else of a step (adding the bias, the four
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
// gradients of the four pre-activations, each row (4H) written to ``dz`` + b * ``dz_stride``,
// and summed into ``bias_sum`` (4H) when given. With ``dz_low`` (products in bfloat16) they also
// go there, in the products' precision: then ``dz`` is a one-row scratch (stride 0) that stays
// in cache, and the float32 gradients never reach memory.
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
    if (bias_sum) {
#pragma omp simd
      for (std::int64_t j = 0; j < 4 * H; ++j) bias_sum[j] += d[j];
    }
    if (dz_low) {
      Low* out = dz_low + b * 4 * H;
#pragma omp simd
      for (std::int64_t j = 0; j < 4 * H; ++j) out[j] = stored<Low>(d[j]);
    }
  }
}

// ``a`` (M, K) times ``b`` (N, K) transposed: (M, N), through oneDNN's matmul (torch's
// mkldnn::_linear_pointwise operator) when this torch has it: at these shapes (M = batch, K and
// N = H or 4H) oneDNN ran 1.5-2.3x faster than MKL on an AVX-512 AMD EPYC (and MKL 1.1-1.3x
// faster than oneDNN on an AVX2-only one, where the caller takes the split path instead).
// oneDNN copies a strided view (a transpose) first. Without oneDNN, with an empty operand, or
// where oneDNN refuses the type (bfloat16 on a CPU without native bfloat16, which lstmcast never
// chooses but its tests run), at::mm.
at::Tensor matmul_nt(const at::Tensor& a, const at::Tensor& b) {
  static const auto handle =
      c10::Dispatcher::singleton().findSchema({"mkldnn::_linear_pointwise", ""});
  static std::atomic<bool> bf16_refused = false;
  const bool bf16 = a.scalar_type() == at::kBFloat16;
  if (!handle || a.numel() == 0 || b.numel() == 0 || (bf16 && bf16_refused)) {
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
             std::int64_t chunk) {
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
    const at::Tensor zx_chunk = matmul_nt(x_rows, w_ih_low);
    for (std::int64_t t = first; t < last; ++t) {
      const Low* zx = data<Low>(zx_chunk) + (t - first) * B * 4 * H;
      const at::Tensor zh = matmul_nt(hiddens.back(), w_hh_low);
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
// place, and one product per chunk ran 2x faster than one per step; in float32 one per step
// through oneDNN, which copies each step's small transposed operands in cache (at::mm would go
// to MKL, which on an AVX-512 AMD EPYC ran at a third of oneDNN's rate).
template <typename Low>
std::vector<at::Tensor> backward_loop(const at::Tensor& grad_out, const at::Tensor& grad_h_last,
                                      const at::Tensor& grad_c_last, at::TensorList gates,
                                      at::TensorList cells, at::TensorList hiddens,
                                      const at::Tensor& x_steps, const at::Tensor& w_ih,
                                      const at::Tensor& w_hh, bool grad_input,
                                      std::int64_t chunk) {
  constexpr bool float32 = std::is_same_v<Low, float>;
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
      if constexpr (float32) {
        grad_w_hh_t.add_(matmul_nt(hiddens[t].t(), dz_low.t()));
        grad_w_ih_t.add_(matmul_nt(x_steps.select(0, t).t(), dz_low.t()));
      }
      dh = matmul_nt(dz_low, w_hh_t);  // dh_{t-1} = dz_t W_hh
    }
    const at::Tensor dz_low = dz_low_block.narrow(0, 0, rows);
    const at::Tensor x_rows = x_steps.narrow(0, first, last - first).view({rows, I});
    if constexpr (float32) {
      grad_bias.add_(dz_low.sum(0));
    } else {
      grad_w_hh_t.add_(at::mm(dz_low.t(), stacked(hiddens, first, last)).t());
      grad_w_ih_t.add_(at::mm(dz_low.t(), x_rows).t());
    }
    if (grad_input) {
      const at::Tensor grad_rows = matmul_nt(dz_low, w_ih_t);
      grad_x.narrow(0, first, last - first).view({rows, I}).copy_(grad_rows);
    }
  }
  if constexpr (!float32) grad_bias = bias_sums.sum(0);
  return {grad_input ? grad_x.transpose(0, 1) : grad_x, grad_w_ih_t.t().contiguous(), grad_bias,
          grad_w_hh_t.t().contiguous(), dh.to(at::kFloat), dc};
}

// The float32 path where the products go to MKL: each of torch's threads runs its own rows of
// the batch through every step of the layer, all of its products on its rows alone (per step: in
// the forward pass x_t W_ih^T and h_{t-1} W_hh^T; in the backward pass dz_t W_hh, dz_t W_ih and
// its share of the weight gradients, summed over the threads at the end). The rows of a batch
// are independent through the recurrence, so the threads never wait for each other inside a
// layer, and a product called inside at::parallel_for runs sequentially (neither MKL nor torch
// nests its threads). Measured on an AVX2-only AMD EPYC with 2 threads (benchmarks/RESULTS.md):
// a (256, 128) x (128, 512) product took 0.25 ms on both threads and 0.21-0.25 ms for half the
// rows on one, but 0.41-0.45 ms inside a step loop where the threads met twice per step (the
// product, then the element-wise loop); the chunk-sized products (4096 rows) reached 95-109
// GFLOP/s on both threads, the per-thread ones 63-76 each.
template <typename Work>
void split_rows(std::int64_t B, const Work& work) {
  at::parallel_for(0, B, kGrain, [&](std::int64_t begin, std::int64_t end) {
    // Worker threads do not inherit the caller's dispatch state: skip autograd's layer, which
    // these plain tensors do not need.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    work(begin, end);
  });
}

// The forward pass as forward_loop, float32 with the products through MKL, rows split over the
// threads (split_rows). With ``keep`` every step's gates, cell and hidden state get their own
// tensor (the backward pass reads them per step); without, two cells and two hidden states take
// turns (a forecast of many series would otherwise hold every step's).
Forward forward_split(const at::Tensor& x, const at::Tensor& w_ih, const at::Tensor& bias,
                      const at::Tensor& w_hh, const at::Tensor& h0, const at::Tensor& c0,
                      bool keep) {
  const std::int64_t B = x.size(0), T = x.size(1), H = w_hh.size(1);
  auto options = x.options().dtype(at::kFloat);
  const at::Tensor x_steps = time_major(x, at::kFloat);
  const at::Tensor w_ih_t = w_ih.to(at::kFloat).contiguous().t();  // read transposed in place
  const at::Tensor w_hh_t = w_hh.to(at::kFloat).contiguous().t();
  const at::Tensor b = bias.to(at::kFloat).contiguous();
  at::Tensor out = at::empty({T, B, H}, options);  // returned as a (B, T, H) view
  std::vector<at::Tensor> gates, cells{c0.to(at::kFloat).contiguous()};
  std::vector<at::Tensor> hiddens{at::empty({B, H}, options).copy_(h0)};  // [t]: h_{t-1}
  for (std::int64_t t = 0; t < T; ++t) {
    const bool fresh = keep || t < 2;  // else step t's turn comes back to step t - 2's tensors
    if (keep) gates.push_back(at::empty({B, 4 * H}, options));
    cells.push_back(fresh ? at::empty({B, H}, options) : cells[t - 1]);
    hiddens.push_back(fresh ? at::empty({B, H}, options) : hiddens[t - 1]);
  }
  split_rows(B, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t n = end - begin;
    at::Tensor zx = at::empty({n, 4 * H}, options), zh = at::empty({n, 4 * H}, options);
    // The products' rows start at row ``begin`` of the step: shifted so that row b is at b * 4H.
    const float* zx_rows = data<float>(zx) - begin * 4 * H;
    const float* zh_rows = data<float>(zh) - begin * 4 * H;
    for (std::int64_t t = 0; t < T; ++t) {
      at::mm_out(zx, x_steps[t].narrow(0, begin, n), w_ih_t);
      at::mm_out(zh, hiddens[t].narrow(0, begin, n), w_hh_t);
      float* o = data<float>(out) + t * B * H;
      if (keep) {
        step_rows<float, true>(begin, end, H, zx_rows, zh_rows, data<float>(b),
                               data<float>(cells[t]), data<float>(cells[t + 1]),
                               data<float>(gates[t]), o, H, data<float>(hiddens[t + 1]));
      } else {
        step_rows<float, false>(begin, end, H, zx_rows, zh_rows, data<float>(b),
                                data<float>(cells[t]), data<float>(cells[t + 1]), nullptr, o, H,
                                data<float>(hiddens[t + 1]));
      }
    }
  });
  if (!keep) {  // only the last cell and hidden state
    cells = {cells.back()};
    hiddens = {hiddens.back()};
  }
  return {out.transpose(0, 1), gates, cells, hiddens, x_steps};
}

// The backward pass as backward_loop, for forward_split's tensors: each thread walks its rows
// back through every step, summing its share of the weight and bias gradients in its own slot.
std::vector<at::Tensor> backward_split(const at::Tensor& grad_out, const at::Tensor& grad_h_last,
                                       const at::Tensor& grad_c_last, at::TensorList gates,
                                       at::TensorList cells, at::TensorList hiddens,
                                       const at::Tensor& x_steps, const at::Tensor& w_ih,
                                       const at::Tensor& w_hh, bool grad_input) {
  const std::int64_t T = x_steps.size(0), B = x_steps.size(1), I = x_steps.size(2);
  const std::int64_t H = w_hh.size(1);
  auto options = x_steps.options().dtype(at::kFloat);
  const at::Tensor w_ih_f = w_ih.to(at::kFloat).contiguous();
  const at::Tensor w_hh_f = w_hh.to(at::kFloat).contiguous();
  at::Tensor go = grad_out.to(at::kFloat);  // read in place with its strides
  if (go.stride(2) != 1) go = go.contiguous();
  at::Tensor grad_x = at::empty({grad_input ? T : 0, B, I}, options);  // empty: not wanted
  // Each thread's sums, transposed ((in, 4H), (H, 4H)): h^T dz reads both operands as stored.
  const int threads = at::get_num_threads();
  at::Tensor grad_w_ih_t = at::zeros({threads, I, 4 * H}, options);
  at::Tensor grad_w_hh_t = at::zeros({threads, H, 4 * H}, options);
  at::Tensor grad_bias = at::zeros({threads, 4 * H}, options);
  at::Tensor dh = grad_h_last.to(at::kFloat).contiguous().clone();
  at::Tensor dc = grad_c_last.to(at::kFloat).contiguous().clone();
  split_rows(B, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t n = end - begin;
    const int slot = at::get_thread_num();
    at::Tensor w_ih_sum = grad_w_ih_t[slot], w_hh_sum = grad_w_hh_t[slot];
    at::Tensor dz = at::empty({n, 4 * H}, options);
    at::Tensor dh_rows = dh.narrow(0, begin, n);  // dh_t read, then dh_{t-1} written over it
    for (std::int64_t t = T - 1; t >= 0; --t) {
      back_rows<float>(begin, end, H, data<float>(gates[t]), data<float>(dz) - begin * 4 * H,
                       4 * H, data<float>(cells[t + 1]), data<float>(cells[t]),
                       data<float>(go) + t * go.stride(1), go.stride(0), data<float>(dh),
                       data<float>(dc), nullptr, data<float>(grad_bias) + slot * 4 * H);
      w_hh_sum.addmm_(hiddens[t].narrow(0, begin, n).t(), dz);
      w_ih_sum.addmm_(x_steps[t].narrow(0, begin, n).t(), dz);
      if (grad_input) {
        at::Tensor grad_x_rows = grad_x[t].narrow(0, begin, n);
        at::mm_out(grad_x_rows, dz, w_ih_f);
      }
      at::mm_out(dh_rows, dz, w_hh_f);
    }
  });
  return {grad_input ? grad_x.transpose(0, 1) : grad_x, grad_w_ih_t.sum(0).t().contiguous(),
          grad_bias.sum(0), grad_w_hh_t.sum(0).t().contiguous(), dh, dc};
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
  if (low) return forward_loop<Bits16>(x, w_ih, bias, w_hh, h0, c0, keep, chunk);
  if (mkl) return forward_split(x, w_ih, bias, w_hh, h0, c0, keep);
  return forward_loop<float>(x, w_ih, bias, w_hh, h0, c0, keep, chunk);
}

// The backward pass, from the forward's saved tensors (``x_steps`` its time-major x): gradients
// of x, w_ih, bias (b_ih + b_hh), w_hh, h0 and c0, all float32. ``mkl``: float32 products
// through MKL, the rows split over the threads (bfloat16 ones always go to oneDNN).
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
                                 x_steps, w_ih, w_hh, grad_input, chunk);
  }
  if (mkl) {
    return backward_split(grad_out, grad_h_last, grad_c_last, gates, cells, hiddens, x_steps,
                          w_ih, w_hh, grad_input);
  }
  return backward_loop<float>(grad_out, grad_h_last, grad_c_last, gates, cells, hiddens, x_steps,
                              w_ih, w_hh, grad_input, chunk);
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
