"""Biometric verification for video loan interviews.

`verification` holds everything that decides: models and their runtime, the per-interview
session, the analyzers (face, voice, video, scene, geo) and the fusion policy. It never imports
`signaling` (the WebRTC/HTTP edge), so every analyzer runs and is tested without a network.
"""

import os

# numpy's BLAS would otherwise start one thread per core in every inference worker, on top of
# the runtime's thread budget (workers x intra-op threads <= cores): under load a multi-threaded
# OpenBLAS matrix product was measured 25x slower than single-threaded. Set before numpy loads;
# an operator's explicit setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
