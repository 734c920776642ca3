"""10. Music generation: a character-level LSTM learns Irish folk songs and writes new ones.

The course's Lab 1, Part 2. The songs are in ABC notation (a text format for tunes); the
model reads them one character at a time and learns to predict the next character:

    Embedding(83 characters -> 256) -> LSTM(1024, return_sequences, stateful) -> Dense(83 logits)

trained with sparse cross-entropy from logits and Adam in a custom ``GradientTape`` step
(decorated with ``tg.function``, as the lab's),
on random windows of 100 characters. Then the weights are loaded into the same model
rebuilt for a batch of one, and new text is sampled one character at a time with
``tg.random.categorical``, feeding each character back in while the LSTM keeps its state.

    python examples/10_music_generation.py --data ../shared/data/music/irish.abc --out music-out
    python examples/10_music_generation.py --quick          # a smaller model, a few minutes on 2 cores

Writes to --out: the checkpoint (``music.weights.safetensors``), the loss of every step
(``losses.csv``) and the generated songs (``generated.abc``; play them with any ABC player).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np
from tqdm import tqdm  # type: ignore[import-untyped]  # a core dependency; it ships no type hints

import tapegrad as tg

LAB: dict[str, Any] = dict(embedding_dim=256, rnn_units=1024, batch_size=8, seq_length=100, learning_rate=5e-3, steps=3000)
QUICK: dict[str, Any] = dict(embedding_dim=64, rnn_units=256, batch_size=32, seq_length=100, learning_rate=1e-2, steps=200)


def build_model(vocab_size: int, embedding_dim: int, rnn_units: int, batch_size: int) -> tg.Sequential:
    """The lab's model (its ``LSTM`` helper: Glorot-initialized recurrent kernel, stateful)."""
    return tg.Sequential([
        tg.layers.Embedding(vocab_size, embedding_dim, batch_input_shape=[batch_size, None]),
        tg.layers.LSTM(rnn_units, return_sequences=True, recurrent_initializer="glorot_uniform",
                       recurrent_activation="sigmoid", stateful=True),
        tg.layers.Dense(vocab_size),
    ], name="music_lstm")


def compute_loss(labels: Any, logits: tg.Tensor) -> tg.Tensor:
    return tg.reduce_mean(tg.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True))


def _progress(total: int, show: bool) -> Any:
    return tqdm(total=total, disable=not show, dynamic_ncols=True)


def generate_text(model: tg.Sequential, vocab: tg.data.CharVocabulary, start_string: str = "X", generation_length: int = 1000, show: bool = True) -> str:
    """Sample ``generation_length`` characters after ``start_string`` (the lab's loop)."""
    input_eval = vocab.encode(start_string)[None, :]
    generated = []
    model.reset_states()
    bar = _progress(generation_length, show)
    for _ in range(generation_length):
        predictions = model(input_eval)  # (1, steps, vocab) logits
        predicted_id = int(tg.random.categorical(predictions[0, -1:], num_samples=1)[-1, 0].numpy())
        input_eval = np.array([[predicted_id]])
        generated.append(vocab.idx2char[predicted_id])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return start_string + "".join(generated)


def main(data: str | None = None, out: str = "music-out", quick: bool = False, steps: int | None = None,
         generation_length: int = 1500, seed: int = 0, show: bool = True) -> dict[str, Any]:
    data = data or os.environ.get("TAPEGRAD_DATA") or os.path.join("..", "shared", "data", "music", "irish.abc")
    songs = tg.data.load_songs(data)
    songs_joined = "\n\n".join(songs)
    vocab = tg.data.CharVocabulary(songs_joined)
    vectorized = vocab.encode(songs_joined)
    hp: dict[str, Any] = dict(QUICK if quick else LAB)
    if steps is not None:
        hp["steps"] = int(steps)
    print(f"{len(songs)} songs, {len(songs_joined):,} characters, {len(vocab)} distinct; settings {hp}")

    tg.random.set_seed(seed)
    model = build_model(len(vocab), hp["embedding_dim"], hp["rnn_units"], hp["batch_size"])
    model.summary()
    optimizer = tg.optimizers.Adam(hp["learning_rate"])

    @tg.function  # as the lab: recorded on the first call, then replayed
    def train_step(x: np.ndarray, y: np.ndarray) -> tg.Tensor:
        with tg.GradientTape() as tape:
            y_hat = model(x)
            loss = compute_loss(y, y_hat)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    os.makedirs(out, exist_ok=True)
    checkpoint = os.path.join(out, "music.weights.safetensors")
    losses = []
    bar = _progress(hp["steps"], show)
    start = time.perf_counter()
    for step in range(hp["steps"]):
        x, y = tg.data.char_batch(vectorized, hp["seq_length"], hp["batch_size"])
        # The windows are drawn at random, so the state the stateful LSTM carries from the previous
        # batch belongs to unrelated text: start each batch from zeros, as generation starts. (The
        # lab's notebook carries it over; then the cell state grows over thousands of steps, and a
        # model trained that way predicts badly from the zero state it is sampled from.)
        model.reset_states()
        losses.append(float(train_step(x, y).numpy()))
        if bar is not None:
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            bar.update(1)
        if (step + 1) % 100 == 0 or step + 1 == hp["steps"]:
            model.save_weights(checkpoint)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    with open(os.path.join(out, "losses.csv"), "w") as f:
        f.write("step,loss\n" + "".join(f"{i + 1},{v:.5f}\n" for i, v in enumerate(losses)))
    final = float(np.mean(losses[-20:]))
    print(f"trained {hp['steps']} steps in {seconds:.0f} s: loss {losses[0]:.3f} -> {final:.3f} nats/char "
          f"(mean of the last {min(20, len(losses))} steps)")

    # rebuild for a batch of one, load the checkpoint, sample
    generator = build_model(len(vocab), hp["embedding_dim"], hp["rnn_units"], batch_size=1)
    generator.load_weights(checkpoint)
    text = generate_text(generator, vocab, start_string="X", generation_length=generation_length, show=show)
    generated = [s for s in tg.data.extract_songs(text) if s.startswith("X:")] or [text]
    path = os.path.join(out, "generated.abc")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n\n".join(generated) + "\n")
    os.replace(path + ".tmp", path)
    print(f"{len(generated)} generated song(s) in {path}; the first:\n{generated[0]}")
    return {"losses": losses, "final_loss": final, "seconds": seconds, "songs": generated, "path": path,
            "checkpoint": checkpoint}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None,
                   help="the ABC file (default $TAPEGRAD_DATA, else ../shared/data/music/irish.abc)")
    p.add_argument("--out", default="music-out", help="folder for the checkpoint, losses and songs (default music-out)")
    p.add_argument("--quick", action="store_true", help="a smaller model and 200 steps (a few minutes on 2 cores)")
    p.add_argument("--steps", "--epochs", type=int, default=None, dest="steps",
                   help="training steps (default 3000, the lab's; 200 with --quick)")
    p.add_argument("--length", type=int, default=1500, help="characters to generate (default 1500)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, the windows and the sampling (default 0)")
    a = p.parse_args()
    main(a.data, a.out, a.quick, a.steps, a.length, a.seed)
