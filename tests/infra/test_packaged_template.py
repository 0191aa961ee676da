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
        if logical in ("ActivityConsumer", "GatewayAuthorizer"):
            continue  # it only runs executions / reads keys (tests above and below)
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
    "REQUEST_TOO_LARGE": ("413", "PayloadTooLarge"), "QUOTA_EXCEEDED": ("429", "RateLimited"),
    "INVALID_API_KEY": ("403", "Forbidden"), "AUTHORIZER_FAILURE": ("503", "ServiceUnavailable"),
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


def _authenticated(t: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = t["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    return {f"{m.upper()} {p}": op for p, ops in body["paths"].items() for m, op in ops.items()}


def test_every_authenticated_route_goes_through_the_authorizer_and_a_usage_plan(packaged: Packaged) -> None:
    from chalicelib.api.routing import ROUTES

    t = packaged.template
    body = t["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    assert body["x-amazon-apigateway-api-key-source"] == "AUTHORIZER", "clients send only their bearer token"
    scheme = body["securityDefinitions"]["bearer-authorizer"]
    authorizer = scheme["x-amazon-apigateway-authorizer"]
    assert (scheme["x-amazon-apigateway-authtype"], authorizer["type"], authorizer["identitySource"]) == (
        "custom", "request", "method.request.header.Authorization")
    assert "${GatewayAuthorizer.Arn}" in authorizer["authorizerUri"]["Fn::Sub"]
    operations = _authenticated(t)
    for spec in ROUTES:
        op = operations[f"{spec.method} {spec.path}"]
        expected = [{"bearer-authorizer": [], "api_key": []}] if spec.role else None
        assert op.get("security") == expected, (spec.method, spec.path)
    assert all("security" not in op for name, op in operations.items() if name.startswith("OPTIONS ")), \
        "CORS preflights carry no token"
    # no cycle: the integrations name the API function by its fixed name, not by a reference
    assert "${APIHandler.Arn}" not in json.dumps(body)
    fn = t["Resources"]["GatewayAuthorizer"]["Properties"]
    assert fn["Handler"] == "chalicelib.api.authorizer.handler" and fn["CodeUri"] == \
        t["Resources"]["APIHandler"]["Properties"]["CodeUri"]
    role = role_of(t["Resources"]["GatewayAuthorizer"])
    actions = sorted(a for st in role_statements(t, role) for a in
                     (st["Action"] if isinstance(st["Action"], list) else [st["Action"]]))
    assert actions == ["dynamodb:GetItem", "logs:CreateLogStream", "logs:PutLogEvents"]
    assert allowed(t, role, "dynamodb:GetItem") == [{"Fn::Sub": "${GameTable.Arn}"}], "the table, no index"
    permission = t["Resources"]["GatewayAuthorizerInvokePermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"
    assert "${RestAPI}/authorizers/*" in permission["SourceArn"]["Fn::Sub"]


def test_revocation_through_the_gateway_stays_within_60_seconds(packaged: Packaged) -> None:
    """An Allow cached by API Gateway (result TTL) for a key the authorizer's container had
    just verified (auth.VERIFIED_SECONDS): the worst case is their sum."""
    from chalicelib import auth
    from chalicelib.api import authorizer

    body = packaged.template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    ttl = body["securityDefinitions"]["bearer-authorizer"]["x-amazon-apigateway-authorizer"][
        "authorizerResultTtlInSeconds"]
    assert ttl == authorizer.RESULT_TTL_SECONDS
    assert ttl + auth.VERIFIED_SECONDS <= 60


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_one_usage_plan_per_role_at_the_rates_of_the_app(package_stage: Callable[[str], Packaged], stage: str) -> None:
    from chalicelib.api import limits

    t = package_stage(stage).template
    res = t["Resources"]
    (key_rate, key_burst), (op_rate, op_burst) = limits.rates({})
    for role in ("viewer", "editor", "admin", "operator"):
        plan = res[f"{role.capitalize()}UsagePlan"]
        assert plan["Type"] == "AWS::ApiGateway::UsagePlan"
        props = plan["Properties"]
        rate, burst = (op_rate, op_burst) if role == "operator" else (key_rate, key_burst)
        assert props["Throttle"] == {"RateLimit": rate, "BurstLimit": int(burst)}
        assert props["ApiStages"] == [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}]
        assert props["UsagePlanName"] == f"gamification-{stage}-{role}"
    env = res["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert {k: v for k, v in env.items() if k.startswith("USAGE_PLAN_")} == {
        f"USAGE_PLAN_{r.upper()}": {"Ref": f"{r.capitalize()}UsagePlan"} for r in ("viewer", "editor", "admin")}
    assert res["OperatorUsagePlanKey"]["Properties"] == {
        "KeyId": {"Ref": "OperatorApiKey"}, "KeyType": "API_KEY", "UsagePlanId": {"Ref": "OperatorUsagePlan"}}
    # the API function may register keys in the three site plans, and nothing more of API Gateway
    role = role_of(res["APIHandler"])
    granted = json.dumps(allowed(t, role, "apigateway:POST"))
    assert all(f"/usageplans/${{{r.capitalize()}UsagePlan}}/keys" in granted for r in ("viewer", "editor", "admin"))
    assert "Operator" not in granted and "::/apikeys" in granted
