"""Voice: VAD -> speaker windows -> voiceprint / continuity / anti-spoof."""
