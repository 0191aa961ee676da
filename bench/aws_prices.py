"""AWS list prices, us-east-1, in one table: what bench/cost.py multiplies its counts by.

Each row: (price in USD, the unit it is per, source page, how the figure was checked). Figures
marked "from memory" were not readable on the pricing page the search tool returned (AWS renders
its rate tables client-side); they are the list prices as published for us-east-1 and should be
checked on the page named beside them before a decision rests on them.
"""

from __future__ import annotations

from typing import NamedTuple


class Price(NamedTuple):
    usd: float
    per: str
    source: str
    note: str


PRICES: dict[str, Price] = {
    # DynamoDB on-demand, Standard table class. The 1 Nov 2024 cut halved on-demand throughput
    # prices ($1.25 -> $0.625 per million WRU, $0.25 -> $0.125 per million RRU).
    "dynamodb_wru": Price(0.625 / 1e6, "write request unit", "https://aws.amazon.com/dynamodb/pricing/on-demand/",
                          "from memory; the 50% on-demand cut of Nov 2024 and these figures confirmed by "
                          "airbyte.com/data-engineering-resources/dynamodb-pricing"),
    "dynamodb_rru": Price(0.125 / 1e6, "read request unit", "https://aws.amazon.com/dynamodb/pricing/on-demand/",
                          "from memory; confirmed as above"),
    # Lambda, x86_64, first 6 billion GB-seconds a month.
    "lambda_request": Price(0.20 / 1e6, "invocation", "https://aws.amazon.com/lambda/pricing/",
                            "$0.20 per million requests, quoted from the page's examples"),
    "lambda_gb_second": Price(0.0000166667, "GB-second (x86)", "https://aws.amazon.com/lambda/pricing/",
                              "from memory (the page renders the rate table client-side)"),
    # Step Functions.
    "sfn_standard_transition": Price(0.025 / 1000, "state transition (Standard)",
                                     "https://aws.amazon.com/step-functions/pricing/",
                                     "$0.025 per 1,000 transitions; AWS Compute Blog 'Building cost-effective "
                                     "AWS Step Functions workflows': $25 per million for Standard"),
    "sfn_express_request": Price(1.00 / 1e6, "execution (Express)", "https://aws.amazon.com/step-functions/pricing/",
                                 "$1.00 per million requests, quoted from the page's pricing example"),
    "sfn_express_gb_second": Price(0.06 / 3600, "GB-second (Express, first 1,000 GB-hours)",
                                   "https://aws.amazon.com/step-functions/pricing/",
                                   "$0.06000 per GB-hour, quoted from the page's pricing example; duration "
                                   "rounded up to 100 ms, memory billed in 64 MB chunks"),
    # SQS FIFO, first 100 billion requests a month; every 64 KB chunk of a payload is a request.
    "sqs_fifo_request": Price(0.50 / 1e6, "request (FIFO, per 64 KB chunk)", "https://aws.amazon.com/sqs/pricing/",
                              "from memory"),
    # API Gateway, first 333 million REST / 300 million HTTP requests a month.
    "apigw_rest_request": Price(3.50 / 1e6, "REST API request",
                                "https://aws.amazon.com/api-gateway/pricing/",
                                "quoted: AWS whitepaper 'Best Practices for Designing Amazon API Gateway Private "
                                "APIs', Table 4 (first 333 million: $3.50 per million)"),
    "apigw_http_request": Price(1.00 / 1e6, "HTTP API request (per 512 KB)",
                                "https://aws.amazon.com/api-gateway/pricing/",
                                "quoted: same whitepaper, Table 4 (first 300 million: $1.00 per million)"),
    # CloudWatch Logs, Standard log class.
    "logs_ingest_gb": Price(0.50, "GB ingested (Standard log class)", "https://aws.amazon.com/cloudwatch/pricing/",
                            "from memory"),
}


def usd(name: str) -> float:
    return PRICES[name].usd
