"""Name the settings that keep the tools reprospec starts quiet and offline.

Kept apart from the runner so the command line can set them without importing
Hydra, pydantic or the emitters.
"""

QUIET_TOOLS = {
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # Fail in seconds, not minutes, when a tracking server goes away mid-run.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
