"""ASGI entry point for uvicorn or any other server: `uvicorn server.asgi:app`."""

import gc

from server.app import create_app

app = create_app()
# Everything imported and built so far lives as long as the process. Frozen, the cyclic collector stops walking
# it (~270,000 objects) on every full collection: a request that allocates many objects (the therapist dashboard)
# set one off every few requests, costing more CPU than the request itself (docs/performance.md).
gc.collect()
gc.freeze()
