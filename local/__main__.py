"""`python -m local`: start the local stack and serve until Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
import threading

from local.stack import LocalStack


def main() -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    offset = os.environ.get("LOCAL_CLOCK_OFFSET_SECONDS")
    if offset:  # the one clock moved for the whole stack: the API and every function's environment
        from chalicelib import clock

        clock.set_offset(float(offset))
    from local import durability

    stack = LocalStack(
        port=int(os.environ.get("PORT", "8000")),
        token=os.environ.get("LOCAL_TOKEN", ""),
        seed=os.environ.get("SEED", "1") != "0",
        data_dir=durability.data_dir(),
    )
    stack.start()
    print(f"Local stack ready on {stack.url}", flush=True)
    print(f"  Console: {stack.console_url}", flush=True)
    print(f"  Token:   {stack.token}", flush=True)
    print(f"  API:     curl -H 'Authorization: Bearer {stack.token}' {stack.url}/sites", flush=True)
    if stack.data_dir is None:
        print("  Data:    in memory only (LOCAL_DATA_DIR is empty): lost when the stack stops", flush=True)
    else:
        kept = f"restored, {stack.restored} writes replayed" if stack.restored else "new"
        print(f"  Data:    {stack.data_dir} ({kept}, {stack.data_size() / 1e6:.1f} MB); kept across restarts, "
              "`make reset` starts over", flush=True)
    if stack.seeded is not None:
        done = stack.seeded
        print(f"  Demo:    site 'demo' seeded with six weeks of history: {done.users} users, "
              f"{done.activities:,} activities, {done.rejects} rejects, in {done.seconds:.1f} s", flush=True)
    from local import lambda_env, latency

    functions = ("each in its own processes (LOCAL_LAMBDA=process)" if lambda_env.mode() == "process"
                 else "in this process (LOCAL_LAMBDA=process: their own processes)")
    print(f"  Lambda functions: {functions}; AWS-like latencies: "
          f"{'x' + format(latency.scale(), 'g') if latency.scale() else 'off (LOCAL_LATENCY=aws: on)'}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    stop.wait()
    print("Stopping...", flush=True)
    stack.stop()
    print("Stopped.", flush=True)
    # Executions still running in moto's worker threads would keep the interpreter alive;
    # everything they could write lived in this process's memory anyway.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
