#!/usr/bin/env python3
"""Writes test cases for the built-in library from the public StackRox conformance cases.

For every library policy: one record on which it must fire and one on which it must not,
taken from ../shared/conformance/cases (the expectations StackRox's own tests assert), and
written as `test` blocks at the end of the policy's file under policies/. Where a case has
no must-not-fire expectation for a policy, a record of the same kind on which the policy did
not fire in the case is used (found by running the binary). Run from the repository root:

    python3 scripts/gen-policy-tests.py target/release/palisade
"""
import json, os, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT.parent / "shared" / "conformance" / "cases"
MARK = "// Tests derived from StackRox's own tests (../shared/conformance); regenerate with scripts/gen-policy-tests.py.\n"

def lit(s):
    out = '"'
    for c in s:
        if c == '"': out += '\\"'
        elif c == '\\': out += '\\\\'
        elif c == '\n': out += '\\n'
        elif c == '\t': out += '\\t'
        elif c == '\r': out += '\\r'
        elif ord(c) < 0x20: out += '\\u{%x}' % ord(c)
        else: out += c
    return out + '"'

IDENT = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
KEYWORDS = {"and", "or", "not", "in", "as", "any", "every", "no", "where", "true", "false", "null", "contains", "glob", "startswith", "endswith", "has", "count", "days_since"}

def value(v):
    if v is None: return "null"
    if v is True: return "true"
    if v is False: return "false"
    if isinstance(v, (int, float)): return json.dumps(v)
    if isinstance(v, str): return lit(v)
    if isinstance(v, list): return "[" + ", ".join(value(x) for x in v) + "]"
    return "{ " + ", ".join((k if IDENT.match(k) and k not in KEYWORDS else lit(k)) + ": " + value(x) for k, x in v.items()) + " }"

def record(r):
    body = {k: v for k, v in r.items() if k != "kind"}
    return f"  {r['kind']} {value(body)}\n"

def related(records, rid):
    """The record with id `rid` and what it joins: images of a deployment, the deployment of an event."""
    by_id = {}
    for r in records:
        by_id.setdefault((r["kind"], r.get("id")), r)
    main = next((r for r in records if r.get("id") == rid and r["kind"] != "baseline"), None)
    if main is None: return []
    out = [main]
    dep = None
    if main["kind"] == "deployment": dep = main
    elif main.get("deployment_id"): dep = by_id.get(("deployment", main["deployment_id"]))
    if main["kind"] == "network_flow":
        dep = by_id.get(("deployment", (main.get("source") or {}).get("deployment_id")))
    if dep is not None and dep is not main: out.append(dep)
    if dep is not None:
        for c in dep.get("containers", []):
            img = c.get("image") or {}
            for r in records:
                if r["kind"] == "image" and r not in out and ((img.get("id") and r.get("id") == img.get("id")) or ((img.get("name") or {}).get("full_name") and (r.get("name") or {}).get("full_name") == img["name"]["full_name"])):
                    out.append(r)
        for r in records:
            if r["kind"] == "baseline" and r.get("deployment_id") == dep.get("id"): out.append(r)
    return out

def run(binary, case, exp):
    cmd = [binary, "check", "--input", str(case / "input.json"), "--format", "json", "--all"]
    tmp = None
    if exp["policies"] == "custom":
        return None
    cmd += ["--builtin"]
    if exp.get("lifecycle"): cmd += ["--lifecycle", exp["lifecycle"]]
    env = dict(os.environ); env.pop("PALISADE_NOW", None)
    if exp.get("now"): env["PALISADE_NOW"] = exp["now"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)

def main():
    binary = sys.argv[1]
    fired = {}      # policy -> list of (case, record_id)
    quiet = {}      # policy -> list of (case, record_id) asserted must_not_fire
    observed_quiet = {}
    kinds = {}
    cases = []
    for case in sorted(p for p in CASES.iterdir() if p.is_dir()):
        exp = json.loads((case / "expect.json").read_text())
        if exp["policies"] != "stackrox-defaults": continue
        records = json.loads((case / "input.json").read_text())
        result = run(binary, case, exp)
        got = {(v["policy"], v["record"]["id"]) for v in result["violations"]}
        kinds_in_case = {r.get("id"): r["kind"] for r in records}
        for e in exp["expect"]:
            for p in e["must_fire"]: fired.setdefault(p, []).append((case, exp, records, e["record_id"]))
            for p in e["must_not_fire"]: quiet.setdefault(p, []).append((case, exp, records, e["record_id"]))
        for (p, rid) in got:
            kinds.setdefault(p, set()).add(kinds_in_case.get(rid))
        cases.append((case, exp, records, got))
    stage_of = {"image": "build", "deployment": "deploy", "process": "runtime", "kube_event": "runtime", "network_flow": "runtime"}
    for case, exp, records, got in cases:
        for r in records:
            if r["kind"] == "baseline": continue
            if exp.get("lifecycle") and stage_of.get(r["kind"]) != exp["lifecycle"]: continue
            for p, ks in kinds.items():
                if r["kind"] in ks and (p, r.get("id")) not in got:
                    observed_quiet.setdefault(p, []).append((case, exp, records, r.get("id")))
    for f in sorted((ROOT / "policies").glob("*.pal")):
        text = f.read_text()
        if MARK in text: text = text[: text.index(MARK)].rstrip() + "\n"
        name = re.search(r'^policy "((?:[^"\\]|\\.)*)"', text, re.M).group(1).replace('\\"', '"')
        tests = []
        for label, pool, expect in (("fires", fired.get(name, []), "fire"), ("stays quiet", quiet.get(name, []) or observed_quiet.get(name, []), "no fire")):
            if not pool: continue
            case, exp, records, rid = pool[0]
            recs = related(records, rid)
            if not recs: continue
            body = f'test {lit(f"{label} on {rid} ({case.name})")} for {lit(name)} {{\n'
            if exp.get("now"): body += f"  now {exp['now']}\n"
            for r in recs: body += record(r)
            body += f"  expect {expect}\n}}\n"
            tests.append(body)
        fire_pool, quiet_pool = fired.get(name), quiet.get(name) or observed_quiet.get(name)
        if name in HAND and (not fire_pool or not quiet_pool):
            now = "2030-01-01T00:00:00Z"
            fire_recs, quiet_recs = HAND[name]
            if not fire_pool:
                tests.insert(0, f'test {lit("fires (hand-written)")} for {lit(name)} {{\n  now {now}\n' + "".join(record(r) for r in fire_recs) + "  expect fire\n}\n")
            if not quiet_pool:
                tests.append(f'test {lit("stays quiet (hand-written)")} for {lit(name)} {{\n  now {now}\n' + "".join(record(r) for r in quiet_recs) + "  expect no fire\n}\n")
        if len(tests) < 2:
            print(f"warning: {f.name}: only {len(tests)} test(s)", file=sys.stderr)
        f.write_text(text + "\n" + MARK + "\n".join(tests))

# Hand-written records for policies the public conformance cases do not cover (both ways).
DEP = {"kind": "deployment", "id": "dep-web", "name": "web", "namespace": "prod",
       "containers": [{"name": "app", "image": {"name": {"full_name": "registry.example.com/web:1.0"}},
                       "security_context": {"privileged": False}}]}
PRIV = {**DEP, "id": "dep-priv", "containers": [{"name": "app", "image": {"name": {"full_name": "registry.example.com/web:1.0"}},
                                                 "security_context": {"privileged": True}}]}

def proc(name, args="", uid=1000, dep=DEP, pid="p1", lineage=None):
    return [{"kind": "process", "id": pid, "deployment_id": dep["id"], "namespace": "prod", "container": "app",
             "name": name, "exec_path": "/usr/bin/" + name, "args": args, "uid": uid, "gid": uid, "lineage": lineage or []}, dep]

def audit(resource, verb, obj, user, impersonated=None):
    e = {"kind": "kube_event", "id": "audit-1", "resource": resource, "verb": verb, "object_name": obj,
         "namespace": "stackrox", "user": {"username": user, "groups": ["system:authenticated"]}}
    if impersonated: e["impersonated_user"] = {"username": impersonated}
    return [e]

def deployment(**container):
    c = {"name": "app", "image": {"name": {"full_name": "registry.example.com/web:1.0"}}, **container}
    return [{**DEP, "containers": [c]}]

def image(**fields):
    return [{"kind": "image", "id": "sha256:img", "name": {"full_name": "registry.example.com/app:1.0"}, **fields}]

def vulns(*vs):
    return {"components": [{"name": "libx", "version": "1.0", "vulns": list(vs)}]}

def layers(*ls):
    return [{"instruction": i, "value": v} for i, v in ls]

HAND = {
    "OpenShift: Central Admin Secret Accessed": (audit("secrets", "get", "central-htpasswd", "alice"), audit("secrets", "get", "central-htpasswd", "system:serviceaccount:rhacs-operator:rhacs-operator-controller-manager")),
    "OpenShift: Kubeadmin Secret Accessed": (audit("secrets", "get", "kubeadmin", "alice"), audit("secrets", "get", "kubeadmin", "system:apiserver")),
    "OpenShift: Kubernetes Secret Accessed by an Impersonated User": (audit("secrets", "get", "db-creds", "alice", impersonated="bob"), audit("secrets", "get", "db-creds", "alice")),
    "Emergency Deployment Annotation": ([{**DEP, "annotations": {"admission.stackrox.io/break-glass": "ticket-42"}}], [{**DEP, "annotations": {"owner": "team-web"}}]),
    "Drop All Capabilities": (deployment(security_context={"drop_capabilities": ["NET_RAW"]}), deployment(security_context={"drop_capabilities": ["ALL"]})),
    "Network Management Execution": (proc("ifconfig"), proc("ipython")),
    "Deployments with externally exposed endpoints": ([{**DEP, "ports": [{"container_port": 8080, "protocol": "TCP", "exposure": "external"}]}], [{**DEP, "ports": [{"container_port": 8080, "protocol": "TCP", "exposure": "internal"}]}]),
    "Docker CIS 4.4: Ensure images are scanned and rebuilt to include security patches": (image(scan=vulns({"id": "CVE-2024-1", "cvss": 5.0, "fixed_by": "1.1"})), image(scan=vulns({"id": "CVE-2024-1", "cvss": 5.0, "fixed_by": ""}))),
    "Kubernetes Dashboard Deployed": (deployment(image={"name": {"full_name": "docker.io/kubernetesui/dashboard:v2.7.0"}}), deployment(image={"name": {"full_name": "docker.io/library/nginx:1.27"}})),
    "Docker CIS 5.19: Ensure mount propagation mode is not enabled": (deployment(volumes=[{"name": "host", "type": "HostPath", "source": "/mnt", "destination": "/mnt", "mount_propagation": "Bidirectional"}]), deployment(volumes=[{"name": "host", "type": "HostPath", "source": "/mnt", "destination": "/mnt", "mount_propagation": "None"}])),
    "Unauthorized Network Flow": ([{"kind": "network_flow", "id": "flow-1", "source": {"deployment_id": "dep-web", "name": "web", "namespace": "prod"}, "destination": {"type": "external", "cidr": "203.0.113.0/24"}, "port": 443, "protocol": "TCP", "not_in_baseline": True}, DEP],
                                  [{"kind": "network_flow", "id": "flow-2", "source": {"deployment_id": "dep-web", "name": "web", "namespace": "prod"}, "destination": {"type": "external", "cidr": "203.0.113.0/24"}, "port": 443, "protocol": "TCP", "not_in_baseline": False}, DEP]),
    "Docker CIS 5.1 Ensure that, if applicable, an AppArmor Profile is enabled": (deployment(security_context={"apparmor_profile": "unconfined"}), deployment(security_context={"apparmor_profile": "runtime/default"})),
    "Required Annotation: Owner/Team": ([{**DEP, "annotations": {"app": "web"}}], [{**DEP, "annotations": {"team": "payments"}}]),
    "Required Label: Owner/Team": ([{**DEP, "labels": {"app": "web"}}], [{**DEP, "labels": {"owner": "alice"}}]),
    "Rapid Reset: Denial of Service Vulnerability in HTTP/2 Protocol": (image(scan=vulns({"id": "CVE-2023-44487", "cvss": 7.5, "severity": "high", "fixed_by": "1.2"})), image(scan=vulns({"id": "CVE-2023-44487", "cvss": 5.3, "severity": "medium", "fixed_by": "1.2"}))),
    "Red Hat images must be signed by a Red Hat release key": (image(name={"full_name": "registry.redhat.io/ubi9/ubi:9.4"}), image(name={"full_name": "registry.redhat.io/ubi9/ubi:9.4"}, signature={"verified_by": ["io.stackrox.signatureintegration.12a37a37-760e-4388-9e79-d62726c075b2"]})),
    "Required Image Label": (image(labels={"maintainer": "acme"}), image(labels={"required-label-team": "required-value-web"})),
    "Improper Usage of Orchestrator Secrets Volume": (deployment(image={"name": {"full_name": "registry.example.com/web:1.0"}, "layers": layers(("VOLUME", "/run/secrets"))}),
                                                      deployment(image={"name": {"full_name": "registry.example.com/web:1.0"}, "layers": layers(("VOLUME", "/data"))})),
    "30-Day Scan Age": (deployment(image={"name": {"full_name": "registry.example.com/web:1.0"}, "scan": {"scanned_at": "2020-01-01T00:00:00Z", "components": []}}),
                        deployment(image={"name": {"full_name": "registry.example.com/web:1.0"}, "scan": {"scanned_at": "2029-12-30T00:00:00Z", "components": []}})),
    "Privileged Containers with Important and Critical Fixable CVEs": (deployment(security_context={"privileged": True}, image={"name": {"full_name": "registry.example.com/web:1.0"}, "scan": vulns({"id": "CVE-2024-2", "cvss": 8.1, "severity": "high", "fixed_by": "2.0"})}),
                                                                       deployment(security_context={"privileged": False}, image={"name": {"full_name": "registry.example.com/web:1.0"}, "scan": vulns({"id": "CVE-2024-2", "cvss": 8.1, "severity": "high", "fixed_by": "2.0"})})),
    "Docker CIS 4.7: Alert on Update Instruction": (image(layers=layers(("RUN", "/bin/sh -c apt-get update"))), image(layers=layers(("RUN", "/bin/sh -c apt-get install -y curl")))),
    "Process Targeting Cluster Kubernetes Docker Stats Endpoint": (proc("curl", "http://10.0.0.1:4194/metrics"), proc("curl", "http://10.0.0.1:8080/metrics")),
    "Process Targeting Kubernetes Service Endpoint": (proc("curl", "https://10.96.0.1:443/api/v1/secrets"), proc("curl", "https://example.com/index.html")),
    "systemctl Execution": (proc("systemctl", "restart nginx"), proc("systemctl", "--version")),
    "Iptables or nftables Executed in Privileged Container": (proc("iptables", "-L", uid=0, dep=PRIV), proc("iptables", "-L", uid=0, dep=DEP)),
    "Login Binaries": (proc("su"), proc("sudo")),
    "Alpine Linux Package Manager Execution": (proc("apk", "add curl"), proc("apkg")),
    "Linux Group Add Execution": (proc("groupadd", "admins"), proc("groups")),
    "Linux User Add Execution": (proc("useradd", "bob"), proc("users")),
    "chkconfig Execution": (proc("chkconfig"), proc("chkconfig2")),
    "Red Hat Package Manager Execution": (proc("dnf", "install curl"), proc("dnfx")),
    "iptables Execution": (proc("iptables", "-L"), proc("ip6tables-save")),
    "Compiler Tool Execution": (proc("gcc", "main.c"), proc("go")),
    "Cryptocurrency Mining Process Execution": (proc("xmrig"), proc("python3")),
    "Netcat Execution Detected": (proc("nc", "-l 4444"), proc("ncat2")),
    "Remote File Copy Binary Execution": (proc("scp", "file host:"), proc("cp")),
    "Secure Shell Server (sshd) Execution": (proc("sshd"), proc("ssh")),
    "systemd Execution": (proc("systemd"), proc("systemd-journald")),
    "Password Binaries": (proc("passwd"), proc("pwd")),
    "SetUID Processes": (proc("ping", "8.8.8.8"), proc("curl")),
    "Shadow File Modification": (proc("chage", "-l bob"), proc("chown")),
    "Shell Management": (proc("add-shell", "/bin/zsh"), proc("bash")),
}

main()
