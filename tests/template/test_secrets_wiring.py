"""The secrets key as deployed (docs/secrets.md): the API only encrypts, the step
functions only decrypt (the browser function also makes data keys for its SSE-KMS
sessions), no other function touches KMS, and an operator's own key replaces ours."""

from __future__ import annotations

import re
from typing import Any

KMS_ACTIONS = {
    "ApiFunction": {"kms:Encrypt"},
    "StepFunction": {"kms:Decrypt"},
    "BrowserStepFunction": {"kms:Decrypt", "kms:GenerateDataKey"},
}
KEY = {
    "Fn::If": [
        "CreateSecretsKey",
        {"Fn::GetAtt": ["SecretsKey", "Arn"]},
        {"Ref": "SecretsKeyArn"},
    ]
}


def _kms_statements(policies: Any) -> list[dict[str, Any]]:
    statements = []
    for policy in policies or []:
        if isinstance(policy, dict):
            for statement in policy.get("Statement", []):
                actions = statement.get("Action", [])
                if any(str(a).startswith("kms:") for a in actions):
                    statements.append(statement)
    return statements


def test_only_the_api_encrypts_and_only_the_step_functions_decrypt(
    template: dict[str, Any],
) -> None:
    found: dict[str, set[str]] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        statements = _kms_statements(properties.get("Policies"))
        assert not re.search(r"KMSDecryptPolicy|KMSEncryptPolicy", str(properties.get("Policies")))
        if not statements:
            assert "SECRETS_KEY_ID" not in str(properties.get("Environment")), logical_id
            continue
        found[logical_id] = {a for s in statements for a in s["Action"]}
        assert all(s["Resource"] == KEY and s["Effect"] == "Allow" for s in statements)
        assert properties["Environment"]["Variables"]["SECRETS_KEY_ID"] == KEY
    assert found == KMS_ACTIONS


def test_the_key_is_ours_unless_the_operator_gives_one(template: dict[str, Any]) -> None:
    assert template["Parameters"]["SecretsKeyArn"]["Default"] == ""
    assert template["Conditions"]["CreateSecretsKey"] == {
        "Fn::Equals": [{"Ref": "SecretsKeyArn"}, ""]
    }
    key = template["Resources"]["SecretsKey"]
    assert key["Condition"] == "CreateSecretsKey"
    assert key["DeletionPolicy"] == "Retain"  # secrets must outlive a deleted stack
    assert key["Properties"]["EnableKeyRotation"] is True
    rules = template["Resources"]["ArtifactsBucket"]["Properties"]["LifecycleConfiguration"]
    assert {"sessions/", "runs/"} <= {r.get("Prefix") for r in rules["Rules"]}
