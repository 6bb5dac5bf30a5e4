"""One JSON object per line on stdout: the protocol the TypeScript orchestrator reads."""
import json
import sys
import time

_start = time.monotonic()


def emit(event: str, **fields: object) -> None:
    record = {"event": event, "elapsed": round(time.monotonic() - _start, 3), **fields}
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()
