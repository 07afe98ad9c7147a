"""ASGI entry point for uvicorn workers: `uvicorn thudo.asgi:app`."""

import os

from thudo.app import create_app

app = create_app(access_log=os.environ.get("THUDO_ACCESS_LOG", "1") != "0")
