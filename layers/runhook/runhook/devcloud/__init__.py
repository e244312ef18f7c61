"""The local cloud behind `runhook dev` and the pytest fixture (DESIGN §3).

Nothing deployed imports this package. Importing it is cheap: moto, werkzeug,
uvicorn and boto3 are imported when a `LocalCloud` starts.
"""

from runhook.devcloud.cloud import EventSourceHandle, LocalCloud, LocalCloudError
from runhook.devcloud.dynamodb_local import ensure_jar

__all__ = ["EventSourceHandle", "LocalCloud", "LocalCloudError", "ensure_jar"]
