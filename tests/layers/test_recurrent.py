"""Recurrent layers: against PyTorch (weights mapped), against Keras's formulas written out in
NumPy, finite differences of the one-node loop in float64, masks, state, dropout, configs."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops.recurrent import recurrence

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _sig(x):
    return 1 / (1 + np.exp(-x))


# -- Keras 3's formulas, step by step in NumPy (keras/src/layers/rnn/{lstm,gru,simple_rnn}.py) --
def keras_lstm(x, K, R, b, h, c):
    U = R.shape[0]
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ K + h @ R + b
        i, f, o = _sig(z[:, :U]), _sig(z[:, U:2 * U]), _sig(z[:, 3 * U:])
        c = f * c + i * np.tanh(z[:, 2 * U:3 * U])
        h = o * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def keras_gru(x, K, R, b, h, reset_after=True):
    U = R.shape[0]
    outs = []
    for t in range(x.shape[1]):
        if reset_after:
            u = x[:, t] @ K + b[0]
            w = h @ R + b[1]
            z, r = _sig(u[:, :U] + w[:, :U]), _sig(u[:, U:2 * U] + w[:, U:2 * U])
            hh = np.tanh(u[:, 2 * U:] + r * w[:, 2 * U:])
        else:
            u = x[:, t] @ K + b
            w = h @ R[:, :2 * U]
            z, r = _sig(u[:, :U] + w[:, :U]), _sig(u[:, U:2 * U] + w[:, U:])
            hh = np.tanh(u[:, 2 * U:] + (r * h) @ R[:, 2 * U:])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, 1), h


def keras_simple(x, K, R, b, h):
    outs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ K + b + h @ R)
        outs.append(h)
    return np.stack(outs, 1), h


def _weights(d, u, gates, bias_shape, rng, scale=0.5):
    return [rng.normal(0, scale, (d, gates * u)), rng.normal(0, scale, (u, gates * u)),
            rng.normal(0, scale, bias_shape)]


# -- set_weights in Keras's layout gives Keras's numbers --------------------------------------
@pytest.mark.parametrize("go_backwards", [False, True])
def test_lstm_keras_layout_matches_the_formulas(go_backwards):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 6, 4))
    w = _weights(4, 5, 4, (20,), rng)
    layer = tg.layers.LSTM(5, return_sequences=True, return_state=True, go_backwards=go_backwards, dtype="float64")
    layer.build((None, 6, 4))
    layer.set_weights(w)
    seq, h, c = layer(x)
    z = np.zeros((3, 5))
    ref_seq, ref_h, ref_c = keras_lstm(x[:, ::-1] if go_backwards else x, *w, z, z)
    np.testing.assert_allclose(seq.numpy(), ref_seq, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), ref_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c.numpy(), ref_c, rtol=1e-12, atol=1e-12)


def test_lstm_float32_matches_the_exact_logistic_and_keeps_its_weights_in_keras_layout():
    # the node reorders and halves the gates internally; the layer's weights stay as set, and
    # its float32 numbers match the formulas with 1 / (1 + exp(-z)) in float64 to float32 rounding
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 7, 5)).astype(np.float32)
    w = [a.astype(np.float32) for a in _weights(5, 6, 4, (24,), rng, scale=0.8)]
    layer = tg.layers.LSTM(6, return_sequences=True, return_state=True)
    layer.build((None, 7, 5))
    layer.set_weights(w)
    seq, h, c = layer(x)
    z = np.zeros((4, 6))
    ref_seq, ref_h, ref_c = keras_lstm(x.astype(np.float64), *[a.astype(np.float64) for a in w], z, z)
    np.testing.assert_allclose(seq.numpy(), ref_seq, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(c.numpy(), ref_c, rtol=1e-5, atol=2e-6)
    for got, expected in zip(layer.get_weights(), w):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_keras_layout_matches_the_formulas(reset_after):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 4))
    w = _weights(4, 5, 3, (2, 15) if reset_after else (15,), rng)
    h0 = rng.normal(size=(3, 5))
    layer = tg.layers.GRU(5, return_sequences=True, return_state=True, reset_after=reset_after, dtype="float64")
    layer.build((None, 6, 4))
    assert [v.shape for v in layer.weights] == [a.shape for a in w]
    layer.set_weights(w)
    seq, h = layer(x, initial_state=[h0])
    ref_seq, ref_h = keras_gru(x, *w, h0, reset_after)
    np.testing.assert_allclose(seq.numpy(), ref_seq, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), ref_h, rtol=1e-12, atol=1e-12)


def test_simple_rnn_keras_layout_matches_the_formula():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 7, 3))
    w = _weights(3, 4, 1, (4,), rng)
    layer = tg.layers.SimpleRNN(4, dtype="float64")
    layer.build((None, 7, 3))
    layer.set_weights(w)
    np.testing.assert_allclose(layer(x).numpy(), keras_simple(x, *w, np.zeros((2, 4)))[1], rtol=1e-12)


def test_defaults_follow_keras():
    lstm = tg.layers.LSTM(6)
    lstm.build((None, 3, 4))
    assert [v.shape for v in lstm.weights] == [(4, 24), (6, 24), (24,)]
    assert lstm.bias.numpy().tolist() == [0.0] * 6 + [1.0] * 6 + [0.0] * 12  # unit_forget_bias
    r = lstm.recurrent_kernel.numpy()
    assert r.shape == (6, 24)
    np.testing.assert_allclose(r @ r.T, np.eye(6), atol=1e-5)  # orthogonal rows (semi-orthogonal matrix)
    assert np.abs(lstm.kernel.numpy()).max() <= np.sqrt(6 / (4 + 24)) + 1e-7  # glorot_uniform
    gru = tg.layers.GRU(6)
    gru.build((None, 3, 4))
    assert gru.bias.shape == (2, 18) and gru.reset_after and not gru.bias.numpy().any()
    assert tg.layers.LSTM(3).activation is tg.activations.tanh
    assert tg.layers.GRU(3).recurrent_activation is tg.activations.sigmoid


# -- against PyTorch, outputs and gradients (float32) ------------------------------------------
def _torch_case(kind, go_backwards):
    rng = np.random.default_rng(4)
    n, t, d, u = 3, 7, 5, 6
    x = rng.normal(size=(n, t, d)).astype(np.float32)
    h0 = rng.normal(size=(n, u)).astype(np.float32)
    c0 = rng.normal(size=(n, u)).astype(np.float32)
    if kind == "lstm":
        ref = torch.nn.LSTM(d, u, batch_first=True)
        layer = tg.layers.LSTM(u, return_sequences=True, return_state=True, go_backwards=go_backwards)
    elif kind == "gru":
        ref = torch.nn.GRU(d, u, batch_first=True)
        layer = tg.layers.GRU(u, return_sequences=True, return_state=True, go_backwards=go_backwards)
    else:
        ref = torch.nn.RNN(d, u, batch_first=True)
        layer = tg.layers.SimpleRNN(u, return_sequences=True, return_state=True, go_backwards=go_backwards)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.tensor(rng.normal(0, 0.4, size=tuple(p.shape)).astype(np.float32)))
    W_ih, W_hh = ref.weight_ih_l0.detach().numpy(), ref.weight_hh_l0.detach().numpy()
    b_ih, b_hh = ref.bias_ih_l0.detach().numpy(), ref.bias_hh_l0.detach().numpy()
    if kind == "gru":  # torch's gates r, z, n -> Keras's z, r, h; separate input/recurrent biases
        perm = np.concatenate([np.arange(u, 2 * u), np.arange(0, u), np.arange(2 * u, 3 * u)])
        weights = [W_ih[perm].T, W_hh[perm].T, np.stack([b_ih[perm], b_hh[perm]])]
    else:  # LSTM gates i, f, g, o are Keras's i, f, c, o
        weights = [W_ih.T, W_hh.T, b_ih + b_hh]
    layer.build((None, t, d))
    layer.set_weights(weights)
    return x, h0, c0, ref, layer


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_outputs_and_gradients_match_torch(kind, go_backwards):
    x, h0, c0, ref, layer = _torch_case(kind, go_backwards)
    rng = np.random.default_rng(5)
    states0 = [h0, c0] if kind == "lstm" else [h0]
    xt = torch.tensor(x[:, ::-1].copy() if go_backwards else x, requires_grad=True)
    st = [torch.tensor(s[None], requires_grad=True) for s in states0]
    seq_t, fin_t = ref(xt, tuple(st) if kind == "lstm" else st[0])
    fin_t = list(fin_t) if kind == "lstm" else [fin_t]
    w_seq = rng.normal(size=seq_t.shape).astype(np.float32)
    w_fin = [rng.normal(size=(x.shape[0], h0.shape[1])).astype(np.float32) for _ in fin_t]
    loss_t = (seq_t * torch.tensor(w_seq)).sum() + sum((f[0] * torch.tensor(w)).sum() for f, w in zip(fin_t, w_fin))
    loss_t.backward()

    xv = tg.Variable(x)
    sv = [tg.Variable(s) for s in states0]
    with tg.GradientTape() as tape:
        out = layer(xv, initial_state=sv)
        seq, fin = out[0], out[1:]
        loss = tg.sum(seq * w_seq) + sum(tg.sum(f * w) for f, w in zip(fin, w_fin))
    grads = tape.gradient(loss, [xv, *sv, *layer.weights])
    np.testing.assert_allclose(seq.numpy(), seq_t.detach().numpy(), rtol=1e-5, atol=1e-5)
    for f, ft in zip(fin, fin_t):
        np.testing.assert_allclose(f.numpy(), ft[0].detach().numpy(), rtol=1e-5, atol=1e-5)
    gx = xt.grad.numpy()
    np.testing.assert_allclose(grads[0].numpy(), gx[:, ::-1] if go_backwards else gx, rtol=1e-4, atol=1e-4)
    for g, s in zip(grads[1:1 + len(sv)], st):
        np.testing.assert_allclose(g.numpy(), s.grad[0].numpy(), rtol=1e-4, atol=1e-4)
    gk, gr, gb = [g.numpy() for g in grads[1 + len(sv):]]
    W_ih, W_hh = ref.weight_ih_l0.grad.numpy(), ref.weight_hh_l0.grad.numpy()
    b_ih, b_hh = ref.bias_ih_l0.grad.numpy(), ref.bias_hh_l0.grad.numpy()
    if kind == "gru":
        u = h0.shape[1]
        perm = np.concatenate([np.arange(u, 2 * u), np.arange(0, u), np.arange(2 * u, 3 * u)])
        W_ih, W_hh, bias = W_ih[perm], W_hh[perm], np.stack([b_ih[perm], b_hh[perm]])
    else:
        bias = b_ih  # the summed bias gets what each of torch's two gets
        np.testing.assert_allclose(b_ih, b_hh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gk, W_ih.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gr, W_hh.T, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gb, bias, rtol=1e-4, atol=1e-4)


def test_the_loop_is_one_node_per_call():
    layer = tg.layers.LSTM(4, return_sequences=True)
    x = tg.Variable(RNG.normal(size=(2, 30, 3)).astype(np.float32))
    out = layer(x)
    # the sequence is a slice of the one Recurrence node
    assert type(out._ctx).__name__ == "GetItem" and type(out._ctx.parents[0]._ctx).__name__ == "Recurrence"


# -- finite differences of the one-node loop, float64 -----------------------------------------
def _case(cell, gates, reset_after=True):
    rng = np.random.default_rng(7)
    n, t, d, u = 2, 4, 3, 3
    x = rng.normal(size=(n, t, d))
    K, R = rng.normal(0, 0.6, (d, gates * u)), rng.normal(0, 0.6, (u, gates * u))
    b = rng.normal(0, 0.5, (2, gates * u) if (cell == "gru" and reset_after) else (gates * u,))
    states = [rng.normal(size=(n, u)) for _ in range(2 if cell == "lstm" else 1)]
    mask = np.array([[True, False, True, True], [False, True, True, False]])
    dm = (rng.random((gates, n, d)) > 0.3) / 0.7
    rdm = (rng.random((gates, n, u)) > 0.3) / 0.7
    return x, K, R, b, states, mask, dm, rdm


@pytest.mark.parametrize("cell,gates,reset_after", [("lstm", 4, True), ("gru", 3, True), ("gru", 3, False),
                                                    ("simple", 1, True)])
@pytest.mark.parametrize("variant", ["plain", "masked_backwards", "dropout_per_gate", "dropout_shared_last",
                                     "input_dropout_per_gate", "input_dropout_shared_last", "no_bias"])
def test_recurrence_gradients_against_finite_differences(cell, gates, reset_after, variant):
    x, K, R, b, states, mask, dm, rdm = _case(cell, gates, reset_after)
    kw = dict(cell=cell, reset_after=reset_after, return_sequences=variant != "dropout_shared_last")
    if variant == "masked_backwards":
        kw.update(mask=mask, go_backwards=True)
    elif variant == "dropout_per_gate":
        kw.update(mask=mask, input_dropout=dm, recurrent_dropout=rdm, zero_output_for_mask=True)
    elif variant == "dropout_shared_last":
        kw.update(mask=mask, input_dropout=dm[:1], recurrent_dropout=rdm[:1])
    elif variant == "input_dropout_per_gate":  # the LSTM's fused loop takes input dropout without recurrent
        kw.update(mask=mask, input_dropout=dm)
    elif variant == "input_dropout_shared_last":
        kw.update(input_dropout=dm[:1], return_sequences=False)

    def fn(x, K, R, b, *states):
        return recurrence(x, K, R, None if variant == "no_bias" else b, list(states), **kw)

    assert tg.gradcheck(fn, [x, K, R, b, *states], atol=1e-6, rtol=1e-5)


def test_recurrence_without_bias_and_other_activations_against_finite_differences():
    x, K, R, b, states, mask, dm, rdm = _case("lstm", 4)

    def fn(x, K, R, *states):
        return recurrence(x, K, R, None, list(states), cell="lstm", activation="relu",
                          recurrent_activation="hard_sigmoid", return_sequences=True)

    assert tg.gradcheck(fn, [x, K * 0.3, R * 0.3, *states], atol=1e-6, rtol=1e-5)


# -- the step-by-step path (custom cells) agrees with the one-node loop ----------------------
class _StepLSTMCell(tg.layers.LSTMCell):
    """An LSTMCell whose call is overridden, so the layer runs it step by step through ops."""

    def call(self, inputs, states, training=None):
        return super().call(inputs, states, training=training)


class _StepGRUCell(tg.layers.GRUCell):
    def call(self, inputs, states, training=None):
        return super().call(inputs, states, training=training)


class _StepSimpleCell(tg.layers.SimpleRNNCell):
    def call(self, inputs, states, training=None):
        return super().call(inputs, states, training=training)


@pytest.mark.parametrize("fused,step,kwargs", [
    (tg.layers.LSTMCell, _StepLSTMCell, {}),
    (tg.layers.GRUCell, _StepGRUCell, {"reset_after": True}),
    (tg.layers.GRUCell, _StepGRUCell, {"reset_after": False}),
    (tg.layers.SimpleRNNCell, _StepSimpleCell, {}),
])
@pytest.mark.parametrize("options", [dict(return_sequences=True), dict(go_backwards=True, return_sequences=True),
                                     dict(zero_output_for_mask=True, return_sequences=True), dict()])
def test_stepwise_cells_agree_with_the_fused_loop(fused, step, kwargs, options):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 5, 4))
    mask = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1], [1, 0, 0, 0, 0]], bool)
    layers = []
    for cls in (fused, step):
        cell = cls(3, dropout=0.3, recurrent_dropout=0.4, seed=5, dtype="float64", **kwargs)
        layers.append(tg.layers.RNN(cell, return_state=True, dtype="float64", **options))
    layers[0].build((None, 5, 4))
    layers[1].build((None, 5, 4))
    layers[1].set_weights(layers[0].get_weights())
    results = []
    for layer in layers:
        xv = tg.Variable(x)
        with tg.GradientTape() as tape:
            out = layer(xv, mask=mask, training=True)
            loss = tg.sum(out[0] * np.arange(out[0].size).reshape(out[0].shape)) + tg.sum(out[-1])
        results.append([o.numpy() for o in out] + [g.numpy() for g in tape.gradient(loss, [xv, *layer.weights])])
    assert type(layers[1].cell).call is not tg.layers.LSTMCell.call
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# -- masks ---------------------------------------------------------------------------------------
def test_masked_steps_keep_the_state_and_repeat_the_output():
    rng = np.random.default_rng(12)
    w = _weights(4, 3, 4, (12,), rng)
    x = rng.normal(size=(1, 5, 4))
    mask = np.array([[False, True, False, True, True]])
    layer = tg.layers.LSTM(3, return_sequences=True, return_state=True, dtype="float64")
    layer.build((None, 5, 4))
    layer.set_weights(w)
    seq, h, c = layer(x, mask=mask)
    z = np.zeros((1, 3))
    ref_seq, ref_h, ref_c = keras_lstm(x[:, [1, 3, 4]], *w, z, z)  # the kept steps alone
    expected = np.stack([z[0], ref_seq[0, 0], ref_seq[0, 0], ref_seq[0, 1], ref_seq[0, 2]])[None]
    np.testing.assert_allclose(seq.numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(h.numpy(), ref_h, atol=1e-12)
    np.testing.assert_allclose(c.numpy(), ref_c, atol=1e-12)


def test_embedding_mask_zero_reaches_the_lstm_and_padding_changes_nothing():
    tg.random.set_seed(3)
    model = tg.Sequential([tg.Input(shape=(None,)), tg.layers.Embedding(10, 4, mask_zero=True), tg.layers.GRU(5)])
    padded = model(np.array([[3, 7, 2, 0, 0]])).numpy()
    short = model(np.array([[3, 7, 2]])).numpy()
    np.testing.assert_allclose(padded, short, rtol=1e-6)
    masking = tg.Sequential([tg.layers.Masking(0.0), tg.layers.SimpleRNN(3, return_sequences=True)])
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 1.0]]], dtype=np.float32)
    seq = masking(x)
    np.testing.assert_allclose(seq.numpy()[0, 1], seq.numpy()[0, 0])  # the masked step repeats
    assert get_mask_list(seq) == [[True, False, True]]


def get_mask_list(t):
    from tapegrad.layers.base import get_mask

    return get_mask(t).numpy().tolist()


# -- state ---------------------------------------------------------------------------------------
def test_stateful_layer_continues_where_it_stopped_and_resets():
    rng = np.random.default_rng(13)
    x = rng.normal(size=(2, 8, 3)).astype(np.float32)
    layer = tg.layers.LSTM(4, return_sequences=True, stateful=True)
    full = tg.layers.LSTM(4, return_sequences=True)
    first = layer(x[:, :5]).numpy()
    second = layer(x[:, 5:]).numpy()
    full.build((None, 8, 3))
    full.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.concatenate([first, second], 1), full(x).numpy(), rtol=1e-5, atol=1e-6)
    layer.reset_states()
    assert not any(s.numpy().any() for s in layer.states)
    np.testing.assert_allclose(layer(x[:, :5]).numpy(), first, rtol=1e-6)
    assert layer(x[:1, :5]).shape == (1, 5, 4)  # another batch size starts from zeros


def test_model_reset_states_and_initial_state_errors():
    model = tg.Sequential([tg.layers.Embedding(5, 3), tg.layers.GRU(4, stateful=True)])
    model(np.array([[1, 2, 3]]))
    assert model.layers[1].states[0].numpy().any()
    model.reset_states()
    assert not model.layers[1].states[0].numpy().any()
    layer = tg.layers.LSTM(4)
    with pytest.raises(ValueError, match=r"expected 2 initial state\(s\), received 1"):
        layer(np.ones((2, 3, 3)), initial_state=[np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"expected initial states of shape \(2, 4\), received shape \(3, 4\)"):
        layer(np.ones((2, 3, 3)), initial_state=[np.zeros((3, 4)), np.zeros((2, 4))])


# -- dropout -------------------------------------------------------------------------------------
def test_dropout_mask_is_fixed_across_time_and_off_at_inference():
    layer = tg.layers.SimpleRNN(6, activation="linear", use_bias=False, dropout=0.5, seed=1)
    layer.build((None, 4, 6))
    layer.set_weights([np.eye(6), np.zeros((6, 6))])
    x = np.ones((3, 4, 6), dtype=np.float32)
    seq = tg.layers.RNN(layer.cell, return_sequences=True)(x, training=True).numpy()
    assert set(np.unique(seq)) <= {0.0, 2.0} and 0 < (seq == 0).mean() < 1
    assert (seq == seq[:, :1]).all()  # the same mask at every step
    np.testing.assert_array_equal(layer(x, training=False).numpy(), np.ones((3, 6)))


# -- layers around recurrent ones ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
def test_bidirectional_merges_a_forward_and_a_reversed_backward_pass(mode):
    rng = np.random.default_rng(14)
    x = rng.normal(size=(2, 5, 3))
    layer = tg.layers.Bidirectional(tg.layers.LSTM(4, return_sequences=True, dtype="float64"), merge_mode=mode,
                                    dtype="float64")
    out = layer(x)
    fw, bw = layer.forward_layer.get_weights(), layer.backward_layer.get_weights()
    z = np.zeros((2, 4))
    f = keras_lstm(x, *fw, z, z)[0]
    b = keras_lstm(x[:, ::-1], *bw, z, z)[0][:, ::-1]
    expected = {"concat": np.concatenate([f, b], -1), "sum": f + b, "mul": f * b, "ave": (f + b) / 2}
    if mode is None:
        np.testing.assert_allclose(out[0].numpy(), f, atol=1e-12)
        np.testing.assert_allclose(out[1].numpy(), b, atol=1e-12)
    else:
        np.testing.assert_allclose(out.numpy(), expected[mode], atol=1e-12)
        assert layer.compute_output_shape((None, 5, 3)) == out.shape[:0] + (None, 5, 8 if mode == "concat" else 4)
    assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"] * 2


def test_time_distributed_applies_one_layer_at_every_step():
    x = RNG.normal(size=(2, 6, 3)).astype(np.float32)
    layer = tg.layers.TimeDistributed(tg.layers.Dense(5))
    out = layer(x)
    k, b = layer.layer.get_weights()
    np.testing.assert_allclose(out.numpy(), x @ k + b, rtol=1e-6)
    assert layer.compute_output_shape((None, 6, 3)) == (None, 6, 5)


# -- configs, saving, shapes, errors, regularizers ----------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: tg.layers.LSTM(4, return_sequences=True, dropout=0.1, unit_forget_bias=False,
                           kernel_regularizer="l2", go_backwards=True),
    lambda: tg.layers.GRU(4, reset_after=False, return_state=True, recurrent_activation="hard_sigmoid"),
    lambda: tg.layers.SimpleRNN(4, activation="relu", stateful=True),
    lambda: tg.layers.RNN(tg.layers.GRUCell(4), return_sequences=True),
    lambda: tg.layers.Bidirectional(tg.layers.GRU(4, return_sequences=True), merge_mode="sum"),
    lambda: tg.layers.TimeDistributed(tg.layers.Dense(4)),
])
def test_config_round_trip_gives_the_same_numbers(make):
    layer = make()
    x = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    out = layer(x)
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    a, b = (out, clone(x)) if not getattr(layer, "stateful", False) else (layer(x), clone(x))
    if getattr(layer, "stateful", False):
        layer.reset_states()
        clone.reset_states()
        a, b = layer(x), clone(x)
    a, b = (a[0], b[0]) if isinstance(a, list) else (a, b)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    assert clone.get_config() == {**layer.get_config(), "name": clone.name} or type(layer) is tg.layers.Bidirectional
    shape = layer.compute_output_shape((2, 5, 3))
    shape = shape[0] if isinstance(shape, list) else shape
    assert tuple(shape) == a.shape


def test_model_with_recurrent_layers_saves_and_loads(tmp_path):
    model = tg.Sequential([tg.layers.Embedding(12, 4, mask_zero=True),
                           tg.layers.Bidirectional(tg.layers.LSTM(5, return_sequences=True)),
                           tg.layers.GRU(3), tg.layers.Dense(2)])
    ids = np.array([[1, 4, 0, 0], [3, 2, 7, 1]])
    ref = model(ids).numpy()
    model.save(tmp_path / "m.tapegrad")
    again = tg.models.load_model(tmp_path / "m.tapegrad")
    np.testing.assert_allclose(again(ids).numpy(), ref, rtol=1e-6)
    model.save_weights(tmp_path / "w.weights.safetensors")


def test_regularizers_and_bad_input_are_reported():
    layer = tg.layers.LSTM(3, kernel_regularizer=tg.regularizers.L2(0.1), recurrent_regularizer="l1")
    layer(np.ones((1, 2, 2), dtype=np.float32))
    expected = 0.1 * (layer.kernel.numpy() ** 2).sum() + 0.01 * np.abs(layer.recurrent_kernel.numpy()).sum()
    assert float(sum(l.numpy() for l in layer.losses)) == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match=r"LSTM '.*': expected input with last dimension 2, received shape \(1, 2, 5\)"):
        layer(np.ones((1, 2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, steps, features\), received shape \(4, 2\)"):
        tg.layers.GRU(3)(np.ones((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="units must be a positive integer, received 0"):
        tg.layers.LSTM(0)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\), received 1.5"):
        tg.layers.GRU(3, dropout=1.5)
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        tg.layers.Bidirectional(tg.layers.LSTM(3), merge_mode="max")


def test_fit_trains_a_recurrent_model():
    tg.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 2)).astype(np.float32)
    y = (x[:, :, 0].sum(1) > 0).astype(np.float32)[:, None]  # the sign of a running sum
    model = tg.Sequential([tg.Input(shape=(6, 2)), tg.layers.GRU(8), tg.layers.Dense(1)])
    model.compile(optimizer=tg.optimizers.Adam(0.05), loss=tg.losses.BinaryCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.85


def test_bidirectional_with_a_mask_outputs_zeros_at_padding_in_both_directions():
    rng = np.random.default_rng(15)
    x = rng.normal(size=(1, 4, 3))
    mask = np.array([[True, True, True, False]])
    layer = tg.layers.Bidirectional(tg.layers.GRU(2, return_sequences=True, dtype="float64"), dtype="float64")
    out = layer(x, mask=mask).numpy()
    assert not out[0, 3].any()  # Keras forces zero_output_for_mask on both directions
    fw, bw = layer.forward_layer.get_weights(), layer.backward_layer.get_weights()
    z = np.zeros((1, 2))
    np.testing.assert_allclose(out[0, :3, :2], keras_gru(x[:, :3], *fw, z)[0][0], atol=1e-12)
    np.testing.assert_allclose(out[0, :3, 2:], keras_gru(x[:, 2::-1], *bw, z)[0][0][::-1], atol=1e-12)


def test_the_labs_generation_code_runs_as_written():
    vocab_size, batch_size = 20, 1
    model = tg.Sequential([tg.layers.Embedding(vocab_size, 8, batch_input_shape=[batch_size, None]),
                           tg.layers.LSTM(16, return_sequences=True, recurrent_initializer="glorot_uniform",
                                          recurrent_activation="sigmoid", stateful=True),
                           tg.layers.Dense(vocab_size)])
    model.build((1, None))
    input_eval = tg.expand_dims([3, 4, 5], 0)
    model.reset_states()
    generated = []
    for _ in range(5):
        predictions = model(input_eval)
        predictions = tg.squeeze(predictions, 0)
        predicted_id = tg.random.categorical(predictions, num_samples=1)[-1, 0].numpy()
        input_eval = tg.expand_dims([predicted_id], 0)
        generated.append(int(predicted_id))
    assert len(generated) == 5 and all(0 <= i < vocab_size for i in generated)
    assert model.layers[1].states[0].shape == (1, 16)


@pytest.mark.parametrize("cls,kwargs", [(tg.layers.SimpleRNNCell, {"activation": "relu"}),
                                        (tg.layers.LSTMCell, {"unit_forget_bias": False, "dropout": 0.2}),
                                        (tg.layers.GRUCell, {"reset_after": False, "seed": 3})])
def test_cells_round_trip_their_config_and_report_their_shape(cls, kwargs):
    cell = cls(5, **kwargs)
    clone = cls.from_config(cell.get_config())
    assert {k: v for k, v in clone.get_config().items() if k != "name"} == \
        {k: v for k, v in cell.get_config().items() if k != "name"}
    assert cell.compute_output_shape((None, 3)) == (None, 5)
    states = [np.zeros((2, 5), np.float32)] * (2 if cls is tg.layers.LSTMCell else 1)
    out, new_states = cell(np.ones((2, 3), np.float32), states)
    assert out.shape == (2, 5) and len(new_states) == len(states)


@pytest.mark.parametrize("masked", [False, True])
def test_lstm_gradients_with_a_batch_of_16_against_finite_differences(masked):
    # a batch of 16 or more takes the node's other copy of the gradients for the weights' products
    rng = np.random.default_rng(3)
    n, t, d, u = 16, 3, 2, 2
    x = rng.normal(size=(n, t, d))
    K, R, b = rng.normal(0, 0.6, (d, 4 * u)), rng.normal(0, 0.6, (u, 4 * u)), rng.normal(0, 0.5, (4 * u,))
    states = [rng.normal(size=(n, u)) for _ in range(2)]
    mask = rng.random((n, t)) > 0.3 if masked else None

    def fn(x, K, R, b, *states):
        return recurrence(x, K, R, b, list(states), cell="lstm", return_sequences=True, mask=mask)

    assert tg.gradcheck(fn, [x, K, R, b, *states], atol=1e-6, rtol=1e-5)


# -- the GRU's fused loop (reset_after, tanh, sigmoid, no recurrent dropout) ---------------------
def _gru_case(n, t=5, d=3, u=4, seed=21):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, d))
    K, R = rng.normal(0, 0.6, (d, 3 * u)), rng.normal(0, 0.6, (u, 3 * u))
    b = rng.normal(0, 0.5, (2, 3 * u))
    h0 = rng.normal(size=(n, u))
    mask = rng.random((n, t)) > 0.35
    mask[0] = [False] + [True] * (t - 1)  # a sequence that starts with padding
    dm = (rng.random((3, n, d)) > 0.3) / 0.7
    return x, K, R, b, h0, mask, dm


def _gru_node(out):
    node = out._ctx
    assert type(node).__name__ == "Recurrence" and node.cell == "gru"
    return node


GRU_VARIANTS = {
    "plain": dict(return_sequences=True),
    "last_output": dict(),
    "masked": dict(mask=True, return_sequences=True),
    "masked_last_output": dict(mask=True),
    "masked_backwards": dict(mask=True, go_backwards=True, return_sequences=True),
    "masked_zero_output": dict(mask=True, zero_output_for_mask=True, return_sequences=True),
    "backwards_no_bias": dict(go_backwards=True, return_sequences=True, bias=None),
    "input_bias_only": dict(return_sequences=True, bias="1d"),
    "input_dropout_per_gate": dict(mask=True, input_dropout="per_gate", return_sequences=True),
    "input_dropout_shared": dict(input_dropout="shared"),
}


def _gru_call(variant, n):
    x, K, R, b, h0, mask, dm = _gru_case(n)
    kw = dict(GRU_VARIANTS[variant])
    bias = kw.pop("bias", "2d")
    bias = {None: None, "1d": b[0], "2d": b}[bias]
    if kw.pop("mask", False):
        kw["mask"] = mask
    if "input_dropout" in kw:
        kw["input_dropout"] = dm if kw["input_dropout"] == "per_gate" else dm[:1]
    inputs = [x, K, R, h0] + ([] if bias is None else [bias])

    def fn(x, K, R, h0, *b):
        return recurrence(x, K, R, b[0] if b else None, [h0], cell="gru", **kw)

    return fn, inputs


def _run_gru(fn, inputs, fused, monkeypatch):
    """Outputs and gradients of a weighted sum of ``fn``'s packed output (weights fixed by its
    shape), with the fused loop allowed for the GRU or not."""
    from tapegrad.ops.recurrent import Recurrence

    monkeypatch.setattr(Recurrence, "fused_cells", frozenset({"lstm", "gru"} if fused else {"lstm"}))
    vs = [tg.Variable(a) for a in inputs]
    with tg.GradientTape() as tape:
        out = fn(*vs)
        loss = tg.sum(out * np.random.default_rng(5).normal(size=out.shape))
    assert _gru_node(out).fused is fused
    return [out.numpy()] + [g.numpy() for g in tape.gradient(loss, vs)]


@pytest.mark.parametrize("variant", list(GRU_VARIANTS))
@pytest.mark.parametrize("n", [3, 17])  # a batch of 16 or more takes the other copy for the weights' products
def test_gru_fused_loop_agrees_with_the_generic_loop(variant, n, monkeypatch):
    fn, inputs = _gru_call(variant, n)
    fused = _run_gru(fn, inputs, True, monkeypatch)
    generic = _run_gru(fn, inputs, False, monkeypatch)
    assert len(fused) == len(inputs) + 1
    for a, b in zip(fused, generic):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("variant", ["plain", "masked", "masked_last_output", "masked_backwards",
                                     "masked_zero_output", "backwards_no_bias", "input_bias_only",
                                     "input_dropout_per_gate"])
@pytest.mark.parametrize("n", [3, 16])
def test_gru_fused_loop_gradients_against_finite_differences(variant, n):
    fn, inputs = _gru_call(variant, n)
    assert _gru_node(fn(*[tg.Variable(a) for a in inputs])).fused
    assert tg.gradcheck(fn, inputs, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_gru_fused_loop_with_a_mask_matches_the_formulas_on_the_kept_steps(go_backwards):
    # Keras's formulas run over the kept steps alone give the final state; the outputs at
    # masked steps repeat the previous one (zeros before the first kept step)
    x, K, R, b, h0, mask, dm = _gru_case(4, t=6, seed=23)
    out = recurrence(tg.Variable(x), K, R, b, [h0], cell="gru", mask=mask, go_backwards=go_backwards,
                     return_sequences=True)
    assert _gru_node(out).fused
    order = np.arange(6)[::-1] if go_backwards else np.arange(6)
    for i in range(4):
        kept = [t for t in order if mask[i, t]]
        ref_seq, ref_h = keras_gru(x[i:i + 1, kept], K, R, b, h0[i:i + 1])
        np.testing.assert_allclose(out.numpy()[i, 6], ref_h[0], rtol=1e-12, atol=1e-12)
        prev, k = np.zeros(4), 0
        for s, t in enumerate(order):
            if mask[i, t]:
                prev, k = ref_seq[0, k], k + 1
            np.testing.assert_allclose(out.numpy()[i, s], prev, rtol=1e-12, atol=1e-12)


def test_gru_layer_with_keras_defaults_takes_the_fused_loop_in_float32():
    rng = np.random.default_rng(24)
    x = rng.normal(size=(5, 7, 3)).astype(np.float32)
    w = [a.astype(np.float32) for a in _weights(3, 6, 3, (2, 18), rng, scale=0.8)]
    h0 = rng.normal(size=(5, 6)).astype(np.float32)
    layer = tg.layers.GRU(6, return_sequences=True, return_state=True)
    layer.build((None, 7, 3))
    layer.set_weights(w)
    seq, h = layer(x, initial_state=[h0])
    assert _gru_node(h._ctx.parents[0]).fused  # the state is a slice of the one Recurrence node
    ref_seq, ref_h = keras_gru(x.astype(np.float64), *[a.astype(np.float64) for a in w], h0.astype(np.float64))
    assert seq.dtype == np.float32
    np.testing.assert_allclose(seq.numpy(), ref_seq, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(h.numpy(), ref_h, rtol=1e-5, atol=2e-6)
    for got, expected in zip(layer.get_weights(), w):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("options", [dict(reset_after=False), dict(recurrent_activation="hard_sigmoid"),
                                     dict(activation="relu"), dict(recurrent_dropout=0.3)])
def test_gru_other_configurations_take_the_generic_loop(options):
    layer = tg.layers.GRU(4, return_state=True, seed=1, **options)
    _, h = layer(np.ones((2, 3, 2), np.float32), training=True)
    assert not _gru_node(h._ctx.parents[0]).fused


def test_recurrence_refuses_a_two_row_bias_where_only_a_gru_with_reset_after_reads_one():
    from tapegrad.ops.recurrent import recurrence

    x = tg.ones((2, 3, 4))
    for cell, gates, reset_after in (("simple", 1, True), ("lstm", 4, True), ("gru", 3, False)):
        k, r = tg.zeros((4, gates * 5)), tg.zeros((5, gates * 5))
        states = [tg.zeros((2, 5))] * (2 if cell == "lstm" else 1)
        with pytest.raises(ValueError, match=r"received shape \(2, %d\) for cell '%s'" % (gates * 5, cell)):
            recurrence(x, k, r, tg.zeros((2, gates * 5)), states, cell=cell, reset_after=reset_after)
    out = recurrence(x, tg.zeros((4, 15)), tg.zeros((5, 15)), tg.zeros((2, 15)), [tg.zeros((2, 5))], cell="gru",
                     reset_after=True)
    assert out.shape == (2, 2, 5)
