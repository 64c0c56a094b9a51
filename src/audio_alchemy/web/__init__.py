"""The player: a FastAPI app (JSON API, audio streaming with ranges, the static page) and a uvicorn runner.

>>> from audio_alchemy.web import create_app, serve
>>> serve("library.sqlite")            # http://127.0.0.1:8000/
"""

from .app import create_app
from .server import serve

__all__ = ["create_app", "serve"]
