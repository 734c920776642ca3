"""The ``tapegrad`` command: ``demo``, ``fit``, ``evaluate``, ``predict``, ``plot``, ``playground``."""

from __future__ import annotations

import argparse
import os
import sys

from .._extras import MissingExtraError
from .tabular import CliError


def check_out(path: str, option: str, folder: bool) -> None:
    """An output path that can be written, checked before any work: a folder (``folder``) or a file."""
    if folder and os.path.exists(path) and not os.path.isdir(path):
        raise CliError(f"{option} {path} is an existing file; expected a folder to write into (or a new name)")
    if not folder and os.path.isdir(path):
        raise CliError(f"{option} {path} is a folder; expected a file name")
    parent = os.path.abspath(path if folder and os.path.isdir(path) else os.path.dirname(os.path.abspath(path)))
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise CliError(f"{option} {path}: {parent} is a file, so nothing can be written under it")
    if not os.access(parent, os.W_OK):
        raise CliError(f"{option} {path}: the folder {parent} is not writable")

EXAMPLES = {
    "demo": "example:\n  tapegrad demo --out tapegrad-demo --epochs 60",
    "fit": "example:\n  tapegrad fit data/penguins.csv --target species --drop-missing --out penguin-model",
    "evaluate": "example:\n  tapegrad evaluate penguin-model data/penguins.csv --drop-missing",
    "predict": "example:\n  tapegrad predict penguin-model data/penguins.csv --drop-missing -o predictions.csv",
    "plot": "examples:\n  tapegrad plot activations --out activations.png\n  tapegrad plot landscape --out landscape.png",
    "playground": "example:\n  tapegrad playground --open",
}


def _hidden(text: str):
    try:
        units = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 32,16, received {text!r}")
    if not units or any(u <= 0 for u in units):
        raise argparse.ArgumentTypeError(f"expected positive layer sizes such as 32,16, received {text!r}")
    return units


def parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(prog="tapegrad", description="tapegrad: deep learning from the first lecture up.",
                                epilog="run 'tapegrad COMMAND --help' for the options of a command", formatter_class=fmt)
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the lecture's example, 'Will I pass this class?', end to end",
                       description="Train a network on the lecture's example and draw the pictures.",
                       epilog=EXAMPLES["demo"], formatter_class=fmt)
    d.add_argument("--out", default="tapegrad-demo", help="folder for the pictures (default: ./tapegrad-demo)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--epochs", type=int, default=60, help="maximum number of epochs (default 60)")

    f = sub.add_parser("fit", help="train a model on a CSV file", epilog=EXAMPLES["fit"], formatter_class=fmt,
                       description="Infer the task from the target, standardize numeric features, one-hot encode "
                                   "categorical ones, train with early stopping, and write the model folder.")
    f.add_argument("data", help="CSV file with a header row")
    f.add_argument("--target", required=True, help="name of the column to predict (required)")
    f.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                   help="what to predict; auto: classification for text or at most 10 integer values, "
                        "regression otherwise (default auto)")
    f.add_argument("--hidden", type=_hidden, default=[32, 16], help="hidden layer sizes (default 32,16)")
    f.add_argument("--activation", default="relu", help="activation of the hidden layers (default relu)")
    f.add_argument("--dropout", type=float, default=0.2, help="dropout rate after each hidden layer (default 0.2)")
    f.add_argument("--l2", type=float, default=1e-4, help="L2 penalty on the kernels (default 0.0001)")
    f.add_argument("--optimizer", default="adam", help="optimizer name (default adam)")
    f.add_argument("--lr", type=float, default=1e-3, help="learning rate (default 0.001)")
    f.add_argument("--batch-size", type=int, default=32, help="examples per gradient step (default 32)")
    f.add_argument("--epochs", type=int, default=200, help="maximum number of epochs (default 200)")
    f.add_argument("--validation-split", type=float, default=0.2,
                   help="fraction of the rows held out for validation (default 0.2)")
    f.add_argument("--early-stopping", type=int, default=20, help="patience in epochs, 0 turns it off (default 20)")
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    f.add_argument("--drop-missing", action="store_true", help="drop rows with missing values (default: off, "
                                                                   "a missing value is an error)")
    f.add_argument("--out", required=True, help="model folder to write (required)")
    f.add_argument("--verbose", type=int, default=2, choices=[0, 1, 2],
                   help="0 silent, 1 a progress bar per epoch, 2 one line per epoch (default 2)")

    for name, helptext in (("evaluate", "report a saved model's loss and metrics on a CSV file"),
                           ("predict", "write a saved model's predictions for a CSV file")):
        e = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".",
                           epilog=EXAMPLES[name], formatter_class=fmt)
        e.add_argument("model_dir", help="folder written by 'tapegrad fit'")
        e.add_argument("data", help="CSV file with the same columns as in training")
        e.add_argument("--drop-missing", action="store_true")
        if name == "predict":
            e.add_argument("-o", "--output", default=None, help="CSV file for the predictions (default: stdout)")

    pl = sub.add_parser("plot", help="draw one of the lecture's pictures", epilog=EXAMPLES["plot"],
                        formatter_class=fmt, description="Draw a picture: activations or a loss landscape.")
    pl.add_argument("what", choices=["activations", "landscape"])
    pl.add_argument("--out", required=True, help="image file to write (.png, .svg, .pdf)")

    g = sub.add_parser("playground", help="train networks live in a web page (needs tapegrad[playground])",
                       description="Serve the playground: pick data and a network, watch tapegrad train it, take the "
                                   "model and the program back to Python.", epilog=EXAMPLES["playground"],
                       formatter_class=fmt)
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    g.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    g.add_argument("--open", action="store_true", help="open the page in the web browser")
    g.add_argument("--max-trainings", type=int, default=4, help="sessions that may train at once (default 4)")
    return p


def cmd_playground(a) -> int:
    if not 0 <= a.port <= 65535:
        raise CliError(f"--port must be in [0, 65535], received {a.port}")
    if a.max_trainings < 1:
        raise CliError(f"--max-trainings must be positive, received {a.max_trainings}")
    try:
        from ..playground.server import Settings, serve
    except ImportError as exc:
        raise CliError(f"the playground needs its web libraries ({exc.name} is missing): "
                       'pip install "tapegrad[playground]"') from None
    serve(a.host, a.port, a.open, Settings(max_trainings=a.max_trainings))
    return 0


def cmd_fit(a) -> int:
    import tapegrad as tg

    from . import tabular as T

    for name, value, low, high in (("--dropout", a.dropout, 0, 0.99), ("--validation-split", a.validation_split, 0,
                                                                          0.9)):
        if not low <= value <= high:
            raise CliError(f"{name} must be in [{low}, {high}], received {value}")
    for name, value in (("--lr", a.lr), ("--batch-size", a.batch_size), ("--epochs", a.epochs)):
        if value <= 0:
            raise CliError(f"{name} must be positive, received {value}")
    check_out(a.out, "--out", folder=True)
    df = T.read_csv(a.data, a.drop_missing)
    prep = T.fit_preprocessing(df, a.target, a.task)
    x, y = T.transform_x(df, prep), T.transform_y(df, prep)
    tg.random.set_seed(a.seed)
    order = tg.random.generator().permutation(len(x))  # shuffle once so the validation split is a fair sample
    x, y = x[order], y[order]
    try:
        opt = tg.optimizers.get(a.optimizer)
        tg.activations.get(a.activation)  # an unknown name is an error listing the valid ones
    except ValueError as exc:
        raise CliError(str(exc)) from None
    opt.learning_rate = a.lr
    model, loss, metrics = T.build(prep, a.hidden, a.activation, a.dropout, a.l2)
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    t = prep["target"]
    print(f"Task: {t['task']}" + (f" with classes {t['classes']}" if t["task"] == "classification" else "") +
          f"; {x.shape[1]} input features from {len(prep['features'])} columns; {len(x)} rows.")
    callbacks = []
    stop = None
    if a.early_stopping > 0 and a.validation_split > 0:
        stop = tg.callbacks.EarlyStopping(patience=a.early_stopping, restore_best_weights=True)
        callbacks.append(stop)
    history = model.fit(x, y, batch_size=a.batch_size, epochs=a.epochs, validation_split=a.validation_split,
                        callbacks=callbacks, verbose=a.verbose)
    os.makedirs(a.out, exist_ok=True)
    model.save(os.path.join(a.out, "model.tapegrad"))
    T.save_prep(prep, a.out)
    curves = T.in_target_units(history.history, prep)  # a regression's errors in the target's own units
    final = {k: v[stop.best_epoch - history.epoch[0]] if stop and stop.best_weights is not None else v[-1]
             for k, v in curves.items()}
    plot = os.path.join(a.out, "training_curves.png")
    try:
        tg.viz.plot_history(curves, path=plot, best_epoch=stop.best_epoch if stop else None)
    except MissingExtraError as exc:  # the model is trained and saved all the same, without its picture
        print(f"No training curves: {exc}", file=sys.stderr)
        plot = None
    lines = [f"# tapegrad model for {os.path.basename(a.data)}", "",
             f"- target: `{t['name']}` ({t['task']})", f"- rows used: {len(x)}; features: {x.shape[1]}",
             f"- network: {x.shape[1]} -> {' -> '.join(map(str, a.hidden))} -> output, {a.activation}, "
             f"dropout {a.dropout}, L2 {a.l2}", f"- optimizer: {a.optimizer}, learning rate {a.lr}, "
             f"batch size {a.batch_size}", f"- epochs run: {len(history.epoch)}" +
             (f"; weights kept from epoch {stop.best_epoch + 1}" if stop else ""), "", "| metric | value |",
             "|---|---|"] + [f"| {k} | {v:.4g} |" for k, v in final.items()]
    if t["task"] == "regression":
        lines += ["", f"Errors are in the units of `{t['name']}`; r2_score is the coefficient of determination; "
                      "the loss is the training objective on the standardized target (its mean squared error "
                      "plus the L2 penalty)."]
    if plot is not None:
        lines += ["", "![training curves](training_curves.png)"]
    from ..saving.atomic import atomic_path

    with atomic_path(os.path.join(a.out, "report.md")) as tmp:
        with open(tmp, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    print("Metrics (kept epoch): " + ", ".join(f"{k} {v:.4g}" for k, v in final.items()))
    print(f"Wrote {a.out}/model.tapegrad, preprocessing.json, " + ("training_curves.png, " if plot else "") + "report.md")
    return 0


def cmd_evaluate(a) -> int:
    from . import tabular as T

    model, prep = T.load(a.model_dir)
    df = T.read_csv(a.data, a.drop_missing)
    T.check_columns(df, prep, need_target=True)
    result = model.evaluate(T.transform_x(df, prep), T.transform_y(df, prep), verbose=0, return_dict=True)
    result = T.in_target_units(result, prep)  # a regression's errors in the target's own units
    units = f" (errors in the units of {prep['target']['name']!r})" if prep["target"]["task"] == "regression" else ""
    print(f"{len(df)} rows: " + ", ".join(f"{k} {v:.4g}" for k, v in result.items()) + units)
    return 0


def cmd_predict(a) -> int:
    from . import tabular as T

    if a.output:
        check_out(a.output, "--output", folder=False)
    model, prep = T.load(a.model_dir)
    df = T.read_csv(a.data, a.drop_missing)
    import pandas as pd  # read_csv has checked that it is installed
    T.check_columns(df, prep, need_target=False)
    out = pd.DataFrame(T.decode_predictions(model.predict(T.transform_x(df, prep), verbose=0), prep))
    if a.output:
        from ..saving.atomic import atomic_path

        with atomic_path(a.output) as tmp:
            out.to_csv(tmp, index=False)
        print(f"Wrote {len(out)} predictions to {a.output}")
    else:
        out.to_csv(sys.stdout, index=False)
    return 0


def cmd_plot(a) -> int:
    import tapegrad as tg

    check_out(a.out, "--out", folder=False)
    if a.what == "activations":
        tg.viz.plot_activations(path=a.out)
    else:
        def loss_fn(w):  # an elongated bowl (curvatures 2 and 10): where one fixed rate cannot suit both axes
            return (w[0] - 1.0) ** 2 + 5.0 * (w[1] + 0.5) ** 2

        tg.viz.plot_loss_landscape(loss_fn, start=(-2.5, 2.0), path=a.out, minimum=(1.0, -0.5),
                                   optimizers=tg.viz.default_optimizers(1 / 10.0))
    print(f"Wrote {a.out}")
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            if args.epochs <= 0:
                raise CliError(f"--epochs must be positive, received {args.epochs}")
            check_out(args.out, "--out", folder=True)
            run_demo(args.out, args.seed, args.epochs)
            return 0
        return {"fit": cmd_fit, "evaluate": cmd_evaluate, "predict": cmd_predict, "plot": cmd_plot,
                "playground": cmd_playground}[args.command](args)
    except CliError as exc:
        print(f"tapegrad {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except MissingExtraError as exc:  # one line naming the extra to install, not a traceback
        print(f"tapegrad {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:  # a disk full, a permission denied: the user's environment, said in one line
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"tapegrad {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _closed_pipe() -> int:
    """The reader of our output went away (``tapegrad predict ... | head -1``): stop quietly, as Unix
    tools do, with the status of a process ended by SIGPIPE. Standard output is pointed at
    /dev/null so that Python's final flush does not complain about the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - no file descriptor behind stdout (captured in tests)
        pass
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
