"""AWS default quotas (us-east-1) in one table: what bench/capacity.py divides its counts into.

Each row: (value per second, what it limits, whether it can be raised, source page, note).
Figures marked "from memory" are the documented defaults as last published; check them on the
page named beside them (AWS changes quotas more often than prices).
"""

from __future__ import annotations

from typing import NamedTuple


class Quota(NamedTuple):
    per_second: float
    what: str
    raisable: bool
    source: str
    note: str


_SFN = "https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html"
_SQS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
_LAMBDA = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
_DDB = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"

QUOTAS: dict[str, Quota] = {
    "sfn_standard_transitions": Quota(1500, "Standard state transitions per second (refill; bucket 5,000)", True,
                                      _SFN, "us-east-1 figure; from memory"),
    "sfn_standard_start_execution": Quota(300, "Standard StartExecution per second (refill; bucket 1,300)", True,
                                          _SFN, "us-east-1 figure; from memory"),
    "sfn_express_start_execution": Quota(6000, "Express StartExecution per second (refill; bucket 6,000)", True,
                                         _SFN, "us-east-1 figure; from memory"),
    "sfn_express_start_sync_execution": Quota(6000, "Express StartSyncExecution per second", True, _SFN,
                                              "from memory: taken as the Express StartExecution rate; Express "
                                              "state transitions have no quota"),
    "sqs_fifo_api_tps": Quota(300, "FIFO requests per second per API action (SendMessage, ReceiveMessage, "
                                   "DeleteMessage), no high throughput; 3,000 messages/s in batches of 10", True,
                              _SQS, "quoted: 'FIFO queues ... 300 transactions per second per API action'"),
    "sqs_fifo_high_throughput_tps": Quota(70000, "FIFO high-throughput mode: requests per second per API action",
                                          True, _SQS, "us-east-1 figure; from memory (per partition 3,000 "
                                                      "messages/s; spread by message group)"),
    "lambda_concurrency": Quota(1000, "concurrent executions per account (reserved shares come out of it; 100 must "
                                      "stay unreserved)", True, _LAMBDA, "from memory"),
    "lambda_scaling": Quota(100, "per-function scale-up: 1,000 more concurrent executions every 10 s", False,
                            _LAMBDA, "from memory (the Nov 2023 scaling rule); a ramp, not a steady rate"),
    "apigw_requests": Quota(10000, "API Gateway requests per second per account per Region (burst 5,000)", True,
                            "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
                            "from memory"),
    "ddb_partition_wru": Quota(1000, "write units per second on one partition key", False,
                               "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                               "bp-partition-key-design.html", "a partition's hard limit; spread the key instead"),
    "ddb_partition_rru": Quota(3000, "read units per second on one partition key", False,
                               "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
                               "bp-partition-key-design.html", "a partition's hard limit; spread the key instead"),
    "ddb_table_wru": Quota(40000, "on-demand write units per second per table (each GSI has its own)", True, _DDB,
                           "from memory (per-table default; the account default is 80,000)"),
    "ddb_table_rru": Quota(40000, "on-demand read units per second per table", True, _DDB, "from memory"),
}
