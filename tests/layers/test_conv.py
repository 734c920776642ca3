"""Convolution and pooling: gradients vs finite differences (float64) and values/gradients vs PyTorch."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops.conv import avg_pool2d, conv2d, max_pool2d, same_padding

R = np.random.default_rng(0)
CONV_CASES = [(1, 1, "valid"), (2, 1, "valid"), (1, 2, "valid"), (1, 1, "same"), (2, 1, "same"), (1, 2, "same"),
              (3, 1, "same")]


@pytest.mark.parametrize("stride,dilation,padding", CONV_CASES)
def test_conv2d_gradcheck(stride, dilation, padding):
    x, k, b = R.normal(size=(2, 6, 5, 2)), R.normal(size=(3, 2, 2, 3)), R.normal(size=3)
    assert tg.gradcheck(lambda x, k, b: conv2d(x, k, b, strides=stride, padding=padding, dilation_rate=dilation),
                        [x, k, b])


@pytest.mark.parametrize("stride,dilation,padding", CONV_CASES)
def test_conv2d_against_torch(stride, dilation, padding):
    torch = pytest.importorskip("torch")
    x, k, b = R.normal(size=(2, 9, 8, 3)), R.normal(size=(3, 3, 3, 4)), R.normal(size=4)
    xt = torch.tensor(x, requires_grad=True)
    kt = torch.tensor(k, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    xin = xt.permute(0, 3, 1, 2)
    if padding == "same":
        ph, pw = same_padding(9, 3, stride, dilation), same_padding(8, 3, stride, dilation)
        xin = torch.nn.functional.pad(xin, (pw[0], pw[1], ph[0], ph[1]))
    ref = torch.nn.functional.conv2d(xin, kt.permute(3, 2, 0, 1), bt, stride=stride, dilation=dilation)
    ref = ref.permute(0, 2, 3, 1)
    weights = R.normal(size=tuple(ref.shape))
    (ref * torch.tensor(weights)).sum().backward()
    xv, kv, bv = tg.Variable(x, dtype="float64"), tg.Variable(k, dtype="float64"), tg.Variable(b, dtype="float64")
    with tg.GradientTape() as tape:
        out = conv2d(xv, kv, bv, strides=stride, padding=padding, dilation_rate=dilation)
        loss = tg.reduce_sum(out * weights)
    gx, gk, gb = tape.gradient(loss, [xv, kv, bv])
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(gx.numpy(), xt.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(gk.numpy(), kt.grad.numpy(), atol=1e-11)
    np.testing.assert_allclose(gb.numpy(), bt.grad.numpy(), atol=1e-11)


def test_conv_layer_with_relu_is_a_conv2d_node_then_a_relu_node():
    """The core layer is the convolution node, then its activation's node (no fused ReLU:
    ``tapegrad.fast.nodes.ConvRelu`` is the fused form, checked in tests/fast/test_nodes.py)."""
    from tapegrad.ops.conv import Conv2D
    from tapegrad.ops.nn import Relu

    layer = tg.layers.Conv2D(3, 2, activation="relu", dtype="float64")
    x = R.normal(size=(1, 4, 4, 2))
    out = layer(tg.constant(x))
    assert type(out._ctx) is Relu
    (conv,) = out._ctx.parents
    assert type(conv._ctx) is Conv2D and conv._ctx.parents[1] is layer.kernel and conv._ctx.parents[2] is layer.bias
    assert out.numpy().min() >= 0 and (conv.numpy() < 0).any()  # the ReLU had something to cut
    np.testing.assert_array_equal(out.numpy(), np.maximum(conv.numpy(), 0.0))
    expected = conv2d(tg.constant(x), tg.constant(layer.kernel.numpy()), tg.constant(layer.bias.numpy())).numpy()
    np.testing.assert_array_equal(out.numpy(), np.maximum(expected, 0.0))


@pytest.mark.parametrize("pool,stride,padding", [(2, None, "valid"), (3, 2, "valid"), (3, 2, "same"), (2, 1, "same")])
def test_pooling_gradcheck(pool, stride, padding):
    x = R.permutation(2 * 5 * 6 * 2).reshape(2, 5, 6, 2) / 10.0  # distinct: no ties in max
    assert tg.gradcheck(lambda t: max_pool2d(t, pool, stride, padding), [x])
    assert tg.gradcheck(lambda t: avg_pool2d(t, pool, stride, padding), [x])


def test_pooling_against_torch():
    torch = pytest.importorskip("torch")
    x = R.normal(size=(2, 8, 8, 3))
    ours = max_pool2d(tg.constant(x), 3, 2).numpy()
    ref = torch.nn.functional.max_pool2d(torch.tensor(x).permute(0, 3, 1, 2), 3, 2).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, ref)
    ours = avg_pool2d(tg.constant(x), 2).numpy()
    ref = torch.nn.functional.avg_pool2d(torch.tensor(x).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_avg_pool_same_excludes_padding_like_tensorflow():
    x = np.ones((1, 3, 3, 1))
    out = avg_pool2d(tg.constant(x), 2, 2, "same").numpy()
    np.testing.assert_allclose(out, np.ones((1, 2, 2, 1)))  # border windows average only real pixels


def test_conv_layers_shapes_and_channels_first():
    x = tg.ones((2, 10, 12, 3))
    assert tg.layers.Conv2D(4, 3)(x).shape == (2, 8, 10, 4)
    assert tg.layers.Conv2D(4, 3, strides=2, padding="same")(x).shape == (2, 5, 6, 4)
    assert tg.layers.Conv2D(4, 3, data_format="channels_first")(tg.ones((2, 3, 10, 12))).shape == (2, 4, 8, 10)
    assert tg.layers.Conv1D(5, 3, padding="same")(tg.ones((2, 7, 3))).shape == (2, 7, 5)
    assert tg.layers.MaxPooling2D()(x).shape == (2, 5, 6, 3)
    assert tg.layers.AveragePooling2D(3, 2, padding="same")(x).shape == (2, 5, 6, 3)
    assert tg.layers.GlobalAveragePooling2D()(x).shape == (2, 3)
    assert tg.layers.GlobalMaxPooling2D()(x).shape == (2, 3)
    assert tg.layers.ZeroPadding2D(((1, 2), (0, 1)))(x).shape == (2, 13, 13, 3)
    assert tg.layers.UpSampling2D(2)(x).shape == (2, 20, 24, 3)
    with pytest.raises(ValueError, match=r"Conv2D 'conv2d\w*': expected 3 input channels, received shape \(2, 10, 12, 4\)"):
        layer = tg.layers.Conv2D(2, 3)
        layer(x)
        layer(tg.ones((2, 10, 12, 4)))


def test_channels_first_convolutions_accept_later_calls_of_any_size():
    """A built layer checks its channels, wherever they are, not the last axis: a
    channels-first convolution called again (or on a wider image) must equal the
    channels-last one with the same weights on the transposed input."""
    rng = np.random.default_rng(2)
    last, first = tg.layers.Conv2D(4, 3), tg.layers.Conv2D(4, 3, data_format="channels_first")
    for w in (12, 9):
        x = rng.normal(size=(2, 10, w, 3)).astype(np.float32)
        out_last = last(x).numpy()
        if not first.built:
            first(np.transpose(x, (0, 3, 1, 2)))
            first.set_weights(last.get_weights())
        np.testing.assert_allclose(first(np.transpose(x, (0, 3, 1, 2))).numpy(), np.transpose(out_last, (0, 3, 1, 2)),
                                   rtol=1e-5, atol=1e-6)
    last1, first1 = tg.layers.Conv1D(5, 3), tg.layers.Conv1D(5, 3, data_format="channels_first")
    for steps in (7, 11):
        x = rng.normal(size=(2, steps, 3)).astype(np.float32)
        out_last = last1(x).numpy()
        if not first1.built:
            first1(np.transpose(x, (0, 2, 1)))
            first1.set_weights(last1.get_weights())
        np.testing.assert_allclose(first1(np.transpose(x, (0, 2, 1))).numpy(), np.transpose(out_last, (0, 2, 1)),
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"Conv1D 'conv1d\w*': expected a 3-d input with 3 channels \(batch, "
                                         r"channels, steps\), received shape \(2, 4, 7\)"):
        first1(np.ones((2, 4, 7), np.float32))


def test_conv_layer_gradchecks_with_channels_first():
    layer = tg.layers.Conv2D(2, 2, data_format="channels_first", dtype="float64")
    x = R.normal(size=(1, 3, 4, 4))
    layer(x)
    k, b = layer.kernel.numpy(), layer.bias.numpy()

    def f(x, k, b):
        layer.kernel.assign(k.numpy())
        layer.bias.assign(b.numpy())
        return tg.transpose(conv2d(tg.transpose(x, (0, 2, 3, 1)), k, b), (0, 3, 1, 2))

    np.testing.assert_allclose(layer(x).numpy(), f(tg.constant(x), tg.constant(k), tg.constant(b)).numpy())
    assert tg.gradcheck(lambda x: layer(x), [x])


def test_batch_normalization_training_and_inference():
    bn = tg.layers.BatchNormalization(momentum=0.5, dtype="float64")
    x = R.normal(3.0, 2.0, size=(64, 4))
    y = bn(x, training=True).numpy()
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(y.var(0), x.var(0) / (x.var(0) + 1e-3), rtol=1e-9)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * x.mean(0), rtol=1e-9)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.5 + 0.5 * x.var(0), rtol=1e-9)
    mm = bn.moving_mean.numpy().copy()
    out = bn(x).numpy()  # inference: moving statistics, unchanged
    np.testing.assert_allclose(bn.moving_mean.numpy(), mm)
    np.testing.assert_allclose(out, (x - mm) / np.sqrt(bn.moving_variance.numpy() + 1e-3), rtol=1e-9)
    assert tg.gradcheck(lambda t: bn(t, training=True), [x[:6, :2] if False else R.normal(size=(6, 4))])


def test_moving_average_update_checks_the_value_size():
    from tapegrad.ops.nn import moving_average_update

    v = tg.Variable(np.zeros(3, np.float32), trainable=False, name="moving_mean")
    out = moving_average_update(v, np.ones((1, 3), np.float32), 0.75)
    np.testing.assert_allclose(v.numpy(), 0.25)  # 0.75 * 0 + 0.25 * 1
    assert out.shape == (1, 3)
    with pytest.raises(ValueError, match=r"value of shape \(4,\) does not fit variable 'moving_mean' of shape \(3,\)"):
        moving_average_update(v, np.ones(4, np.float32), 0.75)
    np.testing.assert_allclose(v.numpy(), 0.25)  # unchanged


def test_batchnorm_in_predict_uses_moving_statistics():
    m = tg.Sequential([tg.Input(shape=(3,)), tg.layers.BatchNormalization(), tg.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    x = R.normal(size=(32, 3)).astype(np.float32)
    before = m.layers[0].moving_mean.numpy().copy()
    m.predict(x, verbose=0)
    np.testing.assert_array_equal(before, m.layers[0].moving_mean.numpy())
    m.fit(x, np.zeros((32, 1), np.float32), epochs=1, verbose=0)
    assert not np.array_equal(before, m.layers[0].moving_mean.numpy())


def test_layer_names_follow_keras():
    assert tg.layers.Conv2D(1, 1).name.startswith("conv2d")
    assert tg.layers.MaxPooling2D().name.startswith("max_pooling2d")


@pytest.mark.parametrize("channels", [1, 3, "strided"])
@pytest.mark.parametrize("pool", [(2, 2), (3, 3), (2, 3), (3, 2), (1, 2), (2, 1)])
def test_tiled_max_pool_ties_go_to_first_maximum_in_row_major_order(pool, channels):
    from tapegrad.ops.conv import MaxPool2D

    r = np.random.default_rng(1)
    c = 6 if channels == "strided" else channels
    x = r.integers(0, 3, size=(2, 7, 7, c)).astype(np.float64)  # many ties; a row and a column left uncovered
    xv = tg.Variable(x, dtype="float64")
    c_out = 3 if channels == "strided" else c
    weights = r.normal(size=(2, 7 // pool[0], 7 // pool[1], c_out))
    with tg.GradientTape() as tape:
        xin = xv[..., ::2] if channels == "strided" else xv  # channels not contiguous in memory
        fast = tg.reduce_sum(max_pool2d(xin, pool) * weights)
    g_fast = tape.gradient(fast, xv).numpy()
    with tg.GradientTape() as tape:  # the general path routes through argmax (first maximum)
        xin = xv[..., ::2] if channels == "strided" else xv
        slow = tg.reduce_sum(MaxPool2D.apply(xin, pool=pool, stride=pool, padding="valid") * weights)
    np.testing.assert_array_equal(g_fast, tape.gradient(slow, xv).numpy())
    assert float(fast) == float(slow)


@pytest.mark.parametrize("stride,dilation,padding", CONV_CASES)
def test_conv2d_every_band_width_matches_a_direct_sum(stride, dilation, padding):
    """The banded product for every band width (1 = im2col) against the defining sum, in float64."""
    from tapegrad.ops.conv import Conv2D

    x, k, b = R.normal(size=(2, 9, 12, 3)), R.normal(size=(3, 2, 3, 5)), R.normal(size=5)
    (pt, pb), (pl, pr) = ((same_padding(9, 3, stride, dilation), same_padding(12, 2, stride, dilation))
                          if padding == "same" else ((0, 0), (0, 0)))
    xp_ = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    oh = (xp_.shape[1] - 2 * dilation - 1) // stride + 1
    ow = (xp_.shape[2] - dilation - 1) // stride + 1
    ref = np.zeros((2, oh, ow, 5)) + b
    for a in range(3):
        for c in range(2):
            win = xp_[:, a * dilation::stride, c * dilation::stride][:, :oh, :ow]
            ref += win @ k[a, c]
    weights = R.normal(size=ref.shape)
    # gradients of sum(out * weights) by the same definition: each window scatters weights @ k.T
    gx_ref = np.zeros_like(xp_)
    gk_ref = np.zeros_like(k)
    for a in range(3):
        for c in range(2):
            win = xp_[:, a * dilation::stride, c * dilation::stride][:, :oh, :ow]
            gk_ref[a, c] = np.einsum("nhwi,nhwo->io", win, weights)
            gx_ref[:, a * dilation::stride, c * dilation::stride][:, :oh, :ow] += weights @ k[a, c].T
    gx_ref = gx_ref[:, pt:pt + 9, pl:pl + 12]
    for band in [d for d in range(1, ow + 1) if ow % d == 0]:
        xv, kv, bv = (tg.Variable(v, dtype="float64") for v in (x, k, b))
        with tg.GradientTape() as tape:
            out = Conv2D.apply(xv, kv, bv, stride=(stride, stride), dilation=(dilation, dilation), padding=padding,
                               band=band)
            loss = tg.reduce_sum(out * weights)
        gx, gk, gb = tape.gradient(loss, [xv, kv, bv])
        np.testing.assert_allclose(out.numpy(), ref, atol=1e-12, err_msg=f"band {band}")
        np.testing.assert_allclose(gx.numpy(), gx_ref, atol=1e-12, err_msg=f"band {band}")
        np.testing.assert_allclose(gk.numpy(), gk_ref, atol=1e-12, err_msg=f"band {band}")
        np.testing.assert_allclose(gb.numpy(), weights.sum(axis=(0, 1, 2)), atol=1e-12, err_msg=f"band {band}")


def test_conv2d_band_width_must_divide_the_output_width():
    from tapegrad.ops.conv import Conv2D

    with pytest.raises(ValueError, match="must divide the output width 8, received 3"):
        Conv2D.apply(tg.ones((1, 8, 8, 1)), tg.ones((1, 1, 1, 2)), band=3)


@pytest.mark.parametrize("ow", [1, 7, 10, 12, 28, 31, 32])
def test_band_width_divides_the_output_width(ow):
    from tapegrad.ops.conv import band_width

    for co, kh, kw, c, sw, dw in [(6, 5, 5, 1, 1, 1), (64, 3, 3, 32, 1, 1), (16, 3, 3, 3, 2, 1), (8, 3, 3, 4, 1, 2)]:
        b = band_width(ow, co, kh, kw, c, sw, dw)
        assert 1 <= b <= ow and ow % b == 0


def _runs_view(x, case):
    s0, s1, s2 = x.strides
    if case == "overlapping windows":  # as the convolution's gather: 4 rows of 5 columns, bands 3 apart
        return np.lib.stride_tricks.as_strided(x, (3, 5, 3, 4, 5), (s0, s1, 3 * s2, s1, s2), writeable=False)
    if case == "strided last axis":
        return x[:, :, ::2]
    return x[:, :, :1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["overlapping windows", "strided last axis", "runs of one"])
def test_copy_runs_copies_what_an_element_wise_copy_does(dtype, case):
    """The gather's copy moves whole runs as opaque items; the values must be exactly the
    element-wise copy's, and a last axis that is not contiguous must still copy correctly."""
    from tapegrad.ops.conv import _copy_runs

    x = R.normal(size=(3, 9, 12)).astype(dtype)
    src = _runs_view(x, case)
    expected = np.array([v for v in src.reshape(-1)], dtype=dtype).reshape(src.shape)  # element by element
    dst = np.full(src.shape, np.nan, dtype=dtype)
    _copy_runs(dst, src)
    np.testing.assert_array_equal(dst, expected)
    holes = np.full(src.shape[:-1] + (src.shape[-1] + 2,), np.nan, dtype=dtype)  # destination rows with gaps
    _copy_runs(holes[..., 1:-1], src)
    np.testing.assert_array_equal(holes[..., 1:-1], expected)
    assert np.isnan(holes[..., 0]).all() and np.isnan(holes[..., -1]).all()
    # integers of the same item size into floats: the values are converted, not their bytes copied
    ints = _runs_view(np.arange(x.size, dtype=np.int32 if dtype == np.float32 else np.int64).reshape(x.shape), case)
    converted = np.zeros(ints.shape, dtype=dtype)
    _copy_runs(converted, ints)
    np.testing.assert_array_equal(converted, np.array([float(v) for v in ints.reshape(-1)]).reshape(ints.shape))


def _relu_pool_case(pool):
    """relu(conv) then max-pooling, in tapegrad (float64) and PyTorch; filter 0 is cut by the
    ReLU everywhere (all its windows are all zeros), the others about half the time."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(7)
    x, k, b = r.normal(size=(2, 9, 8, 2)), r.normal(size=(3, 3, 2, 4)), r.normal(size=4)
    b[0] = -100.0
    xt, kt, bt = (torch.tensor(a, requires_grad=True) for a in (x, k, b))
    conv_t = torch.relu(torch.nn.functional.conv2d(xt.permute(0, 3, 1, 2), kt.permute(3, 2, 0, 1), bt))
    conv_t.retain_grad()
    pooled_t = torch.nn.functional.max_pool2d(conv_t, pool)
    xv, kv, bv = tg.Variable(x, dtype="float64"), tg.Variable(k, dtype="float64"), tg.Variable(b, dtype="float64")
    return torch, r, (xt, kt, bt, conv_t, pooled_t), (xv, kv, bv)


def test_relu_output_used_twice_keeps_its_mask():
    """The ReLU's output feeds pooling and another branch: the summed gradient is not
    pooling's alone, and the ReLU's mask applies to the sum."""
    torch, r, (xt, kt, bt, conv_t, pooled_t), (xv, kv, bv) = _relu_pool_case((2, 2))
    w1 = r.normal(size=tuple(pooled_t.permute(0, 2, 3, 1).shape))
    w2 = r.normal(size=tuple(conv_t.permute(0, 2, 3, 1).shape))
    ((pooled_t.permute(0, 2, 3, 1) * torch.tensor(w1)).sum()
     + (conv_t.permute(0, 2, 3, 1) * torch.tensor(w2)).sum()).backward()
    with tg.GradientTape() as tape:
        conv = tg.relu(conv2d(xv, kv, bv))
        loss = tg.reduce_sum(max_pool2d(conv, 2) * w1) + tg.reduce_sum(conv * w2)
    for ours, theirs in zip(tape.gradient(loss, [xv, kv, bv]), (xt, kt, bt)):
        np.testing.assert_allclose(ours.numpy(), theirs.grad.numpy(), atol=1e-11)


def test_gradient_of_the_relu_output_itself_is_exact():
    """Asked for the gradient of the pooled tensor's input, the tape gets pooling's exact one:
    an all-zero window sends its gradient to its first element, as PyTorch does."""
    torch, r, (xt, kt, bt, conv_t, pooled_t), (xv, kv, bv) = _relu_pool_case((2, 2))
    weights = r.normal(size=tuple(pooled_t.permute(0, 2, 3, 1).shape))
    (pooled_t.permute(0, 2, 3, 1) * torch.tensor(weights)).sum().backward()
    with tg.GradientTape() as tape:
        conv = tg.relu(conv2d(xv, kv, bv))
        tape.watch(conv)
        loss = tg.reduce_sum(max_pool2d(conv, 2) * weights)
    g_conv, g_k = tape.gradient(loss, [conv, kv])
    expected = conv_t.grad.permute(0, 2, 3, 1).numpy()
    assert np.count_nonzero(expected[..., 0]) > 0  # filter 0's all-zero windows still pass a gradient on
    np.testing.assert_allclose(g_conv.numpy(), expected, atol=1e-11)
    np.testing.assert_allclose(g_k.numpy(), kt.grad.numpy(), atol=1e-11)


# Exact im2col (band width 1) and the banded product the rule picks, on layers of both kinds:
# (input shape, kernel shape, stride, dilation, padding). Exact im2col computes the input's
# gradient by the flipped-kernel product at stride 1 with no more filters than input channels,
# else by kh * kw adds: the cases cover both, with and without dilation, and the strided adds.
EXACT_CASES = [((2, 9, 8, 3), (3, 3, 3, 4), 1, 1, "same"), ((2, 9, 8, 3), (3, 3, 3, 4), 2, 1, "same"),
               ((2, 9, 8, 3), (3, 3, 3, 4), 2, 1, "valid"), ((2, 9, 8, 3), (3, 3, 3, 4), 1, 2, "same"),
               ((2, 10, 9, 4), (3, 3, 4, 5), 1, 2, "valid"), ((2, 7, 6, 5), (1, 1, 5, 3), 1, 1, "valid"),
               ((2, 7, 6, 5), (1, 1, 5, 3), 2, 1, "same"), ((2, 9, 11, 2), (2, 3, 2, 3), 1, 1, "same"),
               ((2, 9, 11, 2), (3, 2, 2, 3), 2, 1, "valid"), ((2, 8, 8, 16), (3, 3, 16, 8), 1, 1, "valid"),
               ((2, 8, 8, 16), (3, 3, 16, 8), 3, 1, "same"), ((2, 10, 9, 6), (3, 2, 6, 4), 1, 2, "same"),
               ((2, 10, 9, 6), (2, 3, 6, 4), 1, 2, "valid"), ((2, 9, 8, 5), (3, 3, 5, 5), 1, 1, "same")]


def _torch_conv(x, k, b, stride, dilation, padding, weights, dtype):
    """PyTorch's ``F.conv2d`` value and the gradients of ``sum(out * weights)``, NHWC in and out."""
    torch = pytest.importorskip("torch")
    xt, kt, bt = (torch.tensor(a.astype(dtype), requires_grad=True) for a in (x, k, b))
    xin = xt.permute(0, 3, 1, 2)
    if padding == "same":
        ph = same_padding(x.shape[1], k.shape[0], stride, dilation)
        pw = same_padding(x.shape[2], k.shape[1], stride, dilation)
        xin = torch.nn.functional.pad(xin, (pw[0], pw[1], ph[0], ph[1]))
    ref = torch.nn.functional.conv2d(xin, kt.permute(3, 2, 0, 1), bt, stride=stride, dilation=dilation)
    ref = ref.permute(0, 2, 3, 1)
    if weights is None:
        return tuple(ref.shape)
    (ref * torch.tensor(weights.astype(dtype))).sum().backward()
    return [t.detach().numpy() for t in (ref, xt.grad, kt.grad, bt.grad)]


@pytest.mark.parametrize("band", ["exact", "auto"])
@pytest.mark.parametrize("xshape,kshape,stride,dilation,padding", EXACT_CASES)
def test_conv2d_paths_against_torch_in_float32(xshape, kshape, stride, dilation, padding, band):
    """Forced exact im2col (``band=1``) and the band ``band_width`` picks, float32, against PyTorch."""
    from tapegrad.ops.conv import Conv2D

    rng = np.random.default_rng(21)
    x, k, b = rng.normal(size=xshape), rng.normal(size=kshape), rng.normal(size=kshape[3])
    weights = rng.normal(size=_torch_conv(x, k, b, stride, dilation, padding, None, np.float32))
    ref = _torch_conv(x, k, b, stride, dilation, padding, weights, np.float32)
    xv, kv, bv = (tg.Variable(a.astype(np.float32)) for a in (x, k, b))
    with tg.GradientTape() as tape:
        out = Conv2D.apply(xv, kv, bv, stride=(stride, stride), dilation=(dilation, dilation), padding=padding,
                           band=1 if band == "exact" else None)
        loss = tg.reduce_sum(out * weights.astype(np.float32))
    got = [out.numpy()] + [g.numpy() for g in tape.gradient(loss, [xv, kv, bv])]
    for name, ours, theirs in zip(["output", "dx", "dkernel", "dbias"], got, ref):
        assert ours.dtype == np.float32 and ours.shape == theirs.shape, name
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("xshape,kshape,stride,dilation,padding", EXACT_CASES)
def test_conv2d_exact_im2col_gradcheck(xshape, kshape, stride, dilation, padding):
    """Exact im2col's gradients against float64 finite differences, with and without a bias."""
    from tapegrad.ops.conv import Conv2D

    rng = np.random.default_rng(22)
    x, k, b = rng.normal(size=xshape), rng.normal(size=kshape), rng.normal(size=kshape[3])
    args = dict(stride=(stride, stride), dilation=(dilation, dilation), padding=padding, band=1)
    assert tg.gradcheck(lambda x, k, b: Conv2D.apply(x, k, b, **args), [x, k, b])
    assert tg.gradcheck(lambda x, k: Conv2D.apply(x, k, **args), [x, k])
