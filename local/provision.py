"""Create the app's AWS resources in moto from the same definitions that `infra/` deploys."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "infra" / "template.json"
STATE_MACHINE = ROOT / "infra" / "statemachines" / "activity.asl.json"
ACCOUNT = "123456789012"
REGION = "us-east-1"


def table_properties() -> dict[str, Any]:
    """The table's key schema and indexes, read from the CloudFormation template itself."""
    props = json.loads(TEMPLATE.read_text())["Resources"]["GameTable"]["Properties"]
    return {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")}


def console_headers() -> dict[str, str]:
    """The console's security headers as CloudFront sends them (infra/template.json's
    ConsoleHeadersPolicy), for the local runtime to send the same ones."""
    config = json.loads(TEMPLATE.read_text())["Resources"]["ConsoleHeadersPolicy"]["Properties"][
        "ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    csp = config["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"].replace("${AWS::Region}", REGION)
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": config["FrameOptions"]["FrameOption"],
            "Referrer-Policy": config["ReferrerPolicy"]["ReferrerPolicy"]}


def create_table(dynamodb: Any, name: str) -> None:
    """The table as infra/ defines it; one restored from a data directory is kept as it is."""
    if name in dynamodb.list_tables()["TableNames"]:
        return
    dynamodb.create_table(TableName=name, **table_properties())
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"AttributeName": "expiresAtEpoch",
                                                                           "Enabled": True})


def function_name(app_name: str, stage: str, name: str) -> str:
    """Chalice's deployed name of a `@app.lambda_function`."""
    return f"{app_name}-{stage}-{name}"


def create_functions(lambda_client: Any, iam: Any, names: list[str]) -> dict[str, str]:
    """Placeholder functions so the ARNs exist; invocations are routed to the app itself."""
    try:
        role = iam.create_role(RoleName="local-lambda", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}))
        role_arn = role["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role_arn = iam.get_role(RoleName="local-lambda")["Role"]["Arn"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    arns = {}
    for name in names:
        out = lambda_client.create_function(
            FunctionName=name, Runtime="python3.11", Role=role_arn, Handler="app.handler",
            Code={"ZipFile": buf.getvalue()},
        )
        arns[name] = out["FunctionArn"]
    return arns


def state_machine_definition(substitutions: dict[str, str]) -> str:
    """The ASL file with its `${Name}` placeholders filled, as CloudFormation would."""
    text = STATE_MACHINE.read_text()

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in substitutions:
            raise KeyError(f"no substitution for ${{{key}}} in {STATE_MACHINE.name}")
        return substitutions[key]

    return re.sub(r"\$\{(\w+)\}", fill, text)


def create_queues(sqs: Any, prefix: str) -> str:
    """The activity queue and its dead-letter queue, from infra/template.json; the queue's URL."""
    from chalicelib.workflow.definition import DEAD_LETTER_LOGICAL_ID, QUEUE_LOGICAL_ID

    resources = json.loads(TEMPLATE.read_text())["Resources"]

    def attributes(logical: str) -> dict[str, str]:
        props = resources[logical]["Properties"]
        out = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in props.items()
               if k not in ("QueueName", "RedrivePolicy", "SqsManagedSseEnabled")}
        return out

    dead = sqs.create_queue(QueueName=f"{prefix}-activity-dlq.fifo", Attributes=attributes(DEAD_LETTER_LOGICAL_ID))
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead["QueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = dict(resources[QUEUE_LOGICAL_ID]["Properties"]["RedrivePolicy"], deadLetterTargetArn=dead_arn)
    queue = sqs.create_queue(QueueName=f"{prefix}-activity.fifo",
                             Attributes={**attributes(QUEUE_LOGICAL_ID), "RedrivePolicy": json.dumps(redrive)})
    return str(queue["QueueUrl"])


def create_state_machine(sfn: Any, iam: Any, name: str, substitutions: dict[str, str]) -> str:
    try:
        role = iam.create_role(RoleName="local-states", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                    "Principal": {"Service": "states.amazonaws.com"}}]}))
        role_arn = role["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        role_arn = iam.get_role(RoleName="local-states")["Role"]["Arn"]
    from chalicelib.workflow.definition import STATE_MACHINE_TYPE

    out = sfn.create_state_machine(name=name, definition=state_machine_definition(substitutions),
                                   roleArn=role_arn, type=STATE_MACHINE_TYPE)
    return str(out["stateMachineArn"])
