"""PyTorch eager mode, the peer: the same models and weights, NCHW for convolutions."""

from __future__ import annotations

import math

import torch

from workloads import WORKLOADS, layers_of, weights


class KerasAdam(torch.optim.Optimizer):
    """Adam in Keras 3's form, for the loss check only (timings use ``torch.optim.Adam``).

    PyTorch adds epsilon to ``sqrt(v / (1 - beta_2^t))``, Keras to ``sqrt(v)`` with the
    bias corrections folded into the step size. Where gradients are ~1e-7 the two
    differ by a factor, which alone moved W3's losses by 9e-4 relative over 20 steps.
    """

    def __init__(self, params, lr, beta_1=0.9, beta_2=0.999, eps=1e-7):
        super().__init__(params, {"lr": lr})
        self.b1, self.b2, self.eps, self.t = beta_1, beta_2, eps, 0

    @torch.no_grad()
    def step(self):
        self.t += 1
        alpha = math.sqrt(1 - self.b2**self.t) / (1 - self.b1**self.t)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                m, v, g = state["m"], state["v"], p.grad
                m += (g - m) * (1 - self.b1)
                v += (g * g - v) * (1 - self.b2)
                p -= group["lr"] * alpha * m / (v.sqrt() + self.eps)


def make_step(key: str, mode: str = "eager"):
    """``mode="eager"``: the timed PyTorch step; ``"check"``: the same with Keras's Adam formula."""
    spec = WORKLOADS[key]
    w = weights(key)
    mods = []
    i = 0
    if spec["kind"] == "mlp":
        n = len(spec["sizes"]) - 1
        for j in range(n):
            lin = torch.nn.Linear(*w[i].shape)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w[i].T.copy()))
                lin.bias.copy_(torch.from_numpy(w[i + 1]))
            mods.append(lin)
            if j < n - 1:
                mods.append(torch.nn.ReLU())
            i += 2
    elif spec["kind"] == "lstm":
        mods.append(_LabLSTM(spec, w))
    else:
        for layer in layers_of(key):
            if layer[0] == "conv":  # odd kernels: "same" pads (k - 1) / 2 on each side, as Keras
                conv = torch.nn.Conv2d(layer[2], layer[3], layer[1],
                                       padding=(layer[1] - 1) // 2 if layer[4] == "same" else 0)
                with torch.no_grad():
                    conv.weight.copy_(torch.from_numpy(w[i].transpose(3, 2, 0, 1).copy()))
                    conv.bias.copy_(torch.from_numpy(w[i + 1]))
                mods += [conv, torch.nn.ReLU()]
                i += 2
            elif layer[0] == "pool":
                mods.append(torch.nn.MaxPool2d(2))
            elif layer[0] == "flatten":
                mods.append(_NHWCFlatten())
            else:
                lin = torch.nn.Linear(layer[1], layer[2])
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(w[i].T.copy()))
                    lin.bias.copy_(torch.from_numpy(w[i + 1]))
                mods.append(lin)
                if len(layer) == 3:
                    mods.append(torch.nn.ReLU())
                i += 2
    model = torch.nn.Sequential(*mods)
    params = [p for p in model.parameters() if p.requires_grad]
    adam = KerasAdam if mode == "check" else torch.optim.Adam
    opt = adam(params, lr=spec["lr"], eps=1e-7) if spec["opt"] == "adam" else torch.optim.SGD(params, lr=spec["lr"])
    loss_fn = torch.nn.BCEWithLogitsLoss() if spec["loss"] == "bce" else torch.nn.CrossEntropyLoss()
    lenet = spec["kind"] in ("lenet", "cnn")  # images: NHWC in, NCHW for PyTorch
    if spec["kind"] == "lstm":
        ce = loss_fn
        loss_fn = lambda logits, y: ce(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))  # noqa: E731

    def step(x, y):
        xt = torch.from_numpy(x)
        if lenet:
            xt = xt.permute(0, 3, 1, 2)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xt), torch.from_numpy(y))
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


class _NHWCFlatten(torch.nn.Module):
    """Flatten in channels-last order, so dense weights match tapegrad's."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)


class _LabLSTM(torch.nn.Module):
    """Embedding, ``nn.LSTM`` (batch first) and Linear, with the workload's Keras-layout weights:
    PyTorch's gates i, f, g, o are Keras's i, f, c, o; the bias goes in ``bias_ih``."""

    def __init__(self, spec, w):
        super().__init__()
        emb, k, r, b, dk, db = w
        self.embed = torch.nn.Embedding(*emb.shape)
        self.lstm = torch.nn.LSTM(spec["embed"], spec["units"], batch_first=True)
        self.out = torch.nn.Linear(spec["units"], spec["vocab"])
        with torch.no_grad():
            self.embed.weight.copy_(torch.from_numpy(emb))
            self.lstm.weight_ih_l0.copy_(torch.from_numpy(k.T.copy()))
            self.lstm.weight_hh_l0.copy_(torch.from_numpy(r.T.copy()))
            self.lstm.bias_ih_l0.copy_(torch.from_numpy(b))
            self.lstm.bias_hh_l0.zero_()
            self.out.weight.copy_(torch.from_numpy(dk.T.copy()))
            self.out.bias.copy_(torch.from_numpy(db))
        self.lstm.bias_hh_l0.requires_grad_(False)  # Keras has one bias: a second trained copy would double its steps

    def forward(self, x):
        return self.out(self.lstm(self.embed(x))[0])
