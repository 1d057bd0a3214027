"""deploy/k8s validated offline against the Kubernetes OpenAPI schemas that kubernetes-validate
bundles (strict: unknown fields are errors), and checked against each other and the images."""

import copy

import kubernetes_validate
import pytest

from tests.deploy.deploy_files import DOCKERFILES, k8s_documents, k8s_object, parse_dockerfile

KUBERNETES_VERSION = kubernetes_validate.latest_version()
DOCUMENTS = k8s_documents()


def validate(doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def api_container() -> dict:
    (container,) = k8s_object("Deployment", "ghostwriter-api")["spec"]["template"]["spec"][
        "containers"
    ]
    return container


def env_of(container: dict) -> dict:
    return {item["name"]: item["value"] for item in container.get("env", [])}


@pytest.mark.parametrize(
    "doc",
    [doc for _, doc in DOCUMENTS],
    ids=[f"{d['kind']}/{d['metadata']['name']}" for _, d in DOCUMENTS],
)
def test_manifest_matches_the_kubernetes_schema(doc):
    validate(doc)


def test_the_manifests_cover_the_scale_out_design():
    kinds = {(doc["kind"], doc["metadata"]["name"]) for _, doc in DOCUMENTS}
    assert {
        ("Deployment", "ghostwriter-api"),
        ("Service", "ghostwriter-api"),
        ("HorizontalPodAutoscaler", "ghostwriter-api"),
        ("PersistentVolumeClaim", "ghostwriter-data"),
        ("Deployment", "ghostwriter-nginx"),
        ("Service", "ghostwriter-nginx"),
        ("Ingress", "ghostwriter"),
    } <= kinds


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "replicas"), "two"),
        (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "uwsgi"),
        (("spec", "template", "spec", "containers", 0, "readinessProbe", "exec", "cmd"), ["x"]),
        (("spec", "template", "spec", "containers", 0, "resources", "limit"), {"cpu": "1"}),
    ],
)
def test_validation_is_live(path, value):
    doc = copy.deepcopy(k8s_object("Deployment", "ghostwriter-api"))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(doc)


def test_api_probes_ask_healthz_and_readyz():
    container = api_container()
    probe_paths = {
        kind: container[kind]["exec"]["command"][-1]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probe_paths == {
        "startupProbe": "/healthz",
        "livenessProbe": "/healthz",
        "readinessProbe": "/readyz",
    }


def test_api_has_requests_limits_and_a_read_only_model_volume():
    container = api_container()
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["data"]["readOnly"] is True
    models_dir = env_of(container)["GHOST_MODELS_DIR"]
    assert models_dir.startswith(mounts["data"]["mountPath"] + "/")
    pod = k8s_object("Deployment", "ghostwriter-api")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes["data"]["persistentVolumeClaim"]["claimName"]
    assert k8s_object("PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert mounts["tmp"]["mountPath"] == "/tmp"


def test_api_pods_run_as_the_images_user():
    pod = k8s_object("Deployment", "ghostwriter-api")["spec"]["template"]["spec"]
    image_user = [i for i in parse_dockerfile(DOCKERFILES["api"]) if i["instruction"] == "USER"]
    uid, gid = image_user[-1]["value"].split(":")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (
        int(uid),
        int(gid),
    )


@pytest.mark.parametrize("kind", ["Service", "HorizontalPodAutoscaler"])
def test_service_and_autoscaler_point_at_the_api_deployment(kind):
    deployment = k8s_object("Deployment", "ghostwriter-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    target = k8s_object(kind, "ghostwriter-api")["spec"]
    if kind == "Service":
        assert target["selector"].items() <= labels.items()
        (port,) = target["ports"]
        named = {p["name"]: p["containerPort"] for p in api_container()["ports"]}
        assert port["targetPort"] in named
    else:
        ref = target["scaleTargetRef"]
        assert (ref["kind"], ref["name"]) == ("Deployment", "ghostwriter-api")
        assert 1 <= target["minReplicas"] < target["maxReplicas"]


def test_nginx_reaches_the_api_service_and_the_ingress_reaches_nginx():
    (nginx,) = k8s_object("Deployment", "ghostwriter-nginx")["spec"]["template"]["spec"][
        "containers"
    ]
    service = k8s_object("Service", "ghostwriter-api")
    host, port = env_of(nginx)["GHOST_UWSGI_ADDRESS"].split(":")
    # nginx's resolver does not apply search domains: the Service's full DNS name is needed.
    assert host.startswith(service["metadata"]["name"] + ".")
    assert host.endswith(".svc.cluster.local")
    assert int(port) == service["spec"]["ports"][0]["port"]
    backend = k8s_object("Ingress", "ghostwriter")["spec"]["rules"][0]["http"]["paths"][0]
    nginx_service = k8s_object("Service", "ghostwriter-nginx")
    assert backend["backend"]["service"]["name"] == nginx_service["metadata"]["name"]
    assert nginx["readinessProbe"]["httpGet"]["path"] == "/readyz"
