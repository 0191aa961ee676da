"""The packaged template (infra/package.py output): lint, least privilege, wiring."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import ROOT, Packaged

pytestmark = pytest.mark.timeout(240)

# Data actions: these must name concrete resources, never "*".
DATA_ACTION = re.compile(r"^(dynamodb|states|lambda|s3|sqs|sns|ssm|kms|secretsmanager|events|logs):", re.I)


def functions(t: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def role_statements(t: dict[str, Any], role: str) -> Iterator[dict[str, Any]]:
    for policy in t["Resources"][role]["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def allowed(t: dict[str, Any], role: str, action: str) -> list[Any]:
    """Resources a role's Allow statements grant `action` on."""
    found = []
    for st in role_statements(t, role):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if st["Effect"] == "Allow" and action in actions:
            found.extend(st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
    return found


def role_of(fn: dict[str, Any]) -> str:
    return str(fn["Properties"]["Role"]["Fn::GetAtt"][0])


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_cfn_lint_passes_on_the_packaged_template(package_stage: Callable[[str], Packaged], stage: str) -> None:
    packaged = package_stage(stage)
    run = subprocess.run([str(Path(sys.executable).with_name("cfn-lint")), str(packaged.out / "sam.json")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_iam_policy_names_concrete_resources(packaged: Packaged) -> None:
    t = packaged.template
    checked = 0
    for logical, res in t["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for st in role_statements(t, logical):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            assert st["Effect"] == "Allow", (logical, st)
            assert not any(a == "*" or a.endswith(":*") for a in actions), f"{logical}: wildcard action {actions}"
            if any(DATA_ACTION.match(a) for a in actions):
                for resource in resources:
                    assert resource != "*", f"{logical}: {actions} on '*'"
                    text = json.dumps(resource)
                    # a concrete resource: a reference to one of ours, not a pattern over many
                    assert "Fn::GetAtt" in text or "${" in text, f"{logical}: {actions} on {resource}"
                    # the one pattern allowed: the table's own indexes
                    assert "*" not in text.replace("${GameTable.Arn}/index/*", ""), f"{logical}: {resource}"
                checked += 1
    assert checked >= len(functions(t)) + 1


def test_each_function_has_its_own_role_and_only_what_it_uses(packaged: Packaged) -> None:
    t = packaged.template
    fns = functions(t)
    roles = [role_of(fn) for fn in fns.values()]
    assert len(set(roles)) == len(roles), "functions share a role"
    sm_arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:gamification-dev-activity"

    def the_queue(resources: list[Any]) -> bool:
        return len(resources) == 1 and "ActivityQueue.Arn" in json.dumps(resources[0])

    for logical, fn in fns.items():
        role = role_of(fn)
        assert allowed(t, role, "states:StartExecution") == [], f"{logical}: nothing starts executions asynchronously"
        runs = allowed(t, role, "states:StartSyncExecution")
        sends = allowed(t, role, "sqs:SendMessage")
        receives = allowed(t, role, "sqs:ReceiveMessage")
        if logical == "ActivityConsumer":  # runs each queued activity's execution, and only that
            assert len(runs) == 1 and sm_arn in json.dumps(runs[0]), runs
            assert the_queue(receives), receives
            assert allowed(t, role, "dynamodb:GetItem") == [], "the consumer needs no table access"
        else:
            assert runs == [] and receives == [], f"{logical} may run executions or read the queue"
        if logical in ("APIHandler", "ReconcileActivities"):  # hands work over to the queue
            assert the_queue(sends), sends
        else:
            assert sends == [], f"{logical} may send to the queue but does not need to"
        assert allowed(t, role, "dynamodb:Scan") == [], f"{logical}: no Scan on any path (design.md)"
        log_group = {"Fn::GetAtt": [f"{logical}LogGroup", "Arn"]}
        assert allowed(t, role, "logs:PutLogEvents") == [log_group]


# What each DynamoDB client call needs in IAM (transactions check each item's own action).
IAM_FOR_CALL = {
    "get_item": ["GetItem"], "batch_get_item": ["BatchGetItem"], "query": ["Query"], "put_item": ["PutItem"],
    "update_item": ["UpdateItem"], "delete_item": ["DeleteItem"], "batch_write_item": ["BatchWriteItem"],
    "transact_get_items": ["GetItem"],
    "transact_write_items": ["PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem"],
    "scan": ["Scan"],
}


def test_roles_grant_every_dynamodb_call_the_code_makes(packaged: Packaged) -> None:
    """moto does not enforce IAM: this is what catches a permission the code needs but lacks."""
    calls = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        # Every DynamoDB request goes through `db.call("operation", ...)` (store/db.py).
        calls |= set(re.findall(r"\bcall\(\"([a-z_]+)\"", path.read_text()))
    assert calls, "no DynamoDB calls found: did db.py change shape?"
    needed = {f"dynamodb:{a}" for call in calls for a in IAM_FOR_CALL[call]}
    t = packaged.template
    for logical, fn in functions(t).items():
        if logical == "ActivityConsumer":
            continue  # it only runs executions (test_each_function_has_its_own_role_and_only_what_it_uses)
        for action in sorted(needed):
            grants = json.dumps(allowed(t, role_of(fn), action))
            assert "${GameTable.Arn}" in grants, f"{logical} lacks {action} on the table"


def test_state_machine_is_the_asl_file_with_each_placeholder_bound_to_a_packaged_function(
        packaged: Packaged) -> None:
    t = packaged.template
    sm = t["Resources"]["ActivityStateMachine"]["Properties"]
    text, variables = sm["DefinitionString"]["Fn::Sub"]
    assert json.loads(text) == json.loads(packaged.asl.read_text())
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == set(variables)
    fns = functions(t)
    targets = {v["Fn::GetAtt"][0] for v in variables.values()}
    assert targets <= set(fns)
    role = sm["RoleArn"]["Fn::GetAtt"][0]
    invoke = allowed(t, role, "lambda:InvokeFunction")
    assert sorted(r["Fn::GetAtt"][0] for r in invoke) == sorted(targets), "exactly the functions it calls"
    assert [s["Action"] for s in role_statements(t, role)] == (["lambda:InvokeFunction"] if targets else [])


def test_every_function_is_named_has_the_environment_logs_and_a_throttle_alarm(packaged: Packaged) -> None:
    t = packaged.template
    res = t["Resources"]
    for logical, fn in functions(t).items():
        props = fn["Properties"]
        assert props["FunctionName"].startswith("gamification-dev")
        env = props["Environment"]["Variables"]
        assert env["TABLE_NAME"] == {"Ref": "GameTable"}
        assert "stateMachine:gamification-dev-activity" in json.dumps(env["STATE_MACHINE_ARN"])
        assert env["STAGE"] == "dev" and env["DECODE_PATH_PARAMS"] == "false"
        assert props["Architectures"] == ["x86_64"] and props["Runtime"] == "python3.11"
        group = res[f"{logical}LogGroup"]
        assert group["Properties"] == {"LogGroupName": f"/aws/lambda/{props['FunctionName']}", "RetentionInDays": 14}
        assert f"{logical}LogGroup" in fn["DependsOn"]
        alarm = res[f"{logical}ThrottlesAlarm"]["Properties"]
        assert (alarm["MetricName"], alarm["Dimensions"]) == ("Throttles", [{"Name": "FunctionName",
                                                                              "Value": {"Ref": logical}}])
    api_env = res["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_env["OPERATOR_TOKEN_SHA256"] == {"Ref": "OperatorTokenSha256"}
    assert t["Parameters"]["OperatorTokenSha256"]["NoEcho"] is True


def test_workflow_and_table_alarms(packaged: Packaged) -> None:
    res = packaged.template["Resources"]
    for name, metric in [("WorkflowExecutionsFailedAlarm", "ExecutionsFailed"),
                         ("WorkflowExecutionsTimedOutAlarm", "ExecutionsTimedOut")]:
        props = res[name]["Properties"]
        assert props["MetricName"] == metric and props["Namespace"] == "AWS/States"
        assert props["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "ActivityStateMachine"}}]
    metrics = res["GameTableThrottledRequestsAlarm"]["Properties"]["Metrics"]
    stats = [m["MetricStat"]["Metric"] for m in metrics if "MetricStat" in m]
    assert {m["MetricName"] for m in stats} == {"ThrottledRequests"}
    assert all({"Name": "TableName", "Value": {"Ref": "GameTable"}} in m["Dimensions"] for m in stats)


def test_prod_stage_is_sized_separately(package_stage: Callable[[str], Packaged]) -> None:
    prod = package_stage("prod").template
    api = prod["Resources"]["APIHandler"]["Properties"]
    assert api["MemorySize"] == 1024 and api["ReservedConcurrentExecutions"] == 200
    assert prod["Resources"]["APIHandlerLogGroup"]["Properties"]["RetentionInDays"] == 365
    assert api["Environment"]["Variables"]["STAGE"] == "prod"
    others = [f for k, f in functions(prod).items() if k != "APIHandler"]
    # reserved concurrency on every function would exhaust a default account's 1000
    assert all("ReservedConcurrentExecutions" not in f["Properties"] for f in others)


def test_table_is_the_single_definition(packaged: Packaged) -> None:
    from local.provision import table_properties

    table = packaged.template["Resources"]["GameTable"]
    for key, value in table_properties().items():
        assert table["Properties"][key] == value
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True and table["DeletionPolicy"] == "Retain"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAtEpoch", "Enabled": True}


def test_console_bucket_is_private_and_served_over_https_through_origin_access_control(packaged: Packaged) -> None:
    res = packaged.template["Resources"]
    block = res["ConsoleBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                          "RestrictPublicBuckets"))
    dist = res["ConsoleDistribution"]["Properties"]["DistributionConfig"]
    (origin,) = dist["Origins"]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["ConsoleOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    behaviours = [dist["DefaultCacheBehavior"], *dist["CacheBehaviors"]]
    assert {b["ViewerProtocolPolicy"] for b in behaviours} == {"redirect-to-https"}
    (allow, deny) = res["ConsoleBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    assert "distribution/${ConsoleDistribution}" in json.dumps(allow["Condition"])
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


REQUIRED_GATEWAY_RESPONSES = {
    "DEFAULT_4XX": None, "DEFAULT_5XX": None, "UNAUTHORIZED": ("401", "Unauthorized"),
    "ACCESS_DENIED": ("403", "Forbidden"), "THROTTLED": ("429", "RateLimited"),
    "REQUEST_TOO_LARGE": ("413", "PayloadTooLarge"),
}


def test_gateway_errors_use_the_api_error_shape(packaged: Packaged) -> None:
    body = packaged.template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert set(REQUIRED_GATEWAY_RESPONSES) <= set(responses)
    for name, response in responses.items():
        template = response["responseTemplates"]["application/json"]
        # API Gateway substitutes $context.error.messageString as a quoted JSON string
        rendered = json.loads(template.replace("$context.error.messageString", json.dumps("Some \"quoted\" text")))
        assert set(rendered) == {"error"} and set(rendered["error"]) == {"type", "message", "details"}
        assert rendered["error"]["details"] == []
        expected = REQUIRED_GATEWAY_RESPONSES.get(name)
        if expected:
            assert (response["statusCode"], rendered["error"]["type"]) == expected
        assert "Access-Control-Allow-Origin" in json.dumps(response["responseParameters"])


def test_cors_preflight_answers_the_console_origin_only(packaged: Packaged) -> None:
    """The console (CloudFront) and the API (execute-api) are different origins in AWS."""
    text = json.dumps(packaged.template)
    assert "console-origin.invalid" not in text, "the packaging placeholder is replaced"
    body = packaged.template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    options = [ops["options"] for ops in body["paths"].values() if "options" in ops]
    assert options, "chalice generated preflight routes"
    headers = options[0]["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
    origin = headers["method.response.header.Access-Control-Allow-Origin"]
    assert origin == {"Fn::Sub": "'https://${ConsoleDistribution.DomainName}'"}
    assert "Idempotency-Key" in str(headers["method.response.header.Access-Control-Allow-Headers"])
