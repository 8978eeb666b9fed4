"""Test helpers of the feature store: a local Redis Cluster, the two backends, the online/offline replay."""

from __future__ import annotations

import asyncio
import math
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster as AsyncCluster
from redis.cluster import RedisCluster

from engine.redis_server import free_port, port_is_free
from features.executor import FeatureExecutor
from features.labels import load_labels
from features.loader import load_profiles
from features.offline import compute_offline
from features.specs import FeatureSet
from features.updates import VelocityUpdater


class LocalCluster:
    """Three redis-server processes in cluster mode on free ports, joined by `redis-cli --cluster create`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = [_cluster_port() for _ in range(3)]
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> LocalCluster:
        """Start the nodes, create the cluster, wait until every slot is served."""
        binary, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if binary is None or cli is None:
            pytest.skip("redis-server / redis-cli not installed")
        for port in self.ports:
            node_dir = self.data_dir / str(port)
            node_dir.mkdir(parents=True)
            args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir), "--cluster-enabled",
                    "yes", "--cluster-config-file", "nodes.conf", "--save", "", "--appendonly", "no"]  # fmt: skip
            self.procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            _wait_ping(port)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        end = time.monotonic() + 30
        while time.monotonic() < end:
            c = redis.Redis(port=self.ports[0])
            info = c.cluster("info")
            c.close()
            if info.get("cluster_state") == "ok":
                return self
            time.sleep(0.1)
        raise RuntimeError("the local cluster did not reach state ok within 30 s")

    def stop(self) -> None:
        """Terminate the nodes."""
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free as well."""
    while True:
        p = free_port()
        if p < 55_000 and port_is_free(p + 10_000):
            return p


def _wait_ping(port: int) -> None:
    end = time.monotonic() + 10
    while True:
        c = redis.Redis(port=port, socket_connect_timeout=0.2)
        try:
            if c.ping():
                return
        except redis.ConnectionError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)
        finally:
            c.close()


@dataclass
class Store:
    """How a test reaches one Redis deployment: sync and async clients of the right kind."""

    kind: str
    """`single` or `cluster`."""
    port: int
    """A node's port."""

    def sync(self) -> redis.Redis | RedisCluster:
        """A synchronous client (loaders)."""
        if self.kind == "cluster":
            return RedisCluster(host="127.0.0.1", port=self.port)
        return redis.Redis(port=self.port)

    def flush(self, client: redis.Redis | RedisCluster) -> None:
        """Empty every node."""
        if isinstance(client, RedisCluster):
            client.flushall(target_nodes=RedisCluster.PRIMARIES)
        else:
            client.flushall()

    def aio(self) -> aredis.Redis | AsyncCluster:
        """An asyncio client (executor, updater), as the engine builds it."""
        if self.kind == "cluster":
            return AsyncCluster(host="127.0.0.1", port=self.port)
        return aredis.Redis(port=self.port)


def names_of(fs: FeatureSet) -> list[str]:
    """Every feature the executor produces: fetched, then derived."""
    return fs.fetched_names() + [d.feature for d in fs.derived]


async def replay_online(
    store: Store, fs: FeatureSet, events: pl.DataFrame, labels: pl.DataFrame | None
) -> list[dict[str, Any]]:
    """Read each event's features, then apply its update; labels are loaded as soon as they are known."""
    sync = store.sync()
    client = store.aio()
    pending = labels.sort("labelled_at") if labels is not None else None
    try:
        executor, updater = FeatureExecutor(fs, client), VelocityUpdater(fs, client)
        out = []
        for row in events.to_dicts():
            if pending is not None and pending.height:
                due = pending.filter(pl.col("labelled_at") <= row["occurred_at"])
                if due.height:
                    load_labels(sync, fs, due, progress=False)
                    pending = pending.slice(due.height)
            (vec,) = await executor.fetch([row], time.monotonic() + 5)
            assert vec.failure is None, vec.failure
            out.append(vec.values)
            async with client.pipeline(transaction=False) as pipe:
                updater.queue(pipe, row)
                await pipe.execute()
        return out
    finally:
        await client.aclose()
        sync.close()


def same(a: Any, b: Any) -> bool:
    """Equal values, floats to 1e-12, missing only equal to missing."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-9)
    return bool(a == b)


def compare(
    store: Store,
    fs: FeatureSet,
    events: pl.DataFrame,
    profiles: Mapping[str, pl.DataFrame],
    labels: pl.DataFrame | None = None,
) -> int:
    """Load profiles, replay online, compute offline; assert every feature of every event agrees; events compared."""
    client = store.sync()
    store.flush(client)  # hypothesis runs many examples on one fixture
    load_profiles(client, fs, profiles, snapshot="t", progress=False)
    client.close()
    offline = compute_offline(events, profiles, fs, labels).to_dicts()
    online = asyncio.run(replay_online(store, fs, events, labels))
    names = names_of(fs)
    for i, (on, off) in enumerate(zip(online, offline, strict=True)):
        diff = {n: (on.get(n), off.get(n)) for n in names if not same(on.get(n), off.get(n))}
        assert not diff, f"event {i} ({off['event_id']}): online vs offline differ: {diff}"
    return len(online)
