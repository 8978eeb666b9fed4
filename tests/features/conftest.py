"""Session fixtures of the feature store tests: a real 3-master Redis Cluster, and `store` over both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fstest import LocalCluster, Store
from redis.cluster import RedisCluster

from engine.redis_server import LocalRedis


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A 3-master Redis Cluster for the session, stopped at the end."""
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(params=["single", "cluster"])
def store(request: pytest.FixtureRequest, redis_server: LocalRedis) -> Store:
    """The contract suite's backend: the session's single Redis, then the 3-master cluster; emptied first."""
    if request.param == "cluster":
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        s = Store("cluster", cluster.ports[0])
        c = s.sync()
        c.flushall(target_nodes=RedisCluster.PRIMARIES)
    else:
        s = Store("single", redis_server.port)
        c = s.sync()
        c.flushall()
    c.close()
    return s
