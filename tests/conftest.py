"""Root pytest configuration: fixtures that run the REAL sluice binary.

Binary: $SLUICE_BIN, else <repo>/build/sluice (tests are skipped if it does not exist; build it
with `scripts/build.sh build sluice`).

Fixtures (usable from any suite below tests/):

  sluice_bin             (session)  path of the binary.
  sluice_factory         (function) make(flags=(), config=None, start=True, name=None, timeout=30)
                                    -> helpers.server.Sluice. Each server gets its own temporary
                                    work directory and a free 127.0.0.1 port; `flags` are extra
                                    command-line flags (e.g. "-auth_enabled=true"), `config` a dict
                                    or YAML text written to config.yaml and passed as
                                    -config.file. With start=True the call returns once /ready is
                                    200. Everything made is stopped at teardown (SIGTERM, then
                                    SIGKILL) and its directory removed if the test passed.
  module_sluice_factory  (module)   the same, for servers shared by the tests of one module.
  sluice                 (function) a started server with default flags (auth disabled, tenant
                                    "fake").
  push_pb2               (session)  the protoc-generated module for proto/push.proto, or None.

When a test fails, the tail of the stderr of every server alive for it is added to the report
(section "sluice stderr").

helpers.server.Sluice offers start/stop(sig)/kill9/restart/wait_ready, url(), push_json,
push_proto, push_raw, query_range/query_streams/query_entries/query_lines, metrics() (parsed),
metric(name, **labels), config(), healthy(). helpers.push builds bodies and timestamps.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from helpers import push as _push  # noqa: E402
from helpers.server import Sluice  # noqa: E402

# Every Sluice made by a factory fixture and not yet cleaned up; their stderr tails go into the
# report of a failing test.
_ACTIVE = []


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than a few seconds (crash cycles, large WALs)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        for s in list(_ACTIVE):
            rep.sections.append((f"sluice stderr: {s.name} [{s.workdir}] (last 40 lines)",
                                 s.stderr_tail(40)))
    if rep.when == "call":
        item._sluice_failed = rep.failed


def _sluice_path():
    return os.environ.get("SLUICE_BIN") or str(REPO / "build" / "sluice")


@pytest.fixture(scope="session")
def sluice_bin():
    path = _sluice_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"sluice binary not found at {path} (set SLUICE_BIN or run scripts/build.sh build sluice)")
    return path


@pytest.fixture(scope="session")
def push_pb2():
    return _push.push_pb2()


class _Factory:
    def __init__(self, binary, prefix):
        self.binary = binary
        self.prefix = prefix
        self.made = []
        self.dirs = []

    def __call__(self, flags=(), config=None, start=True, name=None, timeout=30):
        workdir = tempfile.mkdtemp(prefix=f"sluice-{self.prefix}-")
        self.dirs.append(workdir)
        s = Sluice(self.binary, workdir, flags=flags, config=config,
                   name=name or f"sluice#{len(self.made) + 1}")
        self.made.append(s)
        _ACTIVE.append(s)
        if start:
            s.start(timeout=timeout)
        return s

    def close(self, keep_dirs):
        for s in self.made:
            s.cleanup()
            if s in _ACTIVE:
                _ACTIVE.remove(s)
        for d in self.dirs:
            if keep_dirs:
                print(f"\nkept sluice work directory for inspection: {d}")
            else:
                shutil.rmtree(d, ignore_errors=True)


def _safe_name(node):
    return "".join(c if c.isalnum() else "_" for c in node.name)[:40]


@pytest.fixture
def sluice_factory(request, sluice_bin):
    factory = _Factory(sluice_bin, _safe_name(request.node))
    yield factory
    factory.close(keep_dirs=getattr(request.node, "_sluice_failed", False))


@pytest.fixture(scope="module")
def module_sluice_factory(request, sluice_bin):
    factory = _Factory(sluice_bin, _safe_name(request.node))
    yield factory
    factory.close(keep_dirs=False)


@pytest.fixture
def sluice(sluice_factory):
    return sluice_factory(name="sluice")
