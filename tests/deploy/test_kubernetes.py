"""deploy/kubernetes: each overlay renders with `kubectl kustomize`, matches the Kubernetes API
schema, carries the stateful details (probes, preStop hook, grace period, PodDisruptionBudget,
volumes, zones), agrees with the per-pod figures of docs/operations/sizing.md (tools/sizing.py),
and runs: the rendered configuration and each workload's command line, rewritten for 127.0.0.1
(Services -> local ports, the bucket -> s3rver), start a cluster that takes a push, answers a
query and survives an ingester's preStop hook, and a single binary that does the same.

kubectl is $KUBECTL, else the one on PATH (scripts/deps.sh installs Debian's kubernetes-client
when there is none); the schema check needs Debian's python3-kubernetes (helpers/kubeschema.py).
"""

import copy
import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import yaml

from helpers import kubeschema
from helpers.push import now_ns
from helpers.s3 import ACCESS_KEY, SECRET_KEY, S3rver
from helpers.server import free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "kubernetes"
OVERLAYS = ("single-binary", "microservices")
CONFIG_PATH = "/etc/sluice/sluice.yaml"


def _load_sizing():
    spec = importlib.util.spec_from_file_location("sizing", REPO / "tools" / "sizing.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


sizing = _load_sizing()


def render(overlay):
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    assert kubectl, "kubectl not found: scripts/deps.sh --test installs Debian's kubernetes-client"
    r = subprocess.run([kubectl, "kustomize", str(DEPLOY / overlay)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, f"kubectl kustomize {overlay} failed:\n{r.stderr}"
    return [d for d in yaml.safe_load_all(r.stdout) if d]


@pytest.fixture(scope="module")
def rendered():
    return {o: render(o) for o in OVERLAYS}


@pytest.fixture(scope="module")
def plan():
    return sizing.compute(sizing.read_figures(sizing.RESULTS))


# --- reading the objects ------------------------------------------------------------------------


def of_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


def workloads(docs):
    return of_kind(docs, "Deployment") + of_kind(docs, "StatefulSet")


def container(w):
    (c,) = w["spec"]["template"]["spec"]["containers"]
    return c


def flag(w, name):
    """The value of -name=... on the workload's command line, or None."""
    for a in container(w).get("args", []):
        if a.startswith(f"-{name}="):
            return a.split("=", 1)[1]
    return None


def target(w):
    return flag(w, "target")


def sluice_workloads(docs):
    return [w for w in workloads(docs) if target(w)]


def ingesters(docs):
    return [w for w in sluice_workloads(docs) if target(w) in ("ingester", "all")]


def env_value(w, name):
    return next((e.get("value") for e in container(w).get("env", []) if e["name"] == name), None)


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def pod_labels(w):
    return w["spec"]["template"]["metadata"]["labels"]


def config_map(docs):
    (cm,) = of_kind(docs, "ConfigMap")
    return cm


def sluice_config(docs):
    return yaml.safe_load(config_map(docs)["data"]["sluice.yaml"])


def port_named(w, name):
    return next((p["containerPort"] for p in container(w)["ports"] if p["name"] == name), None)


def cpu(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


def mib(q):
    units = {"Mi": 1, "Gi": 1024}
    return int(q[:-2]) * units[q[-2:]]


def sizing_key(w):
    t = target(w)
    if t is None:
        return w["metadata"]["name"].removeprefix("sluice-")  # etcd
    return {"all": "single-binary"}.get(t, t)


# --- rendering and schema -----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_every_object_matches_the_api_schema(rendered, overlay):
    docs = rendered[overlay]
    assert sluice_workloads(docs), f"{overlay} renders no sluice workload"
    problems = [p for d in docs for p in kubeschema.errors(d)]
    assert problems == []


def test_schema_check_reports_unknown_fields_wrong_types_and_missing_fields(rendered):
    sts = ingesters(rendered["microservices"])[0]
    cases = {
        "unknown field": lambda o: o["spec"].update(replica=2),
        "wrong type": lambda o: container(o)["ports"][0].update(containerPort="3100"),
        "missing required": lambda o: container(o).pop("name"),
        "wrong shape": lambda o: o["spec"]["template"]["spec"].update(volumes={"name": "x"}),
    }
    for what, mutate in cases.items():
        bad = copy.deepcopy(sts)
        mutate(bad)
        assert kubeschema.errors(bad), f"the schema check missed a {what}"
    assert kubeschema.errors({"apiVersion": "v9", "kind": "Nope"})


# --- the stateful details -----------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_keep_a_replaying_ingester_alive_and_out_of_traffic(rendered, overlay):
    docs = rendered[overlay]
    http_port = sluice_config(docs)["server"]["http_listen_port"]
    for w in sluice_workloads(docs):
        c = container(w)
        ready, live = c["readinessProbe"]["httpGet"], c["livenessProbe"]["httpGet"]
        assert ready["path"] == "/ready", w["metadata"]["name"]
        # /ready is 503 through a WAL replay; the liveness endpoint answers then (checked live below).
        assert live["path"] == "/loki/api/v1/status/buildinfo", w["metadata"]["name"]
        assert port_named(w, ready["port"]) == port_named(w, live["port"]) == http_port
    for w in ingesters(docs):
        live = container(w)["livenessProbe"]
        assert live["periodSeconds"] * live["failureThreshold"] >= 300, \
            f"{w['metadata']['name']}: a liveness probe should tolerate minutes of a stalled node"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_ingesters_flush_in_a_prestop_hook_within_the_sized_grace_period(rendered, plan, overlay):
    docs = rendered[overlay]
    http_port = sluice_config(docs)["server"]["http_listen_port"]
    assert ingesters(docs)
    for w in ingesters(docs):
        hook = container(w)["lifecycle"]["preStop"]["httpGet"]
        url = urlparse(hook["path"])
        assert url.path == "/ingester/shutdown"
        # The process must live until the hook's answer; SIGTERM ends it afterwards.
        assert parse_qs(url.query).get("terminate") == ["false"]
        assert port_named(w, hook["port"]) == http_port
        pod = plan["pods"][sizing_key(w)]
        grace = w["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace == pod["grace_s"], "terminationGracePeriodSeconds is not the sizing guide's"
        assert grace > pod["flush_s"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_resources_and_volumes_are_the_sizing_guides(rendered, plan, overlay):
    docs = rendered[overlay]
    for w in workloads(docs):
        name, pod = w["metadata"]["name"], plan["pods"][sizing_key(w)]
        res = container(w)["resources"]
        assert cpu(res["requests"]["cpu"]) == pod["cpu_request"], name
        assert cpu(res["limits"]["cpu"]) == pod["cpu_limit"], name
        assert mib(res["requests"]["memory"]) == mib(res["limits"]["memory"]) == pod["memory_mib"], name
    prefix = sluice_config(docs)["common"]["path_prefix"]
    for w in ingesters(docs):
        name, pod = w["metadata"]["name"], plan["pods"][sizing_key(w)]
        assert flag(w, "ingester.chunk_memory_budget") == f"{pod['chunk_memory_budget_mib']}MB", name
        (claim,) = w["spec"]["volumeClaimTemplates"]
        assert claim["spec"]["resources"]["requests"]["storage"] == f"{pod['pvc_gib']}Gi", name
        mounts = {m["name"]: m["mountPath"] for m in container(w)["volumeMounts"]}
        # The WAL (path_prefix/wal) and the ring tokens live on the claimed volume.
        assert mounts.get(claim["metadata"]["name"]) == prefix, name
        assert "wal" not in sluice_config(docs)["ingester"] or \
            sluice_config(docs)["ingester"]["wal"]["dir"].startswith(prefix)
        assert sluice_config(docs)["ingester"]["lifecycler"]["tokens_file_path"].startswith(prefix + "/")


def test_replicas_and_autoscaling_are_the_first_plan(rendered, plan):
    docs = rendered["microservices"]
    first = next(iter(plan["plans"].values()))
    pods = plan["pods"]
    by_target = {}
    for w in sluice_workloads(docs):
        by_target.setdefault(target(w), []).append(w)
    assert sum(w["spec"]["replicas"] for w in by_target["ingester"]) == first["ingesters"]
    assert sum(w["spec"]["replicas"] for w in by_target["querier"]) == first["queriers"]
    (hpa,) = of_kind(docs, "HorizontalPodAutoscaler")
    ref = hpa["spec"]["scaleTargetRef"]
    (dist,) = by_target["distributor"]
    assert (ref["kind"], ref["name"]) == ("Deployment", dist["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] == pods["distributor"]["hpa_min"] == dist["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] == pods["distributor"]["hpa_max"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["averageUtilization"] == pods["distributor"]["hpa_cpu_percent"]


def test_one_ingester_may_be_disrupted_at_a_time(rendered):
    docs = rendered["microservices"]
    ing = ingesters(docs)
    pdbs = [p for p in of_kind(docs, "PodDisruptionBudget")
            if any(selects(p["spec"]["selector"]["matchLabels"], pod_labels(w)) for w in ing)]
    assert len(pdbs) == 1, "one PodDisruptionBudget over every ingester, whatever its zone"
    (pdb,) = pdbs
    assert pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"]
    for w in workloads(docs):
        covered = selects(pdb["spec"]["selector"]["matchLabels"], pod_labels(w))
        assert covered == (w in ing), w["metadata"]["name"]


def test_ingesters_are_spread_over_zones_that_the_ring_knows(rendered):
    docs = rendered["microservices"]
    cfg = sluice_config(docs)
    zones = []
    for w in ingesters(docs):
        name, spec = w["metadata"]["name"], w["spec"]["template"]["spec"]
        assert flag(w, "ingester.lifecycler.availability_zone") == "$(ZONE)", name
        zone = env_value(w, "ZONE")
        (term,) = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
            "nodeSelectorTerms"]
        (expr,) = term["matchExpressions"]
        assert (expr["key"], expr["operator"], expr["values"]) == ("topology.kubernetes.io/zone", "In", [zone]), \
            f"{name}: scheduled in another zone than the ring is told ({zone})"
        assert w["spec"]["updateStrategy"]["type"] == "OnDelete", f"{name}: zones must roll one at a time"
        zones.append(zone)
    assert len(zones) == len(set(zones)) == sizing.ASSUMPTIONS["zones"]
    assert cfg["common"]["ring"]["zone_awareness_enabled"] is True
    assert cfg["common"]["replication_factor"] == len(zones)
    # Each zone's StatefulSet owns only its pods.
    for a in ingesters(docs):
        others = [b for b in ingesters(docs) if b is not a]
        assert not any(selects(a["spec"]["selector"]["matchLabels"], pod_labels(b)) for b in others)


def test_services_reach_the_pods_and_ports_they_name(rendered):
    for overlay, docs in rendered.items():
        services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
        for s in services.values():
            pods = [w for w in workloads(docs) if selects(s["spec"]["selector"], pod_labels(w))]
            assert pods, f"{overlay}: Service {s['metadata']['name']} selects no pod"
            for p in s["spec"]["ports"]:
                assert all(port_named(w, p["targetPort"]) for w in pods), (s["metadata"]["name"], p)
        for sts in of_kind(docs, "StatefulSet"):
            gov = services[sts["spec"]["serviceName"]]
            assert gov["spec"].get("clusterIP") == "None"
            assert selects(gov["spec"]["selector"], pod_labels(sts))
    docs = rendered["microservices"]
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    cfg = sluice_config(docs)
    # Queriers dial the frontend while it is still unready (no querier yet): a headless Service
    # that publishes unready pods.
    host, port = cfg["frontend_worker"]["frontend_address"].split(":")
    svc = services[host]
    assert svc["spec"].get("clusterIP") == "None" and svc["spec"].get("publishNotReadyAddresses") is True
    (frontend,) = [w for w in sluice_workloads(docs) if target(w) == "query-frontend"]
    assert selects(svc["spec"]["selector"], pod_labels(frontend))
    assert int(port) == cfg["server"]["grpc_listen_port"] == port_named(frontend, "grpc")
    # etcd endpoints name the members of the etcd StatefulSet.
    etcd_sets = {s["metadata"]["name"]: s for s in of_kind(docs, "StatefulSet") if not target(s)}
    for ep in cfg["common"]["ring"]["kvstore"]["etcd"]["endpoints"]:
        host, port = ep.split(":")
        pod, svc_name = host.split(".")
        sts_name, ordinal = pod.rsplit("-", 1)
        sts = etcd_sets[sts_name]
        assert sts["spec"]["serviceName"] == svc_name and int(ordinal) < sts["spec"]["replicas"]
        assert services[svc_name]["spec"].get("publishNotReadyAddresses") is True
        assert int(port) == port_named(sts, "client")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_sluice_pod_reads_the_one_configuration(rendered, overlay):
    docs = rendered[overlay]
    cm = config_map(docs)
    assert cm["data"]["sluice.yaml"] == (DEPLOY / "base" / "sluice.yaml").read_text()
    assert isinstance(sluice_config(docs), dict)
    for w in sluice_workloads(docs):
        name = w["metadata"]["name"]
        assert flag(w, "config.file") == CONFIG_PATH, name
        mount = next(m for m in container(w)["volumeMounts"] if m["mountPath"] == str(Path(CONFIG_PATH).parent))
        vol = next(v for v in w["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
        assert vol["configMap"]["name"] == cm["metadata"]["name"], name


# --- the rendered overlays, run -------------------------------------------------------------------


class Etcd:
    def __init__(self, workdir):
        self.client, self.peer = free_port(), free_port()
        url = f"http://127.0.0.1:{self.client}"
        peer = f"http://127.0.0.1:{self.peer}"
        self.log = open(Path(workdir) / "etcd.log", "wb")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "k8s-test", "--data-dir", str(Path(workdir) / "etcd"),
             "--listen-client-urls", url, "--advertise-client-urls", url, "--listen-peer-urls", peer,
             "--initial-advertise-peer-urls", peer, "--initial-cluster", f"k8s-test={peer}"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until(lambda: requests.get(f"{url}/health", timeout=1).ok, 20, what="etcd /health")
        except Exception:
            self.stop()
            raise

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def backends(tmp_path, sluice_bin):  # sluice_bin: skip before starting anything without a binary
    """The ring's etcd and an S3 bucket (s3rver), on 127.0.0.1."""
    if not shutil.which("etcd"):
        pytest.fail("etcd not found: scripts/deps.sh --test installs Debian's etcd-server")
    s3 = S3rver(tmp_path / "s3")
    s3.start()
    try:
        etcd = Etcd(tmp_path)
        try:
            yield etcd, s3
        finally:
            etcd.stop()
    finally:
        s3.stop()


def local_config(docs, etcd, s3, frontend_grpc, data_dir):
    """The rendered configuration with its Services and bucket replaced by local ones."""
    cfg = sluice_config(docs)
    cfg["common"]["ring"]["kvstore"]["etcd"]["endpoints"] = [f"127.0.0.1:{etcd.client}"]
    cfg["common"]["storage"]["s3"].update(endpoint=s3.endpoint, bucketnames=s3.bucket, insecure=True,
                                          s3forcepathstyle=True, access_key_id=ACCESS_KEY,
                                          secret_access_key=SECRET_KEY)
    cfg["frontend_worker"]["frontend_address"] = f"127.0.0.1:{frontend_grpc}"
    prefix = cfg["common"]["path_prefix"]
    text = yaml.safe_dump(cfg).replace(f"{prefix}/", f"{data_dir}/").replace(f": {prefix}\n", f": {data_dir}\n")
    assert prefix not in text.replace(str(data_dir), "")
    return text


def start_pod(factory, docs, w, etcd, s3, frontend_grpc, grpc_port):
    """One pod of workload `w` as a local process: its args with the downward-API variables
    filled in, the local configuration, its own ports."""
    name = w["metadata"]["name"] + "-0"
    env = {"POD_IP": "127.0.0.1", "POD_NAME": name}
    env.update({e["name"]: e["value"] for e in container(w).get("env", []) if "value" in e})
    args = []
    for a in container(w)["args"]:
        if a.startswith("-config.file="):
            continue
        for k, v in env.items():
            a = a.replace(f"$({k})", v)
        assert "$(" not in a, f"{name}: {a} names a variable the pod does not define"
        args.append(a)
    args += [f"-server.grpc_listen_port={grpc_port}", "-server.grpc_listen_address=127.0.0.1",
             "-ingester.lifecycler.min_ready_duration=2s"]  # 15 s by default: only to be quick
    s = factory(flags=args, config="", start=False, name=name)
    s.config_path.write_text(local_config(docs, etcd, s3, frontend_grpc, s.data_dir))
    s.spawn()
    return s


def push_line(front, tenant, line):
    r = front.push_json([{"stream": {"job": "k8s"}, "values": [[str(now_ns()), line]]}], tenant=tenant)
    assert r.status_code == 204, r.text
    return line


def wait_lines(reader, tenant, lines, timeout=20):
    t0 = now_ns() - 3600 * 10**9

    def found():
        got = {e[2] for e in reader.query_entries('{job="k8s"}', t0, now_ns() + 10**9, tenant=tenant)}
        return set(lines) <= got

    wait_until(found, timeout, what=f"lines {lines} to be queryable")


def prestop(pod, w):
    hook = container(w)["lifecycle"]["preStop"]["httpGet"]
    return requests.get(pod.url(hook["path"]), timeout=120)


def wait_all_ready(pods, timeout=30):
    """Waits until every pod's /ready is 200; returns the targets seen unready while their
    liveness endpoint answered 200."""
    unready_but_live = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = []
        for w, s in pods:
            assert s.alive, f"{s.name} exited:\n{s.stderr_tail(20)}"
            try:
                ready = requests.get(s.url("/ready"), timeout=2).status_code
                live = requests.get(s.url(container(w)["livenessProbe"]["httpGet"]["path"]), timeout=2)
            except requests.RequestException:
                ready, live = None, None
            if ready != 200:
                pending.append(s.name)
                if live is not None and live.status_code == 200:
                    unready_but_live.add(target(w))
        if not pending:
            return unready_but_live
        time.sleep(0.05)
    raise AssertionError(f"not ready after {timeout}s: {pending}")


def test_microservices_overlay_runs_as_rendered(rendered, backends, sluice_factory):
    docs = rendered["microservices"]
    etcd, s3 = backends
    frontend_grpc = free_port()
    pods = {}
    for w in sluice_workloads(docs):
        grpc = frontend_grpc if target(w) == "query-frontend" else free_port()
        if target(w) != "querier":
            pods[w["metadata"]["name"]] = (w, start_pod(sluice_factory, docs, w, etcd, s3, frontend_grpc, grpc))
    (frontend_w, frontend) = next(p for p in pods.values() if target(p[0]) == "query-frontend")
    others = [p for p in pods.values() if p[1] is not frontend]
    # The liveness endpoint answers while /ready does not (ingesters until ACTIVE for
    # min_ready_duration, the frontend until a querier connects): the probe does not kill them.
    seen = wait_all_ready(others)
    assert "ingester" in seen
    assert requests.get(frontend.url("/ready"), timeout=2).status_code == 503
    assert requests.get(frontend.url(container(frontend_w)["livenessProbe"]["httpGet"]["path"]),
                        timeout=2).status_code == 200
    for w in sluice_workloads(docs):
        if target(w) == "querier":
            pods[w["metadata"]["name"]] = (w, start_pod(sluice_factory, docs, w, etcd, s3, frontend_grpc,
                                                        free_port()))
    wait_all_ready(pods.values())

    distributor = next(s for w, s in pods.values() if target(w) == "distributor")
    first = push_line(distributor, "team-a", "before the preStop hook")
    wait_lines(frontend, "team-a", [first])

    # The preStop hook of one ingester: flushed and out of the ring, still up until SIGTERM.
    w, ing = pods[ingesters(docs)[0]["metadata"]["name"]]
    r = prestop(ing, w)
    assert r.status_code == 204, r.text
    assert requests.get(ing.url("/ready"), timeout=2).status_code == 503
    assert ing.alive
    second = push_line(distributor, "team-a", "after one ingester left")
    t0 = time.monotonic()
    assert ing.stop(signal.SIGTERM, timeout=20) == 0
    assert time.monotonic() - t0 < 10, "SIGTERM after the preStop hook should find nothing to flush"
    wait_lines(frontend, "team-a", [first, second])
    stop_together([s for _, s in pods.values()])


def stop_together(pods, timeout=30):
    """SIGTERM to every pod at once (as a namespace deletion does), then each must exit cleanly."""
    live = [s for s in pods if s.alive]
    for s in live:
        s.proc.send_signal(signal.SIGTERM)
    for s in live:
        assert s.proc.wait(timeout=timeout) == 0, f"{s.name}:\n{s.stderr_tail(20)}"


def test_single_binary_overlay_runs_as_rendered(rendered, backends, sluice_factory):
    docs = rendered["single-binary"]
    etcd, s3 = backends
    (w,) = sluice_workloads(docs)
    s = start_pod(sluice_factory, docs, w, etcd, s3, free_port(), free_port())
    s.wait_ready(30)
    line = push_line(s, "team-b", "one pod does everything")
    wait_lines(s, "team-b", [line])
    r = prestop(s, w)
    assert r.status_code == 204, r.text
    assert s.alive and requests.get(s.url("/ready"), timeout=2).status_code == 503
    assert s.stop(signal.SIGTERM, timeout=20) == 0
    # What the hook flushed is in the bucket: a fresh pod with an empty volume still answers.
    s2 = start_pod(sluice_factory, docs, w, etcd, s3, free_port(), free_port())
    s2.wait_ready(30)
    wait_lines(s2, "team-b", [line])
