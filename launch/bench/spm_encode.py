#!/usr/bin/env python3
"""The baseline of `switchyard bench data-prepare`: the Python SentencePiece encoder on the same
corpus, the way Python preprocessing scripts run it (documents split at blank lines, each line
encoded with its newline, the model's </s> appended to every document, ids written as uint16),
in one process or a multiprocessing pool. Prints one JSON line: tokens, documents, seconds.

    spm_encode.py MODEL CORPUS OUT [--workers N]
"""
import argparse
import json
import multiprocessing
import sys
import time

import numpy as np
import sentencepiece as spm

_processor = None


def _load(model):
    global _processor
    _processor = spm.SentencePieceProcessor(model_file=model)


def _encode_document(lines):
    ids = []
    for line in lines:
        ids.extend(_processor.encode(line))
    if ids and _processor.eos_id() >= 0:
        ids.append(_processor.eos_id())
    return ids


def _documents(path):
    """Lists of lines (each with its newline) between blank lines."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() == "":
                if lines:
                    yield lines
                lines = []
            else:
                lines.append(line)
    if lines:
        yield lines


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("corpus")
    parser.add_argument("out")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    tokens = documents = 0
    with open(args.out, "wb") as out:
        if args.workers <= 1:
            _load(args.model)
            encoded = map(_encode_document, _documents(args.corpus))
            pool = None
        else:
            pool = multiprocessing.Pool(args.workers, initializer=_load, initargs=(args.model,))
            encoded = pool.imap(_encode_document, _documents(args.corpus), chunksize=256)
        for ids in encoded:
            if not ids:
                continue
            np.asarray(ids, dtype=np.uint16).tofile(out)
            tokens += len(ids)
            documents += 1
        if pool is not None:
            pool.close()
            pool.join()
    seconds = time.perf_counter() - start
    json.dump({"tokens": tokens, "documents": documents, "seconds": seconds}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
