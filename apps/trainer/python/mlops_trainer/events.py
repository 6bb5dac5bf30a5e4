"""One JSON object per line on stdout: the protocol the TypeScript orchestrator reads."""
import json
import math
import sys
import time

_start = time.monotonic()


def emit(event: str, **fields: object) -> None:
    record = {"event": event, "elapsed": round(time.monotonic() - _start, 3), **fields}
    # NaN/Infinity are not JSON: JavaScript's JSON.parse would reject the whole line.
    record = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()}
    sys.stdout.write(json.dumps(record, allow_nan=False) + "\n")
    sys.stdout.flush()
