"""What an action means for an attacker: its tactic family and its ATT&CK technique.

One table, keyed by the action's name as the vendor writes it (CloudTrail `eventName`, Okta
`eventType`, GitHub audit `action`, Google `events[].name`, GCP `methodName`). Families are the
checklist's words: persistence, privilege, evasion, exfiltration, credential_access,
execution, lateral_movement, discovery, initial_access, impact. An action can matter only in
some shapes (`AuthorizeSecurityGroupIngress` from 0.0.0.0/0, `ModifyImageAttribute` adding
an account): `qualifies` checks those from structured request fields, never free text.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.security.entities import get_path


@dataclass(frozen=True, slots=True)
class Meaning:
    family: str
    technique: str


_M = Meaning
CATALOG: dict[str, Meaning] = {
    # --- AWS: defence evasion / impairment (logging and detection turned off)
    "StopLogging": _M("evasion", "T1562.008"), "DeleteTrail": _M("evasion", "T1562.008"),
    "UpdateTrail": _M("evasion", "T1562.008"), "PutEventSelectors": _M("evasion", "T1562.008"),
    "DeleteFlowLogs": _M("evasion", "T1562.008"),
    "DeleteResolverQueryLogConfig": _M("evasion", "T1562.008"),
    "DisassociateResolverQueryLogConfig": _M("evasion", "T1562.008"),
    "DeleteDetector": _M("evasion", "T1562.001"), "UpdateDetector": _M("evasion", "T1562.001"),
    "DeleteMembers": _M("evasion", "T1562.001"), "DisassociateFromMasterAccount":
        _M("evasion", "T1562.001"),
    "StopConfigurationRecorder": _M("evasion", "T1562.008"),
    "DeleteConfigurationRecorder": _M("evasion", "T1562.008"),
    "DeleteDeliveryChannel": _M("evasion", "T1562.008"),
    "DisableSecurityHub": _M("evasion", "T1562.001"),
    "DeleteLogGroup": _M("evasion", "T1562.008"), "DeleteLogStream": _M("evasion", "T1070"),
    "PutBucketLifecycle": _M("evasion", "T1562.008"),
    "PutBucketLogging": _M("evasion", "T1562.008"),
    "PutBucketVersioning": _M("impact", "T1490"),
    "DeleteModelInvocationLoggingConfiguration": _M("evasion", "T1562.008"),
    "LeaveOrganization": _M("evasion", "T1666"),
    # --- AWS: persistence
    "CreateUser": _M("persistence", "T1136.003"),
    "CreateAccessKey": _M("persistence", "T1098.001"),
    "CreateLoginProfile": _M("persistence", "T1098"),
    "UpdateLoginProfile": _M("privilege", "T1098"),
    "UpdateAssumeRolePolicy": _M("persistence", "T1098.003"),
    "CreateRole": _M("persistence", "T1136.003"),
    "AddPermission": _M("persistence", "T1546"),
    "UpdateFunctionCode": _M("persistence", "T1648"),
    "UpdateFunctionConfiguration": _M("persistence", "T1648"),
    "PublishLayerVersion": _M("persistence", "T1648"),
    "CreateTrustAnchor": _M("persistence", "T1484.002"),
    "CreateProfile": _M("persistence", "T1484.002"),
    "GetFederationToken": _M("persistence", "T1098.001"),
    "ImportKeyPair": _M("persistence", "T1098.004"),
    "CreateVirtualMFADevice": _M("persistence", "T1556.006"),
    "DeactivateMFADevice": _M("evasion", "T1556.006"),
    "DeleteVirtualMFADevice": _M("evasion", "T1556.006"),
    "CreateSAMLProvider": _M("persistence", "T1484.002"),
    "UpdateSAMLProvider": _M("persistence", "T1484.002"),
    "CreateOpenIDConnectProvider": _M("persistence", "T1484.002"),
    # --- AWS: privilege changes
    "AttachUserPolicy": _M("privilege", "T1098.003"),
    "AttachRolePolicy": _M("privilege", "T1098.003"),
    "AttachGroupPolicy": _M("privilege", "T1098.003"),
    "PutUserPolicy": _M("privilege", "T1098.003"), "PutRolePolicy": _M("privilege", "T1098.003"),
    "PutGroupPolicy": _M("privilege", "T1098.003"),
    "CreatePolicyVersion": _M("privilege", "T1098.003"),
    "SetDefaultPolicyVersion": _M("privilege", "T1098.003"),
    "AddUserToGroup": _M("privilege", "T1098.003"),
    # --- AWS: exfiltration / exposure
    "ModifyImageAttribute": _M("exfiltration", "T1537"),
    "ModifySnapshotAttribute": _M("exfiltration", "T1537"),
    "ModifyDBSnapshotAttribute": _M("exfiltration", "T1537"),
    "ModifyDBClusterSnapshotAttribute": _M("exfiltration", "T1537"),
    "PutBucketPolicy": _M("exfiltration", "T1537"), "PutBucketAcl": _M("exfiltration", "T1537"),
    "DeletePublicAccessBlock": _M("exfiltration", "T1537"),
    "AuthorizeSecurityGroupIngress": _M("evasion", "T1562.007"),
    "CreateSnapshot": _M("exfiltration", "T1537"),
    # --- AWS: credential access
    "GetSecretValue": _M("credential_access", "T1555.006"),
    "BatchGetSecretValue": _M("credential_access", "T1555.006"),
    "GetParameters": _M("credential_access", "T1555.006"),
    "GetParameter": _M("credential_access", "T1555.006"),
    "GetPasswordData": _M("credential_access", "T1552"),
    # --- AWS: execution, lateral movement, discovery, impact, initial access
    "SendCommand": _M("execution", "T1651"), "StartSession": _M("execution", "T1651"),
    "ModifyInstanceAttribute": _M("execution", "T1059.009"),
    "RunInstances": _M("execution", "T1578.002"),
    "SendSSHPublicKey": _M("lateral_movement", "T1021.008"),
    "SendSerialConsoleSSHPublicKey": _M("lateral_movement", "T1021.008"),
    "DescribeInstanceAttribute": _M("discovery", "T1580"),
    "GetCallerIdentity": _M("discovery", "T1087.004"),
    "ListSecrets": _M("discovery", "T1526"),
    "DeleteBucket": _M("impact", "T1485"), "DeleteDBInstance": _M("impact", "T1485"),
    "DeleteDBCluster": _M("impact", "T1485"), "TerminateInstances": _M("impact", "T1485"),
    "ConsoleLogin": _M("initial_access", "T1078.004"),
    # --- Okta System Log
    "user.mfa.factor.deactivate": _M("evasion", "T1556.006"),
    "user.mfa.factor.reset_all": _M("evasion", "T1556.006"),
    "system.api_token.create": _M("persistence", "T1098.001"),
    "user.account.privilege.grant": _M("privilege", "T1098.003"),
    "group.privilege.grant": _M("privilege", "T1098.003"),
    "policy.lifecycle.deactivate": _M("evasion", "T1556"),
    "policy.lifecycle.delete": _M("evasion", "T1556"),
    "policy.rule.deactivate": _M("evasion", "T1556"),
    "zone.deactivate": _M("evasion", "T1562"), "zone.delete": _M("evasion", "T1562"),
    "system.idp.lifecycle.create": _M("persistence", "T1484.002"),
    "user.session.impersonation.initiate": _M("privilege", "T1134"),
    "user.account.report_suspicious_activity_by_enduser": _M("initial_access", "T1078"),
    # --- GitHub audit log
    "secret_scanning.disable": _M("evasion", "T1562.001"),
    "repository_secret_scanning.disable": _M("evasion", "T1562.001"),
    "org.secret_scanning_push_protection_disable": _M("evasion", "T1562.001"),
    "repository_secret_scanning_push_protection.disable": _M("evasion", "T1562.001"),
    "org.audit_log_stream.destroy": _M("evasion", "T1562.008"),
    "audit_log_streaming.destroy": _M("evasion", "T1562.008"),
    "repository_vulnerability_alerts.disable": _M("evasion", "T1562.001"),
    "protected_branch.destroy": _M("evasion", "T1562.001"),
    "protected_branch.policy_override": _M("evasion", "T1562.001"),
    "public_key.create": _M("persistence", "T1098.004"),
    "deploy_key.create": _M("persistence", "T1098.004"),
    "oauth_application.create": _M("persistence", "T1098.001"),
    "personal_access_token.request_created": _M("persistence", "T1098.001"),
    "hook.create": _M("persistence", "T1546"),
    "org.add_member": _M("persistence", "T1136.003"),
    "org.update_member": _M("privilege", "T1098.003"),
    "business.add_admin": _M("privilege", "T1098.003"),
    "team.add_member": _M("privilege", "T1098.003"),
    "repo.access": _M("exfiltration", "T1537"),
    "repo.transfer": _M("exfiltration", "T1537"),
    "git.clone": _M("exfiltration", "T1567"),
    "repo.download_zip": _M("exfiltration", "T1567"),
    "repo.destroy": _M("impact", "T1485"),
    # --- Google Workspace / GCP
    "GRANT_ADMIN_PRIVILEGE": _M("privilege", "T1098.003"),
    "ASSIGN_ROLE": _M("privilege", "T1098.003"),
    "CREATE_USER": _M("persistence", "T1136.003"),
    "change_user_access": _M("exfiltration", "T1567"),
    "change_visibility": _M("exfiltration", "T1567"),
    "google.iam.admin.v1.CreateServiceAccountKey": _M("persistence", "T1098.001"),
    "google.iam.admin.v1.CreateServiceAccount": _M("persistence", "T1136.003"),
    "SetIamPolicy": _M("privilege", "T1098.003"),
    "google.logging.v2.ConfigServiceV2.DeleteSink": _M("evasion", "T1562.008"),
    "google.logging.v2.ConfigServiceV2.UpdateSink": _M("evasion", "T1562.008"),
}
# Actions that restore or tighten what attackers turn off or open up: a rule about the
# dangerous half that fires on one of these fired on the wrong thing.
PROTECTIVE = frozenset({
    "StartLogging", "CreateTrail", "StartConfigurationRecorder", "EnableSecurityHub",
    "CreateDetector", "EnableMFADevice", "CreateFlowLogs", "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress", "RemovePermission", "DeleteAccessKey", "DetachUserPolicy",
    "DetachRolePolicy", "DetachGroupPolicy", "DeleteUserPolicy", "DeleteRolePolicy",
    "RemoveUserFromGroup", "PutPublicAccessBlock", "PutBucketPublicAccessBlock",
    "EnableEbsEncryptionByDefault", "DeleteLoginProfile", "UpdateAccessKey",
    "user.mfa.factor.activate", "policy.lifecycle.activate", "zone.activate",
    "secret_scanning.enable", "repository_secret_scanning.enable",
    "protected_branch.create", "repository_vulnerability_alerts.enable",
})
SUSPICIOUS_FOLLOW_ON = frozenset({"persistence", "evasion", "exfiltration", "privilege",
                                  "credential_access", "lateral_movement", "execution",
                                  "impact"})
STRONG_FOLLOW_ON = frozenset({"persistence", "evasion", "exfiltration"})


def meaning(action: str) -> Meaning | None:
    found = CATALOG.get(action)
    if found is None and "." in action and action.rsplit(".", 1)[-1] in CATALOG:
        found = CATALOG[action.rsplit(".", 1)[-1]]  # GCP's full method names
    return found


def _list_values(node: Any, key: str) -> list[Any]:
    """Every value under `key` anywhere inside `node` (request shapes nest variably)."""
    found: list[Any] = []
    if isinstance(node, Mapping):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found.extend(_list_values(v, key))
    elif isinstance(node, list):
        for item in node:
            found.extend(_list_values(item, key))
    return found


def _public(cidr: Any) -> bool:
    """Whether a source range reaches beyond private networks (a /0 whatever its address:
    anonymised logs write 0.0.0.0/0 as x.y.z.w/0). Unparseable counts as public."""
    try:
        network = ipaddress.ip_network(str(cidr), strict=False)
    except ValueError:
        return True
    return network.prefixlen == 0 or not network.is_private


def qualifies(action: str, event: Mapping[str, Any]) -> bool:
    """Whether this instance of a sensitive action has the shape that makes it sensitive.

    `False` means the action ran but did not do the dangerous thing: an image shared with no
    one (removal), a security group opened to a private range, a login profile changed by its
    own user. Unknown shapes count as sensitive: doubt goes to the human, not to silence."""
    request = event.get("requestParameters")
    if action == "AuthorizeSecurityGroupIngress":
        ranges = _list_values(request, "cidrIp") + _list_values(request, "cidrIpv6")
        return not ranges or any(_public(r) for r in ranges)
    if action in ("ModifyImageAttribute", "ModifySnapshotAttribute"):
        adds = [a for a in _list_values(request, "add") if a]
        removes = [r for r in _list_values(request, "remove") if r]
        return bool(adds) or not removes  # only removals: access was taken away
    if action in ("ModifyDBSnapshotAttribute", "ModifyDBClusterSnapshotAttribute"):
        if not isinstance(request, Mapping):
            return True
        return bool(request.get("valuesToAdd")) or "valuesToAdd" not in request
    if action == "PutBucketVersioning":
        configs = [c for c in _list_values(request, "VersioningConfiguration")
                   if isinstance(c, Mapping)]
        if not configs:
            return True
        return any(c.get("Status") in ("Suspended", "Disabled") or
                   "Disabled" in (c.get("MfaDelete"), c.get("MFADelete")) for c in configs)
    if action == "PutBucketLogging":
        status = _list_values(request, "BucketLoggingStatus")
        return not any(isinstance(s, Mapping) and s.get("LoggingEnabled") for s in status) \
            if status else True
    if action == "UpdateLoginProfile":
        own = get_path(event, "userIdentity.userName")
        target = get_path(event, "requestParameters.userName")
        return not (own and target and own == target)
    if action == "CreateAccessKey":
        own = get_path(event, "userIdentity.userName")
        target = get_path(event, "requestParameters.userName")
        return not (own and target and own == target)
    return True
