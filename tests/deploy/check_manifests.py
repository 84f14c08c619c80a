#!/usr/bin/python3
"""Structural check of a rendered kustomize overlay (deploy/k8s/overlays/*).

usage: check_manifests.py dev|production RENDERED.yaml
Prints every problem found and exits 1 if there is any. Debian's python3 with
python3-yaml (deploy/local/install-deps.sh)."""
import os
import re
import json
import sys

import yaml

GATEWAY = "dcr-gateway"
EMULATOR = "authlete-emulator"
DOCKERFILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../deploy/Dockerfile")
problems = []


def problem(text):
    problems.append(text)


def duration_seconds(text):
    match = re.fullmatch(r"(\d+)s", text or "")
    return int(match.group(1)) if match else None


def listen_port(address):
    match = re.fullmatch(r".*:(\d+)", address or "")
    return int(match.group(1)) if match else None


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def image_user():
    """The uid:gid the images run as (deploy/Dockerfile's USER lines, all the same)."""
    with open(DOCKERFILE) as f:
        users = set(re.findall(r"^USER (\d+):(\d+)$", f.read(), re.M))
    if len(users) != 1:
        problem(f"deploy/Dockerfile must run every image as one numeric user, not {users}")
        return None
    return tuple(int(x) for x in users.pop())


def check_runs_as_image(deployment, user):
    """Every pod of every Deployment: the images' user, read-only, no capabilities."""
    name = deployment["metadata"]["name"]
    spec = deployment["spec"]["template"]["spec"]
    psc = spec.get("securityContext", {})
    if user is not None and (psc.get("runAsUser"), psc.get("runAsGroup")) != user:
        problem(f"{name} must run as the images' user {user[0]}:{user[1]} (deploy/Dockerfile)")
    for c in spec["containers"]:
        sc = c.get("securityContext", {})
        if sc.get("readOnlyRootFilesystem") is not True:
            problem(f"{name}/{c['name']}: the root filesystem must be read-only")
        if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
            problem(f"{name}/{c['name']}: all capabilities must be dropped")


def check_emulator(deployment, service):
    """The emulator listens where its Service sends traffic: the port of
    --listen (argument), else of AUTHLETE_EMULATOR_LISTEN, else the image's
    (deploy/Dockerfile's ENV)."""
    c = deployment["spec"]["template"]["spec"]["containers"][0]
    with open(DOCKERFILE) as f:
        image_env = re.findall(r"^ENV AUTHLETE_EMULATOR_LISTEN=(\S+)$", f.read(), re.M)
    listen = image_env[0] if image_env else ""
    for e in c.get("env", []):
        if e.get("name") == "AUTHLETE_EMULATOR_LISTEN":
            listen = e.get("value", "")
    for arg in c.get("args", []):
        if arg.startswith("--listen="):
            listen = arg.split("=", 1)[1]
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    if listen_port(listen) != ports.get("http"):
        problem(f"the emulator listens on {listen!r}, not on its http port {ports.get('http')}")
    if service is None or not any(p.get("targetPort") in ("http", ports.get("http"))
                                  for p in service["spec"]["ports"]):
        problem("the emulator's Service does not reach its http port")


def main():
    overlay, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        meta = d.get("metadata") or {}
        if not d.get("apiVersion") or not d.get("kind") or not meta.get("name"):
            problem(f"object without apiVersion/kind/metadata.name: {str(d)[:80]}")
            continue
        if d["kind"] != "Namespace" and not meta.get("namespace"):
            problem(f"{d['kind']}/{meta['name']} has no namespace")
        by_kind.setdefault(d["kind"], {})[meta["name"]] = d

    deployments = by_kind.get("Deployment", {})
    user = image_user()
    for deployment in deployments.values():
        check_runs_as_image(deployment, user)
    if EMULATOR in deployments:
        check_emulator(deployments[EMULATOR], by_kind.get("Service", {}).get(EMULATOR))
    gateway = deployments.get(GATEWAY)
    if gateway is None:
        problem("no Deployment dcr-gateway")
        return
    pod = gateway["spec"]["template"]
    pod_labels = pod["metadata"].get("labels", {})
    if not matches(gateway["spec"]["selector"].get("matchLabels"), pod_labels):
        problem("the Deployment's selector does not match its pods")
    spec = pod["spec"]
    psc = spec.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or psc.get("runAsUser", 0) == 0:
        problem("pods must run as a non-root numeric user")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        problem("pods need the RuntimeDefault seccomp profile")
    if spec.get("automountServiceAccountToken") is not False:
        problem("the gateway needs no service account token")
    containers = {c["name"]: c for c in spec["containers"]}
    c = containers.get(GATEWAY)
    if c is None:
        problem("no container dcr-gateway")
        return
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    grpc_port = ports.get("grpc")
    if grpc_port is None:
        problem("the container has no port named grpc")
    # The kubelet's gRPC probe cannot speak TLS: probes use the admin port.
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = (c.get(probe) or {}).get("httpGet") or {}
        if get.get("path") != path or get.get("port") not in ("metrics", ports.get("metrics")):
            problem(f"{probe} must be an HTTP GET of {path} on the metrics (admin) port")
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for what in ("cpu", "memory"):
            if what not in res.get(part, {}):
                problem(f"resources.{part}.{what} is missing")
    sc = c.get("securityContext", {})
    if sc.get("readOnlyRootFilesystem") is not True:
        problem("the root filesystem must be read-only")
    if sc.get("allowPrivilegeEscalation") is not False:
        problem("privilege escalation must be off")
    if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
        problem("all capabilities must be dropped")
    image = c.get("image", "")
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    if overlay == "production" and tag in ("", "latest", "dev"):
        problem(f"production must pin the image, not {image!r}")

    # Configuration: from the ConfigMap the container reads.
    config = {}
    for source in c.get("envFrom", []):
        name = (source.get("configMapRef") or {}).get("name")
        cm = by_kind.get("ConfigMap", {}).get(name)
        if cm is None:
            problem(f"envFrom names a missing ConfigMap {name}")
        else:
            config.update(cm.get("data", {}))
    grace = duration_seconds(config.get("DCR_SHUTDOWN_GRACE"))
    drain = duration_seconds(config.get("DCR_DRAIN_DELAY", "0s"))
    if drain is None:
        problem("DCR_DRAIN_DELAY must be in seconds (e.g. 3s)")
        drain = 0
    pre_stop = 0
    command = (((c.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command")
    if command and command[-2:-1] and command[0].endswith("sleep"):
        pre_stop = int(command[-1])
    if grace is None:
        problem("DCR_SHUTDOWN_GRACE must be set in seconds (e.g. 20s)")
    elif spec.get("terminationGracePeriodSeconds", 30) <= pre_stop + drain + grace:
        problem("terminationGracePeriodSeconds must exceed the preStop pause plus "
                "DCR_DRAIN_DELAY plus DCR_SHUTDOWN_GRACE")
    credential = config.get("DCR_AUTHLETE_CREDENTIAL_FILE", "")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounted_secret = None
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"], {})
        if "secret" in v and credential.startswith(m["mountPath"].rstrip("/") + "/"):
            mounted_secret = v["secret"]["secretName"]
    if mounted_secret is None:
        problem("DCR_AUTHLETE_CREDENTIAL_FILE must lie in a mounted Secret")
    elif mounted_secret not in by_kind.get("Secret", {}):
        problem(f"the credential Secret {mounted_secret} is not rendered")
    def mounted_from(path, kind):
        for m in c.get("volumeMounts", []):
            v = volumes.get(m["name"], {})
            if kind in v and path.startswith(m["mountPath"].rstrip("/") + "/"):
                return v[kind].get("secretName") or v[kind].get("name")
        return None
    plaintext = config.get("DCR_INSECURE_PLAINTEXT", "false").lower() == "true"
    if overlay == "production" and plaintext:
        problem("production must serve gRPC over TLS, not DCR_INSECURE_PLAINTEXT")
    if not plaintext:
        for key in ("DCR_TLS_CERT_FILE", "DCR_TLS_KEY_FILE"):
            if mounted_from(config.get(key, ""), "secret") is None:
                problem(f"{key} must lie in a mounted Secret")
    callers_map = mounted_from(config.get("DCR_CALLERS_FILE", ""), "configMap")
    if callers_map is None:
        problem("DCR_CALLERS_FILE must lie in a mounted ConfigMap (callers are not optional here)")
    elif callers_map not in by_kind.get("ConfigMap", {}):
        problem(f"the callers ConfigMap {callers_map} is not rendered")
    else:
        try:
            callers = json.loads(by_kind["ConfigMap"][callers_map]["data"]["callers.json"])
            if not isinstance(callers.get("callers"), list):
                raise ValueError("no callers list")
        except (KeyError, ValueError, AttributeError) as e:
            problem(f"the callers ConfigMap does not hold a valid callers.json: {e}")
    if "DCR_AUTHLETE_CREDENTIAL" in config:
        problem("the credential must not be in a ConfigMap")
    for secret in by_kind.get("Secret", {}).values():
        for key, value in (secret.get("stringData") or {}).items():
            allowed = {"REPLACE-ME"} | ({"emulator-service-token", "dev-redis-password"}
                                        if overlay == "dev" else set())
            # The dev Redis's config and records' keys: public test values
            # that say so on their first line.
            dev_public = overlay == "dev" and str(value).startswith("# dev only, public")
            if value not in allowed and not dev_public:
                problem(f"Secret {secret['metadata']['name']} holds a real-looking {key}")
        if secret.get("data"):
            problem(f"Secret {secret['metadata']['name']} carries encoded data")

    # Service: headless, for per-call client-side balancing over HTTP/2.
    service = by_kind.get("Service", {}).get(GATEWAY)
    if service is None:
        problem("no Service dcr-gateway")
    else:
        if service["spec"].get("clusterIP") != "None":
            problem("the gRPC Service must be headless (clusterIP: None)")
        if not matches(service["spec"].get("selector"), pod_labels):
            problem("the Service's selector does not match the gateway pods")
        if not any(p.get("targetPort") in ("grpc", grpc_port) for p in service["spec"]["ports"]):
            problem("the Service does not reach the grpc port")

    # The public registration endpoint: its own Service and NetworkPolicy,
    # the port DCR_PUBLIC_REGISTRATION_LISTEN binds; never on the gRPC
    # Service, and the gRPC port never on the public one.
    public_port = listen_port(config.get("DCR_PUBLIC_REGISTRATION_LISTEN"))
    if public_port is not None:
        if ports.get("registration") != public_port:
            problem("the container's registration port must be the one "
                    "DCR_PUBLIC_REGISTRATION_LISTEN binds")
        if config.get("DCR_PUBLIC_REGISTRATION_ACCESS", "open") not in (
                "open", "initial_access_token", "authlete_token"):
            problem("DCR_PUBLIC_REGISTRATION_ACCESS must be open, initial_access_token or "
                    "authlete_token")
        if overlay == "production" and config.get("DCR_PUBLIC_REGISTRATION_ACCESS", "open") == "open":
            problem("production must not leave the public registration endpoint open")
        public = by_kind.get("Service", {}).get(GATEWAY + "-registration")
        if public is None:
            problem("no Service dcr-gateway-registration for the public endpoint")
        else:
            targets = [p.get("targetPort") for p in public["spec"]["ports"]]
            if not matches(public["spec"].get("selector"), pod_labels):
                problem("the public Service's selector does not match the gateway pods")
            if not any(t in ("registration", public_port) for t in targets):
                problem("the public Service does not reach the registration port")
            if any(t in ("grpc", grpc_port, "metrics", ports.get("metrics")) for t in targets):
                problem("the public Service must not expose the gRPC or metrics port")
        if service is not None and any(p.get("targetPort") in ("registration", public_port)
                                       for p in service["spec"]["ports"]):
            problem("the gRPC Service must not expose the public endpoint")
        public_policy = by_kind.get("NetworkPolicy", {}).get(GATEWAY + "-registration")
        if public_policy is None or not matches(
                public_policy["spec"]["podSelector"].get("matchLabels"), pod_labels):
            problem("a NetworkPolicy dcr-gateway-registration must let the public port in")
        else:
            opened = [p.get("port") for rule in public_policy["spec"].get("ingress", [])
                      for p in rule.get("ports", [])]
            if opened != [public_port] or any(not rule.get("from")
                                               for rule in public_policy["spec"]["ingress"]):
                problem("the public NetworkPolicy must open the registration port alone, "
                        "from named sources")
        for ingress in by_kind.get("Ingress", {}).values():
            for rule in ingress["spec"].get("rules", []):
                for path in (rule.get("http") or {}).get("paths", []):
                    backend = path.get("backend", {}).get("service", {})
                    if backend.get("name") != GATEWAY + "-registration":
                        problem(f"Ingress {ingress['metadata']['name']} routes to "
                                f"{backend.get('name')}: only the public Service may be exposed")

    hpa = by_kind.get("HorizontalPodAutoscaler", {}).get(GATEWAY)
    if hpa is None or hpa["spec"]["scaleTargetRef"].get("name") not in deployments:
        problem("the HorizontalPodAutoscaler must target the Deployment")
    pdb = by_kind.get("PodDisruptionBudget", {}).get(GATEWAY)
    if pdb is None or not matches(pdb["spec"]["selector"].get("matchLabels"), pod_labels):
        problem("the PodDisruptionBudget must select the gateway pods")
    elif hpa is not None and pdb["spec"].get("minAvailable", 0) >= hpa["spec"].get("minReplicas", 1):
        problem("the PodDisruptionBudget would block every eviction")

    policy = by_kind.get("NetworkPolicy", {}).get(GATEWAY)
    if policy is None or not matches(policy["spec"]["podSelector"].get("matchLabels"), pod_labels):
        problem("a NetworkPolicy must select the gateway pods")
    else:
        ingress_ports = [p.get("port") for rule in policy["spec"].get("ingress", [])
                         for p in rule.get("ports", [])]
        if grpc_port not in ingress_ports:
            problem("the NetworkPolicy does not let callers reach the grpc port")
        metrics_port = ports.get("metrics")
        if metrics_port is None or metrics_port not in ingress_ports:
            problem("the metrics port must be declared and reachable by the monitoring namespace")
        if metrics_port != listen_port(config.get("DCR_ADMIN_LISTEN")):
            problem("the container's metrics port must be the one DCR_ADMIN_LISTEN binds")
        egress_ports = [p.get("port") for rule in policy["spec"].get("egress", [])
                        for p in rule.get("ports", [])]
        if 53 not in egress_ports:
            problem("the NetworkPolicy blocks DNS")

    base_url = config.get("DCR_AUTHLETE_BASE_URL", "")
    if overlay == "dev":
        if "authlete-emulator" not in deployments or "authlete-emulator" not in by_kind.get("Service", {}):
            problem("the dev overlay must run the emulator (Deployment and Service)")
        if "authlete-emulator" not in base_url:
            problem("the dev gateway must point at the emulator")
        if policy is not None and 8787 not in egress_ports:
            problem("the dev NetworkPolicy must let the gateway reach the emulator")
    else:
        if "authlete-emulator" in deployments:
            problem("production must not run the emulator")
        if base_url not in ("us", "jp", "eu", "br", "v2") and not base_url.startswith("https://"):
            problem(f"production must reach Authlete over HTTPS, not {base_url!r}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("dev", "production"):
        sys.exit(__doc__)
    main()
    for p in problems:
        print(f"{sys.argv[1]}: {p}")
    if problems:
        sys.exit(1)
    print(f"{sys.argv[1]}: rendered objects pass the structural check")
