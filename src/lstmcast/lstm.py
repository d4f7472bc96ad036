r"""The LSTM, written out.

For each layer and each time step ``t``, with input ``x_t`` (the series values, or the hidden state
of the layer below) and the previous hidden and cell states ``h_{t-1}``, ``c_{t-1}``::

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)     input gate: how much new to write
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)     forget gate: how much old to keep
    g_t =    tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)     candidate values
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)     output gate: what of the cell to show
    c_t = f_t * c_{t-1} + i_t * g_t                           cell state, carried through time
    h_t = o_t * tanh(c_t)                                     hidden state, the layer's output

Each gate is a fully connected layer over ``[x_t, h_{t-1}]``, split into an input part and a
recurrent part exactly as :class:`torch.nn.LSTM` stores it: layer ``k`` has ``weight_ih_l{k}``
(4H, in), ``weight_hh_l{k}`` (4H, H), ``bias_ih_l{k}`` (4H,) and ``bias_hh_l{k}`` (4H,), rows in
gate order i, f, g, o. So one set of weights runs two ways:

- :meth:`LSTM.forward` runs a fused kernel: on the CPU lstmcast's own when it pays
  (:mod:`lstmcast.fused_lstm`: each step's element-wise work in one pass, built once per
  machine), else torch's (oneDNN on CPU, cuDNN on GPU).
- :meth:`LSTM.trace` runs the equations above step by step in plain tensor ops and returns every
  gate activation and state as a :class:`GateTrace`: inspectable, and differentiable.

Tests check both against :class:`torch.nn.LSTM`, outputs and gradients.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import torch
from torch import nn

from . import fused_lstm

State = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class GateTrace:
    """Every gate activation and state of an LSTM run, each shaped (num_layers, batch, time, H).

    ``input``, ``forget`` and ``output`` are the sigmoid gates (0..1), ``candidate`` the tanh
    candidate g (-1..1), ``cell`` the cell state c and ``hidden`` the hidden state h. The network's
    output sequence is ``hidden[-1]``.
    """

    input: torch.Tensor
    forget: torch.Tensor
    candidate: torch.Tensor
    output: torch.Tensor
    cell: torch.Tensor
    hidden: torch.Tensor

    def detach(self) -> GateTrace:
        """The same trace cut from the autograd graph, on the CPU."""
        return GateTrace(**{f.name: getattr(self, f.name).detach().cpu() for f in fields(self)})

    def select(self, index: int | slice | torch.Tensor) -> GateTrace:
        """The trace of some samples of the batch (indexing the batch axis)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return GateTrace(**{f.name: getattr(self, f.name)[:, index] for f in fields(self)})


class LSTM(nn.LSTM):
    """A batch-first LSTM whose parameters are named and shaped like ``torch.nn.LSTM``.

    Parameters
    ----------
    input_size : int
        Features per time step.
    hidden_size : int
        Units per layer (H).
    num_layers : int
        Stacked layers; layer k > 0 reads the hidden states of layer k - 1.
    dropout : float
        Dropout on the outputs of every layer but the last, in training mode only.
    forget_bias : float or None
        None: torch's initialisation, every parameter uniform in (-1/sqrt(H), 1/sqrt(H)). A
        number: the biases start at zero except the forget gate's, which starts at this value
        (1.0 is Keras's ``unit_forget_bias``), so the cell keeps its state from the first step.

    State dicts load both ways with ``torch.nn.LSTM(..., batch_first=True)``.

    Attributes
    ----------
    kernel : "auto", "fused" or "stock"
        Which kernel :meth:`forward` runs (set on the class or one instance; default from the
        ``LSTMCAST_LSTM_KERNEL`` environment variable, else "auto"): lstmcast's fused kernel,
        torch's, or the one :func:`lstmcast.fused_lstm.choose_kernel` picks.
    low_precision : bool
        Matrix products in bfloat16 (cell state and element-wise work in float32; see
        :mod:`lstmcast.precision`). Only the fused kernel has it; torch's then runs in float32.
    """

    kernel: str = os.environ.get("LSTMCAST_LSTM_KERNEL", "auto")
    low_precision: bool = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        dropout: float = 0.0,
        forget_bias: float | None = None,
    ) -> None:
        super().__init__(
            input_size, hidden_size, num_layers=num_layers, dropout=dropout, batch_first=True
        )
        if forget_bias is not None:
            # Gate rows are i, f, g, o; the forget gate sees bias_ih + bias_hh.
            forget = slice(hidden_size, 2 * hidden_size)
            with torch.no_grad():
                for k in range(num_layers):
                    getattr(self, f"bias_ih_l{k}").zero_()[forget] = forget_bias
                    getattr(self, f"bias_hh_l{k}").zero_()

    def forward(  # type: ignore[override]
        self, x: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """Run the fused kernel.

        Parameters
        ----------
        x : Tensor (batch, time, input_size)
        state : optional (h_0, c_0), each (num_layers, batch, H); zeros when omitted.

        Returns
        -------
        output : Tensor (batch, time, H), the last layer's hidden states.
        (h_n, c_n) : each (num_layers, batch, H), the states after the last step.
        """
        fused = fused_lstm.choose_kernel(
            self.kernel, x, self.hidden_size, self.low_precision, self.training
        )
        if fused:
            return fused_lstm.run(self, x, state, self.low_precision)
        return super().forward(x, state)

    def fan_out(
        self, state: State, shared: torch.Tensor, own: torch.Tensor | None = None
    ) -> torch.Tensor:
        """One step from each row's state for each of several inputs, written out.

        Row ``b`` steps from its state once per shared input ``j``, its input being
        ``[shared_j, own_b]``. The input part of layer 0's gates is computed once per shared
        input and once per row, and the recurrent part once per row, not once per pair: the
        pairs only meet in the element-wise cell update. That is what makes decoding many
        segments from one state cheap (:mod:`lstmcast.model`).

        Parameters
        ----------
        state : (h, c), each (num_layers, batch, H)
        shared : Tensor (inputs, shared features)
        own : optional Tensor (batch, own features); shared + own features = input_size

        Returns
        -------
        Tensor (batch, inputs, H), the last layer's hidden states.
        """
        h, c = state
        width = shared.shape[1]
        layer_input = None
        for k in range(self.num_layers):
            w_ih = getattr(self, f"weight_ih_l{k}")
            w_hh = getattr(self, f"weight_hh_l{k}")
            bias = getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}")
            recurrent = (h[k] @ w_hh.T + bias)[:, None]  # (B, 1, 4H)
            if layer_input is None:
                z = (shared @ w_ih[:, :width].T)[None] + recurrent  # (B, inputs, 4H)
                if own is not None:
                    z = z + (own @ w_ih[:, width:].T)[:, None]
            else:
                z = layer_input @ w_ih.T + recurrent
            z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
            cell = z_f.sigmoid() * c[k][:, None] + z_i.sigmoid() * z_g.tanh()
            layer_input = z_o.sigmoid() * cell.tanh()  # (B, inputs, H)
            if self.training and self.dropout > 0 and k < self.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, self.dropout, training=True)
        assert layer_input is not None
        return layer_input

    def trace(self, x: torch.Tensor, state: State | None = None) -> GateTrace:
        """Run the gate equations step by step and return every activation.

        Parameters
        ----------
        x : Tensor (batch, time, input_size)
        state : optional (h_0, c_0), each (num_layers, batch, H); zeros when omitted.

        Returns
        -------
        GateTrace
            Tensors shaped (num_layers, batch, time, H). Gradients flow through them.
        """
        batch, steps, _ = x.shape
        H = self.hidden_size
        if state is None:
            zeros = x.new_zeros(self.num_layers, batch, H)
            state = (zeros, zeros)
        per_layer: list[dict[str, torch.Tensor]] = []
        layer_input = x
        for k in range(self.num_layers):
            w_ih = getattr(self, f"weight_ih_l{k}")
            w_hh = getattr(self, f"weight_hh_l{k}")
            bias = getattr(self, f"bias_ih_l{k}") + getattr(self, f"bias_hh_l{k}")
            # The input part of every gate does not depend on h, so compute it for all steps at
            # once; only the recurrent part must wait for the previous step.
            from_input = layer_input @ w_ih.T + bias  # (B, T, 4H)
            h, c = state[0][k], state[1][k]  # (B, H)
            gates: dict[str, list[torch.Tensor]] = {
                name: [] for name in ("input", "forget", "candidate", "output", "cell", "hidden")
            }
            for t in range(steps):
                z = from_input[:, t] + h @ w_hh.T  # (B, 4H)
                z_i, z_f, z_g, z_o = z.chunk(4, dim=1)
                i, f, g, o = z_i.sigmoid(), z_f.sigmoid(), z_g.tanh(), z_o.sigmoid()
                c = f * c + i * g
                h = o * c.tanh()
                for name, value in zip(gates, (i, f, g, o, c, h), strict=True):
                    gates[name].append(value)
            stacked = {name: torch.stack(values, dim=1) for name, values in gates.items()}
            per_layer.append(stacked)  # each (B, T, H)
            layer_input = stacked["hidden"]
            if self.training and self.dropout > 0 and k < self.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, self.dropout, training=True)
        return GateTrace(
            **{
                name: torch.stack([layer[name] for layer in per_layer])
                for name in ("input", "forget", "candidate", "output", "cell", "hidden")
            }
        )
