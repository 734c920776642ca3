"""The time loop of the recurrent layers as one node: backpropagation through time.

``recurrence`` runs a SimpleRNN, LSTM or GRU cell (Keras 3's formulas and weight layout)
over every time step of a batch of sequences in one ``Function``: the forward pass
projects the inputs of all steps with one matrix product, then loops over the steps;
the backward pass loops over them in reverse, collecting the gradient of every step's
gate pre-activations, and turns them into the kernel's and the input's gradients with
one matrix product each. A graph of one node per gate per step would hold hundreds of
nodes for a sequence of length 100; this holds one.

Gates, in Keras's order along the last axis of ``kernel`` (input, units * gates) and
``recurrent_kernel`` (units, units * gates):

- SimpleRNN: ``h = act(x K + b + h_prev R)``.
- LSTM (i, f, c, o): ``z = x K + h_prev R + b``; ``i, f, o = ract(z_i, z_f, z_o)``;
  ``c = f c_prev + i act(z_c)``; ``h = o act(c)``.
- GRU (z, r, h), ``reset_after=True`` (bias of shape (2, 3 units): input and recurrent):
  ``u = x K + b_in``, ``w = h_prev R + b_rec``; ``z = ract(u_z + w_z)``, ``r = ract(u_r + w_r)``,
  ``hh = act(u_h + r w_h)``; ``h = z h_prev + (1 - z) hh``. With ``reset_after=False`` (bias
  (3 units,)) the candidate is ``act(u_h + (r h_prev) R_h)``.

An LSTM with Keras's default activations (tanh, sigmoid) and no recurrent dropout runs a
fused loop: the gates internally in the order (o, i, f, c), the sigmoid gates'
pre-activations halved so that one tanh covers all four gates (the sigmoid as
``0.5 tanh(z / 2) + 0.5``), every array of its loops units-major with the batch last (a
step's gates (4 units, batch), the recurrent product ``R_int^T h^T`` forward and ``R dz``
backward); the weights and the gradients keep Keras's layout. A GRU with
``reset_after=True``, the same activations and no recurrent dropout runs the same kind of
loop for its three gates, which stay in Keras's order (z, r, h), with z and r halved.

A time mask (``False`` = padding) keeps the previous state at a masked step; the output
there is the previous step's output (zeros before the first step, TensorFlow's rule),
or zeros with ``zero_output_for_mask``. Dropout masks are fixed across the time steps, as
Keras's: one mask of the inputs (``input_dropout`` of shape (1, batch, input)) or one per
gate (shape (gates, batch, input)), likewise for the recurrent state.
"""

from __future__ import annotations

import numpy as np

from ..autodiff.function import Function
from ..autodiff.tensor import Tensor
from ..backend import empty, xp, zeros
from ._util import tensor
from .nn import _max0

GATES = {"simple": 1, "lstm": 4, "gru": 3}


def _sigmoid(x, out):
    """``1 / (1 + exp(-x))`` into ``out`` as ``0.5 tanh(x / 2) + 0.5``: stable for any x."""
    xp.multiply(x, 0.5, out=out)
    xp.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _tanh(x, out):
    return xp.tanh(x, out=out)


def _relu(x, out):
    return _max0(x, out=out)


def _linear(x, out):
    if out is not x:
        out[...] = x
    return out


def _hard_sigmoid(x, out):
    xp.multiply(x, 1.0 / 6.0, out=out)
    out += 0.5
    return xp.clip(out, 0.0, 1.0, out=out)


# name -> (function writing into ``out`` (which may be ``x``), derivative in terms of the output)
ACTIVATIONS = {
    "tanh": (_tanh, lambda y: 1 - y * y),
    "sigmoid": (_sigmoid, lambda y: y * (1 - y)),
    "relu": (_relu, lambda y: y > 0),
    "linear": (_linear, lambda y: 1.0),
    "hard_sigmoid": (_hard_sigmoid, lambda y: ((y > 0) & (y < 1)).astype(y.dtype) * (1.0 / 6.0)),
}
"""The activations the node computes itself; a cell with another one runs step by step."""


def _to_internal(a, units, out=None):
    """A copy of ``a`` (last axis: an LSTM's gates in Keras's order i, f, c, o) with the gates in
    the internal order (o, i, f, c) and the sigmoid gates' columns (o, i, f) halved; written
    into ``out`` (an array, or a view, of ``a``'s shape) when given."""
    a4 = a.reshape(*a.shape[:-1], 4, units)
    if out is None:
        out = empty(a.shape, dtype=a.dtype)
    o4 = out.reshape(*a.shape[:-1], 4, units)  # a view even of a transposed `out`: only its last axis splits
    xp.multiply(a4[..., 3, :], 0.5, out=o4[..., 0, :])
    xp.multiply(a4[..., :2, :], 0.5, out=o4[..., 1:3, :])
    o4[..., 3, :] = a4[..., 2, :]
    return out


def _gru_halved(a, units, out=None):
    """A copy of ``a`` (last axis: a GRU's gates in Keras's order z, r, h) with the sigmoid
    gates' columns (z, r) halved and the candidate's (h) as they are; written into ``out`` (an
    array, or a view, of ``a``'s shape) when given."""
    if out is None:
        out = empty(a.shape, dtype=a.dtype)
    xp.multiply(a[..., :2 * units], 0.5, out=out[..., :2 * units])
    out[..., 2 * units:] = a[..., 2 * units:]
    return out


def _internal_transposed(a, units, block=64, convert=_to_internal):
    """``convert(a, units).T`` as a C-contiguous (gates * units, rows) array, for ``a`` of shape
    (rows, gates * units): copied in blocks of ``block`` rows, each gate's block at once, since
    a transposing copy of the whole matrix strides through memory a row of ``a`` apart at
    every element."""
    rows = a.shape[0]
    out = empty((a.shape[1], rows), dtype=a.dtype)
    for r in range(0, rows, block):
        convert(a[r:r + block], units, out=out[:, r:r + block].T)
    return out


def _units_major(proj, bias, steps: int, n: int):
    """The input projection ``proj`` (steps * batch, k), plus ``bias`` (k,) when given, as a
    units-major (steps, k, batch) workspace array: the fused loops' gates before the
    recurrent product is added."""
    k = proj.shape[-1]
    out = empty((steps, k, n), proj.dtype)
    view = proj.reshape(steps, n, k).transpose(0, 2, 1)
    if bias is None:
        xp.copyto(out, view)
    else:
        xp.add(view, bias[:, None], out=out)
    return out


def _steps_major(a, by_rows: bool):
    """A units-major array ``a`` (steps, k, batch) as a (steps * batch, k) matrix, copied into a
    workspace array: row-major, or with ``by_rows`` as the transpose of a (k, steps, batch) copy
    (for batches of 16 and more, whose rows of ``batch`` contiguous values copy faster than
    transposing each step)."""
    steps, k, n = a.shape
    if by_rows:
        out = empty((k, steps, n), a.dtype)
        xp.copyto(out, a.transpose(1, 0, 2))
        return out.reshape(k, steps * n).T
    out = empty((steps, n, k), a.dtype)
    xp.copyto(out, a.transpose(0, 2, 1))
    return out.reshape(steps * n, k)


class Recurrence(Function):
    """One recurrent layer call over all time steps (see the module's docstring).

    Inputs: ``x`` (batch, steps, features), ``kernel``, ``recurrent_kernel``, then ``bias``
    when ``use_bias``, then the initial states (``h0``; ``h0, c0`` for an LSTM). The
    output packs everything into one array of shape (batch, n_out + n_states, units):
    the outputs of every step in processing order (``n_out = steps`` with
    ``return_sequences``) or the last output (``n_out = 1``), then the final states.

    ``fused_cells`` names the cells that run a fused loop when their activations are Keras's
    defaults and there is no recurrent dropout (the node's ``fused`` says whether it did); the
    generic loop computes the same numbers for every cell, and runs the rest.
    """

    fused_cells = frozenset({"lstm", "gru"})

    def forward(self, x, kernel, recurrent_kernel, *rest, cell, activation, recurrent_activation, use_bias,
                mask, input_dropout, recurrent_dropout, go_backwards, return_sequences, zero_output_for_mask,
                reset_after):
        self.cell, self.use_bias, self.reset_after = cell, use_bias, reset_after
        self.act, self.dact = ACTIVATIONS[activation]
        self.ract, self.dract = ACTIVATIONS[recurrent_activation]
        self.return_sequences = return_sequences
        self.zero_out = zero_output_for_mask and return_sequences
        self.go_backwards = go_backwards
        self.dm, self.rdm = input_dropout, recurrent_dropout
        if use_bias:
            bias, states = rest[0], rest[1:]
        else:
            bias, states = None, rest
        n, steps, d = x.shape
        units = recurrent_kernel.shape[0]
        gates = GATES[cell]
        self.units, self.gates, self.K, self.R, self.bias = units, gates, kernel, recurrent_kernel, bias
        self.x_shape = x.shape
        order = np.arange(steps)[::-1] if go_backwards else np.arange(steps)
        self.order = order
        xs = xp.ascontiguousarray(x.transpose(1, 0, 2)[order])  # (steps, batch, features), processing order
        self.xs = xs
        m = None if mask is None else xp.asarray(mask).T[order][..., None]  # (steps, batch, 1) bool
        self.m = m

        self.fused = (cell in self.fused_cells and activation == "tanh" and recurrent_activation == "sigmoid"
                      and self.rdm is None and (cell != "gru" or reset_after))
        n_out = steps if return_sequences else 1
        if self.fused:
            self.n_out = n_out
            if cell == "lstm":
                return self._lstm_fused_forward(xs, kernel, recurrent_kernel, bias, states, m)
            return self._gru_fused_forward(xs, kernel, recurrent_kernel, bias, states, m)
        xz = self._input_projection(xs)
        if bias is not None:
            xz += bias if bias.ndim == 1 else bias[0]
        dtype = xz.dtype
        self.b_rec = bias[1] if (bias is not None and bias.ndim == 2) else None

        n_states = 2 if cell == "lstm" else 1
        packed = empty((n, n_out + n_states, units), dtype=dtype)
        H = empty((steps + 1, n, units), dtype=dtype)  # state entering each step (after masking)
        H[0] = states[0]
        U = units
        act, ract = self.act, self.ract
        if cell == "lstm":
            C = empty((steps + 1, n, units), dtype=dtype)
            C[0] = states[1]
            self.gate_vals = G = empty((steps, n, 4 * units), dtype=dtype)
            self.AC = AC = empty((steps, n, units), dtype=dtype)
            self.C = C
        elif cell == "gru":
            self.gate_vals = G = empty((steps, n, 3 * units), dtype=dtype)  # z, r, hh
            self.WH = WH = empty((steps, n, units), dtype=dtype)  # the recurrent product of the candidate
        else:
            self.HN = HN = empty((steps, n, units), dtype=dtype)
        prev_out = zeros((n, units), dtype=dtype)
        # Without a mask, each step writes its new state straight into H (and C), and the
        # sequence output is H itself, copied into the packed result after the loop.
        direct = m is None
        for s in range(steps):
            h = H[s]
            h_new = H[s + 1] if direct else empty((n, units), dtype=dtype)
            if cell == "lstm":
                g = G[s]
                if self.rdm is None:
                    xp.matmul(h, recurrent_kernel, out=g)
                else:
                    g[...] = self._proj(h, 0, 4)
                g += xz[s]
                ract(g[:, :2 * U], g[:, :2 * U])
                act(g[:, 2 * U:3 * U], g[:, 2 * U:3 * U])
                ract(g[:, 3 * U:], g[:, 3 * U:])
                c_new = C[s + 1] if direct else empty((n, units), dtype=dtype)
                xp.multiply(g[:, U:2 * U], C[s], out=c_new)
                c_new += g[:, :U] * g[:, 2 * U:3 * U]
                act(c_new, AC[s])
                xp.multiply(g[:, 3 * U:], AC[s], out=h_new)
            elif cell == "gru":
                u = xz[s]
                g = G[s]
                zr, hh = g[:, :2 * U], g[:, 2 * U:]
                if reset_after:
                    w = self._proj(h, 0, 3)
                    if self.b_rec is not None:
                        w += self.b_rec
                    xp.add(u[:, :2 * U], w[:, :2 * U], out=zr)
                    ract(zr, zr)
                    WH[s] = w[:, 2 * U:]
                    xp.multiply(g[:, U:2 * U], WH[s], out=hh)
                else:
                    xp.add(u[:, :2 * U], self._proj(h, 0, 2), out=zr)
                    ract(zr, zr)
                    xp.multiply(g[:, U:2 * U], self._masked(h, 2), out=WH[s])  # r * h_prev, fed to R_h
                    xp.matmul(WH[s], recurrent_kernel[:, 2 * U:], out=hh)
                hh += u[:, 2 * U:]
                act(hh, hh)
                xp.subtract(h, hh, out=h_new)  # h = z h_prev + (1 - z) hh = hh + z (h_prev - hh)
                h_new *= g[:, :U]
                h_new += hh
            else:
                hn = HN[s]
                if self.rdm is None:
                    xp.matmul(h, recurrent_kernel, out=hn)
                else:
                    hn[...] = self._proj(h, 0, 1)
                hn += xz[s]
                act(hn, hn)
                h_new[...] = hn
            if direct:
                out = h_new
            else:
                ms = m[s]
                H[s + 1] = xp.where(ms, h_new, h)
                if cell == "lstm":
                    C[s + 1] = xp.where(ms, c_new, C[s])
                out = xp.where(ms, h_new, 0 if self.zero_out else prev_out)
                prev_out = out
                if return_sequences:
                    packed[:, s] = out
        if return_sequences and direct:
            packed[:, :steps] = H[1:].transpose(1, 0, 2)
        elif not return_sequences:
            packed[:, 0] = out
        packed[:, n_out] = H[steps]
        if cell == "lstm":
            packed[:, n_out + 1] = C[steps]
        self.H, self.n_out = H, n_out
        return packed

    def _lstm_fused_forward(self, xs, kernel, recurrent_kernel, bias, states, m):
        """The LSTM with Keras's default activations (tanh, sigmoid) and no recurrent dropout.

        Its gates run in the internal order (o, i, f, c), sigmoid gates first, with the
        pre-activations of o, i and f halved once per call (in reordered copies of the kernels
        and the bias; halving is exact), so one tanh over all four gates and two in-place steps
        (``* 0.5 + 0.5``) give the sigmoid as ``0.5 tanh(z / 2) + 0.5`` (stable for any z).

        Every array of the loop is units-major, the batch last: a step's state is (units,
        batch), its gates (4 units, batch), so each gate is a contiguous block of rows; the
        recurrent product is ``R_int^T h^T``, with the reordered recurrent kernel transposed
        once per call (BLAS runs this orientation faster than ``h R`` for a small batch, and
        the reverse loop's ``R dz^T`` then reads the recurrent kernel as it is). The gate values
        are written over the input projection's buffer (steps, 4 units, batch)."""
        steps, n, d = xs.shape
        U = self.units
        if self.dm is None or self.dm.shape[0] == 1:
            xin = xs if self.dm is None else xs * self.dm[0]
            proj = xin.reshape(steps * n, d) @ _to_internal(kernel, U)
            bi = None if bias is None else _to_internal(bias, U)
        else:  # a dropout mask per gate: projected in Keras's order, then reordered
            proj = self._input_projection(xs)
            if bias is not None:
                proj += bias
            proj = _to_internal(proj, U)
            bi = None
        dtype = proj.dtype
        G = _units_major(proj, bi, steps, n)
        del proj
        RiT = _internal_transposed(recurrent_kernel, U)
        H = empty((steps + 1, U, n), dtype=dtype)  # state entering each step (after masking)
        C = empty((steps + 1, U, n), dtype=dtype)
        AC = empty((steps, U, n), dtype=dtype)  # tanh of each step's new cell state
        H[0] = states[0].T
        C[0] = states[1].T
        self.gate_vals, self.H, self.C, self.AC = G, H, C, AC
        tmp = empty((U, n), dtype=dtype)
        z = empty((4 * U, n), dtype=dtype)
        matmul, tanh, multiply, add, where = xp.matmul, xp.tanh, xp.multiply, xp.add, xp.where
        sig = [g[:3 * U] for g in G]
        go_, gi, gf, gc = ([g[k * U:(k + 1) * U] for g in G] for k in range(4))
        if m is None:
            for s in range(steps):
                g = G[s]
                matmul(RiT, H[s], out=z)
                add(g, z, out=g)
                tanh(g, out=g)
                sg = sig[s]
                sg *= 0.5
                sg += 0.5
                c_new = C[s + 1]
                multiply(gf[s], C[s], out=c_new)
                multiply(gi[s], gc[s], out=tmp)
                c_new += tmp
                tanh(c_new, out=AC[s])
                multiply(go_[s], AC[s], out=H[s + 1])
            return self._pack(H[1:], steps, n)
        h_new = empty((U, n), dtype=dtype)
        c_new = empty((U, n), dtype=dtype)
        prev_out = zeros((U, n), dtype=dtype)
        outs = empty((steps, U, n), dtype)
        mt = m.transpose(0, 2, 1)  # (steps, 1, batch)
        for s in range(steps):
            g = G[s]
            matmul(RiT, H[s], out=z)
            add(g, z, out=g)
            tanh(g, out=g)
            sg = sig[s]
            sg *= 0.5
            sg += 0.5
            multiply(gf[s], C[s], out=c_new)
            multiply(gi[s], gc[s], out=tmp)
            c_new += tmp
            tanh(c_new, out=AC[s])
            multiply(go_[s], AC[s], out=h_new)
            ms = mt[s]
            H[s + 1] = where(ms, h_new, H[s])
            C[s + 1] = where(ms, c_new, C[s])
            outs[s] = where(ms, h_new, 0 if self.zero_out else prev_out)
            prev_out = outs[s]
        return self._pack(outs, steps, n)

    def _gru_fused_forward(self, xs, kernel, recurrent_kernel, bias, states, m):
        """The GRU with ``reset_after=True``, Keras's default activations (tanh, sigmoid) and no
        recurrent dropout: the LSTM's fused loop (``_lstm_fused_forward``) for three gates.

        The gates stay in Keras's order (z, r, h), the two sigmoid gates first, so no reordering
        is needed: only the columns of z and r are halved, in copies of the kernels and of the
        bias, so that one tanh over the rows of z and r, then ``* 0.5 + 0.5``, gives
        ``sigmoid(a) = 0.5 tanh(a / 2) + 0.5``. The candidate's columns are not halved: its
        recurrent part ``w_h = h R_h + b_rec_h`` is multiplied by r before it joins the input's
        part, ``hh = tanh(u_h + r w_h)``. The recurrent bias of z and r adds to the same
        pre-activations as their input bias, so both go into the input projection once; the
        recurrent bias of h is added to ``w_h`` at every step (before r multiplies it).

        Units-major, the batch last, as the LSTM: a step's state is (units, batch), its gates
        (3 units, batch), its recurrent product ``R_half^T h^T`` (3 units, batch). The gate values
        z, r, hh are written over the input projection's buffer (steps, 3 units, batch), and
        each step's ``w_h`` is kept for the backward pass. The new state is
        ``z h_prev + (1 - z) hh = hh + z (h_prev - hh)``."""
        steps, n, d = xs.shape
        U = self.units
        if bias is None:
            b_in = b_rec = None
        elif bias.ndim == 1:  # one bias: the input's (the recurrent product has none)
            b_in, b_rec = bias, None
        else:
            b_in, b_rec = bias[0], bias[1]
        if self.dm is None or self.dm.shape[0] == 1:
            xin = xs if self.dm is None else xs * self.dm[0]
            proj = xin.reshape(steps * n, d) @ _gru_halved(kernel, U)
        else:  # a dropout mask per gate: projected gate by gate, then z and r halved
            proj = self._input_projection(xs).reshape(steps * n, 3 * U)
            proj[:, :2 * U] *= 0.5
        bp = None
        if b_in is not None:  # the input projection's bias: b_in, and b_rec of z and r, halved for z and r
            bp = xp.array(b_in)
            if b_rec is not None:
                bp[:2 * U] += b_rec[:2 * U]
            bp[:2 * U] *= 0.5
        dtype = proj.dtype
        G = _units_major(proj, bp, steps, n)
        del proj
        bh = None if b_rec is None else xp.ascontiguousarray(b_rec[2 * U:, None])  # (units, 1)
        RhT = _internal_transposed(recurrent_kernel, U, convert=_gru_halved)  # (3 units, units)
        H = empty((steps + 1, U, n), dtype=dtype)  # state entering each step (after masking)
        WH = empty((steps, U, n), dtype=dtype)  # each step's w_h = R_h^T h + b_rec_h
        H[0] = states[0].T
        self.gate_vals, self.H, self.WH = G, H, WH
        w = empty((3 * U, n), dtype=dtype)  # a step's recurrent product
        tmp = empty((U, n), dtype=dtype)
        matmul, tanh, multiply, add, subtract, where = xp.matmul, xp.tanh, xp.multiply, xp.add, xp.subtract, xp.where
        zr = [g[:2 * U] for g in G]
        zg, rg, hh = ([g[k * U:(k + 1) * U] for g in G] for k in range(3))
        wzr, wh = w[:2 * U], w[2 * U:]
        masked = m is not None
        if masked:
            h_new = empty((U, n), dtype=dtype)
            prev_out = zeros((U, n), dtype=dtype)
            outs = empty((steps, U, n), dtype)
            mt = m.transpose(0, 2, 1)  # (steps, 1, batch)
        for s in range(steps):
            matmul(RhT, H[s], out=w)
            a = zr[s]
            add(a, wzr, out=a)  # the halved pre-activations of z and r
            tanh(a, out=a)
            a *= 0.5
            a += 0.5
            if bh is None:
                xp.copyto(WH[s], wh)
            else:
                add(wh, bh, out=WH[s])
            multiply(rg[s], WH[s], out=tmp)
            c = hh[s]
            c += tmp
            tanh(c, out=c)
            out = h_new if masked else H[s + 1]
            subtract(H[s], c, out=out)
            out *= zg[s]
            out += c
            if masked:
                ms = mt[s]
                H[s + 1] = where(ms, h_new, H[s])
                outs[s] = where(ms, h_new, 0 if self.zero_out else prev_out)
                prev_out = outs[s]
        return self._pack(outs if masked else H[1:], steps, n)

    def _pack(self, seq, steps, n):
        """The packed output of a fused loop (see ``Recurrence``) from its outputs ``seq``
        (steps, units, batch) and its final states (``H``, and ``C`` for an LSTM, units-major)."""
        n_out, U = self.n_out, self.units
        lstm = self.cell == "lstm"
        packed = empty((n, n_out + (2 if lstm else 1), U), dtype=seq.dtype)
        if self.return_sequences:
            packed[:, :steps] = seq.transpose(2, 0, 1)
        else:
            packed[:, 0] = seq[steps - 1].T
        packed[:, n_out] = self.H[steps].T
        if lstm:
            packed[:, n_out + 1] = self.C[steps].T
        return packed

    # -- the pieces shared by the forward and backward loops --------------------------------
    def _masked(self, h, g):
        """``h`` times the recurrent dropout mask of gate ``g`` (the shared one if just one)."""
        if self.rdm is None:
            return h
        return h * self.rdm[g if self.rdm.shape[0] > 1 else 0]

    def _proj(self, h, g0, g1):
        """The recurrent product for gates ``g0 .. g1 - 1``: ``h R`` with each gate's dropout mask."""
        U, R = self.units, self.R
        cols = R if (g0 == 0 and g1 == self.gates) else R[:, g0 * U:g1 * U]
        if self.rdm is None or self.rdm.shape[0] == 1:
            return self._masked(h, 0) @ cols
        out = empty((h.shape[0], (g1 - g0) * U), dtype=h.dtype)
        for g in range(g0, g1):
            out[:, (g - g0) * U:(g - g0 + 1) * U] = self._masked(h, g) @ R[:, g * U:(g + 1) * U]
        return out

    def _proj_back(self, dz, g0, g1):
        """Backward of ``_proj`` for the state: the gradient for ``h``."""
        U, R = self.units, self.R
        if self.rdm is None or self.rdm.shape[0] == 1:
            cols = R if (g0 == 0 and g1 == self.gates) else R[:, g0 * U:g1 * U]
            dh = dz @ cols.T
            return dh if self.rdm is None else dh * self.rdm[0]
        dh = zeros((dz.shape[0], U), dtype=dz.dtype)
        for g in range(g0, g1):
            dzg = dz[:, (g - g0) * U:(g - g0 + 1) * U]
            dh += (dzg @ R[:, g * U:(g + 1) * U].T) * self.rdm[g]
        return dh

    def _recurrent_kernel_grad(self, dW):
        """``sum over steps of input_s^T dW_s`` in one product per block of gates, where each
        gate's input is the (dropped-out) state, or ``r * h_prev`` for a GRU's candidate with
        ``reset_after=False``."""
        steps, n, _ = dW.shape
        U = self.units
        Hs = self.H[:steps]
        flat = dW.reshape(steps * n, -1)
        special = self.cell == "gru" and not self.reset_after
        per_gate = self.rdm is not None and self.rdm.shape[0] > 1
        if not special and not per_gate:
            hm = Hs if self.rdm is None else Hs * self.rdm[0]
            return hm.reshape(steps * n, U).T @ flat
        out = empty(self.R.shape, self.R.dtype)
        for g in range(self.gates):
            if special and g == 2:
                inp = self.WH
            else:
                inp = Hs if self.rdm is None else Hs * self.rdm[g if per_gate else 0]
            out[:, g * U:(g + 1) * U] = inp.reshape(steps * n, U).T @ flat[:, g * U:(g + 1) * U]
        return out

    def _input_projection(self, xs):
        steps, n, d = xs.shape
        flat = xs.reshape(steps * n, d)
        dm = self.dm
        if dm is None:
            out = flat @ self.K
        elif dm.shape[0] == 1:
            out = (xs * dm[0]).reshape(steps * n, d) @ self.K
        else:
            U = self.units
            out = empty((steps * n, self.gates * U), dtype=xs.dtype)
            for g in range(self.gates):
                out[:, g * U:(g + 1) * U] = (xs * dm[g]).reshape(steps * n, d) @ self.K[:, g * U:(g + 1) * U]
        return out.reshape(steps, n, -1)

    # -- backward ----------------------------------------------------------------------------
    def _output_grad(self, gs, s, steps):
        """The gradient that step ``s``'s output receives from the layer's output (``gs``: one
        per output, indexed by step), None when it receives none."""
        if self.return_sequences:
            return gs[s]
        return gs[0] if s == steps - 1 else None

    def _through_mask(self, ms, dh, go, carry):
        """At a step with time mask ``ms``, from ``dh`` (the gradient of the state it passes on),
        ``go`` (its output's) and ``carry`` (the output gradient carried back from later masked
        steps): ``(the gradient of the step's new state, the part of dh that a masked step
        passes straight to the state before it, the output gradient it carries back)``."""
        if carry is not None:
            go = carry if go is None else go + carry
        dhn = xp.where(ms, dh if go is None else dh + go, 0)
        dh_keep = xp.where(ms, 0, dh)
        carry = xp.where(ms, 0, go) if (go is not None and not self.zero_out) else None
        return dhn, dh_keep, carry

    def backward(self, grad):
        if self.fused:
            if self.cell == "lstm":
                return self._lstm_fused_backward(grad)
            return self._gru_fused_backward(grad)
        cell, U, m = self.cell, self.units, self.m
        steps, n, d = self.xs.shape
        n_out = self.n_out
        dract, dact = self.dract, self.dact
        dtype = self.H.dtype
        gseq = grad[:, :n_out]
        dh = xp.array(grad[:, n_out], dtype=dtype)
        dc = xp.array(grad[:, n_out + 1], dtype=dtype) if cell == "lstm" else None
        dxz = empty((steps, n, self.gates * U), dtype=dtype)
        # the gradients of each step's recurrent product; the recurrent kernel's gradient is
        # one matrix product of them with the states after the loop
        dW = empty(dxz.shape, dxz.dtype) if (cell == "gru" and self.reset_after) else dxz
        carry = None  # gradient of the previous output, passed back through masked steps
        if cell == "lstm":
            # every step's local derivatives at once, so the reverse loop does a few products per step:
            # dz_i = dc cc i', dz_f = dc c_prev f', dz_c = dc i act'(cc), dz_o = dh act(c) o',
            # and dc gains dh o act'(c)
            G = self.gate_vals
            i, F, cc, o = G[..., :U], G[..., U:2 * U], G[..., 2 * U:3 * U], G[..., 3 * U:]
            A = empty(G.shape, G.dtype)
            A[..., :U] = cc * dract(i)
            A[..., U:2 * U] = self.C[:-1] * dract(F)
            A[..., 2 * U:3 * U] = i * dact(cc)
            A[..., 3 * U:] = self.AC * dract(o)
            OD = o * dact(self.AC)
            A4 = A.reshape(steps, n, 4, U)
            dz4 = dxz.reshape(steps, n, 4, U)
        gs = gseq.transpose(1, 0, 2)  # one output gradient per step
        for s in range(steps - 1, -1, -1):
            go = self._output_grad(gs, s, steps)
            if m is None:
                dhn = dh if go is None else dh + go
                dh_keep = dc_keep = None
                dcn = dc
            else:
                ms = m[s]
                dhn, dh_keep, carry = self._through_mask(ms, dh, go, carry)
                if cell == "lstm":
                    dcn = xp.where(ms, dc, 0)
                    dc_keep = xp.where(ms, 0, dc)
            h = self.H[s]
            if cell == "lstm":
                dcn = dcn + dhn * OD[s]
                xp.multiply(dcn[:, None, :], A4[s, :, :3], out=dz4[s, :, :3])  # i, f, c at once
                xp.multiply(dhn, A4[s, :, 3], out=dz4[s, :, 3])
                dh_prev = self._proj_back(dxz[s], 0, 4)
                dc = dcn * F[s] if dc_keep is None else dcn * F[s] + dc_keep
            elif cell == "gru":
                g = self.gate_vals[s]
                zg, r, hh = g[:, :U], g[:, U:2 * U], g[:, 2 * U:]
                dz = dxz[s]
                dah = dhn * (1 - zg) * dact(hh)
                dz[:, :U] = dhn * (h - hh) * dract(zg)
                dz[:, 2 * U:] = dah
                if self.reset_after:
                    dz[:, U:2 * U] = dah * self.WH[s] * dract(r)
                    dw = dW[s]
                    dw[:, :2 * U] = dz[:, :2 * U]
                    xp.multiply(dah, r, out=dw[:, 2 * U:])
                    dh_prev = self._proj_back(dw, 0, 3)
                else:
                    drh = dah @ self.R[:, 2 * U:].T  # gradient of r * h_prev (masked)
                    hm = self._masked(h, 2)
                    dz[:, U:2 * U] = drh * hm * dract(r)
                    dh_prev = self._proj_back(dz[:, :2 * U], 0, 2)
                    dh_prev += (drh * r) if self.rdm is None else (drh * r) * self.rdm[
                        2 if self.rdm.shape[0] > 1 else 0]
                dh_prev += dhn * zg
            else:
                dz = dxz[s]
                dz[...] = dhn * dact(self.HN[s])
                dh_prev = self._proj_back(dz, 0, 1)
            dh = dh_prev if dh_keep is None else dh_prev + dh_keep

        steps = self.xs.shape[0]
        flat = dxz.reshape(steps * n, -1)
        grads = [None, None, self._recurrent_kernel_grad(dW) if self.parents[2] is not None else None]
        if self.parents[0] is not None:
            grads[0] = self._input_grad(flat)
        if self.parents[1] is not None:
            grads[1] = self._kernel_grad(flat)
        if self.use_bias:
            db = flat.sum(axis=0)
            if self.bias.ndim == 1:
                grads.append(db)
            else:
                grads.append(xp.stack([db, dW.reshape(steps * n, -1).sum(axis=0)]))
        grads.append(dh)
        if cell == "lstm":
            grads.append(dc)
        return tuple(grads)

    def _lstm_fused_backward(self, grad):
        """The reverse loop of the fused LSTM (units-major, as its forward loop), then the
        weights' and the inputs' gradients.

        Every step's local derivatives are computed at once before the loop, from the gate
        values kept in the internal order (o, i, f, c), into one array in Keras's order
        (i, f, c, o), (steps, 4 units, batch): ``dz_i = dc cc i'``, ``dz_f = dc c_prev f'``,
        ``dz_c = dc i (1 - cc^2)``, ``dz_o = dh act(c) o'``, and ``dc`` gains
        ``dh o (1 - act(c)^2)``. A step multiplies its rows in place by ``dc`` (i, f, c at once)
        and ``dh`` (o), which makes them the gradients of its pre-activations, and the state's
        gradient is then ``R dz``, with the recurrent kernel as it is."""
        G, U, m, n_out = self.gate_vals, self.units, self.m, self.n_out
        steps, _, n = G.shape
        dtype = G.dtype
        o, i, f, cc = G[:, :U], G[:, U:2 * U], G[:, 2 * U:3 * U], G[:, 3 * U:]
        A = empty(G.shape, G.dtype)
        xp.subtract(1, G[:, U:3 * U], out=A[:, :2 * U])
        A[:, :2 * U] *= G[:, U:3 * U]  # the sigmoid's derivative s (1 - s) for i and f
        A[:, :U] *= cc
        A[:, U:2 * U] *= self.C[:-1]
        Ac, Ao = A[:, 2 * U:3 * U], A[:, 3 * U:]
        xp.multiply(cc, cc, out=Ac)
        xp.subtract(1, Ac, out=Ac)
        Ac *= i
        xp.subtract(1, o, out=Ao)
        Ao *= o
        Ao *= self.AC
        OD = self.AC * self.AC
        xp.subtract(1, OD, out=OD)
        OD *= o
        A3 = A[:, :3 * U].reshape(steps, 3, U, n)  # the rows multiplied by dc: i, f, c
        R = self.R
        gs = xp.asarray(grad[:, :n_out].transpose(1, 2, 0), dtype=dtype)  # (n_out, units, batch)
        dh = xp.array(grad[:, n_out].T, dtype=dtype, order="C")
        dc = xp.array(grad[:, n_out + 1].T, dtype=dtype, order="C")
        tmp = empty(dh.shape, dh.dtype)
        multiply, matmul, where = xp.multiply, xp.matmul, xp.where
        if m is None:
            for s in range(steps - 1, -1, -1):
                go = self._output_grad(gs, s, steps)
                if go is not None:
                    dh += go
                multiply(dh, OD[s], out=tmp)
                dc += tmp
                multiply(dc, A3[s], out=A3[s])
                multiply(dh, Ao[s], out=Ao[s])
                matmul(R, A[s], out=dh)
                multiply(dc, f[s], out=dc)
        else:
            mt = m.transpose(0, 2, 1)  # (steps, 1, batch)
            carry = None  # gradient of the previous output, passed back through masked steps
            for s in range(steps - 1, -1, -1):
                ms = mt[s]
                dhn, dh_keep, carry = self._through_mask(ms, dh, self._output_grad(gs, s, steps), carry)
                dc_keep = where(ms, 0, dc)
                dcn = where(ms, dc, 0)
                dcn += dhn * OD[s]
                multiply(dcn, A3[s], out=A3[s])
                multiply(dhn, Ao[s], out=Ao[s])
                matmul(R, A[s], out=dh)
                multiply(dcn, f[s], out=dc)
                dh += dh_keep
                dc += dc_keep
        # the gradients of all steps' pre-activations in Keras's order, as (steps * batch, 4 units)
        by_rows = n >= 16
        flat = _steps_major(A, by_rows)
        del A, A3
        grads = [None, None, None]
        if self.parents[2] is not None:  # the states entering the steps, as (units, steps * batch)
            grads[2] = _steps_major(self.H[:steps], by_rows).T @ flat
        if self.parents[0] is not None:
            grads[0] = self._input_grad(flat)
        if self.parents[1] is not None:
            grads[1] = self._kernel_grad(flat)
        if self.use_bias:
            grads.append(flat.sum(axis=0))
        grads += [xp.ascontiguousarray(dh.T), xp.ascontiguousarray(dc.T)]
        return tuple(grads)

    def _gru_fused_backward(self, grad):
        """The reverse loop of the fused GRU (units-major, as its forward loop), then the
        weights' and the inputs' gradients.

        With ``a_h = u_h + r w_h`` the candidate's pre-activation and ``dh`` the gradient of a
        step's new state, every gradient of the step is ``dh`` times a local derivative that
        depends on the forward values alone: ``da_h = dh (1 - z) (1 - hh^2)``, then
        ``dz_z = dh (h_prev - hh) z (1 - z)``, ``dz_r = da_h w_h r (1 - r)`` and, for the
        recurrent product of the candidate, ``dw_h = da_h r``. These are computed for all steps
        at once before the loop, into one array (steps, 4 units, batch) with the rows
        (w_h, z, r, h): a step multiplies its rows in place by ``dh``, which makes rows
        (z, r, h) the gradients of the input projection ``u`` (Keras's order) and rows
        (w_h, z, r) those of the recurrent product ``w`` (z and r get the same gradient from
        ``u`` and ``w``). The gradient of the state entering the step is then
        ``dh z + R dw`` with the recurrent kernel's columns taken in the order (h, z, r)."""
        G, U, m, n_out = self.gate_vals, self.units, self.m, self.n_out
        steps, _, n = G.shape
        dtype = G.dtype
        z, r, hh = G[:, :U], G[:, U:2 * U], G[:, 2 * U:]
        multiply, subtract, matmul = xp.multiply, xp.subtract, xp.matmul
        B = empty((steps, 4 * U, n), dtype=dtype)
        Bw, Bz, Br, Bh = B[:, :U], B[:, U:2 * U], B[:, 2 * U:3 * U], B[:, 3 * U:]
        multiply(hh, hh, out=Bh)
        subtract(1, Bh, out=Bh)
        subtract(1, z, out=Bw)  # 1 - z, for a moment
        Bh *= Bw  # (1 - z) (1 - hh^2)
        multiply(z, Bw, out=Bz)
        subtract(self.H[:steps], hh, out=Bw)
        Bz *= Bw  # (h_prev - hh) z (1 - z)
        subtract(1, r, out=Br)
        Br *= r
        Br *= self.WH
        Br *= Bh  # (1 - z) (1 - hh^2) w_h r (1 - r)
        multiply(Bh, r, out=Bw)  # (1 - z) (1 - hh^2) r
        B4 = B.reshape(steps, 4, U, n)
        Bwzr = B[:, :3 * U]
        R = self.R
        Rp = empty(R.shape, dtype=R.dtype)  # the recurrent kernel's columns in the order (h, z, r)
        Rp[:, :U] = R[:, 2 * U:]
        Rp[:, U:] = R[:, :2 * U]
        gs = xp.asarray(grad[:, :n_out].transpose(1, 2, 0), dtype=dtype)  # (n_out, units, batch)
        dh = xp.array(grad[:, n_out].T, dtype=dtype, order="C")
        tmp = empty(dh.shape, dh.dtype)
        if m is None:
            for s in range(steps - 1, -1, -1):
                go = self._output_grad(gs, s, steps)
                if go is not None:
                    dh += go
                multiply(dh, z[s], out=tmp)
                multiply(dh, B4[s], out=B4[s])
                matmul(Rp, Bwzr[s], out=dh)
                dh += tmp
        else:
            mt = m.transpose(0, 2, 1)  # (steps, 1, batch)
            carry = None  # gradient of the previous output, passed back through masked steps
            for s in range(steps - 1, -1, -1):
                dhn, dh_keep, carry = self._through_mask(mt[s], dh, self._output_grad(gs, s, steps), carry)
                multiply(dhn, z[s], out=tmp)
                multiply(dhn, B4[s], out=B4[s])
                matmul(Rp, Bwzr[s], out=dh)
                dh += tmp
                dh += dh_keep
        # all steps' gradients as (steps * batch, 4 units), rows (w_h, z, r, h) as columns
        by_rows = n >= 16
        flat = _steps_major(B, by_rows)
        del B, B4, Bwzr, Bw, Bz, Br, Bh
        du, dw = flat[:, U:], flat[:, :3 * U]  # Keras's order (z, r, h); the order (h, z, r)
        grads = [None, None, None]
        if self.parents[2] is not None:  # sum over steps of h_prev^T dw, columns back in Keras's order
            p = _steps_major(self.H[:steps], by_rows).T @ dw
            dR = empty(R.shape, dtype=p.dtype)
            dR[:, :2 * U] = p[:, U:]
            dR[:, 2 * U:] = p[:, :U]
            grads[2] = dR
        if self.parents[0] is not None:
            grads[0] = self._input_grad(du)
        if self.parents[1] is not None:
            grads[1] = self._kernel_grad(du)
        if self.use_bias:
            db = du.sum(axis=0)
            if self.bias.ndim == 1:
                grads.append(db)
            else:  # the recurrent bias: z and r as the input's, h from dw_h
                grads.append(xp.stack([db, xp.concatenate([db[:2 * U], dw[:, :U].sum(axis=0)])]))
        grads.append(xp.ascontiguousarray(dh.T))
        return tuple(grads)

    def _kernel_grad(self, flat):
        steps, n, d = self.xs.shape
        dm, U = self.dm, self.units
        if dm is None:
            return self.xs.reshape(steps * n, d).T @ flat
        if dm.shape[0] == 1:
            return (self.xs * dm[0]).reshape(steps * n, d).T @ flat
        out = empty(self.K.shape, self.K.dtype)
        for g in range(self.gates):
            cols = slice(g * U, (g + 1) * U)
            out[:, cols] = (self.xs * dm[g]).reshape(steps * n, d).T @ flat[:, cols]
        return out

    def _input_grad(self, flat):
        steps, n, d = self.xs.shape
        dm, U = self.dm, self.units
        if dm is None or dm.shape[0] == 1:
            dxs = (flat @ self.K.T).reshape(steps, n, d)
            if dm is not None:
                dxs *= dm[0]
        else:
            dxs = zeros((steps, n, d), dtype=flat.dtype)
            for g in range(self.gates):
                cols = slice(g * U, (g + 1) * U)
                dxs += (flat[:, cols] @ self.K[:, cols].T).reshape(steps, n, d) * dm[g]
        if self.go_backwards:
            dxs = dxs[::-1]
        return xp.ascontiguousarray(dxs.transpose(1, 0, 2))


def recurrence(x, kernel, recurrent_kernel, bias, initial_states, *, cell: str, activation: str = "tanh",
               recurrent_activation: str = "sigmoid", mask=None, input_dropout=None, recurrent_dropout=None,
               go_backwards: bool = False, return_sequences: bool = False, zero_output_for_mask: bool = False,
               reset_after: bool = True) -> Tensor:
    """Run a built-in recurrent cell over all steps of ``x`` as one differentiable node.

    Args:
        x: inputs of shape (batch, steps, features).
        kernel, recurrent_kernel, bias: the weights in Keras's layout (``bias`` may be None).
        initial_states: ``[h0]`` (``[h0, c0]`` for ``cell="lstm"``), each (batch, units).
        cell: ``"simple"``, ``"lstm"`` or ``"gru"``.
        activation, recurrent_activation: names from ``ACTIVATIONS``.
        mask: a boolean array (batch, steps), False at padding, or None.
        input_dropout, recurrent_dropout: dropout masks (already scaled by 1 / (1 - rate))
            of shape (1 or gates, batch, features) and (1 or gates, batch, units), or None.
        go_backwards: process the steps from last to first (outputs come in that order).
        return_sequences: pack every step's output rather than the last one.
        zero_output_for_mask: masked steps output zeros rather than the previous output.
        reset_after: for a GRU, apply the reset gate after the recurrent product.

    Returns:
        One tensor of shape (batch, n_out + n_states, units): ``[:, :n_out]`` the outputs,
        then the final states (see ``Recurrence``).

    Example:
        >>> import tapegrad as tg
        >>> from tapegrad.ops.recurrent import recurrence
        >>> x = tg.ones((2, 5, 3))
        >>> k, r, b = tg.zeros((3, 4)), tg.zeros((4, 4)), tg.zeros((4,))
        >>> recurrence(x, k, r, b, [tg.zeros((2, 4))], cell="simple").shape
        (2, 2, 4)
    """
    if cell not in GATES:
        raise ValueError(f"recurrence: cell must be one of {sorted(GATES)}, received {cell!r}")
    for name, value in (("activation", activation), ("recurrent_activation", recurrent_activation)):
        if value not in ACTIVATIONS:
            raise ValueError(f"recurrence: {name} must be one of {sorted(ACTIVATIONS)}, received {value!r}")
    x = tensor(x)
    if x.ndim != 3 or x.shape[1] == 0:
        raise ValueError(f"recurrence: expected inputs of shape (batch, steps >= 1, features), received {x.shape}")
    inputs = [x, tensor(kernel), tensor(recurrent_kernel)]
    if bias is not None:
        bias = tensor(bias)
        if bias.ndim != 1 and not (cell == "gru" and reset_after and bias.ndim == 2 and bias.shape[0] == 2):
            raise ValueError(f"recurrence: expected a bias of one axis (two rows, input's and recurrent's, only for "
                             f"a GRU with reset_after=True), received shape {bias.shape} for cell {cell!r}")
        inputs.append(bias)
    inputs += [tensor(s) for s in initial_states]
    arrays = {}
    for name, value in (("mask", mask), ("input_dropout", input_dropout), ("recurrent_dropout", recurrent_dropout)):
        if isinstance(value, Tensor):
            value = value.data
        arrays[name] = value
    if arrays["mask"] is not None:
        arrays["mask"] = xp.asarray(arrays["mask"]).astype(bool)
    return Recurrence.apply(*inputs, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                            use_bias=bias is not None, go_backwards=bool(go_backwards),
                            return_sequences=bool(return_sequences), zero_output_for_mask=bool(zero_output_for_mask),
                            reset_after=bool(reset_after), **arrays)


__all__ = ["ACTIVATIONS", "GATES", "Recurrence", "recurrence"]
