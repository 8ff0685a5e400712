#!/usr/bin/env python3
"""Switchyard's SentencePiece ids equal Python SentencePiece's (PyPI `sentencepiece`, pinned in
launch/install-deps.sh) on the same model and text, both ways:

  * models trained by Switchyard (train_sentencepiece: BPE, unigram, BPE with byte fallback,
    unigram without normalization) and a model trained by Python SentencePiece's own trainer;
  * every line of a held-out slice of the bundled corpus plus lines with non-ASCII text, runs of
    spaces, tabs, leading and trailing spaces, digits and an empty line;
  * ids from the driver (tests/train/data/sentencepiece_ids_main.cc) == sp.encode(line), and
    the driver's decode(ids) == sp.decode(ids).

Usage: sentencepiece_ids_test.py DRIVER CORPUS
"""
import json
import pathlib
import subprocess
import sys
import tempfile

EXTRA_LINES = [
    "",
    "  leading and trailing spaces  ",
    "runs   of    spaces\tand\ttabs",
    "numbers 1234567890 and punctuation: ;,.!?-'\"()",
    "caf\u00e9 na\u00efve \u00fcber \u00c5ngstr\u00f6m",
    "\u4e2d\u6587\u6587\u672c and \u65e5\u672c\u8a9e and \u0440\u0443\u0441\u0441\u043a\u0438\u0439",
    "snowman \u2603 and emoji \U0001f600",
    "ROMEO: O, she doth teach the torches to burn bright!",
]


def main():
    driver, corpus = sys.argv[1], pathlib.Path(sys.argv[2])
    try:
        import sentencepiece as spm
    except ImportError:
        print("sentencepiece is not installed in this Python (" + sys.executable +
              "): run launch/install-deps.sh")
        return 1
    raw = corpus.read_bytes()
    train_text = raw[:200_000].decode("utf-8")
    held_out = raw[600_000:640_000].decode("utf-8", errors="ignore")
    held_out = held_out[held_out.index("\n") + 1:held_out.rindex("\n") + 1]
    lines = held_out.split("\n")[:-1] + EXTRA_LINES
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        (tmp / "train.txt").write_text(train_text, encoding="utf-8", newline="")
        (tmp / "test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")
        models = {}
        for name, kind, vocab, fallback, rule in [
                ("bpe", "bpe", 500, 0, "nmt_nfkc"), ("unigram", "unigram", 500, 0, "nmt_nfkc"),
                ("bpe_bytes", "bpe", 600, 1, "nmt_nfkc"),
                ("unigram_identity", "unigram", 500, 0, "identity")]:
            subprocess.run([driver, "train", str(tmp / name), kind, str(vocab), str(fallback), rule,
                            str(tmp / "train.txt")], check=True, stdout=subprocess.DEVNULL)
            models[name] = tmp / (name + ".model")
        spm.SentencePieceTrainer.train(input=str(tmp / "train.txt"), model_prefix=str(tmp / "py"),
                                       vocab_size=500, model_type="unigram",
                                       character_coverage=1.0, minloglevel=2)
        models["python_unigram"] = tmp / "py.model"
        failures = 0
        compared = 0
        for name, path in models.items():
            sp = spm.SentencePieceProcessor(model_file=str(path))
            out = subprocess.run([driver, "encode", str(path), str(tmp / "test.txt")], check=True,
                                 stdout=subprocess.PIPE).stdout.decode("utf-8").splitlines()
            if len(out) != len(lines):
                print(f"{name}: driver gave {len(out)} lines for {len(lines)}")
                return 1
            for line, record in zip(lines, out):
                got = json.loads(record)
                want_ids = sp.encode(line)
                compared += 1
                if got["ids"] != want_ids or got["text"] != sp.decode(got["ids"]):
                    failures += 1
                    if failures <= 5:
                        print(f"{name}: {line!r}: ours {got['ids']} {got['text']!r}, "
                              f"python {want_ids} {sp.decode(got['ids'])!r}")
        print(f"{compared} lines x model compared ({len(models)} models, sentencepiece "
              f"{spm.__version__}), {failures} differ")
        return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
