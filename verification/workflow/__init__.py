"""Business state of interviews, free of HTTP and WebRTC.

The interview script engine (``script``, ``engine``, ``steps/``), its live driver (``driver``,
``turns``), the loan-system operations (``loan``, ``intake``, ``conclude``), persistence
(``repository``, ``persist``, ``sql_store``, ``recovery``) and webhook delivery (``outbox``,
``delivery``, ``webhooks``). The WebRTC edge (``signaling/``) drives these objects.
"""
