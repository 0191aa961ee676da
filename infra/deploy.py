#!/usr/bin/env python3
"""Deploy the packaged artifact (`dist/`, built by infra/package.py) to AWS, or tear it down.

    python infra/deploy.py deploy  --stage dev [--alarm-email ops@example.com]
    python infra/deploy.py destroy --stage dev
    python infra/deploy.py rotate-operator-token --stage dev
    python infra/deploy.py rotate-cursor-key --stage dev
    python infra/deploy.py register-gateway-keys --stage dev   (once: sites made before usage plans)

boto3 only (no AWS CLI needed). `deploy` does what `aws cloudformation package` + `deploy`
would: upload the zip and the template to an artifact bucket, create or update the stack
through a change set (the SAM transform runs in CloudFormation), then upload the admin
console to its private bucket with `config.js` pointing at the API, and invalidate
CloudFront.

The operator token: its SHA-256 lives in the SSM SecureString
`/gamification/{stage}/operator-token-sha256`. On the first deploy of a stage the token is
generated, printed once, and only its hash is stored. The hash reaches the API function as
the NoEcho stack parameter OperatorTokenSha256 (CloudFormation cannot put a SecureString
into Lambda environment variables itself).

The cursor key (list cursors are sealed with it, HMAC-SHA256): 32 random bytes generated on a
stage's first deploy into the SSM SecureString `/gamification/{stage}/cursor-key`, read back on
every later deploy (so cursors survive deploys) and passed as the NoEcho parameter CursorKey,
the API function's `CURSOR_KEY`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import re
import secrets
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"
ADMIN = ROOT / "admin"
APP_NAME = "gamification"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]


def stack_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}"


def operator_parameter_name(stage: str) -> str:
    return f"/{APP_NAME}/{stage}/operator-token-sha256"


def cursor_parameter_name(stage: str) -> str:
    return f"/{APP_NAME}/{stage}/cursor-key"


def artifact_bucket_name(account: str, region: str, stage: str) -> str:
    return f"{APP_NAME}-{stage}-artifacts-{account}-{region}"


def ensure_artifact_bucket(s3: Any, name: str, region: str) -> None:
    """A private, encrypted bucket for code and templates (outside the stack: it must exist first)."""
    try:
        s3.head_bucket(Bucket=name)
        return
    except s3.exceptions.ClientError:
        pass
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})


def upload_artifacts(s3: Any, bucket: str, stage: str, dist: Path = DIST) -> dict[str, Any]:
    """Upload the zip (content-addressed) and return the template with CodeUri pointing at it."""
    template = json.loads((dist / "sam.json").read_text())
    code = (dist / "deployment.zip").read_bytes()
    key = f"{stage}/{hashlib.sha256(code).hexdigest()}.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=code)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": bucket, "Key": key}
    return template


def upload_template(s3: Any, bucket: str, stage: str, template: dict[str, Any]) -> str:
    """Templates above 51,200 bytes must come from S3; ours does (the OpenAPI body)."""
    body = json.dumps(template).encode()
    key = f"{stage}/{hashlib.sha256(body).hexdigest()}.template.json"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    region = s3.meta.region_name
    host = "s3.amazonaws.com" if region == "us-east-1" else f"s3.{region}.amazonaws.com"
    return f"https://{bucket}.{host}/{key}"


def operator_token_hash(ssm: Any, stage: str, rotate: bool = False) -> tuple[str, str | None]:
    """(sha256 hex, the new token when one was just made) from the stage's SecureString."""
    name = operator_parameter_name(stage)
    if not rotate:
        try:
            value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
            return str(value), None
        except ssm.exceptions.ParameterNotFound:
            pass
    token = "op." + secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    ssm.put_parameter(Name=name, Value=digest, Type="SecureString", Overwrite=True,
                      Description="SHA-256 of the gamification operator token")
    return digest, token


def cursor_key(ssm: Any, stage: str, rotate: bool = False) -> str:
    """The stage's cursor key (hex), generated into its SecureString on first use or rotation."""
    name = cursor_parameter_name(stage)
    if not rotate:
        try:
            return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            pass
    key = secrets.token_hex(32)
    ssm.put_parameter(Name=name, Value=key, Type="SecureString", Overwrite=True,
                      Description="Key the gamification API seals list cursors with")
    return key


def deploy_stack(cfn: Any, name: str, template_url: str, parameters: dict[str, str]) -> dict[str, str]:
    """Create or update through a change set; returns the stack's outputs."""
    try:
        cfn.describe_stacks(StackName=name)
        change_type = "UPDATE"
    except cfn.exceptions.ClientError:
        change_type = "CREATE"
    change_set = f"deploy-{int(time.time())}"
    cfn.create_change_set(
        StackName=name, ChangeSetName=change_set, ChangeSetType=change_type, TemplateURL=template_url,
        Capabilities=CAPABILITIES, Tags=[{"Key": "app", "Value": APP_NAME}],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=name, ChangeSetName=change_set, WaiterConfig={"Delay": 5, "MaxAttempts": 120})
    except Exception:
        reason = cfn.describe_change_set(StackName=name, ChangeSetName=change_set).get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
            print("no changes to the stack")
            return stack_outputs(cfn, name)
        raise SystemExit(f"change set failed: {reason}") from None
    cfn.execute_change_set(StackName=name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if change_type == "CREATE" else "stack_update_complete"
    # CloudFront distributions take minutes to create.
    cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 15, "MaxAttempts": 160})
    return stack_outputs(cfn, name)


def stack_outputs(cfn: Any, name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def console_config(api_url: str) -> str:
    return ("// Written by infra/deploy.py at deploy time.\n"
            f"window.GAMI_CONFIG = {{apiBase: {json.dumps(api_url.rstrip('/'))}}};\n")


def _content_type(path: Path) -> str:
    if path.suffix in (".js", ".mjs"):
        return "text/javascript; charset=utf-8"
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def upload_console(s3: Any, bucket: str, api_url: str, admin: Path = ADMIN) -> list[str]:
    """Every file of admin/ (config.js rewritten with the API's URL); returns the keys."""
    keys = []
    for path in sorted(p for p in admin.rglob("*") if p.is_file()):
        key = path.relative_to(admin).as_posix()
        body = console_config(api_url).encode() if key == "config.js" else path.read_bytes()
        # config.js and index.html change with each deploy; the modules are revalidated cheaply.
        cache = "no-cache" if key in ("config.js", "index.html") else "public, max-age=300"
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=_content_type(path), CacheControl=cache)
        keys.append(key)
    return keys


def empty_bucket(s3: Any, bucket: str) -> None:
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})


def deploy(stage: str, dist: Path, alarm_email: str, session: Any) -> dict[str, str]:
    packaged = (dist / "stage").read_text().strip() if (dist / "stage").exists() else None
    if packaged != stage:
        raise SystemExit(f"{dist} holds stage {packaged!r}; run `make package STAGE={stage}` first")
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    s3 = session.client("s3")
    bucket = artifact_bucket_name(account, region, stage)
    ensure_artifact_bucket(s3, bucket, region)
    template = upload_artifacts(s3, bucket, stage, dist)
    url = upload_template(s3, bucket, stage, template)
    digest, new_token = operator_token_hash(session.client("ssm"), stage)
    outputs = deploy_stack(session.client("cloudformation"), stack_name(stage), url,
                           {"OperatorTokenSha256": digest, "CursorKey": cursor_key(session.client("ssm"), stage),
                            "AlarmEmail": alarm_email})
    upload_console(s3, outputs["ConsoleBucketName"], outputs["EndpointURL"])
    session.client("cloudfront").create_invalidation(
        DistributionId=outputs["ConsoleDistributionId"],
        InvalidationBatch={"Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": str(time.time())})
    print(f"API:     {outputs['EndpointURL']}")
    print(f"Console: {outputs['ConsoleURL']}")
    if new_token:
        print(f"Operator token (shown once; only its hash is stored in SSM "
              f"{operator_parameter_name(stage)}):\n  {new_token}")
    return outputs


def register_gateway_keys(stage: str, session: Any) -> int:
    """Give every site of the stage its API Gateway keys (one per role, in its role's usage plan).

    Sites get them when they are created; this is for sites made before the stack had usage
    plans (API Gateway answers their callers 403 until then), and is safe to run again: a key
    or attachment that exists is kept. API Gateway's control plane takes a few calls a second,
    so it runs once, not on every deploy. Returns how many sites were done.
    """
    import os
    import sys

    outputs = stack_outputs(session.client("cloudformation"), stack_name(stage))
    os.environ.update({
        "TABLE_NAME": outputs["TableName"], "AWS_DEFAULT_REGION": session.region_name,
        "GATEWAY_KEY_NAMESPACE": stack_name(stage),
        **{f"USAGE_PLAN_{role.upper()}": outputs[f"{role.capitalize()}UsagePlanId"]
           for role in ("viewer", "editor", "admin")}})
    sys.path.insert(0, str(ROOT))
    try:
        from chalicelib.config import settings
        from chalicelib.store import db, gateway_keys, sites
    finally:
        sys.path.remove(str(ROOT))
    settings.cache_clear()
    db.reset_client()
    gateway_keys._client.cache_clear()
    done = 0
    for site in sites.all_site_ids():
        gateway_keys.register_site(site)
        done += 1
    return done


def delete_gateway_keys(stage: str, session: Any) -> int:
    """The sites' API Gateway keys, which the stack does not own (the site's creation made them):
    without this they would stay and count against the account's 10,000 keys."""
    client = session.client("apigateway")
    prefix = f"{stack_name(stage)}."
    names = [item for page in client.get_paginator("get_api_keys").paginate(nameQuery=prefix)
             for item in page.get("items", []) if str(item.get("name", "")).startswith(prefix)]
    for item in names:
        client.delete_api_key(apiKey=item["id"])
    return len(names)


def destroy(stage: str, session: Any) -> None:
    """Delete the stack. The table is retained (DeletionPolicy Retain + deletion protection)."""
    cfn = session.client("cloudformation")
    try:
        outputs = stack_outputs(cfn, stack_name(stage))
    except cfn.exceptions.ClientError:
        print(f"no stack {stack_name(stage)}")
        return
    if "ConsoleBucketName" in outputs:
        empty_bucket(session.client("s3"), outputs["ConsoleBucketName"])
    cfn.delete_stack(StackName=stack_name(stage))
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack_name(stage),
                                                 WaiterConfig={"Delay": 15, "MaxAttempts": 160})
    deleted = delete_gateway_keys(stage, session)
    print(f"deleted {stack_name(stage)} and {deleted} API Gateway keys of its sites; the table {outputs.get('TableName')} is retained "
          "(see docs/deploy.md to delete it for good)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["deploy", "destroy", "rotate-operator-token", "rotate-cursor-key",
                                            "register-gateway-keys"])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("--dist", type=Path, default=DIST)
    parser.add_argument("--alarm-email", default="")
    parser.add_argument("--region", default=None, help="default: the AWS CLI/SDK configuration")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", args.stage):
        raise SystemExit("stage: lowercase letters and digits")
    import boto3

    session = boto3.session.Session(region_name=args.region)
    if not session.region_name:
        raise SystemExit("no region: set AWS_REGION or pass --region")
    if args.command == "deploy":
        deploy(args.stage, args.dist, args.alarm_email, session)
    elif args.command == "destroy":
        destroy(args.stage, session)
    elif args.command == "register-gateway-keys":
        print(f"{register_gateway_keys(args.stage, session)} sites have their API Gateway keys")
    elif args.command == "rotate-cursor-key":
        cursor_key(session.client("ssm"), args.stage, rotate=True)
        print(f"new cursor key stored (redeploy to apply: make deploy STAGE={args.stage}); "
              "cursors issued before it answer 400 and clients start again from page one")
    else:
        _, token = operator_token_hash(session.client("ssm"), args.stage, rotate=True)
        print(f"new operator token (redeploy to apply: make deploy STAGE={args.stage}):\n  {token}")


if __name__ == "__main__":
    main()
