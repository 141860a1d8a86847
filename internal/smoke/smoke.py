"""dhub smoke: the Azure guide's manual Dask check, as a script.

Creates (or reuses) a dedicated smoke user through the hub API, gets it a
short-lived token, creates a Dask cluster through Dask Gateway with the real
dask_gateway client, scales it, runs a computation whose result is checked,
and shuts the cluster down even on failure. Progress goes to stderr; one JSON
object with per-phase timings goes to stdout.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

HUB = os.environ["DHUB_HUB_URL"].rstrip("/")
TOKEN = os.environ["DHUB_API_TOKEN"]
GATEWAY = os.environ["DHUB_GATEWAY_ADDRESS"]
PROXY = os.environ.get("DHUB_GATEWAY_PROXY_ADDRESS") or None
WORKERS = int(os.environ.get("DHUB_SMOKE_WORKERS", "2"))
TIMEOUT = float(os.environ.get("DHUB_SMOKE_TIMEOUT", "300"))
USER = os.environ.get("DHUB_SMOKE_USER", "dhub-smoke")
COMPARE_LOCAL = os.environ.get("DHUB_SMOKE_COMPARE_LOCAL") == "1"
# Sum of squares of 0..N-1 stays below 2**63 for this N.
N = 2_000_000

result = {"ok": False, "workers": WORKERS, "user": USER, "phases": []}


def log(msg):
    print("smoke: " + msg, file=sys.stderr, flush=True)


class phase:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        log(self.name + " ...")
        self.start = time.monotonic()

    def __exit__(self, exc_type, exc, tb):
        seconds = round(time.monotonic() - self.start, 3)
        result["phases"].append({"name": self.name, "seconds": seconds, "ok": exc is None})
        log("%s %s in %.1fs" % (self.name, "done" if exc is None else "FAILED", seconds))


def hub_api(method, path, body=None, ok=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        HUB + "/hub/api" + path,
        method=method,
        data=data,
        headers={"Authorization": "token " + TOKEN, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        if e.code in ok:
            return e.code, None
        raise RuntimeError("hub API %s %s answered %d: %s" % (method, path, e.code, e.read()[:200]))
    except urllib.error.URLError as e:
        raise RuntimeError("the hub at %s does not answer (%s): is it up? see 'dhub status'" % (HUB, e.reason))


def expected_sum(n):
    return (n - 1) * n * (2 * n - 1) // 6


def compute(client):
    import dask.array as da

    x = da.arange(N, chunks=N // (8 * max(WORKERS, 1)), dtype="int64")
    got = int(client.compute((x * x).sum()).result())
    want = expected_sum(N)
    if got != want:
        raise RuntimeError("wrong result: sum of squares below %d is %d, the cluster said %d" % (N, want, got))
    return got


def main():
    cluster = None
    token_id = None
    try:
        with phase("hub login"):
            hub_api("POST", "/users/" + USER, ok=(200, 201, 409))
            _, tok = hub_api("POST", "/users/%s/tokens" % USER, {"expires_in": int(TIMEOUT) + 600, "note": "dhub smoke"})
            token_id = tok["id"]
        from dask_gateway import Gateway, JupyterHubAuth

        gateway = Gateway(address=GATEWAY, proxy_address=PROXY, auth=JupyterHubAuth(api_token=tok["token"]))
        with phase("cluster start"):
            try:
                cluster = gateway.new_cluster()
            except Exception as e:
                raise RuntimeError(
                    "Dask Gateway at %s did not create a cluster (%s: %s): is it up? see 'dhub status'"
                    % (GATEWAY, type(e).__name__, e)
                )
            result["cluster"] = cluster.name
        with phase("workers ready"):
            cluster.scale(WORKERS)
            client = cluster.get_client(set_as_default=False)
            client.wait_for_workers(WORKERS, timeout=TIMEOUT)
            result["workersSeen"] = len(client.scheduler_info()["workers"])
        with phase("compute"):
            result["result"] = compute(client)
        result["expected"] = expected_sum(N)
        client.close()
        result["ok"] = True
    except Exception as e:  # reported in the JSON, and by the exit code
        result["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        if cluster is not None:
            try:
                with phase("shutdown"):
                    cluster.shutdown()
                    # shutdown() only asks; wait until the gateway reports
                    # the cluster stopped, which it does once its processes end.
                    deadline = time.monotonic() + 60
                    while gateway.get_cluster(cluster.name).status.name not in ("STOPPED", "FAILED"):
                        if time.monotonic() > deadline:
                            raise RuntimeError("cluster %s not stopped 60s after shutdown" % cluster.name)
                        time.sleep(0.2)
            except Exception as e:
                result["ok"] = False
                result.setdefault("error", "shutdown failed: %s" % e)
        if token_id is not None:
            try:
                hub_api("DELETE", "/users/%s/tokens/%s" % (USER, token_id), ok=(200, 204, 404))
            except Exception:
                pass
    if result["ok"] and COMPARE_LOCAL:
        # A comparison that fails leaves the check's own verdict alone.
        try:
            from dask.distributed import Client, LocalCluster

            with LocalCluster(
                n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
            ) as lc, Client(lc) as client:
                client.wait_for_workers(WORKERS)
                start = time.monotonic()
                compute(client)
                result["localClusterComputeSeconds"] = round(time.monotonic() - start, 3)
        except Exception as e:
            result["localClusterError"] = "%s: %s" % (type(e).__name__, e)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
