"""Frame-level video: decoding recordings, frame quality, freeze, AV sync, recording tap."""
