"""Convolution and pooling primitives on channels-last (NHWC) arrays.

A convolution is one matrix product per layer. A strided view of the padded input
gathers, for each output row and each band of ``B`` neighbouring output columns, the
``kh`` input rows those outputs read (no Python loop over pixels); the weight matrix
holds the kernel on its diagonals, one copy per output column of the band, so the
product lands directly in NHWC order. Wider bands gather less and in longer runs, and
give BLAS a better-shaped product, at the price of multiplying some zeros, which wins
for the few channels of MNIST-sized networks (``band_width`` picks ``B`` per layer).
The backward pass is two matrix products, a sum along the diagonals for the kernel's
gradient, and a scatter of the gathered rows' gradients back onto the input, looping
only over the kernel's rows.

``B = 1`` is exact im2col, with a backward pass of its own: the kernel's gradient is
one product with the forward's gathered matrix; the input's gradient is, at stride 1
with no more filters than input channels, the padded output gradient convolved with
the flipped kernel (another gathered product, no scatter), and otherwise the gathered
rows' gradient added back tap by tap (``kh * kw`` whole-array adds).
"""
from __future__ import annotations

import math

import numpy as np

from ..autodiff.function import Function
from ..autodiff.tensor import Tensor
from ..backend import empty, xp, zeros
from ._util import tensor


def same_padding(size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's "same" padding: output ``ceil(size / stride)``, extra padding at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _pads(h, w, kh, kw, stride, dilation, padding):
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return same_padding(h, kh, stride[0], dilation[0]), same_padding(w, kw, stride[1], dilation[1])
    raise ValueError(f"padding must be 'valid' or 'same', received {padding!r}")


def strided(a, shape, strides, writeable=True):
    """A view of ``a`` with ``shape`` and ``strides`` (in bytes), as NumPy's ``as_strided``.
    For a C-contiguous NumPy array it is built straight on ``a``'s buffer, which also checks
    that the view stays inside it; ``as_strided`` runs several Python calls per view (6 per
    LeNet step's views, with ~20 more under them)."""
    if xp is np and a.flags.c_contiguous:
        view = np.ndarray(shape, a.dtype, buffer=a, strides=strides)
        if not writeable or not a.flags.writeable:
            view.flags.writeable = False
        return view
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides, writeable=writeable)


def windows(xp_in, kh, kw, stride, dilation):
    """A read-only view ``(N, OH, OW, KH, KW, C)`` of every receptive field of a padded input."""
    n, h, w, c = xp_in.shape
    oh = (h - (kh - 1) * dilation[0] - 1) // stride[0] + 1
    ow = (w - (kw - 1) * dilation[1] - 1) // stride[1] + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv: a {kh}x{kw} window (dilation {dilation}) does not fit an input of "
                         f"spatial size {h}x{w}")
    s = xp_in.strides
    return strided(xp_in, (n, oh, ow, kh, kw, c),
                   (s[0], s[1] * stride[0], s[2] * stride[1], s[1] * dilation[0], s[2] * dilation[1], s[3]),
                   writeable=False)


def scatter_windows(gwin, shape, stride, dilation):
    """Add window gradients ``(N, OH, OW, KH, KW, C)`` back onto an input of ``shape``."""
    out = zeros(shape, dtype=gwin.dtype)
    _, oh, ow, kh, kw, _ = gwin.shape
    for i in range(kh):
        for j in range(kw):
            hi, wj = i * dilation[0], j * dilation[1]
            out[:, hi:hi + stride[0] * (oh - 1) + 1:stride[0], wj:wj + stride[1] * (ow - 1) + 1:stride[1], :] += \
                gwin[:, :, :, i, j, :]
    return out


def _product(a, b):
    """``a @ b`` for 2-d ``a`` and ``b``, into an array from ``empty``: the same product, in a
    compiled step's kept memory."""
    return xp.matmul(a, b, out=empty((a.shape[0], b.shape[1]), xp.result_type(a, b)))


def _gather(xpad, kh, kw, stride, dilation, oh, ow):
    """The im2col matrix ``(n * oh * ow, kh * kw * c)`` of a padded NHWC input: row ``(n, i, j)``
    holds the receptive field of output pixel ``(i, j)``, taps in ``(kh, kw, c)`` order. One copy
    from a strided view; without dilation a kernel row's ``kw`` pixels lie side by side, so the
    copy moves runs of ``kw * c`` values."""
    n, _, _, c = xpad.shape
    xpad = xp.ascontiguousarray(xpad)
    a = empty((n * oh * ow, kh * kw * c), dtype=xpad.dtype)
    s0, s1, s2, s3 = xpad.strides
    (sh, sw), (dh, dw) = stride, dilation
    if dw == 1:
        src = strided(xpad, (n, oh, ow, kh, kw * c), (s0, s1 * sh, s2 * sw, s1 * dh, s3), writeable=False)
    else:
        src = strided(xpad, (n, oh, ow, kh, kw, c), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)
    _copy_runs(a.reshape(src.shape), src)
    return a


def band_width(ow: int, co: int, kh: int = 1, kw: int = 1, c: int = 1, sw: int = 1, dw: int = 1) -> int:
    """How many output columns one row of the banded product computes: a divisor of ``ow``.

    A band of ``B`` columns reads ``wb = (B - 1) * sw + (kw - 1) * dw + 1`` input columns,
    so the multiply-adds grow with ``wb`` (those beyond ``kw`` per output hit zeros), while
    narrow products (``B * co`` output values per row, ``kh * wb * c`` inputs per row) run
    far below BLAS's speed. The band minimizes the cost model
    ``wb * (1 + 128 / (B * co) + 8 / (kh * wb * c))``, fitted to the forward and backward
    times of MNIST- and CIFAR-sized layers (``benchmarks/band_choice.py``; the fit and how
    close it comes are in ``benchmarks/README.md``).
    """
    best, best_cost = 1, None
    for b in range(1, ow + 1):
        if ow % b:
            continue
        wb = (b - 1) * sw + (kw - 1) * dw + 1
        cost = wb * (1 + 128 / (b * co) + 8 / (kh * wb * c))
        if best_cost is None or cost < best_cost:
            best, best_cost = b, cost
    return best


def _diagonals(wmat, kshape, band, wb, sw, dw, writeable=True):
    """View ``(kh, band, kw, c, co)`` of the entries of a banded ``(kh * wb * c [+ 1], band * co)``
    matrix where the kernel sits: entry ``[a, j, b, ch, o]`` multiplies input column
    ``j * sw + b * dw`` of kernel row ``a`` for output column ``j`` of the band."""
    kh, kw, c, co = kshape
    e = wmat.itemsize
    row = band * co * e  # one step along the gathered columns
    return strided(wmat, (kh, band, kw, c, co), (wb * c * row, sw * c * row + co * e, dw * c * row, row, e),
                   writeable=writeable)


def _banded(k, band, wb, sw, dw, b):
    """The ``(kh * wb * c [+ 1], band * co)`` weight matrix: the kernel on its diagonals."""
    kh, kw, c, co = k.shape
    wmat = zeros((kh * wb * c + (b is not None), band * co), dtype=k.dtype)
    _diagonals(wmat, k.shape, band, wb, sw, dw)[...] = k[:, None]
    if b is not None:
        wmat[-1].reshape(band, co)[...] = b  # the bias once per output column of the band
    return wmat


class Conv2D(Function):
    """``y[n, i, j, o] = sum over (a, b, c) of x[n, i*s + a*d, j*s + b*d, c] * k[a, b, c, o] (+ bias)``.

    Computed as one matrix product per layer, on a banded weight matrix: the output
    columns are cut into bands of ``B`` columns; one row of the gathered input holds, for
    one band of one output row, the ``kh`` input rows it reads, each ``wb`` columns wide;
    the weight matrix ``(kh * wb * c, B * co)`` places the kernel on the diagonals, so the
    product lands directly in NHWC order. ``B = 1`` is exact im2col (see the module's
    docstring for its backward pass); a wider band reads
    each input pixel fewer times, in longer contiguous runs, at the price of multiplying
    some zeros: for the small channel counts of MNIST-sized networks that trade wins
    (see ``band_width``). A column of ones in the gathered matrix carries the bias
    (with ``B = 1``, the bias is added to the product instead).
    """

    def forward(self, x, k, b=None, stride=(1, 1), dilation=(1, 1), padding="valid", band=None):
        n, h, w, c = x.shape
        kh, kw, kc, co = k.shape
        if c != kc:
            raise ValueError(f"conv2d: input has {c} channels but the kernel expects {kc} (kernel shape {k.shape})")
        (pt, pb), (pl, pr) = _pads(h, w, kh, kw, stride, dilation, padding)
        hp, wp = h + pt + pb, w + pl + pr
        (sh, sw), (dh, dw) = self.stride, self.dilation = stride, dilation
        oh, ow = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1
        if oh <= 0 or ow <= 0:
            raise ValueError(f"conv2d: a {kh}x{kw} window (dilation {dilation}) does not fit an input of "
                             f"spatial size {h}x{w} with padding {padding!r}")
        if pt or pb or pl or pr:
            xpad = zeros((n, hp, wp * c), dtype=x.dtype)
            xpad.reshape(n, hp, wp, c)[:, pt:pt + h, pl:pl + w] = x
        else:
            xpad = xp.ascontiguousarray(x).reshape(n, h, w * c)
        band = band or band_width(ow, co, kh, kw, c, sw, dw)
        self.exact = band == 1
        if self.exact:
            return self._im2col_forward(xpad.reshape(n, hp, wp, c), k, b, (oh, ow), (pt, pb, pl, pr), x.shape)
        if ow % band:
            raise ValueError(f"conv2d: the band width must divide the output width {ow}, received {band}")
        nb, wb = ow // band, (band - 1) * sw + (kw - 1) * dw + 1
        kk = kh * wb * c
        s0, s1, s2 = xpad.strides
        rows = strided(xpad, (n, oh, nb, kh, wb * c), (s0, s1 * sh, s2 * band * sw * c, s1 * dh, s2),
                       writeable=False)
        a = empty((n * oh * nb, kk + (b is not None)), dtype=x.dtype)
        _copy_runs(a[:, :kk].reshape(rows.shape), rows)  # the one gather copy
        wmat = _banded(k, band, wb, sw, dw, b)
        if b is not None:
            a[:, kk] = 1
        self.a, self.wmat, self.k, self.has_b = a, wmat, k, b is not None
        self.meta = (x.shape, (hp, wp), (pt, pl), (oh, ow), stride, dilation, band, wb)
        return _product(a, wmat).reshape(n, oh, ow, co)

    def _im2col_forward(self, xpad, k, b, out_hw, pads, xshape):
        """Exact im2col: one row of the gathered matrix per output pixel, ``kh * kw * c`` values
        (the kernel's taps in its own order), so the product multiplies no zeros and the
        kernel reshaped is the weight matrix."""
        kh, kw, c, co = k.shape
        n, (oh, ow) = xpad.shape[0], out_hw
        stride, dilation = self.stride, self.dilation
        a = _gather(xpad, kh, kw, stride, dilation, oh, ow)
        out = _product(a, k.reshape(kh * kw * c, co))
        if b is not None:
            out += b
        self.a, self.k, self.has_b = a, k, b is not None
        self.meta = (xshape, pads, (oh, ow))
        return out.reshape(n, oh, ow, co)

    def _im2col_backward(self, g):
        xshape, (pt, pb, pl, pr), (oh, ow) = self.meta
        (sh, sw), (dh, dw) = self.stride, self.dilation
        kh, kw, c, co = self.k.shape
        n, h, w = xshape[:3]
        g2 = xp.ascontiguousarray(g).reshape(-1, co)
        gk = (self.a.T @ g2).reshape(self.k.shape)
        gx = None
        if self.parents[0] is not None:
            if (sh, sw) == (1, 1) and co <= c:
                # the input's gradient is the output's gradient, padded, convolved with the
                # flipped kernel (taps and channel axes swapped): another exact im2col product,
                # whose inner dimension kh * kw * co is wider than the co of the gathered
                # rows' gradient below
                top, left = (kh - 1) * dh - pt, (kw - 1) * dw - pl
                gp = zeros((n, h + (kh - 1) * dh, w + (kw - 1) * dw, co), dtype=g.dtype)
                gp[:, top:top + oh, left:left + ow] = g
                flipped = self.k[::-1, ::-1].transpose(0, 1, 3, 2).reshape(kh * kw * co, c)
                gx = _product(_gather(gp, kh, kw, (1, 1), (dh, dw), h, w), flipped).reshape(n, h, w, c)
            else:
                # each gathered row's gradient (a product as wide as the gathered rows), added
                # back tap by tap onto the padded input: kh * kw adds of whole arrays, which
                # also serve strides, where the flipped-kernel product would need zeros
                # between the output gradient's pixels
                ga = _product(g2, self.k.reshape(kh * kw * c, co).T).reshape(n, oh, ow, kh, kw, c)
                gx = scatter_windows(ga, (n, h + pt + pb, w + pl + pr, c), (sh, sw), (dh, dw))
                gx = xp.ascontiguousarray(gx[:, pt:pt + h, pl:pl + w])
        if self.has_b:
            return gx, gk, g2.sum(axis=0)
        return gx, gk

    def backward(self, g):
        if self.exact:
            return self._im2col_backward(g)
        xshape, (hp, wp), (pt, pl), (oh, ow), (sh, sw), (dh, dw), band, wb = self.meta
        kh, kw, c, co = self.k.shape
        kk, n, nb = kh * wb * c, xshape[0], ow // band
        g2 = xp.ascontiguousarray(g).reshape(-1, band * co)
        gw = self.a.T @ g2  # gradient of the banded matrix; the kernel's entries sit on its diagonals
        gk = _diagonals(gw, self.k.shape, band, wb, sw, dw, writeable=False).sum(axis=1)
        gx = None
        if self.parents[0] is not None:  # the first layer's input needs no gradient: skip the scatter
            w_t = self.wmat[:kk].T  # the bias row takes no part
            gpad = zeros((n, hp, wp * c), dtype=g.dtype)
            step = band * sw * c  # consecutive bands start this many values apart
            pieces = -(-wb * c // step)
            if nb <= pieces:
                # few bands: gathered rows ordered band first, then one add per (kernel row, band)
                # of a whole band window, (n, oh, wb * c), along contiguous runs wb * c long
                g_bands = empty((n, nb, oh, band * co), g.dtype)
                xp.copyto(g_bands, g2.reshape(n, oh, nb, band * co).transpose(0, 2, 1, 3))
                ga = _product(g_bands.reshape(-1, band * co), w_t).reshape(n, nb, oh, kh, wb * c)
                for i in range(kh):
                    target = gpad[:, i * dh:i * dh + sh * (oh - 1) + 1:sh]
                    for j in range(nb):
                        target[:, :, j * step:j * step + wb * c] += ga[:, j, :, i]
            else:
                # many bands: neighbouring windows overlap, so add all bands at once, in pieces
                # of at most one step
                ga = _product(g2, w_t).reshape(n, oh, nb, kh, wb * c)
                for i in range(kh):
                    target = gpad[:, i * dh:i * dh + sh * (oh - 1) + 1:sh]
                    t0, t1, t2 = target.strides
                    for lo in range(0, wb * c, step):
                        hi = min(lo + step, wb * c)
                        piece = strided(target[:, :, lo:], (n, oh, nb, hi - lo), (t0, t1, step * t2, t2))
                        piece += ga[:, :, :, i, lo:hi]
            gx = gpad.reshape(n, hp, wp, c)[:, pt:pt + xshape[1], pl:pl + xshape[2]]
            if (hp, wp) != xshape[1:3]:
                gx = xp.ascontiguousarray(gx)
        if self.has_b:
            return gx, gk, gw[kk].reshape(band, co).sum(axis=0)
        return gx, gk


def _pixels(a):
    """``a`` (..., r) with each run of ``r`` values along its last (contiguous) axis as one opaque
    item (a pixel's channel vector, a gathered convolution row), so that a copy moves whole runs
    instead of running NumPy loops ``r`` values long."""
    size = a.shape[-1] * a.itemsize
    run = _RUNS.get(size)
    if run is None:
        run = _RUNS[size] = np.dtype((np.void, size))  # made once: building one costs Python calls
    return a.view(run)[..., 0]


_RUNS: dict = {}


def _columns(a, pw, ow):
    """View of ``a[:, :, :ow*pw]`` (NHWC) as ``(pw, n, h, ow, c)``: plane ``j`` is window column ``j``."""
    n, h, _, c = a.shape
    return a[:, :, :ow * pw].reshape(n, h, ow, pw, c).transpose(3, 0, 1, 2, 4)


def _copy_runs(dst, src):
    """``dst[...] = src``, each run along the last axis moved as one opaque item where it lies
    contiguous in both (NumPy): a copy of short runs (a gathered convolution row is 11
    floats in LeNet's first layer) otherwise pays NumPy's inner-loop overhead per run.
    """
    if (xp is np and dst.dtype == src.dtype and dst.shape[-1] > 1
            and dst.strides[-1] == src.strides[-1] == dst.itemsize):  # raw bytes: only between equal dtypes
        dst, src = _pixels(dst), _pixels(src)
    xp.copyto(dst, src)


def _copy_planes(dst, src):
    """``dst[...] = src`` for ``(pw, n, h, ow, c)`` arrays, whole pixels at a time where the channels
    lie contiguous in both, and plane by plane so that NumPy's inner loop runs along image rows."""
    for j in range(len(dst)):
        _copy_runs(dst[j], src[j])


def _first_max(planes):
    """Element-wise maximum of ``planes`` and which plane held it (the first, on ties):
    None for one plane, a boolean for two, int8 indices for more."""
    if len(planes) == 1:
        return planes[0], None
    shape, dtype = planes[0].shape, planes[0].dtype
    which = xp.greater(planes[1], planes[0], out=empty(shape, bool))
    best = xp.maximum(planes[0], planes[1], out=empty(shape, dtype))
    if len(planes) > 2:
        which = which.astype(xp.int8)
        for j in range(2, len(planes)):
            which[xp.greater(planes[j], best)] = j
            xp.maximum(best, planes[j], out=best)
    return best, which


def _route(g, which, out_planes):
    """Send ``g`` to the plane :func:`_first_max` chose, zeros to the others."""
    if which is None:
        out_planes[0][...] = g
    elif which.dtype == bool:
        xp.multiply(g, which, out=out_planes[1])
        xp.subtract(g, out_planes[1], out=out_planes[0])  # g - g = 0 and g - 0 = g, exactly
    else:
        for j in range(len(out_planes)):
            xp.multiply(g, which == j, out=out_planes[j])


class MaxPoolTiled(Function):
    """Max pooling with stride equal to the pool size ("valid"): windows tile the image.

    Columns first, then rows. Comparing neighbouring columns of an NHWC image directly
    means NumPy loops as short as the channel count (slow), so one copy first splits the
    image into ``pw`` contiguous planes, one per window column, moving whole channel
    vectors at a time; the column stage then runs on contiguous arrays and the row stage
    on whole image rows. Ties go to the first maximum in row-major order (TensorFlow's
    and PyTorch's rule) with no extra work: within a row the earlier column wins ties,
    and a later row wins only when strictly greater.
    """

    def forward(self, x, pool):
        n, h, w, c = x.shape
        ph, pw = pool
        oh, ow = h // ph, w // pw
        cols = empty((pw, n, oh * ph, ow, c), dtype=x.dtype)
        _copy_planes(cols, _columns(x[:, :oh * ph], pw, ow))
        best_col, self.col = _first_max(list(cols))
        rows = best_col.reshape(n, oh, ph, ow, c)
        out, self.row = _first_max([rows[:, :, i] for i in range(ph)])
        out = xp.ascontiguousarray(out)
        self.meta = (x.shape, pool)
        return out

    def backward(self, g):
        (n, h, w, c), (ph, pw) = self.meta
        oh, ow = g.shape[1], g.shape[2]
        g_rows = empty((n, oh, ph, ow, c), dtype=g.dtype)
        _route(g, self.row, [g_rows[:, :, i] for i in range(ph)])
        g_cols = empty((pw, n, oh * ph, ow, c), dtype=g.dtype)
        _route(g_rows.reshape(n, oh * ph, ow, c), self.col, list(g_cols))
        covered = (oh * ph, ow * pw) == (h, w)
        gx = empty((n, h, w, c), dtype=g.dtype) if covered else zeros((n, h, w, c), dtype=g.dtype)
        _copy_planes(_columns(gx[:, :oh * ph], pw, ow), g_cols)
        return (gx,)


class MaxPool2D(Function):
    """Max over each window; the gradient goes to the (first) largest element, as TensorFlow."""

    def forward(self, x, pool, stride, padding):
        n, h, w, c = x.shape
        (pt, pb), (pl, pr) = _pads(h, w, pool[0], pool[1], stride, (1, 1), padding)
        if pt or pb or pl or pr:
            x = xp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-xp.inf)
        win = windows(x, pool[0], pool[1], stride, (1, 1))
        _, oh, ow = win.shape[:3]
        flat = win.reshape(n, oh, ow, pool[0] * pool[1], c)
        self.idx = xp.argmax(flat, axis=3)
        self.meta = (x.shape, (pt, pl), (h, w), pool, stride)
        return xp.take_along_axis(flat, self.idx[:, :, :, None, :], axis=3)[:, :, :, 0, :]

    def backward(self, g):
        pshape, (pt, pl), (h, w), pool, stride = self.meta
        n, oh, ow, c = g.shape
        gwin = zeros((n, oh, ow, pool[0] * pool[1], c), dtype=g.dtype)
        xp.put_along_axis(gwin, self.idx[:, :, :, None, :], g[:, :, :, None, :], axis=3)
        gx = scatter_windows(gwin.reshape(n, oh, ow, pool[0], pool[1], c), pshape, stride, (1, 1))
        return (gx[:, pt:pt + h, pl:pl + w, :],)


class AvgPool2D(Function):
    """Mean over each window; with "same" padding the padded zeros are not counted (as TensorFlow)."""

    def forward(self, x, pool, stride, padding):
        n, h, w, c = x.shape
        (pt, pb), (pl, pr) = _pads(h, w, pool[0], pool[1], stride, (1, 1), padding)
        padded = bool(pt or pb or pl or pr)
        xpad = xp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0))) if padded else x
        win = windows(xpad, pool[0], pool[1], stride, (1, 1))
        if padded:
            ones = xp.pad(xp.ones((1, h, w, 1), dtype=x.dtype), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
            count = windows(ones, pool[0], pool[1], stride, (1, 1)).sum(axis=(3, 4))
        else:
            count = xp.asarray(float(pool[0] * pool[1]), dtype=x.dtype)
        self.count, self.meta = count, (xpad.shape, (pt, pl), (h, w), pool, stride)
        return win.sum(axis=(3, 4)) / count

    def backward(self, g):
        pshape, (pt, pl), (h, w), pool, stride = self.meta
        g = g / self.count
        gwin = xp.broadcast_to(g[:, :, :, None, None, :], g.shape[:3] + pool + g.shape[3:])
        gx = scatter_windows(gwin, pshape, stride, (1, 1))
        return (gx[:, pt:pt + h, pl:pl + w, :],)


def _pair(v, name):
    """``(a, b)`` from a positive int or a pair of them (kernel sizes, strides, dilations, pool sizes)."""
    def ok(a):
        return isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) and a >= 1

    if ok(v):
        return (int(v), int(v))
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(ok(a) for a in v):
        return (int(v[0]), int(v[1]))
    raise ValueError(f"{name}: expected a positive integer or a pair of positive integers, received {v!r}")


def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1) -> Tensor:
    """2-D convolution of NHWC ``x`` with an ``(kh, kw, in, out)`` kernel (``tf.nn.conv2d`` layout),
    plus ``bias`` per output channel (as PyTorch's ``conv2d`` takes it)."""
    x, kernel = tensor(x), tensor(kernel)
    if x.ndim != 4 or kernel.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-d input (N, H, W, C) and a 4-d kernel, received shapes "
                         f"{x.shape} and {kernel.shape}")
    args = dict(stride=_pair(strides, "strides"), dilation=_pair(dilation_rate, "dilation_rate"), padding=padding)
    if bias is None:
        return Conv2D.apply(x, kernel, **args)
    return Conv2D.apply(x, kernel, tensor(bias), **args)


def max_pool2d(x, pool_size=2, strides=None, padding="valid") -> Tensor:
    pool = _pair(pool_size, "pool_size")
    stride = _pair(strides, "strides") if strides else pool
    x = tensor(x)
    if stride == pool and padding == "valid" and x.shape[1] >= pool[0] and x.shape[2] >= pool[1]:
        return MaxPoolTiled.apply(x, pool=pool)
    return MaxPool2D.apply(x, pool=pool, stride=stride, padding=padding)


def avg_pool2d(x, pool_size=2, strides=None, padding="valid") -> Tensor:
    pool = _pair(pool_size, "pool_size")
    return AvgPool2D.apply(tensor(x), pool=pool, stride=_pair(strides, "strides") if strides else pool,
                           padding=padding)
