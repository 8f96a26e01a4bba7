"""The edge: HTTP app and routes, WebRTC peers, bitrate control, the pages.

Imports :mod:`verification`; nothing in :mod:`verification` imports this package.
"""
