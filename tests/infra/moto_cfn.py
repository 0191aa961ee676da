"""Make the packaged template deployable by moto's CloudFormation (tests only).

moto has no SAM transform and no CloudFront, alarms or bucket policies. This module does
the minimum: the SAM resources chalice emits become their plain equivalents (what the SAM
transform makes of them in AWS: a function, a schedule rule plus its permission, a REST
API), the usage plans and API keys moto's CloudFormation lacks are made with its own API
Gateway backend (`_UsagePlan`, `_ApiKey`, `_UsagePlanKey`), and the types moto cannot create
are set aside (returned, so tests check them as declared) with references to them replaced by
stand-in strings.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.cloudformation import parsing as _parsing
from moto.core.common_models import CloudFormationModel

MOTO_UNSUPPORTED = {
    "AWS::CloudFront::Distribution",
    "AWS::CloudFront::OriginAccessControl",
    "AWS::S3::BucketPolicy",
    "AWS::CloudWatch::Alarm",
    "AWS::SNS::Subscription",
}


class _Created:
    """What moto's CloudFormation keeps of a resource: `Ref` answers its physical id."""

    def __init__(self, physical_id: str) -> None:
        self.physical_resource_id = physical_id

    def is_created(self) -> bool:
        return True


def _gateway() -> Any:
    from moto.apigateway.models import apigateway_backends

    return apigateway_backends


class _UsagePlan(CloudFormationModel):
    """AWS::ApiGateway::UsagePlan, which moto's CloudFormation lacks: made with moto's own
    API Gateway backend from the declared properties, as CloudFormation would."""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::UsagePlan"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[override]
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        p = cloudformation_json["Properties"]
        throttle = p.get("Throttle")
        plan = _gateway()[account_id][region_name].create_usage_plan({
            "name": p["UsagePlanName"], "description": p.get("Description"),
            "apiStages": [{"apiId": s["ApiId"], "stage": s["Stage"]} for s in p.get("ApiStages", [])],
            "throttle": {"rateLimit": throttle["RateLimit"], "burstLimit": throttle["BurstLimit"]} if throttle else None,
        })
        return _Created(plan.id)


class _ApiKey(CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::ApiKey"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[override]
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        p = cloudformation_json["Properties"]
        key = _gateway()[account_id][region_name].create_api_key({
            "name": p.get("Name", resource_name), "value": p.get("Value"), "enabled": p.get("Enabled", False),
            "description": p.get("Description")})
        return _Created(key.id)


class _UsagePlanKey(CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGateway::UsagePlanKey"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],  # type: ignore[override]
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        p = cloudformation_json["Properties"]
        _gateway()[account_id][region_name].create_usage_plan_key(p["UsagePlanId"], {
            "keyId": p["KeyId"], "keyType": p["KeyType"]})
        return _Created(f"{p['UsagePlanId']}:{p['KeyId']}")


# moto builds its type map once (lru_cache): make it see the three above.
_parsing.get_model_list.cache_clear()
_parsing.get_model_map.cache_clear()
_parsing.get_name_type_map.cache_clear()


def _function(props: dict[str, Any]) -> dict[str, Any]:
    code = props["CodeUri"]
    out = {
        "Code": {"S3Bucket": code["Bucket"], "S3Key": code["Key"]},
        "Tags": [{"Key": k, "Value": v} for k, v in props.get("Tags", {}).items()],
    }
    for key in ("FunctionName", "Handler", "Runtime", "Role", "Timeout", "MemorySize", "Environment",
                "Architectures", "ReservedConcurrentExecutions"):
        if key in props:
            out[key] = props[key]
    return out


def translate_sam(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    t.pop("Transform", None)
    resources: dict[str, Any] = {}
    stages: dict[str, str] = {}
    for logical, res in t["Resources"].items():
        kind, props = res["Type"], res.get("Properties", {})
        if kind == "AWS::Serverless::Function":
            fn = {**res, "Type": "AWS::Lambda::Function", "Properties": _function(props)}
            resources[logical] = fn
            for event_id, event in props.get("Events", {}).items():
                assert event["Type"] == "Schedule", f"untranslated event type {event['Type']}"
                resources[event_id] = {"Type": "AWS::Events::Rule", "Properties": {
                    "ScheduleExpression": event["Properties"]["Schedule"], "State": "ENABLED",
                    "Targets": [{"Arn": {"Fn::GetAtt": [logical, "Arn"]}, "Id": f"{event_id}LambdaTarget"}]}}
                resources[f"{event_id}Permission"] = {"Type": "AWS::Lambda::Permission", "Properties": {
                    "Action": "lambda:InvokeFunction", "FunctionName": {"Ref": logical},
                    "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [event_id, "Arn"]}}}
        elif kind == "AWS::Serverless::Api":
            resources[logical] = {"Type": "AWS::ApiGateway::RestApi", "Properties": {
                "Name": props["DefinitionBody"]["info"]["title"]}}
            stages[f"{logical}.Stage"] = props["StageName"]  # SAM's `Ref: Api.Stage`
        elif kind.startswith("AWS::Serverless::"):
            raise AssertionError(f"no translation for {kind}")
        else:
            resources[logical] = res
    t["Resources"] = resources
    return _stage_refs(t, stages) if stages else t


def _stage_refs(node: Any, stages: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in stages:
            return stages[node["Ref"]]
        return {k: _stage_refs(v, stages) for k, v in node.items()}
    if isinstance(node, list):
        return [_stage_refs(v, stages) for v in node]
    return node


def _replace_refs(node: Any, removed: set[str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in removed:
            return f"stand-in-{node['Ref']}"
        if set(node) == {"Fn::GetAtt"} and node["Fn::GetAtt"][0] in removed:
            return f"stand-in-{'-'.join(node['Fn::GetAtt'])}"
        if set(node) == {"Fn::Sub"}:
            sub = node["Fn::Sub"]
            text, variables = (sub, {}) if isinstance(sub, str) else sub
            for name in removed:
                text = text.replace("${" + name + ".DomainName}", "stand-in.cloudfront.net")
                text = text.replace("${" + name + "}", f"stand-in-{name}")
            return {"Fn::Sub": [text, _replace_refs(variables, removed)] if variables else text}
        return {k: _replace_refs(v, removed) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_refs(v, removed) for v in node]
    return node


def for_moto(template: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the template moto can create, the resources set aside)."""
    t = translate_sam(template)
    aside = {k: v for k, v in t["Resources"].items() if v["Type"] in MOTO_UNSUPPORTED}
    t["Resources"] = {k: v for k, v in t["Resources"].items() if k not in aside}
    t["Conditions"] = {}
    for res in t["Resources"].values():
        res.pop("Condition", None)
    t = _replace_refs(t, set(aside))
    t["Outputs"] = {k: v for k, v in t.get("Outputs", {}).items() if "stand-in" not in str(v)}
    return t, aside


def expose_state_machines(sfn: Any, template: dict[str, Any], account: str = "123456789012",
                          region: str = "us-east-1") -> None:
    """moto (5.2.5) creates CloudFormation's state machines in its plain Step Functions backend,
    while with `execute_state_machine` on the API answers from its executing backend, where
    they are missing, and it drops `StateMachineType`. Create them there too, from the
    definition CloudFormation resolved and the type the template declares."""
    from moto.stepfunctions.models import stepfunctions_backends

    types = {str(r["Properties"].get("StateMachineName")): r["Properties"].get("StateMachineType", "STANDARD")
             for r in template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"}
    listed = {m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]}
    for machine in stepfunctions_backends[account][region].state_machines:
        if machine.arn not in listed:
            sfn.create_state_machine(name=machine.name, definition=machine.definition,
                                     roleArn=machine.roleArn, type=types.get(machine.name, "STANDARD"))
