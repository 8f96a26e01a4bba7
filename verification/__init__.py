"""Biometric verification for video loan interviews.

`verification` holds everything that decides: models and their runtime, the per-interview
session, the analyzers (face, voice, video, scene, geo) and the fusion policy. It never imports
`signaling` (the WebRTC/HTTP edge), so every analyzer runs and is tested without a network.
"""

__version__ = "0.1.0"
