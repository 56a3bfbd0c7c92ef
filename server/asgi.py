"""ASGI entry point for uvicorn or any other server: `uvicorn server.asgi:app`."""

from server.app import create_app
from server.collector import freeze_what_is_built

app = create_app()
# Everything imported and built so far lives as long as the process, and so does what the first requests build:
# frozen, the cyclic collector stops walking it (~270,000 objects at start-up) on every full collection
# (docs/performance.md). Here, not in create_app: the tests build many apps in one process.
freeze_what_is_built()
