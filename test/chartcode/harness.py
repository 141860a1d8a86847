"""Run the charts' own configuration code the way their pods do, and report
what a user depends on, as JSON in the file the spec names.

The Go test lays out the hub pod's files at /usr/local/etc/jupyterhub (in a
mount namespace of its own), sets the hub container's environment, and
passes a spec (argv[1]) naming the gateway's config file and the probes.
Only what needs a network is replaced: OAuth's token exchange (an id_token
is handed over instead), the Kubernetes API (KubeSpawner's mock mode builds
the pod without sending it) and the gateway's HTTP call to the hub API
(answered with what JupyterHub's own scope code computes for the token).
"""
import asyncio
import base64
import json
import os
import sys
import traceback
from importlib.metadata import entry_points

from traitlets.config import Config


def load_config(path, extra_globals=None):
    """Execute a traitlets config file as JupyterHub and Dask Gateway do."""
    c = Config()
    g = {"c": c, "get_config": lambda: c, "__file__": path, "__name__": "__config__"}
    g.update(extra_globals or {})
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    exec(code, g)
    return c


def resolve_class(name, group):
    """An entry-point name ("azuread") or a dotted class path."""
    if "." not in name:
        for ep in entry_points(group=group):
            if ep.name == name:
                return ep.load()
        raise ValueError("no %s entry point %r" % (group, name))
    module, _, cls = name.rpartition(".")
    return getattr(__import__(module, fromlist=[cls]), cls)


def fake_id_token(claims):
    """An unsigned JWT carrying claims, as Azure AD's token endpoint sends."""

    def part(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return part({"alg": "none", "typ": "JWT"}) + "." + part(claims) + ".sig"


async def login(auth, probe):
    """Authenticator.get_authenticated_user, as the login handler calls it.

    For OAuthenticator the token exchange is replaced: the token endpoint's
    answer carries an id_token with the probe's claims."""
    from oauthenticator.oauth2 import OAuthenticator

    if isinstance(auth, OAuthenticator):

        async def get_token_info(handler, params):
            return {"access_token": "x", "id_token": fake_id_token(probe["claims"]), "token_type": "Bearer"}

        auth.build_access_tokens_request_params = lambda handler, data=None: {"code": "x"}
        auth.get_token_info = get_token_info
        data = {"code": "x"}
    else:
        data = {"username": probe["name"], "password": probe.get("password", "")}
    try:
        model = await auth.get_authenticated_user(None, data)
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e)}
    if model is None:
        return {"allowed": False}
    return {"allowed": True, "name": model["name"], "admin": bool(model.get("admin")), "groups": model.get("groups")}


def server_token_model(c, user_name, groups):
    """What /hub/api/user answers for the token a user's server gets: the
    scopes JupyterHub resolves for it, by JupyterHub's own role and scope
    code over an in-memory database built from the config's roles."""
    from jupyterhub import orm, roles, scopes
    from jupyterhub.spawner import Spawner

    db = orm.new_session_factory("sqlite://")()
    for role in roles.get_default_roles():
        roles.create_role(db, role)
    db.add(orm.OAuthClient(identifier="jupyterhub"))
    user = orm.User(name=user_name)
    db.add(user)
    for g in groups:
        group = orm.Group(name=g)
        group.users.append(user)
        db.add(group)
    db.commit()
    roles.assign_default_roles(db, user)
    for spec in c.JupyterHub.get("load_roles", []):
        spec = dict(spec)
        members = {"users": spec.pop("users", []), "groups": spec.pop("groups", []), "services": spec.pop("services", [])}
        roles.create_role(db, spec)
        if user_name in members["users"]:
            roles.grant_role(db, user, spec["name"])
        for g in members["groups"]:
            grp = orm.Group.find(db, g)
            if grp is not None:
                roles.grant_role(db, grp, spec["name"])
    # As User.spawn requests them (jupyterhub/user.py).
    spawner = Spawner(config=c)
    requested = spawner.server_token_scopes or orm.Role.find(db, "server").scopes
    requested = {s + "=%s/" % user_name if s.endswith("!server") else s for s in requested}
    requested |= {"users:activity!user"}
    have = roles.roles_to_scopes(roles.get_roles_for(user)) | {"inherit"}
    client = db.query(orm.OAuthClient).filter_by(identifier="jupyterhub").one()
    resolved, _ = scopes._resolve_requested_scopes(requested, have, user, client, db)
    token = orm.APIToken.new(user=user, scopes=list(resolved), note="server")
    orm_token = orm.APIToken.find(db, token)
    return {"name": user_name, "kind": "user", "groups": groups, "scopes": sorted(scopes.get_scopes_for(orm_token))}


def service_scopes(c, service_name):
    """The scopes JupyterHub's own role code gives a service's token, as its
    /hub/api/user answer lists them, from the config's roles."""
    from jupyterhub import orm, roles, scopes

    db = orm.new_session_factory("sqlite://")()
    for role in roles.get_default_roles():
        roles.create_role(db, role)
    service = orm.Service(name=service_name)
    db.add(service)
    db.commit()
    for spec in c.JupyterHub.get("load_roles", []):
        spec = dict(spec)
        members = spec.pop("services", [])
        spec.pop("users", None)
        spec.pop("groups", None)
        roles.create_role(db, spec)
        if service_name in members:
            roles.grant_role(db, service, spec["name"])
    return sorted(scopes.get_scopes_for(service))


async def gateway_accepts(gc, model):
    """Whether Dask Gateway's JupyterHubAuthenticator, configured by the
    gateway chart, takes a token whose /hub/api/user answer is model."""
    from dask_gateway_server.auth import JupyterHubAuthenticator

    auth = JupyterHubAuthenticator(config=gc, jupyterhub_api_token="gateway-token")

    class Response:
        status = 200

        async def json(self):
            return model

    class Session:
        async def get(self, url, **kwargs):
            return Response()

    class Request:
        headers = {"Authorization": "jupyterhub server-token"}

    auth.session = Session()
    auth.ssl_context = None
    try:
        user = await auth.authenticate(Request())
        return {"accepted": True, "name": user.name}
    except Exception as e:
        return {"accepted": False, "why": getattr(e, "reason", None) or type(e).__name__}


async def pod_manifest(c, user_name):
    """The pod KubeSpawner would create for the user's server."""
    from kubernetes_asyncio.client import ApiClient
    from kubespawner import KubeSpawner

    class Obj:
        pass

    user = Obj()
    user.name, user.id, user.url = user_name, 1, "/user/%s/" % user_name
    hub = Obj()
    hub.public_host, hub.url, hub.base_url, hub.api_url = "", "http://hub:8081/hub/", "/hub/", "http://hub:8081/hub/api"
    spawner = KubeSpawner(config=c, user=user, hub=hub, _mock=True)
    spawner.api_token = "server-token"
    manifest = await spawner.get_pod_manifest()
    return ApiClient().sanitize_for_serialization(manifest)


def cluster_options(gc, probes):
    """The gateway's cluster options: the form's fields, and for each probe
    (a user and the options they ask for) the cluster configuration that
    Backend.process_cluster_options makes of them, or its error, with the
    scheduler and worker pods the controller makes of that configuration."""
    from dask_gateway_server.auth import User
    from dask_gateway_server.backends.kubernetes import KubeClusterConfig
    from dask_gateway_server.backends.kubernetes.controller import KubeController
    from dask_gateway_server.utils import FrozenAttrDict

    # The controller builds the pods from the configuration the backend
    # stored in the DaskCluster object (JSON); of its own settings the
    # pods only carry its instance label and the gateway's API address.
    controller = KubeController(gateway_instance="dhub-test", api_url="http://api-dhub-test/api")

    spec = gc.Backend.get("cluster_options")
    out = {"fields": [], "probes": []}
    if spec is None:
        return out
    for probe in probes:
        user = User(probe["user"], groups=probe.get("groups", []))
        options = spec(user) if callable(spec) else spec
        out["fields"] = options.get_specification()
        try:
            requested = options.parse_options(probe.get("request", {}))
            overrides = options.get_configuration(requested, user)
            config = KubeClusterConfig(config=gc, **overrides)
            answer = {k: getattr(config, k) for k in CLUSTER_FIELDS}
            stored = FrozenAttrDict(json.loads(json.dumps(config.to_dict())))
            # The backend creates the DaskCluster in config.namespace.
            answer["scheduler_pod"] = controller.make_pod(config.namespace, "c0ffee", stored)
            answer["worker_pod"] = controller.make_pod(config.namespace, "c0ffee", stored, is_worker=True)
            out["probes"].append(answer)
        except Exception as e:
            out["probes"].append({"error": "%s: %s" % (type(e).__name__, e)})
    return out


# What a cluster's configuration holds beyond its pods (the image,
# resources, threads and idle timeout are read from the pods).
CLUSTER_FIELDS = ["environment", "cluster_max_cores", "cluster_max_memory", "cluster_max_workers"]


async def main():
    spec = json.load(open(sys.argv[1]))
    report = {}
    hub_dir = "/usr/local/etc/jupyterhub"
    sys.path.insert(0, hub_dir)
    c = load_config(os.path.join(hub_dir, "jupyterhub_config.py"))
    auth_cls = resolve_class(c.JupyterHub.authenticator_class, "jupyterhub.authenticators")
    auth = auth_cls(config=c)
    report["authenticator"] = auth_cls.__name__
    report["logins"] = [dict(probe=p, **(await login(auth, p))) for p in spec.get("logins", [])]
    report["pod"] = await pod_manifest(c, spec.get("podUser", "alice"))
    report["services"] = c.JupyterHub.get("services", [])
    gc = load_config(spec["gatewayConfig"])
    report["gatewayAuthenticator"] = gc.DaskGateway.get("authenticator_class", "")
    report["tokens"] = []
    for u in spec.get("tokenUsers", []):
        model = server_token_model(c, u["name"], u.get("groups", []))
        report["tokens"].append({"user": u["name"], "scopes": model["scopes"], "gateway": await gateway_accepts(gc, model)})
    report["clusterOptions"] = cluster_options(gc, spec.get("optionProbes", []))
    # The gateway's backend (its classes, most derived first) and what its
    # hub token may read (dask.endWithServer).
    backend = gc.DaskGateway.get("backend_class", "")
    if isinstance(backend, str):
        backend = resolve_class(backend, "")
    report["gatewayBackend"] = [cls.__name__ for cls in backend.__mro__]
    report["gatewayScopes"] = service_scopes(c, "dask-gateway")
    # stdout is the configuration's own log; the report goes to its file.
    with open(spec["report"], "w") as f:
        json.dump(report, f, indent=1, default=str)


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception:
        traceback.print_exc()
        sys.exit(1)
