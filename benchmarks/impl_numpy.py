"""The hand-written NumPy reference: manual forward and backward passes, in-place updates.

It knows each model in advance and fuses what it likes, so it is the ceiling a
general framework on NumPy can approach, not a framework.
"""

from __future__ import annotations

import math

import numpy as np

# arrays on 64-byte boundaries, as tapegrad allocates its weights and optimizer state, so
# ratios compare programs, not where malloc placed their arrays
from tapegrad.fast import machine
from tapegrad.fast.memory import copy_aligned, empty_aligned, tune_allocator, zeros_aligned
from workloads import WORKLOADS, weights


class Adam:
    """Keras's Adam, as tapegrad's ``Adam.update_step`` writes it, on Keras's ``m`` and ``v``,
    with every intermediate in one of two kept buffers (twelve passes over the arrays)."""

    def __init__(self, params, lr, b1=0.9, b2=0.999, eps=1e-7):
        self.p, self.lr, self.b1, self.b2, self.eps, self.t = params, lr, b1, b2, eps, 0
        self.m = [zeros_aligned(p.shape, p.dtype) for p in params]
        self.v = [zeros_aligned(p.shape, p.dtype) for p in params]
        self.tmp = [(empty_aligned(p.shape, p.dtype), empty_aligned(p.shape, p.dtype)) for p in params]

    def step(self, grads):
        self.t += 1
        b1, b2 = self.b1, self.b2
        alpha = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for p, g, m, v, (a, b) in zip(self.p, grads, self.m, self.v, self.tmp):
            np.subtract(g, m, out=a)  # m += (g - m) (1 - b1)
            a *= 1 - b1
            m += a
            np.square(g, out=a)  # v += (g^2 - v) (1 - b2)
            a -= v
            a *= 1 - b2
            v += a
            np.multiply(m, alpha, out=b)  # p -= alpha m / (sqrt(v) + eps)
            np.sqrt(v, out=a)
            a += self.eps
            b /= a
            p -= b


class SGD:
    def __init__(self, params, lr):
        self.p, self.lr = params, lr

    def step(self, grads):
        for p, g in zip(self.p, grads):
            g *= self.lr  # the gradient arrays are the step's own: scale in place
            p -= g


def loss_and_grad(logits, y, kind):
    n = logits.shape[0]
    if kind == "bce":
        x = logits
        loss = float(np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))))
        s = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
        return loss, (s - y) / y.size
    m = logits.max(1, keepdims=True)
    e = np.exp(logits - m)
    s = e.sum(1, keepdims=True)
    logp = logits - m - np.log(s)
    loss = -float(logp[np.arange(n), y].mean())
    g = e / s
    g[np.arange(n), y] -= 1
    return loss, g / n


def mlp_step_factory(params, kind, opt):
    ws, bs = params[0::2], params[1::2]
    zeros = np.zeros(1 << 20, np.float32)  # enough for every activation of W1..W4

    def step(x, y):
        acts = [x]
        h = x
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w
            h += b
            if i < len(ws) - 1:
                np.maximum(h, zeros[:h.size].reshape(h.shape), out=h)  # an array: maximum(h, 0) has no vector loop
            acts.append(h)
        loss, g = loss_and_grad(h, y, kind)
        grads = [None] * len(params)
        for i in range(len(ws) - 1, -1, -1):
            grads[2 * i] = acts[i].T @ g
            grads[2 * i + 1] = g.sum(0)
            if i:
                g = g @ ws[i].T
                g *= acts[i] > 0
        opt.step(grads)
        return loss

    return step


def banded(k, band, bias=None):
    """The kernel on the diagonals of a ``(kh * wb * c [+ 1], band * co)`` matrix (stride 1)."""
    kh, kw, c, co = k.shape
    wb = band + kw - 1
    t = np.zeros((kh * wb * c + (bias is not None), band * co), np.float32)
    e, row = t.itemsize, band * co * t.itemsize
    _strided(t, (kh, band, kw, c, co), (wb * c * row, c * row + co * e, c * row, row, e))[...] = k[:, None]
    if bias is not None:
        t[-1].reshape(band, co)[...] = bias
    return t


def _strided(a, shape, strides):
    """A view of the contiguous array ``a`` with the given shape and byte strides (as
    ``as_strided``, built straight on ``a``'s buffer: no Python layer per view)."""
    if not a.flags.c_contiguous:
        return np.lib.stride_tricks.as_strided(a, shape, strides)
    return np.ndarray(shape, a.dtype, buffer=a, strides=strides)


def conv_forward(x, k, b, pad, band):
    """Banded im2col: each gathered row holds the kh input rows one band of outputs reads."""
    n, h, w, c = x.shape
    kh, kw, _, co = k.shape
    hp, wp = h + 2 * pad, w + 2 * pad
    oh, ow = hp - kh + 1, wp - kw + 1
    nb, wb = ow // band, band + kw - 1
    if pad:
        xp = np.zeros((n, hp, wp * c), np.float32)
        xp.reshape(n, hp, wp, c)[:, pad:pad + h, pad:pad + w] = x
    else:
        xp = x.reshape(n, h, w * c)
    s0, s1, s2 = xp.strides
    kk = kh * wb * c
    a = np.empty((n * oh * nb, kk + 1), np.float32)
    # each gathered run of wb * c floats moves as one item (see _pixels)
    np.copyto(_pixels(a[:, :kk].reshape(n, oh, nb, kh, wb * c)),
              _pixels(_strided(xp, (n, oh, nb, kh, wb * c), (s0, s1, s2 * band * c, s1, s2))))
    a[:, kk] = 1
    return (a @ banded(k, band, b)).reshape(n, oh, ow, co), a


def conv_backward(g, a, k, xshape, pad, band, need_x=True):
    n, oh, ow, co = g.shape
    kh, kw, c, _ = k.shape
    nb, wb = ow // band, band + kw - 1
    g2 = g.reshape(-1, band * co)
    gt = a.T @ g2
    e = gt.itemsize
    row = band * co * e
    gk = _strided(gt, (kh, kw, c, band, co), (wb * c * row, c * row, row, c * row + co * e, e)).sum(axis=3)
    gb = gt[-1].reshape(band, co).sum(axis=0)
    gx = None
    if need_x:
        # gathered rows ordered band first, so each (kernel row, band) adds one whole window
        gbands = np.ascontiguousarray(g.reshape(n, oh, nb, band * co).transpose(0, 2, 1, 3))
        ga = (gbands.reshape(-1, band * co) @ banded(k, band).T).reshape(n, nb, oh, kh, wb * c)
        h, w = xshape[1], xshape[2]
        hp, wp = h + 2 * pad, w + 2 * pad
        gp = np.zeros((n, hp, wp * c), np.float32)
        step = band * c
        for i in range(kh):
            for j in range(nb):
                gp[:, i:i + oh, j * step:j * step + wb * c] += ga[:, j, :, i]
        gx = gp.reshape(n, hp, wp, c)[:, pad:pad + h, pad:pad + w]
    return gx, gk, gb


def _pixels(a):
    """Each run along the last axis (a pixel's channel vector, a gathered row) as one item,
    so copies move whole runs instead of looping over a few floats at a time."""
    size = a.shape[-1] * a.itemsize
    run = _RUNS.get(size)
    if run is None:
        run = _RUNS[size] = np.dtype((np.void, size))
    return a.view(run)[..., 0]


_RUNS: dict = {}


def pool_forward(x):
    """2x2 max pooling, columns first (after splitting the image into even and odd columns),
    then rows; ties go to the first maximum in row-major order."""
    n, h, w, c = x.shape
    cols = np.empty((2, n, h, w // 2, c), np.float32)
    src, dst = _pixels(x).reshape(n, h, w // 2, 2), _pixels(cols)
    np.copyto(dst[0], src[..., 0])
    np.copyto(dst[1], src[..., 1])
    bw = np.greater(cols[1], cols[0])
    best = np.maximum(cols[0], cols[1]).reshape(n, h // 2, 2, w // 2, c)
    bh = np.greater(best[:, :, 1], best[:, :, 0])
    return np.maximum(best[:, :, 0], best[:, :, 1]), (bh, bw)


def pool_backward(g, masks):
    bh, bw = masks
    n, oh, ow, c = g.shape
    grow = np.empty((n, oh, 2, ow, c), np.float32)
    np.multiply(g, bh, out=grow[:, :, 1])
    np.subtract(g, grow[:, :, 1], out=grow[:, :, 0])
    grow = grow.reshape(n, 2 * oh, ow, c)
    gcol = np.empty((2, n, 2 * oh, ow, c), np.float32)
    np.multiply(grow, bw, out=gcol[1])
    np.subtract(grow, gcol[1], out=gcol[0])
    gx = np.empty((n, 2 * oh, 2 * ow, c), np.float32)
    dst, src = _pixels(gx).reshape(n, 2 * oh, ow, 2), _pixels(gcol)
    np.copyto(dst[..., 0], src[0])
    np.copyto(dst[..., 1], src[1])
    return gx


def lenet_step_factory(params, opt):
    k1, b1, k2, b2, w3, b3, w4, b4, w5, b5 = params
    zeros = np.zeros(1 << 20, np.float32)

    def step(x, y):
        c1, a1_ = conv_forward(x, k1, b1, 2, 7)
        a1 = np.maximum(c1, zeros[:c1.size].reshape(c1.shape), out=c1)  # an array: maximum(x, 0) has no vector loop
        p1, m1 = pool_forward(a1)
        c2, a2_ = conv_forward(p1, k2, b2, 0, 5)
        a2 = np.maximum(c2, zeros[:c2.size].reshape(c2.shape), out=c2)
        p2, m2 = pool_forward(a2)
        f = p2.reshape(len(x), -1)
        h3 = np.maximum(f @ w3 + b3, 0)
        h4 = np.maximum(h3 @ w4 + b4, 0)
        logits = h4 @ w5 + b5
        loss, g = loss_and_grad(logits, y, "ce")
        gw5, gb5 = h4.T @ g, g.sum(0)
        g = (g @ w5.T) * (h4 > 0)
        gw4, gb4 = h3.T @ g, g.sum(0)
        g = (g @ w4.T) * (h3 > 0)
        gw3, gb3 = f.T @ g, g.sum(0)
        g = (g @ w3.T).reshape(p2.shape)
        # ReLU's mask on the pooled gradient: a window's maximum passed the ReLU iff it is positive
        g = pool_backward(g * (p2 > 0), m2)
        g, gk2, gb2 = conv_backward(g, a2_, k2, p1.shape, 0, 5)
        g = pool_backward(g * (p1 > 0), m1)
        _, gk1, gb1 = conv_backward(g, a1_, k1, x.shape, 2, 7, need_x=False)
        opt.step([gk1, gb1, gk2, gb2, gw3, gb3, gw4, gb4, gw5, gb5])
        return loss

    return step


def _sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def lstm_step_factory(params, opt):
    """Embedding, LSTM (return_sequences) and Dense over the vocabulary, by hand: the inputs of
    all steps projected in one product, a loop over the steps, the reverse loop for the
    gradients, the kernel's gradient in one product."""
    emb, k, r, b, dk, db = params
    units = r.shape[0]
    U = units

    def step(x, y):
        n, t = x.shape
        e = emb[x.T]  # (t, n, embed), time-major
        xz = (e.reshape(t * n, -1) @ k).reshape(t, n, 4 * U)
        xz += b
        gates = np.empty((t, n, 4 * U), np.float32)
        hs = np.zeros((t + 1, n, U), np.float32)
        cs = np.zeros((t + 1, n, U), np.float32)
        tc = np.empty((t, n, U), np.float32)
        for s in range(t):
            z = xz[s] + hs[s] @ r
            g = gates[s]
            g[:, :2 * U] = _sigmoid(z[:, :2 * U])
            g[:, 2 * U:3 * U] = np.tanh(z[:, 2 * U:3 * U])
            g[:, 3 * U:] = _sigmoid(z[:, 3 * U:])
            cs[s + 1] = g[:, U:2 * U] * cs[s] + g[:, :U] * g[:, 2 * U:3 * U]
            tc[s] = np.tanh(cs[s + 1])
            hs[s + 1] = g[:, 3 * U:] * tc[s]
        h = hs[1:].reshape(t * n, U)
        logits = h @ dk
        logits += db
        loss, g_logits = loss_and_grad(logits, y.T.reshape(-1), "ce")
        g_dk = h.T @ g_logits
        g_db = g_logits.sum(0)
        dh_all = (g_logits @ dk.T).reshape(t, n, U)
        dz = np.empty((t, n, 4 * U), np.float32)
        g_r = np.zeros_like(r)
        dh = np.zeros((n, U), np.float32)
        dc = np.zeros((n, U), np.float32)
        for s in range(t - 1, -1, -1):
            g = gates[s]
            i, f, c_, o = g[:, :U], g[:, U:2 * U], g[:, 2 * U:3 * U], g[:, 3 * U:]
            dh += dh_all[s]
            dc += dh * o * (1 - tc[s] * tc[s])
            d = dz[s]
            d[:, :U] = dc * c_ * i * (1 - i)
            d[:, U:2 * U] = dc * cs[s] * f * (1 - f)
            d[:, 2 * U:3 * U] = dc * i * (1 - c_ * c_)
            d[:, 3 * U:] = dh * tc[s] * o * (1 - o)
            g_r += hs[s].T @ d
            dh = d @ r.T
            dc = dc * f
        flat = dz.reshape(t * n, 4 * U)
        g_k = e.reshape(t * n, -1).T @ flat
        g_b = flat.sum(0)
        g_emb = np.zeros_like(emb)
        np.add.at(g_emb, x.T.reshape(-1), flat @ k.T)
        opt.step([g_emb, g_k, g_r, g_b, g_dk, g_db])
        return loss

    return step


def make_step(key: str, mode: str = "manual"):
    """The reference's step; with machine tuning on (``TAPEGRAD_MACHINE_TUNING=1``, what
    ``run.py --machine-tuning`` sets for every process) it takes the allocator setting and the
    per-step BLAS thread choice that tapegrad's ``train_on_batch`` then takes, like for like."""
    import tapegrad as tg

    tuned = tg.config.machine_tuning_enabled()
    spec = WORKLOADS[key]
    params = [copy_aligned(w) for w in weights(key)]
    opt = Adam(params, spec["lr"]) if spec["opt"] == "adam" else SGD(params, spec["lr"])
    if spec["kind"] == "mlp":
        step = mlp_step_factory(params, spec["loss"], opt)
    elif spec["kind"] == "lstm":
        step = lstm_step_factory(params, opt)
    else:
        step = lenet_step_factory(params, opt)
    if tuned:
        tune_allocator()
    return machine.tuned(step)
