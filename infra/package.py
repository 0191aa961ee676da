#!/usr/bin/env python3
"""Build the deployable artifact: `dist/deployment.zip` and the packaged template `dist/sam.json`.

Steps:
1. Stage the project (app.py, chalicelib/, .chalice/) in a build directory with a
   requirements.txt generated from pyproject's runtime dependencies (chalice itself is left
   out: `chalice package` puts its own small runtime into the zip). `local/`, `tests/`,
   `bench/` are never staged, so moto and the other dev tools cannot leak into the zip.
2. Run `chalice package --merge-template infra/template.json`. With a wheelhouse, pip runs
   with `--no-index --find-links <wheelhouse>`: no network; the wheelhouse holds
   manylinux x86_64 / CPython 3.11 wheels, the Lambda runtime we deploy to.
3. Wire what chalice cannot know:
   - the state machine, its DefinitionString an `Fn::Sub` of `infra/statemachines/
     activity.asl.json` (moto's CloudFormation and AWS both read DefinitionString), each
     `${XxxFunctionArn}` mapped to the packaged function's Arn, and its role allowed
     `lambda:InvokeFunction` on exactly those functions;
   - every function: a fixed name (`gamification-{stage}-{name}`, as `chalice deploy` names
     them), TABLE_NAME and STATE_MACHINE_ARN, its own log group with a retention, the right to
     write to that log group only, a throttles alarm;
   - the per-function roles chalice made from `.chalice/policy-*.json`
     (`autogen_policy: false`): their `${GameTable.Arn}`-style references become `Fn::Sub`.

Run: `python infra/package.py --stage dev` (see `--help`).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MERGE_TEMPLATE = INFRA / "template.json"
STATE_MACHINE_FILE = INFRA / "statemachines" / "activity.asl.json"
DIST = ROOT / "dist"
APP_NAME = "gamification"
STATE_MACHINE_LOGICAL_ID = "ActivityStateMachine"

# The Lambda runtime the zip is built for. x86_64: Chalice 1.34 has no architecture setting
# and bundles the build machine's native wheels (pydantic-core), see docs/deploy.md.
LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON_VERSION = "3.11"
LAMBDA_ABI = "cp311"

# Runtime dependencies that must not go into the zip: chalice packages its own runtime.
NOT_PACKAGED = {"chalice"}


@dataclass(frozen=True)
class StageSettings:
    log_retention_days: int


STAGES = {
    "dev": StageSettings(log_retention_days=14),
    "prod": StageSettings(log_retention_days=365),
}


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower().replace("_", "-")


def runtime_requirements() -> list[str]:
    """pyproject's runtime dependencies, minus what chalice ships itself: the one list."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in deps if _requirement_name(d) not in NOT_PACKAGED]


def build_wheelhouse(dest: Path) -> None:
    """Download the runtime wheels for the Lambda platform (needs PyPI, once)."""
    dest.mkdir(parents=True, exist_ok=True)
    req = dest / "requirements.txt"
    req.write_text("\n".join(runtime_requirements()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--only-binary=:all:", "--platform", LAMBDA_PLATFORM, "--python-version", LAMBDA_PYTHON_VERSION,
         "--implementation", "cp", "--abi", LAMBDA_ABI, "-r", str(req), "-d", str(dest)],
        check=True,
    )


def stage_project(build: Path) -> Path:
    """A copy of exactly what goes into the Lambda zip, plus the generated requirements."""
    project = build / "project"
    if project.exists():
        # Keep .chalice/deployments: chalice caches the dependency zip there by requirements.
        for child in project.iterdir():
            if child.name != ".chalice":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    (project / ".chalice").mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy2(ROOT / "app.py", project / "app.py")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=ignore)
    for src in [ROOT / ".chalice" / "config.json", *sorted((ROOT / ".chalice").glob("policy-*.json"))]:
        shutil.copy2(src, project / ".chalice" / src.name)
    (project / "requirements.txt").write_text("\n".join(runtime_requirements()) + "\n")
    return project


# The console's origin (its CloudFront domain) is only known at deploy time, but chalice writes
# the CORS preflight answers into the API definition at package time: package with this
# placeholder, then `wire()` turns it into the distribution's domain with Fn::Sub.
CONSOLE_ORIGIN_PLACEHOLDER = "https://console-origin.invalid"


def _console_origin(node: Any) -> Any:
    if isinstance(node, str) and CONSOLE_ORIGIN_PLACEHOLDER in node:
        return {"Fn::Sub": node.replace(CONSOLE_ORIGIN_PLACEHOLDER, "https://${ConsoleDistribution.DomainName}")}
    if isinstance(node, list):
        return [_console_origin(n) for n in node]
    if isinstance(node, dict):
        return {k: _console_origin(v) for k, v in node.items()}
    return node


def chalice_package(project: Path, stage: str, out: Path, wheelhouse: Path | None) -> None:
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # chalice wants a region; the template has none
    env["CONSOLE_ORIGIN"] = CONSOLE_ORIGIN_PLACEHOLDER
    if wheelhouse is not None:
        env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse.resolve())})
    chalice = Path(sys.executable).with_name("chalice")
    cmd = [str(chalice), "package", "--stage", stage, "--merge-template", str(MERGE_TEMPLATE), str(out)]
    if out.exists():
        shutil.rmtree(out)
    subprocess.run(cmd, cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)


def cfn_name(name: str) -> str:
    """Chalice's logical id for a function name (`mark_failed` -> `MarkFailed`)."""
    from chalice.utils import to_cfn_resource_name

    return str(to_cfn_resource_name(name))


def app_function_names() -> dict[str, str]:
    """Logical id -> chalice name of every function the app declares (routes, steps, schedules)."""
    sys.path.insert(0, str(ROOT))
    try:
        from chalice.app import ScheduledEventConfig

        import app as app_module
    finally:
        sys.path.remove(str(ROOT))
    app = app_module.app
    names = {"APIHandler": "api_handler"}
    for fn in app.pure_lambda_functions:
        names[cfn_name(fn.name)] = fn.name
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            names[cfn_name(source.name)] = source.name
    return names


def function_name(stage: str, name: str) -> str:
    """The deployed name, as `chalice deploy` would give it (the API handler is `{app}-{stage}`)."""
    return f"{APP_NAME}-{stage}" if name == "api_handler" else f"{APP_NAME}-{stage}-{name}"


def function_arn(stage: str, name: str) -> dict[str, Any]:
    """A function's ARN, built from its fixed name (the API and the sweep invoke the webhook
    delivery function asynchronously)."""
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:"
                       f"function:{function_name(stage, name)}"}


def state_machine_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-activity"


def state_machine_arn(stage: str) -> dict[str, Any]:
    # Built, not `Ref`: the step functions carry it too, and the state machine refers to them.
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:"
                       f"stateMachine:{state_machine_name(stage)}"}


def asl_placeholders(text: str) -> list[str]:
    return sorted(set(re.findall(r"\$\{(\w+)\}", text)))


class _Marked(dict[str, str]):
    """Function name -> a marker; names the app lacks come back marked as missing."""

    def __missing__(self, name: str) -> str:
        return f"@@missing:{name}@@"


def placeholder_targets(placeholders: list[str], names: dict[str, str]) -> dict[str, str]:
    """Placeholder -> logical id of the function it names.

    The workflow module's own `substitutions` (what the local runtime uses) decides the
    mapping when it exists, so local and AWS agree; otherwise `${XxxFunctionArn}` names the
    function whose logical id is `Xxx`.
    """
    if not placeholders:
        return {}
    marked = _Marked({name: f"@@{logical}@@" for logical, name in names.items()})
    mapping: dict[str, str] = {}
    sys.path.insert(0, str(ROOT))
    try:
        from chalicelib.workflow.definition import substitutions

        mapping = {key: str(value).strip("@") for key, value in substitutions(marked).items()}
    except ImportError:
        mapping = {p: p.removesuffix("FunctionArn") for p in placeholders if p.endswith("FunctionArn")}
    finally:
        sys.path.remove(str(ROOT))
    problems = []
    for placeholder in placeholders:
        target = mapping.get(placeholder)
        if target is None:
            problems.append(f"${{{placeholder}}} has no function mapped to it")
        elif target.startswith("missing:") or target not in names:
            problems.append(f"${{{placeholder}}} names {target.removeprefix('missing:')!r}, "
                            "which is not an @app.lambda_function of the app")
    if problems:
        raise SystemExit(f"{STATE_MACHINE_FILE.name}: " + "; ".join(problems))
    return {p: mapping[p] for p in placeholders}


def _sub_strings(node: Any, variables: dict[str, Any]) -> Any:
    """Turn policy strings holding `${...}` into `Fn::Sub`, with only the variables they use."""
    if isinstance(node, str) and "${" in node:
        used = {k: v for k, v in variables.items() if "${" + k + "}" in node}
        return {"Fn::Sub": [node, used]} if used else {"Fn::Sub": node}
    if isinstance(node, list):
        return [_sub_strings(n, variables) for n in node]
    if isinstance(node, dict):
        return {k: _sub_strings(v, variables) for k, v in node.items()}
    return node


def _assume_role(service: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def wire(template: dict[str, Any], stage: str, names: dict[str, str], asl_text: str | None) -> dict[str, Any]:
    """Everything chalice's template lacks; pure: returns a new template."""
    t = _console_origin(copy.deepcopy(template))
    res: dict[str, Any] = t["Resources"]
    settings = STAGES[stage]
    policy_vars = {"ActivityStateMachineArn": state_machine_arn(stage),
                   "WebhookDeliveryFunctionArn": function_arn(stage, "deliver_webhook")}
    names = dict(names)
    if "RestAPI" in res and "APIHandler" in res:
        _limits_across_lambdas(res, t.setdefault("Outputs", {}), stage, names)
    functions = [k for k, v in res.items() if v["Type"] == "AWS::Serverless::Function"]

    for logical in functions:
        props = res[logical]["Properties"]
        name = names.get(logical, logical)
        deployed = function_name(stage, name)
        props["FunctionName"] = deployed
        env = props.setdefault("Environment", {}).setdefault("Variables", {})
        env["TABLE_NAME"] = {"Ref": "GameTable"}
        env["STATE_MACHINE_ARN"] = state_machine_arn(stage)
        env["ACTIVITY_QUEUE_URL"] = {"Ref": "ActivityQueue"}
        if logical == "APIHandler":
            env["OPERATOR_TOKEN_SHA256"] = {"Ref": "OperatorTokenSha256"}
            env["CURSOR_KEY"] = {"Ref": "CursorKey"}
            env["CONSOLE_ORIGIN"] = {"Fn::Sub": "https://${ConsoleDistribution.DomainName}"}

        log_group = f"{logical}LogGroup"
        res[log_group] = {
            "Type": "AWS::Logs::LogGroup",
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {"LogGroupName": f"/aws/lambda/{deployed}",
                           "RetentionInDays": settings.log_retention_days},
        }
        # The group exists before the first invocation, so Lambda never creates it itself.
        res[logical]["DependsOn"] = sorted({*res[logical].get("DependsOn", []), log_group})

        role_ref = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
        if role_ref and role_ref in res and role_ref != "DefaultRole":
            role = res[role_ref]["Properties"]
            role["Policies"] = _sub_strings(role.get("Policies", []), policy_vars)
            role["Policies"].append({
                "PolicyName": "OwnLogGroup",
                "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": {"Fn::GetAtt": [log_group, "Arn"]}}]},
            })

        res[f"{logical}ThrottlesAlarm"] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": f"Lambda {deployed} is being throttled.",
                "Namespace": "AWS/Lambda", "MetricName": "Throttles",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": logical}}],
                "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 5, "DatapointsToAlarm": 2,
                "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}], "OKActions": [{"Ref": "AlarmTopic"}],
            },
        }

    if asl_text is None:
        # No workflow yet: nothing refers to a state machine but the alarms and outputs.
        for key in ("WorkflowExecutionsFailedAlarm", "WorkflowExecutionsTimedOutAlarm"):
            res.pop(key, None)
        t.get("Outputs", {}).pop("StateMachineArn", None)
        return t

    machine_type = _consume_activity_queue(res, names)
    compact = json.dumps(json.loads(asl_text), separators=(",", ":"))
    targets = placeholder_targets(asl_placeholders(compact), names)
    invoked = sorted(set(targets.values()))
    policies = [{
        "PolicyName": "InvokeItsSteps",
        "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": [{"Fn::GetAtt": [fn, "Arn"]} for fn in invoked]}]},
    }] if invoked else []
    res[f"{STATE_MACHINE_LOGICAL_ID}Role"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": _assume_role("states.amazonaws.com"), "Policies": policies},
    }
    res[STATE_MACHINE_LOGICAL_ID] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "Properties": {
            "StateMachineName": state_machine_name(stage),
            "StateMachineType": machine_type,
            "DefinitionString": {"Fn::Sub": [compact, {p: {"Fn::GetAtt": [fn, "Arn"]} for p, fn in targets.items()}]},
            "RoleArn": {"Fn::GetAtt": [f"{STATE_MACHINE_LOGICAL_ID}Role", "Arn"]},
        },
    }
    return t


AUTHORIZER_LOGICAL_ID = "GatewayAuthorizer"
AUTHORIZER_NAME = "gateway_authorizer"
AUTHORIZER_HANDLER = "chalicelib.api.authorizer.handler"
AUTHORIZER_POLICY = ROOT / ".chalice" / "policy-authorizer.json"
SECURITY_SCHEME = "bearer-authorizer"
PLAN_ROLES = ("viewer", "editor", "admin", "operator")


def usage_plan_logical_id(role: str) -> str:
    return f"{role.capitalize()}UsagePlan"


def authenticated_operations() -> set[tuple[str, str]]:
    """(path, lower-case method) of every route that needs a token: the routing registry's."""
    sys.path.insert(0, str(ROOT))
    try:
        import app  # noqa: F401  (registers the routes)
        from chalicelib.api.routing import ROUTES
    finally:
        sys.path.remove(str(ROOT))
    return {(spec.path, spec.method.lower()) for spec in ROUTES if spec.role is not None}


def _limits_across_lambdas(res: dict[str, Any], outputs: dict[str, Any], stage: str, names: dict[str, str]) -> None:
    """API Gateway's usage plans, one per role, fed by a Lambda REQUEST authorizer.

    - `GatewayAuthorizer`: the app's code (chalicelib/api/authorizer.py) as its own function,
      only GetItem on the table; it answers the caller's site-and-role key as
      `usageIdentifierKey` (`apiKeySource: AUTHORIZER`: clients send only their bearer token).
    - every authenticated operation requires the authorizer and an API key; public ones (health,
      the OpenAPI document) and CORS preflights stay open.
    - one usage plan per role at the rate and burst of `RATE_LIMIT_*` (operator:
      `OPERATOR_RATE_LIMIT_*`), read from the stage's environment through api/limits.py, so the
      gateway and the in-process bucket agree; the operator's key is made here, the sites' keys
      when a site is created (store/gateway_keys.py), the plans named to the API function.
    - the API's integrations name the API function by its ARN, built from its fixed name: the
      function's environment and role name the plans, the plans name the API's stage, and the
      stage would otherwise depend on the function (a cycle).
    """
    sys.path.insert(0, str(ROOT))
    try:
        from chalicelib.api import authorizer, limits
        from chalicelib.store import gateway_keys
    finally:
        sys.path.remove(str(ROOT))
    api_fn = res["APIHandler"]["Properties"]
    env = api_fn.setdefault("Environment", {}).setdefault("Variables", {})
    site_rates, operator_rates = limits.rates({k: v for k, v in env.items() if isinstance(v, str)})

    policy = json.loads(AUTHORIZER_POLICY.read_text())
    res[f"{AUTHORIZER_LOGICAL_ID}Role"] = {
        "Type": "AWS::IAM::Role",
        "Properties": {"AssumeRolePolicyDocument": _assume_role("lambda.amazonaws.com"),
                       "Policies": [{"PolicyName": f"{AUTHORIZER_LOGICAL_ID}RolePolicy", "PolicyDocument": policy}]},
    }
    res[AUTHORIZER_LOGICAL_ID] = {"Type": "AWS::Serverless::Function", "Properties": {
        **{k: copy.deepcopy(api_fn[k]) for k in ("Runtime", "CodeUri", "Architectures", "Tracing", "Tags")
           if k in api_fn},
        "Handler": AUTHORIZER_HANDLER, "MemorySize": 256, "Timeout": 10,
        "Role": {"Fn::GetAtt": [f"{AUTHORIZER_LOGICAL_ID}Role", "Arn"]},
        "Environment": {"Variables": {**{k: v for k, v in env.items() if isinstance(v, str)},
                                      "OPERATOR_TOKEN_SHA256": {"Ref": "OperatorTokenSha256"},
                                      gateway_keys.NAMESPACE_ENV: {"Ref": "AWS::StackName"}}},
    }}
    names[AUTHORIZER_LOGICAL_ID] = AUTHORIZER_NAME
    res[f"{AUTHORIZER_LOGICAL_ID}InvokePermission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "FunctionName": {"Ref": AUTHORIZER_LOGICAL_ID}, "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                                 "${RestAPI}/authorizers/*"}}}

    body = res["RestAPI"]["Properties"]["DefinitionBody"]
    body["x-amazon-apigateway-api-key-source"] = "AUTHORIZER"
    body.setdefault("securityDefinitions", {}).update({
        SECURITY_SCHEME: {
            "type": "apiKey", "name": "Authorization", "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {
                "type": "request",
                "identitySource": "method.request.header.Authorization",
                "authorizerResultTtlInSeconds": authorizer.RESULT_TTL_SECONDS,
                "authorizerUri": {"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                                             f"2015-03-31/functions/${{{AUTHORIZER_LOGICAL_ID}.Arn}}/invocations"},
            },
        },
        "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"},
    })
    secured = authenticated_operations()
    api_arn = (f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:"
               f"{function_name(stage, 'api_handler')}")
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            if (path, method) in secured:
                operation["security"] = [{SECURITY_SCHEME: [], "api_key": []}]
            integration = operation.get("x-amazon-apigateway-integration", {})
            uri = integration.get("uri")
            if isinstance(uri, dict) and "${APIHandler.Arn}" in str(uri.get("Fn::Sub")):
                integration["uri"] = {"Fn::Sub": uri["Fn::Sub"].replace("${APIHandler.Arn}", api_arn)}

    for role in PLAN_ROLES:
        rate, burst = operator_rates if role == "operator" else site_rates
        plan: dict[str, Any] = {
            "UsagePlanName": f"{APP_NAME}-{stage}-{role}",
            "Description": f"Requests of the {role} keys, per site (the operator: one key).",
            "ApiStages": [{"ApiId": {"Ref": "RestAPI"}, "Stage": {"Ref": "RestAPI.Stage"}}],
        }
        if rate > 0:  # 0: the limit is off, as in the app
            plan["Throttle"] = {"RateLimit": rate, "BurstLimit": int(max(1, burst))}
        res[usage_plan_logical_id(role)] = {"Type": "AWS::ApiGateway::UsagePlan", "Properties": plan}
        if role != "operator":
            env[f"USAGE_PLAN_{role.upper()}"] = {"Ref": usage_plan_logical_id(role)}
            # infra/deploy.py register-gateway-keys reads them (sites made before the plans)
            outputs[f"{role.capitalize()}UsagePlanId"] = {"Value": {"Ref": usage_plan_logical_id(role)}}
    env[gateway_keys.NAMESPACE_ENV] = {"Ref": "AWS::StackName"}
    res["OperatorApiKey"] = {"Type": "AWS::ApiGateway::ApiKey", "Properties": {
        "Name": {"Fn::Sub": gateway_keys.key_value("${AWS::StackName}", None, "operator")},
        "Value": {"Fn::Sub": gateway_keys.key_value("${AWS::StackName}", None, "operator")},
        "Enabled": True, "Description": "usage plan key of the operator token"}}
    res["OperatorUsagePlanKey"] = {"Type": "AWS::ApiGateway::UsagePlanKey", "Properties": {
        "KeyId": {"Ref": "OperatorApiKey"}, "KeyType": "API_KEY",
        "UsagePlanId": {"Ref": usage_plan_logical_id("operator")}}}


def _consume_activity_queue(res: dict[str, Any], names: dict[str, str]) -> str:
    """Lambda's SQS event source for the queue's consumer, with partial batch responses; the
    state machine's type (the workflow's own table says which).

    Chalice's `on_sqs_message` cannot ask for ReportBatchItemFailures, which the consumer
    needs to give back only the failed user's messages: the mapping is declared here.
    """
    sys.path.insert(0, str(ROOT))
    try:
        from chalicelib.workflow.definition import BATCH_SIZE, CONSUMER, QUEUE_LOGICAL_ID, STATE_MACHINE_TYPE
    finally:
        sys.path.remove(str(ROOT))
    consumer = next((logical for logical, name in names.items() if name == CONSUMER), None)
    if consumer is None or consumer not in res:
        raise SystemExit(f"the app has no @app.lambda_function named {CONSUMER!r} to consume {QUEUE_LOGICAL_ID}")
    res[f"{consumer}EventSource"] = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": {"Fn::GetAtt": [QUEUE_LOGICAL_ID, "Arn"]},
            "FunctionName": {"Ref": consumer},
            "BatchSize": BATCH_SIZE,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    }
    return str(STATE_MACHINE_TYPE)


def precompile(zip_path: Path) -> int:
    """Add `__pycache__/*.cpython-311.pyc` (unchecked-hash) for every .py in the zip.

    /var/task is read-only on Lambda: without shipped bytecode every cold start compiles
    every imported module from source (bench/cold_start.py measures both). Unchecked-hash
    pycs stay valid whatever the files' mtimes. Same CPython minor version as the runtime.
    """
    import importlib.util
    import py_compile
    import tempfile
    import zipfile

    if sys.version_info[:2] != tuple(int(x) for x in LAMBDA_PYTHON_VERSION.split(".")):
        print(f"warning: not precompiling: building with Python {sys.version_info[:2]}, "
              f"the runtime is {LAMBDA_PYTHON_VERSION}", file=sys.stderr)
        return 0
    count = 0
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(zip_path, "a", zipfile.ZIP_DEFLATED) as zf:
        present = set(zf.namelist())
        for name in sorted(present):
            if not name.endswith(".py"):
                continue
            target = importlib.util.cache_from_source(name)
            if target in present:
                continue
            src = Path(tmp) / name
            src.parent.mkdir(parents=True, exist_ok=True)
            src.write_bytes(zf.read(name))
            try:
                py_compile.compile(str(src), cfile=str(src) + "c", dfile=f"/var/task/{name}", doraise=True,
                                   invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
            except py_compile.PyCompileError:
                continue  # e.g. a py2-only file some wheel ships; Python would fail on it as well
            zf.write(str(src) + "c", target)
            count += 1
    return count


def package(stage: str, out: Path, build: Path, wheelhouse: Path | None,
            asl: Path | None = STATE_MACHINE_FILE) -> Path:
    """Build `out/deployment.zip` and `out/sam.json`; returns the template's path."""
    if stage not in STAGES:
        raise SystemExit(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    project = stage_project(build)
    chalice_package(project, stage, out, wheelhouse)
    precompile(out / "deployment.zip")
    sam = out / "sam.json"
    template = json.loads(sam.read_text())
    asl_text = asl.read_text() if asl is not None and asl.exists() else None
    if asl_text is None:
        print(f"warning: {asl} not found: packaged without a state machine", file=sys.stderr)
    sam.write_text(json.dumps(wire(template, stage, app_function_names(), asl_text), indent=1) + "\n")
    return sam


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev", choices=sorted(STAGES))
    parser.add_argument("--out", type=Path, default=DIST, help="where deployment.zip and sam.json go")
    parser.add_argument("--build-dir", type=Path, default=None, help="staging dir (default: <out>/build)")
    parser.add_argument("--wheelhouse", type=Path, default=DIST / "wheelhouse")
    parser.add_argument("--online", action="store_true", help="let pip use PyPI instead of the wheelhouse")
    parser.add_argument("--wheelhouse-only", action="store_true", help="only download the wheelhouse")
    parser.add_argument("--asl", type=Path, default=STATE_MACHINE_FILE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.wheelhouse_only:
        build_wheelhouse(args.wheelhouse)
        print(f"wheelhouse: {args.wheelhouse}")
        return
    wheelhouse = None if args.online else args.wheelhouse.resolve()
    if wheelhouse is not None and not any(wheelhouse.glob("*.whl")):
        raise SystemExit(f"no wheels in {wheelhouse}: run `python infra/package.py --wheelhouse-only` "
                         "(needs PyPI once) or pass --online")
    out: Path = args.out.resolve()
    build = (args.build_dir or out / "build").resolve()
    # chalice writes its output into a fresh directory: package next to dist/, then move.
    staging_out = build / "package"
    sam = package(args.stage, staging_out, build, wheelhouse, args.asl)
    out.mkdir(parents=True, exist_ok=True)
    for artifact in ("sam.json", "deployment.zip"):
        shutil.copy2(staging_out / artifact, out / artifact)
    (out / "stage").write_text(args.stage + "\n")
    print(f"packaged stage {args.stage}: {sam.name} and deployment.zip "
          f"({(out / 'deployment.zip').stat().st_size // 1024} KiB) in {out}")


if __name__ == "__main__":
    main()
