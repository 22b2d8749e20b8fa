"""`S3rver`: a real S3-compatible server (s3rver from npm) for tests, and Debian's awscli as an
independent client of it.

s3rver listens on 127.0.0.1 on a port found free, keeps its objects in its own directory, and is
only ever signalled by its own PID. stop()/start() keep the port and the data, as an operator's
restart would; that is how tests take the store away under load.

    s3 = S3rver(workdir / "s3")
    s3.start()
    sluice flags: s3.sluice_flags()     # -common.storage.s3.* pointing at it
    s3.aws("s3", "ls", f"s3://{s3.bucket}/", "--recursive")
"""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "e2e" / "node"
# s3rver's fixed credentials: it checks every request's SigV4 signature against them.
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"


def _s3rver_binary():
    path = os.environ.get("SLUICE_S3RVER") or str(NODE_DIR / "node_modules" / ".bin" / "s3rver")
    if not Path(path).exists():
        subprocess.run([str(REPO / "scripts" / "node-deps.sh")], check=True, timeout=600)
    return path


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3rver:
    def __init__(self, workdir, bucket="sluice"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.workdir / "objects"
        self.bucket = bucket
        self.port = _free_port()
        self.proc = None
        self.log_path = self.workdir / "s3rver.log"

    @property
    def endpoint(self):
        return f"127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"http://{self.endpoint}"

    def start(self, timeout=30):
        args = [_s3rver_binary(), "-d", str(self.data_dir), "-a", "127.0.0.1",
                "-p", str(self.port), "--configure-bucket", self.bucket]
        # s3rver encrypts listing continuation tokens with DES, which Node's OpenSSL 3 only
        # offers through its legacy provider.
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"s3rver exited with {self.proc.returncode}: "
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"s3rver did not listen on {self.endpoint} within {timeout}s")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def sluice_flags(self):
        """Flags that make sluice store its chunks, index and delete requests in this bucket."""
        return [f"-common.storage.s3.endpoint={self.endpoint}",
                f"-common.storage.s3.bucketnames={self.bucket}",
                f"-common.storage.s3.access-key-id={ACCESS_KEY}",
                f"-common.storage.s3.secret-access-key={SECRET_KEY}",
                "-common.storage.s3.region=us-east-1",
                "-common.storage.s3.s3forcepathstyle=true",
                "-common.storage.s3.insecure=true"]

    def aws(self, *args, timeout=60):
        """Runs Debian's awscli (/usr/bin/aws) against this server; returns its stdout."""
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        r = subprocess.run(["/usr/bin/aws", "--endpoint-url", self.url, *args], env=env,
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"aws {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def keys(self, prefix=""):
        """Every object key under `prefix`, listed by awscli."""
        out = self.aws("s3api", "list-objects-v2", "--bucket", self.bucket, "--prefix", prefix,
                       "--query", "Contents[].Key", "--output", "text")
        return sorted(k for k in out.split() if k != "None")
