"""The parity references as one long-lived process: torch and transformers are imported once per test file.

Usage (test/helpers/reference.ts starts it; by hand for debugging):
    .venv/bin/python test/reference/server.py

Reads one JSON request per line on stdin, answers one JSON line on stdout, in order:
    {"id": 1, "cmd": "versions"}                                   -> {"torch": "...", "transformers": "..."}
    {"id": 2, "cmd": "predict", "modelDir": D, "inputs": {...},    -> reload_and_predict.predict(D, inputs, attn):
     "attnImplementation": "eager"|"sdpa"}                             {"logits", "keys", "dtypes", "attnImplementation"}
    {"id": 3, "cmd": "train", "spec": {...}}                       -> train_reference.run_spec_json(spec)
    {"id": 4, "cmd": "compareWeights", "original": D1, "saved": D2} -> compare_weights.compare(D1, D2)
Answer: {"id": n, "ok": true, "result": ...} or {"id": n, "ok": false, "error": "message"}. Anything the commands
print goes to stderr, so stdout carries answers only. The process ends at end of input.
"""

from __future__ import annotations

import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hf_reference  # noqa: E402
import torch  # noqa: E402
from compare_weights import compare  # noqa: E402
from reload_and_predict import predict  # noqa: E402
from train_reference import run_spec_json  # noqa: E402


def handle(request: dict):
    cmd = request.get("cmd")
    if cmd == "versions":
        return hf_reference.versions()
    if cmd == "predict":
        return predict(request["modelDir"], request["inputs"], request.get("attnImplementation", "eager"))
    if cmd == "train":
        return run_spec_json(request["spec"])
    if cmd == "compareWeights":
        return compare(request["original"], request["saved"])
    raise ValueError(f"unknown cmd {cmd!r}")


def main() -> int:
    answers = sys.stdout
    sys.stdout = sys.stderr  # stray prints must not corrupt the answers
    torch.set_num_threads(1)  # "train" sets its spec's numThreads for its own run
    for line in sys.stdin:
        if not line.strip():
            continue
        request_id = None
        try:
            request = json.loads(line)
            request_id = request.get("id")
            answer = {"id": request_id, "ok": True, "result": handle(request)}
        except Exception as e:  # noqa: BLE001 - every failure is an answer, the server keeps serving
            traceback.print_exc(file=sys.stderr)
            answer = {"id": request_id, "ok": False, "error": f"{type(e).__name__}: {e}"}
        answers.write(json.dumps(answer, allow_nan=False) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
