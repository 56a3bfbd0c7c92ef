"""ASGI entry point for uvicorn or any other server: `uvicorn server.asgi:app`."""

from server.app import create_app

app = create_app()
