# Written by dhub (dask.endWithServer): a user's Dask clusters end with
# their server. Every few seconds the gateway asks the hub, for each user
# with a running or pending cluster, whether that user still has a server
# (any of their servers, pending ones included); the clusters of a user
# who has none, or who was deleted, are stopped. It runs in the gateway's
# own process, with the token the gateway already uses to check users, so
# it needs no process of its own, and it catches up after a restart of
# the hub or the gateway: it asks again, about every cluster, each time.
import asyncio
import urllib.parse


def dhub_end_with_server(base, interval):
    """base, a gateway backend class, with the loop described above."""

    class EndWithServer(base):
        async def setup(self, app):
            await super().setup(app)
            self._dhub_end_with_server = asyncio.ensure_future(self._dhub_end_with_server_loop())

        async def cleanup(self):
            task = getattr(self, "_dhub_end_with_server", None)
            if task is not None:
                task.cancel()
            await super().cleanup()

        async def _dhub_end_with_server_loop(self):
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.dhub_stop_clusters_without_server()
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.log.warning("Not stopping clusters of users without a server this time: %s", e)

        async def dhub_stop_clusters_without_server(self):
            """Stops the clusters of users without a server; returns their names."""
            by_user = {}
            for cluster in await self.list_clusters():
                by_user.setdefault(cluster.username, []).append(cluster)
            if not by_user:
                return []
            await self._dhub_check_scopes()
            stopped = []
            for user, clusters in sorted(by_user.items()):
                # A service's clusters ("service:<name>"): services have no server.
                if ":" in user or await self._dhub_has_server(user):
                    continue
                for cluster in clusters:
                    self.log.info("Stopping cluster %s of %s: the user has no server (dask.endWithServer)", cluster.name, user)
                    await self.stop_cluster(cluster.name)
                    stopped.append(cluster.name)
            return stopped

        async def _dhub_hub_get(self, path):
            auth = self.parent.authenticator
            url = auth.jupyterhub_api_url.rstrip("/") + path
            headers = {"Authorization": "token " + auth.jupyterhub_api_token}
            async with self.session.get(url, headers=headers, ssl=auth.ssl_context) as resp:
                if resp.status == 404:
                    return None
                if resp.status != 200:
                    raise RuntimeError(f"the hub answered GET {path} with {resp.status} {resp.reason}")
                return await resp.json()

        async def _dhub_check_scopes(self):
            # The hub answers 404 for a user the token may not see: without
            # these scopes every user would look deleted.
            me = await self._dhub_hub_get("/user")
            missing = {"read:users:name", "read:servers"} - set((me or {}).get("scopes", []))
            if missing:
                raise RuntimeError(f"the gateway's hub token lacks the scopes {sorted(missing)}")

        async def _dhub_has_server(self, user):
            model = await self._dhub_hub_get("/users/" + urllib.parse.quote(user, safe=""))
            if model is None:
                return False  # the user was deleted
            if "servers" not in model:
                raise RuntimeError(f"the hub does not show the gateway {user}'s servers")
            return bool(model["servers"])

    EndWithServer.__name__ = EndWithServer.__qualname__ = "EndWithServer" + base.__name__
    return EndWithServer
