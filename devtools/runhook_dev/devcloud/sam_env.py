"""The `--env-vars` file of `sam local invoke|start-api|start-lambda`, from a running cloud.

`runhook dev --sam-env FILE` writes it once the cloud is deployed: per function logical
id, the environment the local cloud gives that function (`EnvironmentPlan.for_function`:
its template variables resolved to local names, the local variables, `--env` overrides),
so it is the deployer's computation, not a second map. Two things differ, because the
function runs in a container, not in this process:

- `AWS_ENDPOINT_URL` (and any `AWS_ENDPOINT_URL_<SERVICE>`) is the local cloud's AWS
  endpoint as a container reaches it: ``http://host.docker.internal:<aws port>``. Docker
  Desktop (macOS, Windows) defines that name and forwards it to the host's loopback. On
  Linux `sam local` needs ``--add-host host.docker.internal:host-gateway`` and the
  endpoint must listen beyond the loopback (`runhook dev --aws-host 0.0.0.0`): SAM CLI
  1.170 never puts a container in the host's network (``--docker-network host`` only
  skips connecting it to a named network, samcli/local/docker/container.py), so
  127.0.0.1 in a container is the container itself. `host`/`port` change the URL;
- the credentials are dummy ones (`test`): the emulators accept any key, and no real key
  of the shell is written to a file.

SAM CLI passes a function only the variables its template declares (Globals included) and
sets the `AWS_*` runtime variables itself (region and credentials from `--region` and the
shell's profile, else `defaultkey`): the file holds the whole environment anyway (one
source, readable, usable by other runners), and the template declares the variables the
local cloud needs (`AWS_ENDPOINT_URL`, `ALLOW_PRIVATE_TARGETS`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from runhook_dev.devcloud.deployment import Deployment
from runhook_dev.devcloud.environment import ENDPOINT_PREFIX, EnvironmentPlan

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
# The host's name inside a container: Docker Desktop's, `--add-host ...:host-gateway` on Linux.
DEFAULT_CONTAINER_HOST = "host.docker.internal"


def container_endpoint(aws_port: int, host: str | None = None, port: int | None = None) -> str:
    """The local cloud's AWS endpoint URL as a container reaches it."""
    return f"http://{host or DEFAULT_CONTAINER_HOST}:{port or aws_port}"


def sam_env_vars(
    deployment: Deployment, plan: EnvironmentPlan, endpoint_url: str
) -> dict[str, dict[str, str]]:
    """`{logical id: environment}` for every function the deployer registered."""
    files: dict[str, dict[str, str]] = {}
    for logical_id, function in sorted(deployment.functions.items()):
        environment = dict(plan.for_function(function))
        for key in list(environment):
            if key == "AWS_ENDPOINT_URL" or key.startswith(ENDPOINT_PREFIX):
                environment[key] = endpoint_url
        environment.update(DUMMY_CREDENTIALS)
        files[logical_id] = dict(sorted(environment.items()))
    return files


def write_sam_env(path: Path, env_vars: Mapping[str, Mapping[str, str]]) -> None:
    """Write the file atomically (a `sam local` reading it never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            json.dump(env_vars, out, indent=2)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
