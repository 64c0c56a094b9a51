"""Audio Alchemy: a music library turned into understanding.

Layers (each imports only those before it):
``io -> library -> separate -> features -> models -> recommend -> web``;
``cli`` and ``web`` are thin shells over this typed Python API.
"""

__version__ = "0.1.0"
