# The smoke check's code in a user's notebook kernel: what a person types
# in JupyterLab to use Dask. dhub runs this file in the kernel first, then
# one method per phase; each prints one line "DHUB-RESULT <json>".
import json
import time

from dask_gateway import Gateway


class DhubSmoke:
    def __init__(self, workers, timeout, n):
        self.workers, self.timeout, self.n = workers, timeout, n
        self.gateway = self.cluster = self.client = None

    @staticmethod
    def report(**values):
        print("DHUB-RESULT " + json.dumps(values), flush=True)

    def cluster_start(self):
        # No arguments: the address, proxy and auth come from the server's
        # environment, as for every user.
        self.gateway = Gateway()
        self.gateway.list_clusters()
        self.cluster = self.gateway.new_cluster()
        self.report(cluster=self.cluster.name)

    def workers_ready(self):
        self.cluster.scale(self.workers)
        self.client = self.cluster.get_client(set_as_default=False)
        self.client.wait_for_workers(self.workers, timeout=self.timeout)
        self.report(workersSeen=len(self.client.scheduler_info()["workers"]))

    def expected(self):
        n = self.n
        return (n - 1) * n * (2 * n - 1) // 6

    def _sum_of_squares(self, client):
        import dask.array as da

        x = da.arange(self.n, chunks=self.n // (8 * max(self.workers, 1)), dtype="int64")
        return int(client.compute((x * x).sum()).result())

    def compute(self):
        got, want = self._sum_of_squares(self.client), self.expected()
        if got != want:
            raise RuntimeError("wrong result: the sum of squares below %d is %d, the cluster said %d" % (self.n, want, got))
        self.report(result=got, expected=want)

    def dashboard(self):
        self.report(link=self.cluster.dashboard_link)

    def shutdown(self):
        if self.client is not None:
            self.client.close()
        if self.cluster is None:
            return
        name = self.cluster.name
        self.cluster.shutdown()
        # shutdown() asks; the gateway reports the cluster stopped once its
        # processes or pods are gone.
        deadline = time.monotonic() + 60
        while self.gateway.get_cluster(name).status.name not in ("STOPPED", "FAILED"):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster %s not stopped 60s after shutdown" % name)
            time.sleep(0.2)
        self.cluster = None
        self.report(stopped=name)

    def compare_local(self):
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True, dashboard_address=None) as lc, Client(lc) as client:
            client.wait_for_workers(self.workers)
            start = time.monotonic()
            self._sum_of_squares(client)
            self.report(seconds=round(time.monotonic() - start, 3))
