"""W1's plain-PyTorch reference, written as a user would; a whole child process per run.

nn.LSTM + nn.Linear (``ReferenceNet``), manual shuffled batches, Adam, MSE, no scaling (the
series is already in [-1.6, 1.6]). Run by benchmarks.speed as
``python -m benchmarks.programs.w1_torch '<JSON parameters>'``; prints one RESULT line.
"""

from __future__ import annotations

import sys

from benchmarks.programs import child

TYPE_CHECKING = False  # not typing's: see child's docstring
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    import numpy as np
    import torch

    from benchmarks.programs.reference_net import ReferenceNet

    TorchData = tuple[torch.Tensor, torch.Tensor, torch.Tensor, np.ndarray]


def import_tool(threads: int | None) -> None:
    """numpy and torch, imported here and not at the top: the child times this import."""
    import numpy  # noqa: F401  (loaded with torch, as a user's script would)
    import torch

    if threads:
        torch.set_num_threads(threads)


def prepare(series: np.ndarray, params: dict[str, Any]) -> TorchData:
    """Training windows and next values, held-out windows as tensors, held-out next values."""
    import torch

    n_train, _ = child.train_test_sizes(params)
    x, y = child.next_value_windows(series, params["window"])  # (980, 20), (980,)
    x_train = torch.tensor(x[:n_train, :, None], dtype=torch.float32)
    y_train = torch.tensor(y[:n_train, None], dtype=torch.float32)
    x_test = torch.tensor(x[n_train:, :, None], dtype=torch.float32)
    return x_train, y_train, x_test, y[n_train:]


def fit(
    data: TorchData,
    params: dict[str, Any],
    initialise: Sequence[Callable[[ReferenceNet], None]] = (),
) -> ReferenceNet:
    """Seeded network, ``initialise`` applied to it, then the epochs of shuffled batches."""
    import torch
    from torch import nn

    from benchmarks.programs.reference_net import ReferenceNet

    x_train, y_train, _, _ = data
    n_train = len(x_train)
    torch.manual_seed(params["seed"])
    net = ReferenceNet(params["hidden"], 1)
    with torch.no_grad():
        for init in initialise:
            init(net)
    optimizer = torch.optim.Adam(net.parameters(), lr=params["lr"])
    loss_fn = nn.MSELoss()
    for _ in range(params["epochs"]):
        order = torch.randperm(n_train)
        for first in range(0, n_train, params["batch"]):
            batch = order[first : first + params["batch"]]
            optimizer.zero_grad()
            loss = loss_fn(net(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
    return net


def predict(net: ReferenceNet, data: TorchData) -> tuple[np.ndarray, np.ndarray]:
    """One step ahead on the held-out windows; the predictions and the actual next values."""
    import torch

    _, _, x_test, y_test = data
    net.eval()
    with torch.no_grad():
        return net(x_test)[:, 0].numpy(), y_test


if __name__ == "__main__":
    raise SystemExit(child.run_w1(sys.modules[__name__], sys.argv[1:]))
