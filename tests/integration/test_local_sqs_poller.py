"""local/sqs_poller.py behaves as Lambda's SQS event source mapping (with ReportBatchItemFailures).

The oracle is AWS's documentation ("Using Lambda with Amazon SQS", "Handling errors for an SQS
event source in Lambda", the SQS FIFO developer guide): long polling; up to BatchSize messages
per invoke, in Lambda's event shape; a batch the function returns is deleted; a function error
deletes nothing and the batch comes back after the queue's visibility timeout; a partial batch
response deletes every other message and keeps the listed ones; a malformed response fails the
whole batch; the queue's redrive policy moves a message to its DLQ after maxReceiveCount
receives; a FIFO group's messages arrive in order, never two batches of a group at once, while
different groups run in parallel. Also the moto fix it relies on (`sqs_receive_like_aws`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

_names = itertools.count()


def _until(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def sqs(aws: None) -> Any:
    import boto3

    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def start(aws: None) -> Iterator[Callable[..., Any]]:
    """sqs_poller.start, every poller stopped (and checked stopped) at the end."""
    from local import sqs_poller

    started: list[Any] = []

    def go(*args: Any, **kwargs: Any) -> Any:
        poller = sqs_poller.start(*args, **kwargs)
        started.append(poller)
        return poller

    yield go
    for poller in started:
        poller.stop()
        assert not poller.running


def _queue(sqs: Any, fifo: bool = False, visibility: int = 30, **attributes: str) -> str:
    name = f"poller-test-{next(_names)}" + (".fifo" if fifo else "")
    attrs = {"VisibilityTimeout": str(visibility), **attributes}
    if fifo:
        attrs["FifoQueue"] = "true"
    return str(sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"])


def _send(sqs: Any, url: str, body: str, group: str | None = None, **kw: Any) -> str:
    if group is not None:
        kw.update(MessageGroupId=group, MessageDeduplicationId=f"{group}-{body}")
    return str(sqs.send_message(QueueUrl=url, MessageBody=body, **kw)["MessageId"])


def _counts(sqs: Any, url: str) -> tuple[int, int]:
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


class Recorder:
    """A function: records every batch (thread-safe) and answers what `respond` says."""

    def __init__(self, respond: Callable[[dict[str, Any], int], Any] | None = None, sleep: float = 0.0) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.times: list[float] = []
        self.contexts: list[Any] = []
        self.lock = threading.Lock()
        self.respond = respond
        self.sleep = sleep

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self.lock:
            self.batches.append(event["Records"])
            self.times.append(time.monotonic())
            self.contexts.append(context)
            n = len(self.batches)
        if self.sleep:
            time.sleep(self.sleep)
        return self.respond(event, n) if self.respond else None

    def bodies(self) -> list[str]:
        with self.lock:
            return [r["body"] for batch in self.batches for r in batch]


def test_the_event_has_lambdas_sqs_shape(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    message_id = _send(sqs, url, '{"hello": 1}', MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "activity"},
        "n": {"DataType": "Number", "StringValue": "7"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    seen = Recorder()
    start(url, seen, name="shape-test")
    assert _until(lambda: len(seen.batches) == 1)

    [record] = seen.batches[0]
    assert record["messageId"] == message_id
    assert record["receiptHandle"]
    assert record["body"] == '{"hello": 1}'
    assert record["md5OfBody"] == hashlib.md5(b'{"hello": 1}').hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    attributes = record["attributes"]
    assert set(attributes) >= {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                               "ApproximateFirstReceiveTimestamp"}
    assert attributes["ApproximateReceiveCount"] == "1"
    assert all(isinstance(v, str) for v in attributes.values())
    assert "MessageGroupId" not in attributes  # a standard queue
    assert record["messageAttributes"] == {
        "kind": {"stringValue": "activity", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
        "n": {"stringValue": "7", "stringListValues": [], "binaryListValues": [], "dataType": "Number"},
        "raw": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}}
    assert seen.contexts[0].function_name == "shape-test"
    assert seen.contexts[0].get_remaining_time_in_millis() > 0
    assert _until(lambda: _counts(sqs, url) == (0, 0))  # returned normally: deleted


def test_a_fifo_event_carries_group_dedup_and_sequence(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs, fifo=True)
    _send(sqs, url, "b1", group="user-1")
    seen = Recorder()
    start(url, seen)
    assert _until(lambda: len(seen.batches) == 1)
    attributes = seen.batches[0][0]["attributes"]
    assert attributes["MessageGroupId"] == "user-1"
    assert attributes["MessageDeduplicationId"] == "user-1-b1"
    assert attributes["SequenceNumber"].isdigit()


def test_a_new_message_is_picked_up_within_milliseconds(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs)
    seen = Recorder()
    start(url, seen, pollers=1)
    time.sleep(0.3)  # the poller is now inside a long poll
    sent = time.monotonic()
    _send(sqs, url, "now")
    assert _until(lambda: len(seen.batches) == 1)
    assert seen.times[0] - sent < 0.3  # not at the end of the 1 s wait


def test_batches_hold_at_most_batch_size_messages(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs)
    for i in range(25):
        _send(sqs, url, str(i))
    seen = Recorder()
    start(url, seen, batch_size=4, pollers=1)
    assert _until(lambda: len(seen.bodies()) == 25)
    sizes = [len(b) for b in seen.batches]
    assert max(sizes) == 4 and sum(sizes) == 25
    assert sorted(seen.bodies(), key=int) == [str(i) for i in range(25)]  # each exactly once
    assert _until(lambda: _counts(sqs, url) == (0, 0))
    with pytest.raises(ValueError):
        start(url, seen, batch_size=11)


def test_a_partial_batch_failure_deletes_the_rest_and_redelivers_the_failed_after_the_visibility_timeout(
        sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs, visibility=1)
    for i in range(5):
        _send(sqs, url, str(i))

    def respond(event: dict[str, Any], n: int) -> Any:
        if n == 1:
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                          if r["body"] in ("1", "3")]}
        return {"batchItemFailures": []}

    seen = Recorder(respond)
    start(url, seen, pollers=1)
    assert _until(lambda: len(seen.batches) >= 2)
    first, second = seen.batches[0], seen.batches[1]
    assert sorted(r["body"] for r in first) == ["0", "1", "2", "3", "4"]
    assert sorted(r["body"] for r in second) == ["1", "3"]  # only the reported ones came back
    assert all(r["attributes"]["ApproximateReceiveCount"] == "2" for r in second)
    assert seen.times[1] - seen.times[0] >= 0.9  # after the visibility timeout
    assert _until(lambda: _counts(sqs, url) == (0, 0))
    time.sleep(0.2)
    assert len(seen.batches) == 2  # the three others were deleted after the first batch


def test_a_function_error_deletes_nothing_and_the_batch_is_retried(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs, visibility=1)
    for i in range(3):
        _send(sqs, url, str(i))
    sent = time.monotonic()  # before the first receive, whose visibility the retry waits out

    def respond(event: dict[str, Any], n: int) -> Any:
        if n == 1:
            raise RuntimeError("the function failed")
        return None

    seen = Recorder(respond)
    start(url, seen, pollers=1)
    assert _until(lambda: len(seen.batches) >= 1)
    time.sleep(0.3)
    assert _counts(sqs, url) == (0, 3)  # all three still there, in flight
    assert _until(lambda: len(seen.batches) >= 2)
    assert sorted(r["body"] for r in seen.batches[1]) == ["0", "1", "2"]
    assert {r["attributes"]["ApproximateReceiveCount"] for r in seen.batches[1]} == {"2"}
    # Measured from before the first receive: the first invocation itself may start late on a
    # busy machine, which says nothing about when the retry became visible.
    assert seen.times[1] - sent >= 0.9
    assert _until(lambda: _counts(sqs, url) == (0, 0))


@pytest.mark.parametrize("response", [
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"messageId": "FIRST"}]},
    {"batchItemFailures": [{"itemIdentifier": "not-a-message-of-the-batch"}]},
    ["FIRST"],
])
def test_a_malformed_partial_batch_response_fails_the_whole_batch(
        sqs: Any, start: Callable[..., Any], response: Any) -> None:
    url = _queue(sqs, visibility=30)
    _send(sqs, url, "a")
    _send(sqs, url, "b")

    def respond(event: dict[str, Any], n: int) -> Any:
        return json.loads(json.dumps(response).replace("FIRST", event["Records"][0]["messageId"]))

    seen = Recorder(respond)
    start(url, seen, pollers=1)
    assert _until(lambda: len(seen.batches) >= 1)
    time.sleep(0.3)
    assert _counts(sqs, url) == (0, 2)  # nothing deleted: both wait for the visibility timeout


def test_failed_items_follows_lambdas_success_and_failure_rules() -> None:
    from local.sqs_poller import MalformedResponse, failed_items

    ids = ["m-1", "m-2"]
    for success in (None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"statusCode": 200}):
        assert failed_items(success, ids) == set()
    assert failed_items({"batchItemFailures": [{"itemIdentifier": "m-2"}]}, ids) == {"m-2"}
    for malformed in ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"batchItemFailures": [{"itemIdentifier": None}]},
                      {"batchItemFailures": [{"id": "m-1"}]}, {"batchItemFailures": [{"itemIdentifier": "m-9"}]},
                      {"batchItemFailures": "m-1"}, ["m-1"], "m-1"):
        with pytest.raises(MalformedResponse):
            failed_items(malformed, ids)


def test_the_redrive_policy_moves_a_message_to_the_dlq_after_max_receive_count(
        sqs: Any, start: Callable[..., Any]) -> None:
    dlq = _queue(sqs)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = _queue(sqs, visibility=0, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    _send(sqs, url, "poison")

    def respond(event: dict[str, Any], n: int) -> Any:
        raise ValueError("always fails")

    seen = Recorder(respond)
    start(url, seen, pollers=1)
    assert _until(lambda: _counts(sqs, dlq)[0] == 1)
    assert [r["attributes"]["ApproximateReceiveCount"] for b in seen.batches for r in b] == ["1", "2"]
    assert _counts(sqs, url) == (0, 0)
    moved = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in moved] == ["poison"]


def test_fifo_keeps_each_group_in_order_never_two_batches_of_a_group_and_runs_groups_in_parallel(
        sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs, fifo=True)
    groups = ["g1", "g2", "g3"]
    for i in range(6):
        for group in groups:
            _send(sqs, url, f"{group}:{i}", group=group)
    lock = threading.Lock()
    active: dict[str, int] = {}
    overlaps: list[str] = []
    most_at_once = [0]
    order: dict[str, list[int]] = {g: [] for g in groups}

    def invoke(event: dict[str, Any], context: Any) -> Any:
        mine = {r["attributes"]["MessageGroupId"] for r in event["Records"]}
        with lock:
            for group in mine:
                if active.get(group):
                    overlaps.append(group)
                active[group] = active.get(group, 0) + 1
            most_at_once[0] = max(most_at_once[0], sum(1 for v in active.values() if v))
        time.sleep(0.05)
        with lock:
            for r in event["Records"]:
                group, i = r["body"].split(":")
                order[group].append(int(i))
            for group in mine:
                active[group] -= 1
        return None

    start(url, invoke, batch_size=2, pollers=3)
    assert _until(lambda: sum(map(len, order.values())) == 18)
    assert order == {g: list(range(6)) for g in groups}
    assert overlaps == []
    assert most_at_once[0] >= 2  # different groups were processed side by side


def test_a_fifo_partial_failure_holds_the_group_until_its_retry(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs, fifo=True, visibility=1)
    for i in range(4):
        _send(sqs, url, str(i), group="g")
    sent = time.monotonic()  # before the first receive, whose visibility the retry waits out

    def respond(event: dict[str, Any], n: int) -> Any:
        if n == 1:  # a FIFO handler reports the first failure and everything after it
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                                          if int(r["body"]) >= 2]}
        return None

    seen = Recorder(respond)
    start(url, seen, pollers=2)
    assert _until(lambda: sum(len(b) for b in seen.batches[1:]) >= 2)
    assert [r["body"] for r in seen.batches[0]] == ["0", "1", "2", "3"]
    # In order, after the visibility timeout (in one batch, or two when a receive raced the
    # timeout's end on a busy machine: the group's order holds either way).
    assert [r["body"] for b in seen.batches[1:] for r in b] == ["2", "3"]
    # Measured from before the first receive: the first invocation itself may start late on a
    # busy machine, which says nothing about when the retry became visible.
    assert seen.times[1] - sent >= 0.9
    assert _until(lambda: _counts(sqs, url) == (0, 0))


class FlakyClient:
    """An SQS client whose first `failures` receives raise; counts receives."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures, self.receives = real, failures, 0

    def receive_message(self, **kw: Any) -> Any:
        self.receives += 1
        if self.receives <= self.failures:
            raise ConnectionError("endpoint went away")
        return self.real.receive_message(**kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_poller_survives_errors_without_spinning(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs)
    client = FlakyClient(sqs, failures=3)
    seen = Recorder()
    start(url, seen, pollers=1, client_factory=lambda: client)
    _send(sqs, url, "after the errors")
    assert _until(lambda: seen.bodies() == ["after the errors"])
    assert client.receives >= 4  # three failures, then the receive that worked

    def explode(event: dict[str, Any], n: int) -> Any:
        raise KeyError("a bug in the function")

    broken = Recorder(explode)
    other = _queue(sqs, visibility=0)
    start(other, broken, pollers=1)
    _send(sqs, other, "x")
    assert _until(lambda: len(broken.batches) >= 3)  # it keeps polling after each failure


def test_an_empty_queue_is_long_polled_not_spun(sqs: Any, start: Callable[..., Any]) -> None:
    url = _queue(sqs)
    client = FlakyClient(sqs, failures=0)
    start(url, Recorder(), pollers=1, client_factory=lambda: client)
    cpu = time.process_time()
    time.sleep(1.5)
    assert client.receives <= 3  # each receive waited about WAIT_SECONDS
    assert time.process_time() - cpu < 0.5


def test_stop_joins_every_thread(sqs: Any, aws: None) -> None:
    from local import sqs_poller

    url = _queue(sqs)
    seen = Recorder()
    poller = sqs_poller.start(url, seen, pollers=3, name="stop-test")
    threads = poller.threads
    assert len(threads) == 3 and all(t.is_alive() for t in threads)
    _send(sqs, url, "one")
    assert _until(lambda: len(seen.batches) == 1)
    began = time.monotonic()
    poller.stop()
    assert time.monotonic() - began < sqs_poller.WAIT_SECONDS + 1.5
    assert not any(t.is_alive() for t in threads)
    assert not [t for t in threading.enumerate() if t.name.startswith("stop-test")]
    assert not poller.running


def test_moto_long_poll_does_not_spin_while_a_fifo_group_is_in_flight(sqs: Any) -> None:
    """The fix `sqs_receive_like_aws`: moto's own receive loops without sleeping here (a full core)."""
    url = _queue(sqs, fifo=True)
    for i in range(3):
        _send(sqs, url, str(i), group="g")
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]) == 1  # g now in flight
    cpu, began = time.process_time(), time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)  # g is busy: nothing
    assert time.monotonic() - began >= 0.9
    assert time.process_time() - cpu < 0.4


def test_moto_receives_are_atomic_for_fifo_groups(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many threads receiving at once never take one group's messages twice (the fix; without it
    two receives could both find the group free). moto's receive copies (deepcopy) between
    deciding which groups are busy and marking its messages in flight: a pause there, as a thread
    switch could make, opens the race wide."""
    import copy

    import boto3
    from moto.sqs import models

    def slow_deepcopy(value: Any, *args: Any) -> Any:
        time.sleep(0.01)
        return copy.deepcopy(value, *args)

    monkeypatch.setattr(models, "deepcopy", slow_deepcopy)

    url = _queue(sqs, fifo=True)
    for i in range(5):
        _send(sqs, url, str(i), group="only")
    got: list[list[str]] = []
    barrier = threading.Barrier(8)

    def receive() -> None:
        client = boto3.client("sqs", region_name="us-east-1")
        barrier.wait()
        answer = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
        got.append([m["Body"] for m in answer.get("Messages", [])])

    threads = [threading.Thread(target=receive) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(got, key=len)[-1] == ["0"]
    assert sum(len(g) for g in got) == 1  # one receive got the group's first message; the rest nothing


def test_moto_decides_a_receive_at_one_moment(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose visibility timeouts run out during a receive pass (the earlier message's
    just before the later one's) stays in flight as a whole for that pass: the group is busy
    until both are back, then both come in order. moto reads the clock for each message as it
    reaches it, so it skipped "0" (its group still had "1" in flight) and then delivered "1"
    alone. A clock that moves 1 ms at every read makes the later timeout run out mid-pass."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs import models

    url = _queue(sqs, fifo=True)
    for i in range(2):
        _send(sqs, url, str(i), group="g")
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]) == 2  # g in flight
    queue = models.sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[url.rsplit("/", 1)[1]]
    first, second = queue._messages
    start = models.unix_time_millis()
    ticks = itertools.count()
    monkeypatch.setattr(models, "unix_time_millis", lambda: start + next(ticks))
    first.visible_at, second.visible_at = start - 0.5, start + 0.5  # back before the 1st read, after it

    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["0", "1"]


def test_through_a_moto_server_with_the_default_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local stack's way: a moto server, AWS_ENDPOINT_URL pointing boto3 at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    from local import patches, sqs_poller

    patches.behave_like_aws()
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        client = boto3.client("sqs")
        url = _queue(client, fifo=True)
        for i in range(4):
            _send(client, url, str(i), group="g")
        seen = Recorder()
        poller = sqs_poller.start(url, seen, batch_size=2, pollers=2)
        try:
            assert _until(lambda: len(seen.bodies()) == 4)
            assert seen.bodies() == ["0", "1", "2", "3"]
            assert all(len(batch) <= 2 for batch in seen.batches)
            assert _until(lambda: _counts(client, url) == (0, 0))
        finally:
            poller.stop()
        assert not poller.running
    finally:
        server.stop()


def test_a_consumer_runs_each_message_through_a_sync_express_execution_in_order(
        sqs: Any, start: Callable[..., Any]) -> None:
    """The pipeline's shape: FIFO queue -> poller -> consumer -> StartSyncExecution per message, in
    order; a FAILED execution is reported (with everything after it in its group) and retried."""
    import boto3

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.poison", "BooleanEquals": True, "Next": "Fail"}],
                  "Default": "Done"},
        "Fail": {"Type": "Fail", "Error": "Poison", "Cause": "poisoned"},
        "Done": {"Type": "Pass", "End": True}}}
    machine = sfn.create_state_machine(name=f"consumer-test-{next(_names)}", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/r", type="EXPRESS")["stateMachineArn"]
    url = _queue(sqs, fifo=True, visibility=1)
    for i in range(4):
        _send(sqs, url, json.dumps({"i": i, "poison": False}), group="user-1")
    ran: list[tuple[int, str]] = []
    poisoned_once = {2}

    def consumer(event: dict[str, Any], context: Any) -> Any:
        for n, record in enumerate(event["Records"]):
            body = json.loads(record["body"])
            if body["i"] in poisoned_once:
                poisoned_once.discard(body["i"])
                body["poison"] = True
            out = sfn.start_sync_execution(stateMachineArn=machine, name=record["messageId"], input=json.dumps(body))
            ran.append((body["i"], out["status"]))
            if out["status"] != "SUCCEEDED":  # FIFO: this one and every later one go back
                return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"][n:]]}
        return {"batchItemFailures": []}

    start(url, consumer, pollers=2)
    assert _until(lambda: len(ran) >= 5 and _counts(sqs, url) == (0, 0), timeout=8)
    assert ran == [(0, "SUCCEEDED"), (1, "SUCCEEDED"), (2, "FAILED"), (2, "SUCCEEDED"), (3, "SUCCEEDED")]
