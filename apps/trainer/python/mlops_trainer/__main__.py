"""python3 -m mlops_trainer --job job.json"""
import argparse
import json
import sys
import traceback

from .events import emit
from .job import TrainingError
from .train import run


def main() -> int:
    parser = argparse.ArgumentParser(prog="mlops_trainer")
    parser.add_argument("--job", required=True, help="job.json written by the TypeScript orchestrator")
    args = parser.parse_args()
    try:
        with open(args.job, encoding="utf-8") as f:
            run(json.load(f))
        return 0
    except TrainingError as error:
        emit("error", kind="training", message=str(error))
        return 3
    except Exception as error:  # report anything else as one readable event, with the trace on stderr
        traceback.print_exc(file=sys.stderr)
        emit("error", kind=type(error).__name__, message=str(error))
        return 1


if __name__ == "__main__":
    sys.exit(main())
