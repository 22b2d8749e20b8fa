"""Fixtures for the end-to-end tests with real third-party clients (see e2e_support.py).

Names are prefixed `e2e_` so they never clash with fixtures of the root tests/conftest.py.
"""

import pytest

from e2e_support import E2eRecordingProxy, E2eSluice, e2e_install_node_modules


@pytest.fixture
def e2e_sluice():
    """A running sluice with auth disabled (tenant "fake")."""
    s = E2eSluice().start()
    yield s
    s.stop()


@pytest.fixture
def e2e_sluice_mt():
    """A running sluice with auth_enabled=true (X-Scope-OrgID required)."""
    s = E2eSluice(auth_enabled=True).start()
    yield s
    s.stop()


@pytest.fixture
def e2e_proxy_factory():
    """Makes recording pass-through proxies in front of a URL; closes them afterwards."""
    proxies = []

    def make(upstream):
        p = E2eRecordingProxy(upstream)
        proxies.append(p)
        return p

    yield make
    for p in proxies:
        p.close()


@pytest.fixture(scope="session")
def e2e_node_modules():
    """tests/e2e/node with its pinned npm packages installed."""
    return e2e_install_node_modules()
